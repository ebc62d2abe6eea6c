"""Degenerate: every function returns None, leaves its input alone and raises nothing.

Cases about side effects (the input left unchanged) must not reward this: it scores 0.
"""


def normalize(images):
    return None


def flatten(images):
    return None


def build_model():
    return None


def predict_digit(model, image):
    return None


def confusion(y_true, y_pred, num_classes=10):
    return None
