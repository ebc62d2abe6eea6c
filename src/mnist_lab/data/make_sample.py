"""Make the embedded sample from the full MNIST file (a maintainer's tool, run once).

    python -m mnist_lab.data.make_sample ../shared/data/mnist.npz

writes ``src/mnist_lab/data/mnist_sample.npz``: the first 10,000 training and the first 2,000
test images of the full file, compressed. The test suite checks that the shipped sample is
exactly that slice of the full file whenever the full file is present.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from mnist_lab.data import SAMPLE_TEST_SIZE, SAMPLE_TRAIN_SIZE, read_mnist_npz


def make_sample(*, source: Path, destination: Path) -> Path:
    """Write the first SAMPLE_TRAIN_SIZE train / SAMPLE_TEST_SIZE test images of ``source``."""
    (x_train, y_train), (x_test, y_test) = read_mnist_npz(source)
    temporary = destination.with_name(destination.name + ".partial.npz")
    np.savez_compressed(
        temporary,
        x_train=x_train[:SAMPLE_TRAIN_SIZE],
        y_train=y_train[:SAMPLE_TRAIN_SIZE],
        x_test=x_test[:SAMPLE_TEST_SIZE],
        y_test=y_test[:SAMPLE_TEST_SIZE],
    )
    temporary.replace(destination)
    return destination


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="the full MNIST .npz (Keras layout)")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).with_name("mnist_sample.npz"),
        help="where to write the sample (default: next to this script)",
    )
    args = parser.parse_args(argv)
    written = make_sample(source=args.source, destination=args.out)
    print(f"wrote {written} ({written.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
