"""L2 normalisation with its Jacobian; symmetric InfoNCE (stable log-sum-exp) with its gradient."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NORM_EPS = 1e-12


def l2_normalize(z: np.ndarray, eps: float = NORM_EPS) -> tuple[np.ndarray, np.ndarray]:
    """Rows z / sqrt(|z|^2 + eps) and the (n, 1) norms used, kept for the backward pass."""
    norm = np.sqrt(np.sum(z * z, axis=1, keepdims=True) + eps)
    return z / norm, norm


def l2_normalize_backward(y: np.ndarray, norm: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """dL/dz from dL/dy for y = z / norm: (dy - y (y . dy)) / norm (exact, eps included)."""
    return (dy - y * np.sum(dy * y, axis=1, keepdims=True)) / norm


def logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    """Stable log(sum(exp(a))) along `axis` (max subtracted first); the axis is removed."""
    m = np.max(a, axis=axis, keepdims=True)
    return np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(a - m), axis=axis))


@dataclass(frozen=True, eq=False)
class InfoNCEResult:
    """Weighted symmetric loss, its two directional parts, and dL/dlogits."""

    loss: float
    loss_i2t: float
    loss_t2i: float
    dlogits: np.ndarray


def symmetric_infonce(logits: np.ndarray, weight_i2t: float = 1.0,
                      weight_t2i: float = 1.0) -> InfoNCEResult:
    """L = (w_i2t * CE(rows) + w_t2i * CE(columns)) / 2, matches on the diagonal of (B, B) logits.

    The weights are not renormalised, so scaling both scales the loss (it acts under SGD).
    """
    b = logits.shape[0]
    diag = np.diagonal(logits)
    lse_rows = logsumexp(logits, axis=1)
    lse_cols = logsumexp(logits, axis=0)
    loss_i2t = float(np.mean(lse_rows - diag))
    loss_t2i = float(np.mean(lse_cols - diag))
    p_rows = np.exp(logits - lse_rows[:, None])
    p_cols = np.exp(logits - lse_cols[None, :])
    eye = np.eye(b, dtype=logits.dtype)
    dlogits = (0.5 / b) * (weight_i2t * (p_rows - eye) + weight_t2i * (p_cols - eye))
    loss = 0.5 * (weight_i2t * loss_i2t + weight_t2i * loss_t2i)
    return InfoNCEResult(loss=float(loss), loss_i2t=loss_i2t, loss_t2i=loss_t2i,
                         dlogits=dlogits.astype(logits.dtype, copy=False))
