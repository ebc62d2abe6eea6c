# base: reference
# normalize allocates (and touches) far more memory than the cap.


def normalize(images):
    hoard = []
    for _ in range(400):  # up to 25 GB in 64 MB blocks
        hoard.append(b"x" * (64 * 1024 * 1024))
    return len(hoard)
