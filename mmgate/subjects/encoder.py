"""The ``DualEncoder`` protocol a team's model satisfies, and the check for its two methods."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

ENCODER_METHODS = ("embed_images", "embed_texts")


@runtime_checkable
class DualEncoder(Protocol):
    """Two encoders into one space, each returning raw (pre-normalisation) ``(len(batch), d)`` rows.

    Optional: a ``temperature: float`` attribute, and ``identity() -> dict`` (name, version,
    weights digest) recorded in the manifest.
    """

    def embed_images(self, batch: Any) -> np.ndarray:
        """Raw image embeddings, one row per item of ``batch``."""
        ...

    def embed_texts(self, batch: Any) -> np.ndarray:
        """Raw text embeddings, one row per item of ``batch``."""
        ...


def missing_encoder_methods(encoder: Any) -> tuple[str, ...]:
    """Names of the DualEncoder methods ``encoder`` lacks or has as non-callables."""
    return tuple(m for m in ENCODER_METHODS if not callable(getattr(encoder, m, None)))


