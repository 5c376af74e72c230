"""Drawing primitives every mmgate plot shares: fixed sizes and colours, a white single-axes figure
on the Agg canvas (never pyplot, so no global state), PNG bytes without time or software metadata,
and the checks that turn JSON-shaped plot input into finite arrays or name what is wrong."""

from __future__ import annotations

import io
import math

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from mmgate.errors import InputError

DPI = 100
CATEGORICAL_COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94",
    "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5",
)


def figure(size: tuple[float, float]) -> tuple[Figure, Axes]:
    """A white single-axes figure with fixed margins (no layout engine: fixed and fast)."""
    fig = Figure(figsize=size, dpi=DPI, facecolor="white")
    fig.subplots_adjust(left=0.11, right=0.97, bottom=0.13, top=0.91)
    return fig, fig.subplots()


def png_bytes(fig: Figure) -> bytes:
    """Render ``fig`` at its own size and dpi to PNG bytes without software/time metadata."""
    buffer = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buffer, metadata={"Software": None})
    return buffer.getvalue()


def plain(text: str) -> str:
    """``text`` with dollar signs escaped, so user strings are never parsed as mathtext."""
    return text.replace("$", r"\$")


def non_negative_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise InputError(f"{name}: expected a non-negative integer, got {value!r}")
    return int(value)


def finite_scalar(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputError(f"{name}: expected a number, got {value!r}")
    if not math.isfinite(float(value)):
        raise InputError(f"{name}: expected a finite number, got {value!r}")
    return float(value)


def finite_array(values: object, name: str, what: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name}: expected {what} ({exc})") from None
    if array.size and not np.all(np.isfinite(array)):
        raise InputError(f"{name}: contains NaN or Inf")
    return array


def finite_vector(values: object, name: str) -> np.ndarray:
    array = finite_array(values, name, "a list of numbers")
    if array.ndim != 1 or array.size == 0:
        raise InputError(f"{name}: expected a non-empty 1-D list of numbers, "
                         f"got shape {array.shape}")
    return array


def int_vector(values: object, name: str) -> np.ndarray:
    try:
        array = np.asarray(values)
    except (TypeError, ValueError):
        raise InputError(f"{name}: expected a non-empty list of integers") from None
    if array.ndim != 1 or array.size == 0 or array.dtype.kind not in "iu":
        raise InputError(f"{name}: expected a non-empty list of integers")
    return array.astype(np.int64)

