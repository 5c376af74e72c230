"""The scoring temperature a canary supports: the temperature minimising symmetric InfoNCE.

Ranks and cosines do not depend on the temperature, but every softmax confidence does; a deployed
temperature far from the one the embeddings support gives systematically over- or under-confident
scores (scoring drift) while retrieval gates stay green.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mmgate.errors import ConfigError
from mmgate.panel.blocks import capped_rows
from mmgate.panel.validate import config_int, embedding_pair, unit_pair

FIT_STREAM = 72
LOG_BETA_RANGE = (math.log(1e-2), math.log(1e4))  # inverse temperatures searched, 1e-4 < tau < 100
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0
_ITERATIONS = 60


def _row_losses(scores: np.ndarray, beta: float, start: int) -> np.ndarray:
    """InfoNCE loss of each row of ``scores`` (rows ``start + i`` of a square matrix, so the positive
    of row i is column start + i) at inverse temperature beta."""
    logits = beta * scores
    top = logits.max(axis=1, keepdims=True)
    lse = np.log(np.exp(logits - top).sum(axis=1)) + top[:, 0]
    return lse - logits[np.arange(scores.shape[0]), start + np.arange(scores.shape[0])]


def _row_loss(scores: np.ndarray, beta: float) -> float:
    """Mean InfoNCE loss of the rows of ``scores`` (positives on the diagonal) at inverse temperature
    beta, over blocks of rows whose temporaries fit the panel's block budget (O(budget) working
    memory beside ``scores``); each row is reduced as in one pass over the whole matrix (measured:
    the same fitted temperatures, bit for bit, at the default budget)."""
    rows = capped_rows(scores.shape[0], scores.shape[1], 4 * scores.itemsize)
    return float(np.mean(np.concatenate([_row_losses(scores[start:start + rows], beta, start)
                                         for start in range(0, scores.shape[0], rows)])))


def symmetric_infonce(scores: np.ndarray, temperature: float) -> float:
    """Mean of the image-to-text and text-to-image InfoNCE losses of a cosine matrix."""
    beta = 1.0 / temperature
    return 0.5 * (_row_loss(scores, beta) + _row_loss(scores.T, beta))


def _scores(z_img: object, z_txt: object, seed: int, max_items: int) -> np.ndarray:
    """Cosine matrix of at most ``max_items`` pairs (a seeded sample), in float64."""
    zi, zt = embedding_pair(z_img, z_txt)
    max_items = config_int(max_items, "max_items", 2)
    n = zi.shape[0]
    rng = np.random.default_rng(np.random.SeedSequence([seed, FIT_STREAM]))
    rows = np.sort(rng.choice(n, size=max_items, replace=False)) if n > max_items else np.arange(n)
    ui, ut = unit_pair(zi[rows], zt[rows])
    return ui.astype(np.float64) @ ut.astype(np.float64).T


def _argmin_log_beta(scores: np.ndarray) -> float:
    """Golden-section search of the log inverse temperature minimising the loss (convex in beta,
    hence unimodal in log beta); ties move towards colder temperatures, where a loss flat to the
    last bit means separated pairs."""
    low, high = LOG_BETA_RANGE
    a, b = high - _GOLDEN * (high - low), low + _GOLDEN * (high - low)
    fa, fb = (symmetric_infonce(scores, math.exp(-x)) for x in (a, b))
    for _ in range(_ITERATIONS):
        if fa < fb:
            high, b, fb = b, a, fa
            a = high - _GOLDEN * (high - low)
            fa = symmetric_infonce(scores, math.exp(-a))
        else:
            low, a, fa = a, b, fb
            b = low + _GOLDEN * (high - low)
            fb = symmetric_infonce(scores, math.exp(-b))
    return 0.5 * (low + high)


def fit_temperature(z_img: object, z_txt: object, declared: float | None = None, *, seed: int = 0,
                    max_items: int = 2048) -> dict[str, Any]:
    """The temperature minimising symmetric InfoNCE on the pairs and, given the ``declared`` scoring
    temperature, |ln(declared / fitted)| and the loss at both. ``at_bound`` says the minimum lies
    on the searched range's edge (perfectly separated pairs want a temperature near 0)."""
    if declared is not None and (isinstance(declared, bool) or not isinstance(declared, (int, float))
                                 or not math.isfinite(declared) or declared <= 0):
        raise ConfigError(f"declared temperature: expected a finite number > 0, got {declared!r}")
    scores = _scores(z_img, z_txt, seed, max_items)
    log_beta = _argmin_log_beta(scores)
    fitted = math.exp(-log_beta)
    report: dict[str, Any] = {
        "fitted_temperature": fitted,
        "loss_at_fit": symmetric_infonce(scores, fitted),
        "pairs": int(scores.shape[0]),
        "at_bound": bool(min(log_beta - LOG_BETA_RANGE[0], LOG_BETA_RANGE[1] - log_beta) < 1e-3),
    }
    if declared is not None:
        report.update(declared_temperature=float(declared),
                      loss_at_declared=symmetric_infonce(scores, float(declared)),
                      ratio=declared / fitted, log_ratio=abs(math.log(declared / fitted)))
    return report
