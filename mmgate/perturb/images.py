"""Image operators on (N, H, W) or (N, H, W, C) float or uint8 arrays, vectorised over the batch.

Intensities are in units of the full range: 1 for float images, 255 for uint8 (which is rounded
and clipped back to [0, 255]); the dtype is always kept.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from dataclasses import dataclass

import numpy as np

from mmgate.errors import ConfigError
from mmgate.perturb.base import Operator, replaced
from mmgate.perturb.data import as_float, finished, image_reason, value_range
from mmgate.perturb.lazy import PerturbedImages
from mmgate.subjects.paired import LazyRows, PairedSet

CORNERS = ("top_left", "top_right", "bottom_left", "bottom_right")
BLUR_KINDS = ("gaussian", "box")


@dataclass(frozen=True)
class ImageOperator(Operator):
    """An operator on the image array; ``transform`` maps float64 images to float64 images."""

    NEEDS_CHANNELS = False

    def applies_to(self, paired_set: PairedSet) -> str | None:
        images = paired_set.images
        if isinstance(images, LazyRows) and len(images) > 0:
            return image_reason(np.asarray(images[0])[None], channels=self.NEEDS_CHANNELS)
        return image_reason(images, channels=self.NEEDS_CHANNELS)

    @abstractmethod
    def transform(self, x: np.ndarray, full: float) -> np.ndarray:
        ...

    def _apply(self, paired_set: PairedSet) -> PairedSet:
        images = paired_set.images
        if isinstance(images, LazyRows):
            return replaced(paired_set, images=PerturbedImages(images, self, tuple(range(len(images)))))
        out = self.transform(as_float(images), value_range(images))
        return replaced(paired_set, images=finished(out, images))


def _spatial_axes(x: np.ndarray) -> tuple[int, ...]:
    return tuple(range(1, x.ndim))


@dataclass(frozen=True)
class GaussianNoise(ImageOperator):
    """Adds i.i.d. normal noise of standard deviation ``intensity`` (times the full range)."""

    NAME = "gaussian_noise"
    STREAM = 101

    def transform(self, x: np.ndarray, full: float) -> np.ndarray:
        return x + self.intensity * full * self.rng().standard_normal(x.shape)


@dataclass(frozen=True)
class Brightness(ImageOperator):
    """Adds ``intensity`` (times the full range; negative darkens) to every pixel."""

    NAME = "brightness"
    INTENSITY = (-1.0, 1.0, False, False)
    SIGNED = True

    def transform(self, x: np.ndarray, full: float) -> np.ndarray:
        return x + self.intensity * full


@dataclass(frozen=True)
class Contrast(ImageOperator):
    """Scales each image's deviation from its own mean by ``1 + intensity``."""

    NAME = "contrast"
    INTENSITY = (-1.0, 1.0, False, False)
    SIGNED = True

    def transform(self, x: np.ndarray, full: float) -> np.ndarray:
        mean = x.mean(axis=_spatial_axes(x), keepdims=True)
        return mean + (1.0 + self.intensity) * (x - mean)


def blur_kernel(kind: str, size: float) -> np.ndarray:
    """Normalised 1-D taps: a gaussian of sigma ``size`` (radius ceil(3 sigma)), or a box of
    radius ``size`` whose fractional part weights the two outermost taps."""
    if kind == "gaussian":
        radius = max(1, math.ceil(3.0 * size))
        offsets = np.arange(-radius, radius + 1, dtype=np.float64)
        taps = np.exp(-0.5 * (offsets / size) ** 2)
    else:
        whole = math.floor(size)
        taps = np.ones(2 * whole + 3)
        taps[0] = taps[-1] = size - whole
    return taps / taps.sum()


def _convolve(x: np.ndarray, taps: np.ndarray, axis: int) -> np.ndarray:
    radius = taps.size // 2
    pad = [(0, 0)] * x.ndim
    pad[axis] = (radius, radius)
    padded = np.pad(x, pad, mode="edge")
    length = x.shape[axis]
    out = np.zeros_like(x)
    for k, weight in enumerate(taps):
        out += weight * np.take(padded, np.arange(k, k + length), axis=axis)
    return out


@dataclass(frozen=True)
class Blur(ImageOperator):
    """Separable blur over height and width: gaussian of sigma ``intensity`` pixels, or a box of
    that radius (edges replicated)."""

    kind: str = "gaussian"

    NAME = "blur"

    def _check_params(self) -> None:
        if self.kind not in BLUR_KINDS:
            raise ConfigError(f"blur.kind: expected one of {list(BLUR_KINDS)}, got {self.kind!r}")

    def transform(self, x: np.ndarray, full: float) -> np.ndarray:
        taps = blur_kernel(self.kind, self.intensity)
        return _convolve(_convolve(x, taps, 1), taps, 2)


def _dilate(x: np.ndarray, pick: np.ufunc) -> np.ndarray:
    """One-pixel grey-scale dilation (``np.maximum``) or erosion (``np.minimum``) of each image over
    its 3 x 3 neighbourhood, edges replicated."""
    pad = [(0, 0), (1, 1), (1, 1)] + [(0, 0)] * (x.ndim - 3)
    padded = np.pad(x, pad, mode="edge")
    height, width = x.shape[1], x.shape[2]
    out = padded[:, 1:1 + height, 1:1 + width].copy()
    for dy in range(3):
        for dx in range(3):
            pick(out, padded[:, dy:dy + height, dx:dx + width], out=out)
    return out


@dataclass(frozen=True)
class StrokeWeight(ImageOperator):
    """A new pen: strokes brighter than their background drawn bolder (``intensity`` > 0, pixels of
    grey-scale dilation) or thinner (< 0, erosion); a fractional part blends the last pixel in, so
    0.5 is halfway to a one-pixel dilation. A handwriting-style shift for digit-like images."""

    NAME = "stroke_weight"
    INTENSITY = (-3.0, 3.0, False, False)
    SIGNED = True

    def transform(self, x: np.ndarray, full: float) -> np.ndarray:
        pick = np.maximum if self.intensity > 0 else np.minimum
        steps = abs(self.intensity)
        whole = math.floor(steps)
        out = x
        for _ in range(whole):
            out = _dilate(out, pick)
        part = steps - whole
        return out if part == 0 else (1.0 - part) * out + part * _dilate(out, pick)


@dataclass(frozen=True)
class ChannelShift(ImageOperator):
    """Adds a seeded per-image, per-channel offset, uniform in ±``intensity`` (a colour cast)."""

    NAME = "channel_shift"
    STREAM = 102
    NEEDS_CHANNELS = True

    def transform(self, x: np.ndarray, full: float) -> np.ndarray:
        offsets = self.rng().uniform(-1.0, 1.0, size=(x.shape[0], 1, 1, x.shape[3]))
        return x + self.intensity * full * offsets


@dataclass(frozen=True)
class Watermark(ImageOperator):
    """Blends a square patch (``size`` of the shorter side, in ``corner``) towards the top of the
    range with opacity ``intensity``."""

    size: float = 0.25
    corner: str = "bottom_right"

    NAME = "watermark"
    INTENSITY = (0.0, 1.0, False, False)

    def _check_params(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, (int, float)) \
                or not 0.0 < float(self.size) <= 1.0:
            raise ConfigError(f"watermark.size: expected a number in (0, 1], got {self.size!r}")
        if self.corner not in CORNERS:
            raise ConfigError(f"watermark.corner: expected one of {list(CORNERS)}, got {self.corner!r}")

    def transform(self, x: np.ndarray, full: float) -> np.ndarray:
        height, width = x.shape[1], x.shape[2]
        side = max(1, round(self.size * min(height, width)))
        rows = slice(0, side) if self.corner.startswith("top") else slice(height - side, height)
        cols = slice(0, side) if self.corner.endswith("left") else slice(width - side, width)
        out = x.copy()
        out[:, rows, cols] = (1.0 - self.intensity) * x[:, rows, cols] + self.intensity * full
        return out


def _gather(x: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Per-image resampling: out[n, i, j] = x[n, rows[n, i], cols[n, j]]."""
    n = np.arange(x.shape[0])[:, None, None]
    return x[n, rows[:, :, None], cols[:, None, :]]


@dataclass(frozen=True)
class Crop(ImageOperator):
    """Keeps the central ``1 - intensity`` of each side and resizes back (nearest neighbour)."""

    NAME = "crop"
    INTENSITY = (0.0, 1.0, False, True)

    def transform(self, x: np.ndarray, full: float) -> np.ndarray:
        def grid(length: int) -> np.ndarray:
            kept = (1.0 - self.intensity) * length
            start = (length - kept) / 2.0
            idx = np.floor(start + (np.arange(length) + 0.5) * kept / length).astype(np.intp)
            return np.broadcast_to(np.clip(idx, 0, length - 1), (x.shape[0], length))

        return _gather(x, grid(x.shape[1]), grid(x.shape[2]))


@dataclass(frozen=True)
class Translate(ImageOperator):
    """Shifts each image by ``round(intensity * side)`` pixels along both axes, in a seeded
    direction per image, replicating the edge into the uncovered border."""

    NAME = "translate"
    INTENSITY = (0.0, 1.0, False, False)
    STREAM = 103

    def transform(self, x: np.ndarray, full: float) -> np.ndarray:
        signs = self.rng().choice((-1, 1), size=(x.shape[0], 2))

        def grid(length: int, sign: np.ndarray) -> np.ndarray:
            shift = round(self.intensity * length) * sign
            return np.clip(np.arange(length)[None, :] - shift[:, None], 0, length - 1)

        return _gather(x, grid(x.shape[1], signs[:, 0]), grid(x.shape[2], signs[:, 1]))
