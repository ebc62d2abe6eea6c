import numpy as np
from otter.test_files import test_case

OK_FORMAT = False
name = "build_model"
points = 2


@test_case(points=1, hidden=False)
def test_outputs(build_model):
    """the model maps 784 inputs to 10 probabilities"""
    model = build_model()
    assert getattr(model, "__mnist_lab_remote__", False) or hasattr(model, "predict"), "not a model"
    out = np.asarray(model.predict(np.zeros((2, 784), dtype=np.float32)))
    assert out.shape == (2, 10), f"the model's output has shape {out.shape}"
    assert np.allclose(out.sum(axis=1), 1.0, atol=1e-4), "the outputs do not add up to 1"


@test_case(points=1, hidden=True)
def test_fit(build_model):
    """the model can be trained"""
    model = build_model()
    rng = np.random.default_rng(0)
    x = rng.random((64, 784)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    history = model.fit(x, y, epochs=1, batch_size=32, seed=0)
    assert isinstance(history, dict), "fit gave no history"
    assert "loss" in history, "fit gave no loss"
    weights = model.get_weights()
    assert [w.shape for w in weights] == [(784, 128), (128,), (128, 10), (10,)], "bad weights"
