# base: reference
# flatten kills its process; sys.exit in confusion. Only those functions' cases may fail.
import os
import sys


def flatten(images):
    os._exit(0)


def confusion(y_true, y_pred, num_classes=10):
    sys.exit("bye")
