"""One-step sensitivity proxy: top-1 change on a batch after one small step, subject unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from mmgate.errors import InputError
from mmgate.reference import sensitivity_proxy_one_step


@pytest.fixture
def batch(world0):
    return world0.test.images[:96], world0.test.tokens[:96]


def test_zero_step_changes_nothing(trained0, batch):
    probe = sensitivity_proxy_one_step(trained0.model, *batch, lr=0.0)
    assert probe.value == 0.0 and probe.n == 96
    assert probe.i2t_before == probe.i2t_after


def test_small_step_moves_top1_a_little_and_leaves_the_subject_alone(trained0, batch):
    sha = trained0.model.identity()["weights_sha256"]
    probe = sensitivity_proxy_one_step(trained0.model, *batch)
    assert 0.0 <= probe.value <= 0.2
    assert probe.i2t_before > 0.5
    big = sensitivity_proxy_one_step(trained0.model, *batch, lr=50.0)
    assert big.value > probe.value
    assert trained0.model.identity()["weights_sha256"] == sha


@pytest.mark.parametrize("n_img, n_tok, lr, field", [(1, 1, 0.01, "images"), (8, 7, 0.01, "tokens"),
                                                     (8, 8, -1.0, "lr"), (8, 8, np.nan, "lr")])
def test_bad_arguments_are_input_errors(trained0, world0, n_img, n_tok, lr, field):
    images, tokens = world0.test.images[:n_img], world0.test.tokens[:n_tok]
    with pytest.raises(InputError, match=field):
        sensitivity_proxy_one_step(trained0.model, images, tokens, lr=lr)
