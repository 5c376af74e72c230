"""The training hook a subject's encoder may offer, so that fine-tuning interventions (book §3.7.5:
K steps under stop rules, rollback to a byte-identical checkpoint) can act on it.

An encoder that also satisfies ``TrainableEncoder`` says three things mmgate needs and cannot know:

- ``fine_tune(pairs, steps, lr, seed)``: a *new* encoder after ``steps`` optimiser steps on the
  ``PairedSet`` ``pairs`` (row i of ``pairs.images`` with row i of ``pairs.texts``) at learning rate
  ``lr``, deterministically for ``seed``; the encoder it is called on is left unchanged;
- ``state_dict()``: the encoder's weights as bytes, the same bytes for the same weights (a
  checkpoint: mmgate hashes it and keeps it);
- ``load(state)``: a new encoder holding the weights of a ``state_dict()`` (the rollback:
  ``load(s).state_dict() == s``).

mmgate drives the steps (at most K of the intervention config, in chunks, checking the stop rules on
the encoder's own embeddings between chunks) and decides whether to roll back; the encoder only
trains and serialises. ``mmgate.lab.interventions.trainable.ReferenceTrainable`` is the first
implementation, over the reference aligner.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from mmgate.subjects.paired import PairedSet

TRAINING_METHODS = ("fine_tune", "state_dict", "load")


@runtime_checkable
class TrainableEncoder(Protocol):
    """A ``DualEncoder`` that can be fine-tuned, checkpointed and rolled back (see the module doc)."""

    def embed_images(self, batch: Any) -> np.ndarray:
        """Raw image embeddings, one row per item of ``batch``."""
        ...

    def embed_texts(self, batch: Any) -> np.ndarray:
        """Raw text embeddings, one row per item of ``batch``."""
        ...

    def fine_tune(self, pairs: PairedSet, steps: int, lr: float, seed: int) -> TrainableEncoder:
        """A new encoder after ``steps`` optimiser steps on ``pairs``; ``self`` is unchanged."""
        ...

    def state_dict(self) -> bytes:
        """The weights as deterministic bytes (same weights, same bytes)."""
        ...

    def load(self, state: bytes) -> TrainableEncoder:
        """A new encoder with the weights of ``state`` (``load(s).state_dict() == s``)."""
        ...


def is_trainable(encoder: Any) -> bool:
    """Whether ``encoder`` offers the training hook (all of ``TRAINING_METHODS``, callable)."""
    return all(callable(getattr(encoder, name, None)) for name in TRAINING_METHODS)


__all__ = ["TRAINING_METHODS", "TrainableEncoder", "is_trainable"]
