"""What kind of data a PairedSet holds, as the operators see it: image arrays (float or uint8),
numeric arrays, whitespace-token strings or integer token arrays."""

from __future__ import annotations

from typing import Any

import numpy as np

UINT8_RANGE = 255.0
FLOAT_RANGE = 1.0


def image_reason(images: Any, channels: bool = False) -> str | None:
    """Why ``images`` is not an (N, H, W) or (N, H, W, C) float or uint8 array (None if it is)."""
    if not isinstance(images, np.ndarray):
        return f"images must be a numpy array (N, H, W) or (N, H, W, C), got {type(images).__name__}"
    if images.ndim not in (3, 4):
        return f"images must have shape (N, H, W) or (N, H, W, C), got {images.shape}"
    if images.dtype.kind != "f" and images.dtype != np.uint8:
        return f"images must be float or uint8, got dtype {images.dtype}"
    if channels and images.ndim != 4:
        return f"needs a channel axis: images of shape (N, H, W, C), got {images.shape}"
    return None


def numeric_reason(items: Any, modality: str) -> str | None:
    """Why ``items`` is not a float or uint8 array of signal values (None if it is)."""
    if not isinstance(items, np.ndarray):
        return f"{modality} items must be a numpy array of numbers, got {type(items).__name__}"
    if items.dtype.kind != "f" and items.dtype != np.uint8:
        return (f"{modality} items must be float or uint8 signal values, got dtype {items.dtype}"
                f"{' (integer token ids are not a signal to scale)' if items.dtype.kind in 'iu' else ''}")
    return None


def value_range(arr: np.ndarray) -> float:
    """The full range intensities are measured in: 255 for uint8, 1 for float data."""
    return UINT8_RANGE if arr.dtype == np.uint8 else FLOAT_RANGE


def as_float(arr: np.ndarray) -> np.ndarray:
    """A float64 copy to compute on."""
    return np.asarray(arr, dtype=np.float64)


def finished(values: np.ndarray, like: np.ndarray) -> np.ndarray:
    """``values`` back in the dtype of ``like``: uint8 rounded and clipped to [0, 255]."""
    if like.dtype == np.uint8:
        return np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return values.astype(like.dtype)


def text_kind(texts: Any) -> str | None:
    """"strings" (a list or tuple of whitespace-token strings), "tokens" (an (N, L) integer
    array) or None for anything else."""
    if isinstance(texts, np.ndarray):
        return "tokens" if texts.ndim == 2 and texts.dtype.kind in "iu" else None
    if isinstance(texts, (list, tuple)) and all(isinstance(t, str) for t in texts):
        return "strings"
    return None


def text_reason(texts: Any) -> str | None:
    """Why ``texts`` is neither strings nor an integer token array (None if it is one)."""
    if text_kind(texts) is None:
        shape = getattr(texts, "shape", None)
        what = f"{type(texts).__name__}" + (f" of dtype {texts.dtype} shape {shape}"
                                            if shape is not None else "")
        return ("texts must be a list of whitespace-token strings or an (N, L) integer token "
                f"array, got {what}")
    return None


def same_container(texts: Any, rows: list[str]) -> Any:
    """``rows`` in the container type of ``texts`` (list or tuple)."""
    return tuple(rows) if isinstance(texts, tuple) else list(rows)
