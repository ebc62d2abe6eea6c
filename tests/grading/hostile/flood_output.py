# base: reference
# Megabytes of output, invalid UTF-8 and control bytes, at import and during calls.
import os
import sys

ODD = b"\xff\xfe\x00\x1b[2J\x07\xc3(\r\x85" * 100
sys.stdout.write("x" * (5 * 1024 * 1024) + "\n")
os.write(1, ODD)
os.write(2, ODD * 1000)
_solution_normalize = normalize  # noqa: F821 - defined by the base


def normalize(images):
    os.write(1, ODD * 500)
    print("\x00" * 100000)
    return _solution_normalize(images)
