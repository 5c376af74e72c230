"""One-step sensitivity proxy: how much top-1 on a batch moves after one small gradient step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from mmgate.errors import InputError
from mmgate.panel import retrieval_metrics


class OneStepTrainable(Protocol):
    """A dual encoder that can return a copy of itself after one gradient step on a paired batch."""

    def embed_images(self, images: np.ndarray) -> np.ndarray: ...

    def embed_texts(self, tokens: np.ndarray) -> np.ndarray: ...

    def train_step(self, images: np.ndarray, tokens: np.ndarray, lr: float) -> OneStepTrainable: ...


@dataclass(frozen=True)
class SensitivityProbe:
    """Top-1 on the batch before and after the step, per direction; `value`: the larger |change|."""

    i2t_before: float
    t2i_before: float
    i2t_after: float
    t2i_after: float
    lr: float
    n: int

    @property
    def value(self) -> float:
        """max(|i2t change|, |t2i change|)."""
        return max(abs(self.i2t_after - self.i2t_before), abs(self.t2i_after - self.t2i_before))


def _top1(subject: OneStepTrainable, images: np.ndarray, tokens: np.ndarray) -> tuple[float, float]:
    """(i2t, t2i) recall@1 of the subject on the paired batch."""
    r = retrieval_metrics(subject.embed_images(images), subject.embed_texts(tokens), ks=(1,))
    return float(r["i2t_recall@1"]), float(r["t2i_recall@1"])


def sensitivity_proxy_one_step(subject: OneStepTrainable, images: np.ndarray, tokens: np.ndarray,
                               lr: float = 0.01) -> SensitivityProbe:
    """One step of size `lr` on (images, tokens), taken by a copy: the subject is unchanged."""
    n = len(images)
    if n < 2 or len(tokens) != n:
        raise InputError(f"images, tokens: expected the same number (>= 2) of paired rows, "
                         f"got {len(images)} and {len(tokens)}")
    if not np.isfinite(lr) or lr < 0.0:
        raise InputError(f"lr: expected a finite number >= 0, got {lr!r}")
    before = _top1(subject, images, tokens)
    after = _top1(subject.train_step(images, tokens, lr), images, tokens)
    return SensitivityProbe(i2t_before=before[0], t2i_before=before[1], i2t_after=after[0],
                            t2i_after=after[1], lr=float(lr), n=int(n))
