# base: reference
# normalize never returns: only normalize's cases may fail, the rest must be graded.


def normalize(images):
    while True:
        pass
