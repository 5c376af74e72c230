"""Float64 central-difference check of the analytic gradients: every parameter of both towers."""

from __future__ import annotations

import numpy as np
import pytest

from mmgate.reference import (
    MLP,
    check_aligner_gradients,
    finite_difference_check,
    init_mlp,
    loss_and_gradients,
    mlp_backward,
    mlp_forward,
)
from mmgate.reference.objective import l2_normalize, symmetric_infonce
from mmgate.world import DEFAULT_WORLD, make_world, text_feature_dim, text_features

TOL = 6e-3


def _batch(seed: int, n: int = 16):
    """A real paired batch from the default world and freshly initialised float64 towers."""
    world = make_world(DEFAULT_WORLD.replace(n_train=64, n_val=16, n_test=16), seed)
    rng = np.random.default_rng(seed)
    idx = rng.choice(world.train.images.shape[0], size=n, replace=False)
    x_img = world.train.images[idx].reshape(n, -1).astype(np.float64)
    x_txt = text_features(world.train.tokens[idx], DEFAULT_WORLD.vocab_size).astype(np.float64)
    img = init_mlp(x_img.shape[1], 24, 12, rng, np.float64)
    txt = init_mlp(text_feature_dim(DEFAULT_WORLD.vocab_size), 20, 12, rng, np.float64)
    # non-zero biases so their gradients are exercised away from the all-zero init
    img = MLP(img.w1, rng.standard_normal(24) * 0.1, img.w2, rng.standard_normal(12) * 0.1)
    txt = MLP(txt.w1, rng.standard_normal(20) * 0.1, txt.w2, rng.standard_normal(12) * 0.1)
    return img, txt, x_img, x_txt


@pytest.mark.parametrize("seed, temperature, weights, l2", [
    (0, 0.1, (1.0, 1.0), 0.0),
    (1, 0.07, (1.0, 0.3), 1e-2),
    (2, 0.5, (0.0, 2.0), 1e-3),
])
def test_analytic_gradients_match_float64_central_differences(seed, temperature, weights, l2):
    img, txt, x_img, x_txt = _batch(seed)
    report = check_aligner_gradients(img, txt, x_img, x_txt, temperature, weight_i2t=weights[0],
                                     weight_t2i=weights[1], l2=l2, coords_per_param=16, tol=TOL,
                                     seed=seed)
    names = {p.name for p in report.params}
    assert names == {f"{t}.{p}" for t in ("img", "txt") for p in ("w1", "b1", "w2", "b2")}
    assert all(p.n_checked > 0 for p in report.params)
    assert report.passed, [(p.name, p.worst_rel_err, p.numeric, p.analytic) for p in report.params]
    assert report.max_rel_err <= TOL


def test_gradients_come_back_in_the_requested_dtype():
    img, txt, x_img, x_txt = _batch(3)
    g64 = loss_and_gradients(img, txt, x_img, x_txt, 0.1, dtype=np.float64)
    g32 = loss_and_gradients(img, txt, x_img, x_txt, 0.1, dtype=np.float32)
    assert g64.img["w1"].dtype == np.float64 and g32.txt["b2"].dtype == np.float32
    assert np.allclose(g32.img["w1"], g64.img["w1"], rtol=1e-3, atol=1e-6)


def test_check_detects_gradients_that_skip_the_normalisation_jacobian():
    img, txt, x_img, x_txt = _batch(4)
    zi, ci = mlp_forward(img, x_img)
    zt, _ = mlp_forward(txt, x_txt)
    yi, _ = l2_normalize(zi)
    yt, _ = l2_normalize(zt)
    nce = symmetric_infonce(yi @ yt.T / 0.1)
    wrong = mlp_backward(img, ci, nce.dlogits @ yt / 0.1)   # dL/dy used as dL/dz: Jacobian skipped

    def loss_fn(p):
        return loss_and_gradients(MLP(**p), txt, x_img, x_txt, 0.1, grad_img=False, grad_txt=False,
                                  dtype=np.float64).loss

    report = finite_difference_check(loss_fn, img.arrays(), wrong, coords_per_param=16, tol=TOL)
    assert not report.passed


def test_check_detects_a_five_percent_gradient_error():
    img, txt, x_img, x_txt = _batch(5)
    g = loss_and_gradients(img, txt, x_img, x_txt, 0.1, dtype=np.float64)

    def loss_fn(p):
        return loss_and_gradients(MLP(**p), txt, x_img, x_txt, 0.1, grad_img=False, grad_txt=False,
                                  dtype=np.float64).loss

    assert finite_difference_check(loss_fn, img.arrays(), g.img, tol=TOL).passed
    scaled = {k: v * 1.05 for k, v in g.img.items()}
    assert not finite_difference_check(loss_fn, img.arrays(), scaled, tol=TOL).passed


def test_stopped_tower_gets_no_gradient():
    img, txt, x_img, x_txt = _batch(6)
    g = loss_and_gradients(img, txt, x_img, x_txt, 0.1, grad_txt=False)
    assert g.txt is None and g.img is not None
