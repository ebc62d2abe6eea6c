"""Correct ``build_model``s written in every usual style, and wrong ones that lie about themselves.

Each entry is the source of a ``build_model`` (with the imports it needs); ``submission_source``
puts it in place of the reference's ``build_model`` in ``solutions/digits.py``, so a submission
differs from the reference in that one function only. ``test_model_styles.py`` grades them: every
CORRECT style must get all of build_model's points, every LIAR none of the cases its lie is about.
"""

from __future__ import annotations

import ast
from pathlib import Path

REFERENCE = Path(__file__).resolve().parents[2] / "solutions" / "digits.py"

_DENSE = "keras.layers.Dense"
_COMPILE = (
    '    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", '
    'metrics=["accuracy"])\n'
)


def _sequential(hidden: str, output: str, *, first: str = "keras.Input(shape=(784,)), ") -> str:
    return (
        "import keras\nimport tensorflow as tf\n\n\ndef build_model():\n"
        f"    model = keras.Sequential([{first}{hidden}, {output}])\n"
        + _COMPILE
        + "    return model\n"
    )


CORRECT: dict[str, str] = {
    "activation_function_tf_nn_relu": _sequential(
        f"{_DENSE}(128, activation=tf.nn.relu)", f"{_DENSE}(10, activation=tf.nn.softmax)"
    ),
    "activation_keras_activations": _sequential(
        f"{_DENSE}(128, activation=keras.activations.relu)",
        f"{_DENSE}(10, activation=keras.activations.softmax)",
    ),
    "activation_layers": (
        "import keras\n\n\ndef build_model():\n"
        "    model = keras.Sequential([keras.Input(shape=(784,)), keras.layers.Dense(128),\n"
        "        keras.layers.ReLU(), keras.layers.Dense(10), keras.layers.Softmax()])\n"
        + _COMPILE
        + "    return model\n"
    ),
    "activation_layer_by_name": (
        "import keras\n\n\ndef build_model():\n"
        "    model = keras.Sequential([keras.Input(shape=(784,)), keras.layers.Dense(128),\n"
        "        keras.layers.Activation('relu'), keras.layers.Dense(10),\n"
        "        keras.layers.Activation('softmax')])\n" + _COMPILE + "    return model\n"
    ),
    "input_layer": _sequential(
        f"{_DENSE}(128, activation='relu')",
        f"{_DENSE}(10, activation='softmax')",
        first="keras.layers.InputLayer(shape=(784,)), ",
    ),
    "no_input_unbuilt": _sequential(
        f"{_DENSE}(128, activation='relu')", f"{_DENSE}(10, activation='softmax')", first=""
    ),
    "built_with_build": (
        "import keras\n\n\ndef build_model():\n"
        "    model = keras.Sequential([keras.layers.Dense(128, activation='relu'),\n"
        "                              keras.layers.Dense(10, activation='softmax')])\n"
        "    model.build((None, 784))\n" + _COMPILE + "    return model\n"
    ),
    "sequential_add": (
        "from tensorflow import keras\n\n\ndef build_model():\n"
        "    model = keras.models.Sequential(name='digits')\n"
        "    model.add(keras.Input(shape=(784,)))\n"
        "    model.add(keras.layers.Dense(units=128, activation='relu', name='hidden'))\n"
        "    model.add(keras.layers.Dense(units=10, activation='softmax', name='out'))\n"
        + _COMPILE
        + "    return model\n"
    ),
    "functional": (
        "import keras\n\n\ndef build_model():\n"
        "    inputs = keras.Input(shape=(784,))\n"
        "    hidden = keras.layers.Dense(128, activation='relu')(inputs)\n"
        "    outputs = keras.layers.Dense(10, activation='softmax')(hidden)\n"
        "    model = keras.Model(inputs=inputs, outputs=outputs)\n"
        + _COMPILE
        + "    return model\n"
    ),
    "functional_activation_function_layers": (
        "import keras\nimport tensorflow as tf\n\n\ndef build_model():\n"
        "    inputs = keras.Input((784,))\n"
        "    x = keras.layers.Activation(tf.nn.relu)(keras.layers.Dense(128)(inputs))\n"
        "    x = keras.layers.Activation(keras.activations.softmax)(keras.layers.Dense(10)(x))\n"
        "    model = keras.Model(inputs, x)\n" + _COMPILE + "    return model\n"
    ),
    "subclassed": (
        "import keras\n\n\nclass Digits(keras.Model):\n"
        "    def __init__(self):\n        super().__init__()\n"
        "        self.hidden = keras.layers.Dense(128, activation='relu')\n"
        "        self.out = keras.layers.Dense(10, activation='softmax')\n\n"
        "    def call(self, x):\n        return self.out(self.hidden(x))\n\n\n"
        "def build_model():\n    model = Digits()\n" + _COMPILE + "    return model\n"
    ),
    "subclassed_with_build": (
        "import keras\n\n\nclass Digits(keras.Model):\n"
        "    def build(self, input_shape):\n"
        "        self.hidden = keras.layers.Dense(128, activation='relu')\n"
        "        self.out = keras.layers.Dense(10, activation='softmax')\n"
        "        super().build(input_shape)\n\n"
        "    def call(self, x):\n        return self.out(self.hidden(x))\n\n\n"
        "def build_model():\n    model = Digits()\n    model.build((None, 784))\n"
        + _COMPILE
        + "    return model\n"
    ),
    "loss_object": (
        "import keras\n\n\ndef build_model():\n"
        "    model = keras.Sequential([keras.Input(shape=(784,)),\n"
        "        keras.layers.Dense(128, activation='relu'),\n"
        "        keras.layers.Dense(10, activation='softmax')])\n"
        "    model.compile(optimizer=keras.optimizers.Adam(),\n"
        "                  loss=keras.losses.SparseCategoricalCrossentropy(),\n"
        "                  metrics=[keras.metrics.SparseCategoricalAccuracy()])\n"
        "    return model\n"
    ),
    "loss_function": (
        "import keras\n\n\ndef build_model():\n"
        "    model = keras.Sequential([keras.Input(shape=(784,)),\n"
        "        keras.layers.Dense(128, activation='relu'),\n"
        "        keras.layers.Dense(10, activation='softmax')])\n"
        "    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.001),\n"
        "                  loss=keras.losses.sparse_categorical_crossentropy,\n"
        "                  metrics=['acc'])\n"
        "    return model\n"
    ),
    "metric_by_long_name": (
        "import keras\n\n\ndef build_model():\n"
        "    model = keras.Sequential([keras.Input(shape=(784,)),\n"
        "        keras.layers.Dense(128, activation='relu'),\n"
        "        keras.layers.Dense(10, activation='softmax')])\n"
        "    model.compile('adam', 'sparse_categorical_crossentropy',\n"
        "                  metrics=['sparse_categorical_accuracy'])\n"
        "    return model\n"
    ),
    "explicit_defaults": (
        "import keras\n\n\ndef build_model():\n"
        "    model = keras.Sequential([keras.Input(shape=(784,)),\n"
        "        keras.layers.Dense(128, activation='relu', use_bias=True),\n"
        "        keras.layers.Dense(10, activation='softmax')])\n"
        "    model.compile(\n"
        "        optimizer=keras.optimizers.Adam(learning_rate=1e-3, beta_1=0.9, beta_2=0.999),\n"
        "        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=False),\n"
        "        metrics=('accuracy',),\n"
        "    )\n"
        "    return model\n"
    ),
    "tf_keras_namespace": (
        "import tensorflow as tf\n\n\ndef build_model():\n"
        "    model = tf.keras.models.Sequential([\n"
        "        tf.keras.layers.Input(shape=(784,)),\n"
        "        tf.keras.layers.Dense(128, activation=tf.keras.activations.relu),\n"
        "        tf.keras.layers.Dense(10, activation=tf.keras.activations.softmax)])\n"
        "    model.compile(optimizer=tf.keras.optimizers.Adam(),\n"
        "                  loss=tf.keras.losses.SparseCategoricalCrossentropy(),\n"
        "                  metrics=[tf.keras.metrics.SparseCategoricalAccuracy()])\n"
        "    return model\n"
    ),
    "initializers_and_names": _sequential(
        f"{_DENSE}(128, activation='relu', kernel_initializer='he_normal', name='hidden')",
        f"{_DENSE}(10, activation='softmax', kernel_initializer='glorot_normal', name='digits')",
    ),
    "flatten_first": _sequential(
        "keras.layers.Flatten(), keras.layers.Dense(128, activation='relu')",
        f"{_DENSE}(10, activation='softmax')",
    ),
    "dropout_in_training": _sequential(
        "keras.layers.Dense(128, activation='relu'), keras.layers.Dropout(0.2)",
        f"{_DENSE}(10, activation='softmax')",
    ),
    "layers_in_a_loop": (
        "import keras\n\n\ndef build_model():\n"
        "    layers = [keras.Input(shape=(784,))]\n"
        "    for units, activation in ((128, 'relu'), (10, 'softmax')):\n"
        "        layers.append(keras.layers.Dense(units, activation=activation))\n"
        "    model = keras.Sequential(layers)\n" + _COMPILE + "    return model\n"
    ),
    "from_logits_output_then_softmax_layer": (
        "import keras\n\n\ndef build_model():\n"
        "    model = keras.Sequential([keras.Input(shape=(784,)),\n"
        "        keras.layers.Dense(128, activation='relu'), keras.layers.Dense(10),\n"
        "        keras.layers.Activation('softmax')])\n" + _COMPILE + "    return model\n"
    ),
}

# Wrong models (Dense(64, tanh), RMSprop, no metric, or a model that cannot learn) dressed up to
# look right. Each maps to the build_model cases it must fail (title prefixes).
LIARS: dict[str, tuple[str, set[str]]] = {
    "subclass_lies_about_layers_and_compile": (
        "import keras\n\n\nclass Liar(keras.Sequential):\n"
        "    @property\n    def layers(self):\n"
        "        return [keras.layers.Dense(128, activation='relu'),\n"
        "                keras.layers.Dense(10, activation='softmax')]\n\n"
        "    def get_compile_config(self):\n"
        "        return {'optimizer': 'adam', 'loss': 'sparse_categorical_crossentropy',\n"
        "                'metrics': ['accuracy']}\n\n\n"
        "def build_model():\n"
        "    model = Liar([keras.Input(shape=(784,)), keras.layers.Dense(64, activation='tanh'),\n"
        "                  keras.layers.Dense(10, activation='softmax')])\n"
        "    model.compile(optimizer='rmsprop', loss='sparse_categorical_crossentropy')\n"
        "    model.optimizer.__class__.__name__ = 'Adam'\n"
        "    return model\n",
        {"layers are", "compiled with the adam", "compiled with the accuracy"},
    ),
    "fake_weights_from_get_weights": (
        "import keras\nimport numpy as np\n\n\ndef build_model():\n"
        "    model = keras.Sequential([keras.Input(shape=(784,)),\n"
        "        keras.layers.Dense(64, activation='tanh'),\n"
        "        keras.layers.Dense(10, activation='softmax')])\n"
        "    model.compile(optimizer='rmsprop', loss='sparse_categorical_crossentropy')\n"
        "    shapes = [(784, 128), (128,), (128, 10), (10,)]\n"
        "    model.get_weights = lambda: [np.zeros(s, 'float32') for s in shapes]\n"
        "    return model\n",
        {
            "layers are",
            "compiled with the adam",
            "compiled with sparse",
            "compiled with the accuracy",
            "learns to recognise",
        },
    ),
    "cannot_learn_adam_rate_zero": (
        "import keras\n\n\ndef build_model():\n"
        "    model = keras.Sequential([keras.Input(shape=(784,)),\n"
        "        keras.layers.Dense(128, activation='relu'),\n"
        "        keras.layers.Dense(10, activation='softmax')])\n"
        "    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.0),\n"
        "                  loss='sparse_categorical_crossentropy', metrics=['accuracy'])\n"
        "    return model\n",
        {"compiled with the adam", "learns to recognise"},
    ),
}


# The describer the worker runs (modeldata) patched to describe a reference-shaped model with
# all-zero weights, whose outputs (uniform 0.1) are consistent with them: it fails as soon as
# the grader sets weights of its own choosing and checks the outputs follow them.
_FAKE_DESCRIBER = (
    "import sys\n\nimport keras\nimport numpy as np\n\n"
    "_SHAPES = [(784, 128), (128,), (128, 10), (10,)]\n"
    "_data = sys.modules.get('mnist_lab.grading.modeldata')\n"
    "if _data is not None:\n"
    "    _data.get_weights = lambda model: [np.zeros(s, 'float32') for s in _SHAPES]\n"
    "    _data.predict = lambda model, x: np.full((len(x), 10), 0.1, 'float32')\n"
    "    _data.observe = lambda model, x: {'outputs': _data.predict(model, x),\n"
    "                                      'weights': _data.get_weights(model)}\n"
    "    _data.set_weights = lambda model, weights: None\n"
    "    _data.evaluate = lambda model, x, y: [float(np.log(10)), 0.15625]\n"
    "    _data.train_on_batch = lambda model, x, y: [float(np.log(10)), 0.15625]\n\n\n"
    "def build_model():\n"
    "    model = keras.Sequential([keras.Input(shape=(784,)),\n"
    "        keras.layers.Dense(64, activation='tanh'),\n"
    "        keras.layers.Dense(10, activation='softmax')])\n"
    "    model.compile(optimizer='rmsprop', loss='sparse_categorical_crossentropy')\n"
    "    return model\n"
)
LIARS["patched_describer_with_zero_weights"] = (
    _FAKE_DESCRIBER,
    {
        "layers are",
        "compiled with the adam",
        "compiled with sparse",
        "compiled with the accuracy",
        "learns to recognise",
    },
)


def submission_source(build_model_source: str) -> str:
    """The reference ``digits.py`` with its ``build_model`` replaced by ``build_model_source``
    (whose imports and helper classes go right before it)."""
    reference = REFERENCE.read_text(encoding="utf-8")
    tree = ast.parse(reference)
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "build_model")
    lines = reference.splitlines(keepends=True)
    start = node.lineno - 1
    return "".join(lines[:start]) + build_model_source + "\n\n" + "".join(lines[node.end_lineno :])
