"""The hooked limited fine-tune: mmgate drives a subject's own ``fine_tune`` in chunks up to K
steps, stops when a health limit of the contract is crossed, and rolls back to the last healthy
checkpoint byte for byte."""

from __future__ import annotations

import math

import numpy as np

from mmgate.gating.contract import Contract
from mmgate.lab.interventions.config import InterventionConfig
from mmgate.lab.interventions.hooked import (
    fired_rules,
    hooked_fine_tune,
    readings,
    stop_rules,
)
from mmgate.subjects.paired import PairedSet
from mmgate.subjects.trainable import is_trainable

D = 16
CONFIG = InterventionConfig(fine_tune_steps=40, max_steps=50, checkpoint_every=10)


class Spreading:
    """Text tower x -> x @ W; each step moves W a share ``lr * 10`` of the way to the identity (it
    un-collapses), and a learning rate above 0.05 diverges to NaN after ``blowup_step`` steps."""

    def __init__(self, w: np.ndarray, steps: int = 0, blowup_step: int = 0) -> None:
        self.w, self.steps, self.blowup_step = w, steps, blowup_step

    def embed_images(self, batch):
        return np.asarray(batch, dtype=np.float64)

    def embed_texts(self, batch):
        return np.asarray(batch, dtype=np.float64) @ self.w

    def fine_tune(self, pairs, steps, lr, seed):
        w = self.w.copy()
        for step in range(steps):
            if lr > 0.05 and self.steps + step >= self.blowup_step:
                w = w * np.nan
            else:
                w = w + lr * 10 * (np.eye(D) - w)
        return Spreading(w, self.steps + steps, self.blowup_step)

    def state_dict(self):
        return np.ascontiguousarray(self.w).tobytes() + self.steps.to_bytes(4, "big")

    def load(self, state):
        return Spreading(np.frombuffer(state[:-4]).reshape(D, D).copy(), int.from_bytes(state[-4:], "big"),
                         self.blowup_step)


def _data(n: int = 128) -> PairedSet:
    x = np.random.default_rng(0).standard_normal((n, D))
    return PairedSet(x, x)


def _collapsed() -> np.ndarray:
    w = np.zeros((D, D))
    w[0, 0] = w[1, 1] = 1.0  # the text tower keeps two directions
    return w


def test_a_healthy_fine_tune_takes_its_steps_and_spreads_the_spectrum():
    encoder = Spreading(_collapsed())
    assert is_trainable(encoder)
    tuned, record = hooked_fine_tune(encoder, _data(), _data(64), Contract.for_subject(False), CONFIG, seed=0)
    assert record["steps_taken"] == 40 and not record["stopped"] and [t["step"] for t in record["trace"]] == [
        10, 20, 30, 40]
    assert readings(tuned, _data(64))["effective_rank"] > record["start"]["effective_rank"] + 3
    assert encoder.w[2, 2] == 0.0  # the encoder the hook was called on is unchanged


def test_a_diverging_fine_tune_is_stopped_and_rolled_back_to_the_last_healthy_checkpoint_byte_for_byte():
    encoder = Spreading(_collapsed(), blowup_step=25)
    tuned, record = hooked_fine_tune(encoder, _data(), _data(64), Contract.for_subject(False), CONFIG, seed=0,
                                     lr=0.06)
    assert record["stopped"] and record["fired"] == ["nan"] and record["steps_taken"] == 20
    assert record["rolled_back"] and record["rollback"]["to_step"] == 20 and record["rollback"]["byte_identical"]
    assert tuned.steps == 20 and np.isfinite(tuned.w).all()


def test_a_limit_the_start_already_violates_is_relaxed_to_not_worse_than_the_start():
    start = {"mean_cosine": 0.95, "direction_energy": 0.5, "effective_rank": 2.0}
    rules = stop_rules(start, Contract.for_subject(False), n=64, d=D, config=CONFIG)
    assert rules.max_mean_cosine == 0.95 + CONFIG.stop_margin_cosine
    assert rules.min_effective_rank == 2.0 - CONFIG.stop_margin_rank
    assert fired_rules({**start, "effective_rank": 1.0}, rules) == ["effective_rank_floor"]
    assert fired_rules({**start, "mean_cosine": math.nan}, rules) == ["nan"]
