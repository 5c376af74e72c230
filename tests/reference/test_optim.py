"""Optimiser steps are pure; clipping bounds the norm; AdamW decays only the named parameters."""

from __future__ import annotations

import numpy as np
import pytest

from mmgate.reference import (
    adam_init,
    adamw_update,
    clip_by_norm,
    global_norm,
    sgd_update,
)


def _params():
    rng = np.random.default_rng(0)
    return {"w1": rng.standard_normal((3, 4)).astype(np.float32), "b1": np.ones(4, np.float32)}


def test_clip_by_norm_rescales_to_the_ceiling_and_reports_the_norm_before():
    g = {"a": np.full(4, 3.0), "b": np.full(1, 4.0)}
    clipped, norm = clip_by_norm(g, 1.0)
    assert norm == pytest.approx(np.sqrt(36 + 16))
    assert global_norm(clipped) == pytest.approx(1.0)
    assert np.allclose(clipped["a"] / clipped["b"][0], g["a"] / g["b"][0])


def test_clip_below_ceiling_or_disabled_leaves_gradients_alone():
    g = {"a": np.full(4, 3.0)}
    assert np.array_equal(clip_by_norm(g, 100.0)[0]["a"], g["a"])
    assert np.array_equal(clip_by_norm(g, 0.0)[0]["a"], g["a"])


def test_sgd_update_is_pure_and_moves_against_the_gradient():
    p = _params()
    before = {k: v.copy() for k, v in p.items()}
    g = {k: np.ones_like(v) for k, v in p.items()}
    new = sgd_update(p, g, 0.5)
    assert all(np.array_equal(p[k], before[k]) for k in p)
    assert np.allclose(new["w1"], before["w1"] - 0.5)
    assert new["w1"].dtype == np.float32


def test_adamw_first_step_has_size_lr_and_decoupled_decay_only_on_named_params():
    p = _params()
    g = {k: np.full_like(v, 0.01) for k, v in p.items()}
    state = adam_init(p)
    new, state2 = adamw_update(p, g, state, lr=0.1, weight_decay=0.0)
    assert state2.step == 1 and state.step == 0
    assert np.allclose(p["w1"] - new["w1"], 0.1, atol=1e-5)
    decayed, _ = adamw_update(p, g, state, lr=0.1, weight_decay=0.5, decay=("w1",))
    assert np.allclose(decayed["w1"], new["w1"] - 0.1 * 0.5 * p["w1"], atol=1e-6)
    assert np.array_equal(decayed["b1"], new["b1"])


def test_adam_is_invariant_to_gradient_scale_which_is_why_grad_scale_acts_on_the_step():
    p = _params()
    rng = np.random.default_rng(1)
    g = {k: rng.standard_normal(v.shape).astype(np.float32) for k, v in p.items()}
    a, _ = adamw_update(p, g, adam_init(p), lr=0.01, weight_decay=0.0)
    g10 = {k: 10.0 * v for k, v in g.items()}
    b, _ = adamw_update(p, g10, adam_init(p), lr=0.01, weight_decay=0.0)
    assert np.allclose(a["w1"], b["w1"], atol=1e-6)
