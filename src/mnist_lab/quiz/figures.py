"""Figures of the quiz: inline SVG drawn at build time, so the page stays one offline file.

A question names its figure in the bank (``figure: overfitting-curve``); ``render_figure`` draws
it with ids unique to the page. Colours come from classes the page's stylesheet defines for the
light and the dark scheme, and lines differ by dash pattern too, never by colour alone. Every
figure has a title and a description that says in words what the picture shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from markupsafe import Markup, escape

# The over-fitting run, measured once with the lesson's model (keras.Input(shape=(784,)) ->
# Dense(128, relu) -> Dense(10, softmax), Adam, sparse categorical cross-entropy) on the full
# MNIST training set, pixels / 255, batch_size=32, validation_split=0.1, 20 epochs,
# keras.utils.set_random_seed(0); TensorFlow 2.21, Keras 3.15, CPU. After epoch 20: training
# accuracy 99.81 % (Keras's epoch average; model.evaluate on the 54,000 training images: 99.84 %),
# validation accuracy 98.12 %, test accuracy 97.83 %.
OVERFITTING_TRAIN_LOSS = (
    0.2711, 0.1206, 0.0816, 0.0596, 0.0444, 0.0329, 0.0249, 0.0192, 0.0158, 0.0133,
    0.0133, 0.0106, 0.0090, 0.0077, 0.0069, 0.0075, 0.0064, 0.0056, 0.0066, 0.0057,
)  # fmt: skip
OVERFITTING_VALIDATION_LOSS = (
    0.1168, 0.0905, 0.0842, 0.0848, 0.0869, 0.0879, 0.0862, 0.0916, 0.0942, 0.1017,
    0.0990, 0.0988, 0.1014, 0.1205, 0.1222, 0.1086, 0.1315, 0.1280, 0.1276, 0.1172,
)  # fmt: skip
OVERFITTING_VALIDATION_ACCURACY = (
    0.9685, 0.9738, 0.9777, 0.9767, 0.9760, 0.9763, 0.9780, 0.9783, 0.9782, 0.9790,
    0.9795, 0.9807, 0.9803, 0.9782, 0.9778, 0.9812, 0.9795, 0.9787, 0.9792, 0.9812,
)  # fmt: skip
OVERFITTING_TRAIN_ACCURACY_LAST = 0.9981
OVERFITTING_TEST_ACCURACY = 0.9783

# The confusion-cell question: row 4 (true digit 4), column 9 (predicted digit 9), 23 images.
CONFUSION_CELL = (4, 9, 23)


@dataclass(frozen=True)
class Figure:
    title: str
    description: str
    draw: Callable[[], str]  # the SVG's drawing elements (no <svg>, <title> or <desc>)
    width: int
    height: int


def _best_validation_epoch() -> int:
    losses = OVERFITTING_VALIDATION_LOSS
    return losses.index(min(losses)) + 1


def _polyline(values: tuple[float, ...], x, y, css: str) -> str:
    points = " ".join(f"{x(epoch):.1f},{y(value):.1f}" for epoch, value in enumerate(values, 1))
    return f'<polyline class="{css}" points="{points}"/>'


def _overfitting_curve() -> str:
    left, right, top, bottom = 52, 540, 16, 214
    top_loss = 0.30

    def x(epoch: float) -> float:
        return left + (epoch - 1) * (right - left) / (len(OVERFITTING_TRAIN_LOSS) - 1)

    def y(loss: float) -> float:
        return bottom - loss / top_loss * (bottom - top)

    parts = [f'<rect class="fig-frame" x="{left}" y="{top}" width="{right - left}" '
             f'height="{bottom - top}"/>']  # fmt: skip
    for tick in (0.0, 0.1, 0.2, 0.3):
        parts.append(
            f'<line class="fig-grid" x1="{left}" x2="{right}" y1="{y(tick):.1f}" '
            f'y2="{y(tick):.1f}"/><text class="fig-label" x="{left - 6}" y="{y(tick) + 4:.1f}" '
            f'text-anchor="end">{tick:.1f}</text>'
        )
    for epoch in (1, 5, 10, 15, 20):
        parts.append(
            f'<text class="fig-label" x="{x(epoch):.1f}" y="{bottom + 16}" '
            f'text-anchor="middle">{epoch}</text>'
        )
    parts.append(
        f'<text class="fig-label" x="{(left + right) / 2:.0f}" y="{bottom + 34}" '
        'text-anchor="middle">epoch</text>'
        f'<text class="fig-label" x="14" y="{(top + bottom) / 2:.0f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {(top + bottom) / 2:.0f})">loss</text>'
    )
    parts.append(_polyline(OVERFITTING_TRAIN_LOSS, x, y, "fig-line fig-train"))
    parts.append(_polyline(OVERFITTING_VALIDATION_LOSS, x, y, "fig-line fig-validation"))
    best = _best_validation_epoch()
    best_x, best_y = x(best), y(OVERFITTING_VALIDATION_LOSS[best - 1])
    label_y = y(0.18)
    parts.append(
        f'<circle class="fig-mark" cx="{best_x:.1f}" cy="{best_y:.1f}" r="4"/>'
        f'<line class="fig-grid" x1="{best_x:.1f}" x2="{best_x:.1f}" y1="{best_y - 6:.1f}" '
        f'y2="{label_y + 4:.1f}"/><text class="fig-label" x="{best_x + 6:.1f}" '
        f'y="{label_y:.1f}">lowest validation loss (epoch {best})</text>'
    )
    legend_y = top + 18
    parts.append(
        f'<line class="fig-line fig-train" x1="{right - 190}" x2="{right - 160}" '
        f'y1="{legend_y}" y2="{legend_y}"/><text class="fig-label" x="{right - 154}" '
        f'y="{legend_y + 4}">training loss</text>'
        f'<line class="fig-line fig-validation" x1="{right - 190}" x2="{right - 160}" '
        f'y1="{legend_y + 20}" y2="{legend_y + 20}"/><text class="fig-label" x="{right - 154}" '
        f'y="{legend_y + 24}">validation loss</text>'
    )
    return "".join(parts)


def _overfitting_description() -> str:
    best = _best_validation_epoch()
    train, validation = OVERFITTING_TRAIN_LOSS, OVERFITTING_VALIDATION_LOSS
    return (
        f"Loss per epoch over 20 epochs. The training loss falls steadily from {train[0]:.2f} "
        f"after epoch 1 to {train[-1]:.3f} after epoch 20. The validation loss falls to its "
        f"lowest value, {validation[best - 1]:.3f}, after epoch {best} and then rises, with ups "
        f"and downs, to about {validation[-1]:.2f} after epoch 20."
    )


def _confusion_cell() -> str:
    row, column, count = CONFUSION_CELL
    size, left, top = 22, 74, 44
    parts = [
        f'<text class="fig-label" x="{left + 5 * size}" y="14" text-anchor="middle">'
        "predicted digit (column)</text>",
        f'<text class="fig-label" x="14" y="{top + 5 * size}" text-anchor="middle" '
        f'transform="rotate(-90 14 {top + 5 * size})">true digit (row)</text>',
    ]
    for digit in range(10):
        parts.append(
            f'<text class="fig-label" x="{left + digit * size + size / 2:.0f}" y="{top - 8}" '
            f'text-anchor="middle">{digit}</text><text class="fig-label" x="{left - 8}" '
            f'y="{top + digit * size + size / 2 + 4:.0f}" text-anchor="end">{digit}</text>'
        )
    for i in range(10):
        for j in range(10):
            css = "fig-cell fig-diagonal" if i == j else "fig-cell"
            if (i, j) == (row, column):
                css = "fig-cell fig-highlight"
            parts.append(
                f'<rect class="{css}" x="{left + j * size}" y="{top + i * size}" '
                f'width="{size}" height="{size}"/>'
            )
    parts.append(
        f'<text class="fig-count" x="{left + column * size + size / 2:.0f}" '
        f'y="{top + row * size + size / 2 + 4:.0f}" text-anchor="middle">{count}</text>'
    )
    note_x = left + 10 * size + 16
    parts.append(
        f'<rect class="fig-cell fig-diagonal" x="{note_x}" y="{top + 2}" width="14" height="14"/>'
        f'<text class="fig-label" x="{note_x + 20}" y="{top + 14}">diagonal: row = column</text>'
        f'<rect class="fig-cell fig-highlight" x="{note_x}" y="{top + 26}" width="14" '
        f'height="14"/><text class="fig-label" x="{note_x + 20}" y="{top + 38}">the cell in '
        f"row {row}, column {column}</text>"
    )
    return "".join(parts)


FIGURES: dict[str, Figure] = {
    "overfitting-curve": Figure(
        title="Training and validation loss of the MNIST model over 20 epochs",
        description=_overfitting_description(),
        draw=_overfitting_curve,
        width=560,
        height=260,
    ),
    "confusion-cell": Figure(
        title="A 10 × 10 confusion matrix with one cell marked",
        description=(
            f"Rows are the true digits 0 to 9 from top to bottom, columns the predicted digits 0 "
            f"to 9 from left to right. The diagonal cells, where row and column are the same "
            f"digit, are shaded. The cell in row {CONFUSION_CELL[0]}, column {CONFUSION_CELL[1]} "
            f"is marked and contains the number {CONFUSION_CELL[2]}."
        ),
        draw=_confusion_cell,
        width=520,
        height=280,
    ),
}


def render_figure(name: str, *, id_prefix: str) -> Markup:
    """The figure ``name`` as an inline, accessible SVG whose ids start with ``id_prefix``."""
    figure = FIGURES[name]
    title_id, description_id = f"{id_prefix}-title", f"{id_prefix}-desc"
    return Markup(
        f'<svg class="figure" role="img" viewBox="0 0 {figure.width} {figure.height}" '
        f'width="{figure.width}" height="{figure.height}" '
        f'aria-labelledby="{title_id} {description_id}">'
        f'<title id="{title_id}">{escape(figure.title)}</title>'
        f'<desc id="{description_id}">{escape(figure.description)}</desc>'
        f"{figure.draw()}</svg>"
    )
