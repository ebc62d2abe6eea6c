"""mnist-lab: an auto-graded exercise and quiz package on handwritten-digit recognition."""

__version__ = "0.1.0"
