"""Float64 central-difference gradient check on sampled coordinates of every parameter."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from mmgate.reference.gradients import loss_and_gradients
from mmgate.reference.mlp import MLP, mlp_from_arrays

GRADCHECK_STREAM = 7301
# Below this size both estimates are rounding noise of a float64 loss; it floors the denominator.
REL_ERR_FLOOR = 1e-7


@dataclass(frozen=True)
class ParamCheck:
    """Worst relative error over the sampled coordinates of one parameter array."""

    name: str
    n_checked: int
    worst_rel_err: float
    worst_index: int
    numeric: float
    analytic: float
    passed: bool


@dataclass(frozen=True)
class GradCheckReport:
    """Per-parameter results of one check; `passed` only when every parameter passed."""

    params: tuple[ParamCheck, ...]
    eps: float
    tol: float

    @property
    def passed(self) -> bool:
        """True when every checked coordinate is within tolerance."""
        return all(p.passed for p in self.params)

    @property
    def max_rel_err(self) -> float:
        """Largest relative error over all checked coordinates."""
        return max(p.worst_rel_err for p in self.params)


def relative_error(numeric: float, analytic: float) -> float:
    """|num - ana| / max(|num| + |ana|, REL_ERR_FLOOR)."""
    return abs(numeric - analytic) / max(abs(numeric) + abs(analytic), REL_ERR_FLOOR)


def finite_difference_check(loss_fn: Callable[[dict[str, np.ndarray]], float],
                            params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray], *,
                            coords_per_param: int = 12, eps: float = 1e-6, tol: float = 6e-3,
                            seed: int = 0) -> GradCheckReport:
    """Compare `grads` with (L(p + eps) - L(p - eps)) / 2 eps on sampled coordinates of each array.

    `loss_fn` maps a name -> float64 array dict to a scalar; `params` is never modified.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, GRADCHECK_STREAM]))
    base = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    results = []
    for name in base:
        flat_size = base[name].size
        coords = rng.choice(flat_size, size=min(coords_per_param, flat_size), replace=False)
        worst = (-1.0, -1, 0.0, 0.0)
        for idx in coords:
            shifted = {}
            for sign in (1.0, -1.0):
                arr = base[name].copy()
                arr.flat[idx] += sign * eps
                shifted[sign] = loss_fn({**base, name: arr})
            numeric = (shifted[1.0] - shifted[-1.0]) / (2.0 * eps)
            analytic = float(np.asarray(grads[name]).flat[idx])
            rel = relative_error(numeric, analytic)
            if rel > worst[0]:
                worst = (rel, int(idx), numeric, analytic)
        results.append(ParamCheck(name=name, n_checked=int(coords.size),
                                  worst_rel_err=float(worst[0]), worst_index=worst[1],
                                  numeric=float(worst[2]),
                                  analytic=float(worst[3]), passed=bool(worst[0] <= tol)))
    return GradCheckReport(params=tuple(results), eps=eps, tol=tol)


def _split_towers(flat: Mapping[str, np.ndarray]) -> tuple[MLP, MLP]:
    """{"img.w1": ..., "txt.b2": ...} -> (image tower, text tower)."""
    img = {k.split(".", 1)[1]: v for k, v in flat.items() if k.startswith("img.")}
    txt = {k.split(".", 1)[1]: v for k, v in flat.items() if k.startswith("txt.")}
    return mlp_from_arrays(img), mlp_from_arrays(txt)


def check_aligner_gradients(img: MLP, txt: MLP, x_img: np.ndarray, x_txt: np.ndarray,
                            temperature: float, *, weight_i2t: float = 1.0, weight_t2i: float = 1.0,
                            l2: float = 0.0, coords_per_param: int = 12, eps: float = 1e-6,
                            tol: float = 6e-3, seed: int = 0) -> GradCheckReport:
    """Gradient check of loss_and_gradients in float64 over every parameter of both towers."""
    def loss_fn(flat: dict[str, np.ndarray]) -> float:
        i, t = _split_towers(flat)
        return loss_and_gradients(i, t, x_img, x_txt, temperature, weight_i2t=weight_i2t,
                                  weight_t2i=weight_t2i, l2=l2, grad_img=False, grad_txt=False,
                                  dtype=np.float64).loss

    g = loss_and_gradients(img, txt, x_img, x_txt, temperature, weight_i2t=weight_i2t,
                           weight_t2i=weight_t2i, l2=l2, dtype=np.float64)
    params = {**{f"img.{k}": v for k, v in img.arrays().items()},
              **{f"txt.{k}": v for k, v in txt.arrays().items()}}
    grads = {**{f"img.{k}": v for k, v in g.img.items()},  # type: ignore[union-attr]
             **{f"txt.{k}": v for k, v in g.txt.items()}}  # type: ignore[union-attr]
    return finite_difference_check(loss_fn, params, grads, coords_per_param=coords_per_param,
                                   eps=eps, tol=tol, seed=seed)
