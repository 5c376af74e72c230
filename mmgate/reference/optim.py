"""Pure optimiser steps over name -> array mappings: gradient clipping, SGD, and AdamW."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np

ADAM_BETA1 = 0.9
ADAM_BETA2 = 0.999
ADAM_EPS = 1e-8

Arrays = Mapping[str, np.ndarray]


def global_norm(grads: Arrays) -> float:
    """Euclidean norm of all arrays taken together (accumulated in float64)."""
    return float(np.sqrt(sum(np.sum(np.square(g, dtype=np.float64)) for g in grads.values())))


def clip_by_norm(grads: Arrays, max_norm: float) -> tuple[dict[str, np.ndarray], float]:
    """Rescale `grads` to global norm <= max_norm (0 disables); returns (grads, norm before)."""
    norm = global_norm(grads)
    if max_norm <= 0.0 or norm <= max_norm:
        return dict(grads), norm
    scale = max_norm / norm
    return {k: (g * scale).astype(g.dtype, copy=False) for k, g in grads.items()}, norm


def sgd_update(params: Arrays, grads: Arrays, lr: float) -> dict[str, np.ndarray]:
    """p - lr * g for every parameter (weight decay, if any, is already in the gradient)."""
    return {k: (p - lr * grads[k]).astype(p.dtype, copy=False) for k, p in params.items()}


@dataclass(frozen=True, eq=False)
class AdamState:
    """Adam moments per parameter name and the number of steps taken."""

    step: int
    m: dict[str, np.ndarray]
    v: dict[str, np.ndarray]


def adam_init(params: Arrays) -> AdamState:
    """Zero moments shaped like `params`."""
    return AdamState(step=0, m={k: np.zeros_like(p) for k, p in params.items()},
                     v={k: np.zeros_like(p) for k, p in params.items()})


def adamw_update(params: Arrays, grads: Arrays, state: AdamState, lr: float, weight_decay: float,
                 decay: Collection[str] = ()) -> tuple[dict[str, np.ndarray], AdamState]:
    """One bias-corrected Adam step with decoupled weight decay on the names in `decay`."""
    t = state.step + 1
    c1 = 1.0 - ADAM_BETA1 ** t
    c2 = 1.0 - ADAM_BETA2 ** t
    new_p: dict[str, np.ndarray] = {}
    new_m: dict[str, np.ndarray] = {}
    new_v: dict[str, np.ndarray] = {}
    for k, p in params.items():
        g = grads[k]
        m = ADAM_BETA1 * state.m[k] + (1.0 - ADAM_BETA1) * g
        v = ADAM_BETA2 * state.v[k] + (1.0 - ADAM_BETA2) * (g * g)
        step = (m / c1) / (np.sqrt(v / c2) + ADAM_EPS)
        if k in decay and weight_decay > 0.0:
            step = step + weight_decay * p
        new_p[k] = (p - lr * step).astype(p.dtype, copy=False)
        new_m[k] = m.astype(p.dtype, copy=False)
        new_v[k] = v.astype(p.dtype, copy=False)
    return new_p, AdamState(step=t, m=new_m, v=new_v)
