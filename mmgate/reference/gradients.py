"""Loss and analytic gradients of both towers on one paired batch, in any float dtype."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mmgate.reference.mlp import MLP, MLPCache, mlp_backward, mlp_forward
from mmgate.reference.objective import (
    l2_normalize,
    l2_normalize_backward,
    symmetric_infonce,
)

DECAYED_PARAMS: tuple[str, ...] = ("w1", "w2")


@dataclass(frozen=True, eq=False)
class BatchGradients:
    """Total loss (InfoNCE + optional L2 penalty), its directional parts, and per-tower gradients.

    A tower whose gradient was not requested (stop-gradient) has `None` instead of a gradient dict.
    """

    loss: float
    loss_i2t: float
    loss_t2i: float
    img: dict[str, np.ndarray] | None
    txt: dict[str, np.ndarray] | None


def l2_penalty(tower: MLP, l2: float) -> float:
    """0.5 * l2 * (|w1|^2 + |w2|^2): the coupled weight-decay term (biases are not decayed)."""
    arrays = tower.arrays()
    return 0.5 * l2 * float(sum(np.sum(np.square(arrays[k], dtype=np.float64))
                                for k in DECAYED_PARAMS))


def _tower_gradients(tower: MLP, cache: MLPCache, y: np.ndarray, norm: np.ndarray, dy: np.ndarray,
                     l2: float) -> dict[str, np.ndarray]:
    """Backprop dL/dy through the L2 normalisation and the tower; add the L2 penalty gradient."""
    grads = mlp_backward(tower, cache, l2_normalize_backward(y, norm, dy))
    if l2 > 0.0:
        for k in DECAYED_PARAMS:
            grads[k] = grads[k] + l2 * tower.arrays()[k]
    return grads


def loss_and_gradients(img: MLP, txt: MLP, x_img: np.ndarray, x_txt: np.ndarray, temperature: float,
                       *, weight_i2t: float = 1.0, weight_t2i: float = 1.0, l2: float = 0.0,
                       grad_img: bool = True, grad_txt: bool = True,
                       dtype: np.dtype | type = np.float32) -> BatchGradients:
    """Symmetric InfoNCE of cosine logits / temperature, with gradients through the normalisation.

    Everything (parameters, inputs) is cast to `dtype` first; gradients come back in that dtype.
    """
    img_t, txt_t = img.astype(dtype), txt.astype(dtype)
    zi, cache_i = mlp_forward(img_t, np.asarray(x_img, dtype=dtype))
    zt, cache_t = mlp_forward(txt_t, np.asarray(x_txt, dtype=dtype))
    yi, ni = l2_normalize(zi)
    yt, nt = l2_normalize(zt)
    inv_t = np.asarray(1.0 / temperature, dtype=dtype)
    nce = symmetric_infonce((yi @ yt.T) * inv_t, weight_i2t, weight_t2i)
    loss = nce.loss + (l2_penalty(img_t, l2) + l2_penalty(txt_t, l2) if l2 > 0.0 else 0.0)
    g_img = (_tower_gradients(img_t, cache_i, yi, ni, (nce.dlogits @ yt) * inv_t, l2)
             if grad_img else None)
    g_txt = (_tower_gradients(txt_t, cache_t, yt, nt, (nce.dlogits.T @ yi) * inv_t, l2)
             if grad_txt else None)
    return BatchGradients(loss=float(loss), loss_i2t=nce.loss_i2t, loss_t2i=nce.loss_t2i,
                          img=g_img, txt=g_txt)
