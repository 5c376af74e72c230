"""Generic charts for the lab's outputs: a line plot of named series (robustness curves, drift
trends) and a labelled heat map (the detection matrix, the drift confusion matrix)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from mmgate.audit.figure_kit import (
    CATEGORICAL_COLOURS,
    DPI,
    figure,
    finite_array,
    finite_vector,
    plain,
    png_bytes,
)
from mmgate.errors import InputError

CURVE_SIZE_IN = (7.0, 4.5)


def render_curve_plot(title: str, x_label: str,
                      series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
                      y_label: str) -> bytes:
    """PNG bytes of a line plot with one marked line per named (xs, ys) series, e.g. a
    robustness curve of top-1 against perturbation strength."""
    for name, value in (("title", title), ("x_label", x_label), ("y_label", y_label)):
        if not isinstance(value, str):
            raise InputError(f"{name}: expected a string, got {type(value).__name__}")
    if not isinstance(series, Mapping) or not series:
        raise InputError("series: expected a non-empty mapping of name -> (xs, ys)")
    lines = []
    for name, pair in series.items():
        if not isinstance(name, str):
            raise InputError(f"series: names must be strings, got {name!r}")
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise InputError(f"series[{name!r}]: expected a pair (xs, ys)")
        xs = finite_vector(pair[0], f"series[{name!r}] xs")
        ys = finite_vector(pair[1], f"series[{name!r}] ys")
        if xs.size != ys.size:
            raise InputError(f"series[{name!r}]: xs has {xs.size} values but ys has {ys.size}")
        lines.append((name, xs, ys))
    fig, ax = figure(CURVE_SIZE_IN)
    for index, (name, xs, ys) in enumerate(lines):
        ax.plot(xs, ys, marker="o", markersize=4, label=plain(name),
                color=CATEGORICAL_COLOURS[index % len(CATEGORICAL_COLOURS)])
    ax.set_title(plain(title))
    ax.set_xlabel(plain(x_label))
    ax.set_ylabel(plain(y_label))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return png_bytes(fig)


def render_heatmap(title: str, row_labels: Sequence[str], column_labels: Sequence[str],
                   values: object, value_label: str) -> bytes:
    """PNG bytes of a labelled heat map of ``values`` in [0, 1] (rows x columns), e.g. the share of
    each gate's cases that failed under each calibration condition; non-zero cells are annotated."""
    for name, text in (("title", title), ("value_label", value_label)):
        if not isinstance(text, str):
            raise InputError(f"{name}: expected a string, got {type(text).__name__}")
    for name, labels in (("row_labels", row_labels), ("column_labels", column_labels)):
        if isinstance(labels, (str, bytes)) or not isinstance(labels, Sequence) or not labels \
                or not all(isinstance(label, str) for label in labels):
            raise InputError(f"{name}: expected a non-empty sequence of strings")
    grid = finite_array(values, "values", "cell values")
    if grid.shape != (len(row_labels), len(column_labels)):
        raise InputError(f"values: expected shape ({len(row_labels)}, {len(column_labels)}) for the "
                         f"labels, got {grid.shape}")
    if grid.min() < 0.0 or grid.max() > 1.0:
        raise InputError("values: expected cell values in [0, 1]")
    width = min(24.0, 4.8 + 0.45 * len(column_labels))
    height = min(24.0, 2.2 + 0.32 * len(row_labels))
    fig = Figure(figsize=(width, height), dpi=DPI, facecolor="white")
    fig.subplots_adjust(left=3.4 / width, right=1.0 - 1.2 / width, bottom=1.8 / height,
                        top=1.0 - 0.5 / height)
    ax = fig.subplots()
    image = ax.imshow(grid, cmap="Reds", vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
    ax.set_xticks(range(len(column_labels)), [plain(c) for c in column_labels], rotation=60,
                  ha="right", fontsize="small")
    ax.set_yticks(range(len(row_labels)), [plain(r) for r in row_labels], fontsize="small")
    for (row, column), value in np.ndenumerate(grid):
        if value > 0.0:
            ax.text(column, row, f"{value:.2f}".lstrip("0"), ha="center", va="center", fontsize=6,
                    color="white" if value > 0.5 else "black")
    ax.set_title(plain(title))
    fig.colorbar(image, ax=ax, label=plain(value_label), fraction=0.03, pad=0.02)
    return png_bytes(fig)

