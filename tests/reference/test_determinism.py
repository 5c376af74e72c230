"""Determinism self-check: passes for the trainer, raises when two runs differ."""

from __future__ import annotations

import dataclasses

import pytest

from mmgate.reference import DeterminismError, determinism_self_check, train_reference
from mmgate.world import DEFAULT_WORLD, make_world

TINY_WORLD = DEFAULT_WORLD.replace(n_train=128, n_val=64, n_test=64)


def test_self_check_passes_and_summarises_the_run():
    summary = determinism_self_check(make_world(TINY_WORLD, 3), seed=3)
    assert summary["passed"] is True and summary["n_history"] == 2
    assert len(summary["weights_sha256"]) == 64 and len(summary["history_sha256"]) == 64


def test_self_check_raises_when_the_runs_differ():
    calls = []

    def flaky(world, aligner, training, seed):
        calls.append(seed)
        result = train_reference(world, aligner, training, seed)
        if len(calls) == 2:
            history = (dict(result.history[0], train_loss=result.history[0]["train_loss"] + 1e-12),
                       *result.history[1:])
            return dataclasses.replace(result, history=history)
        return result

    with pytest.raises(DeterminismError, match="history"):
        determinism_self_check(make_world(TINY_WORLD, 0), trainer=flaky)


def test_self_check_names_differing_weights():
    calls = []

    def reseeding(world, aligner, training, seed):
        calls.append(seed)
        return train_reference(world, aligner, training, seed + len(calls))

    with pytest.raises(DeterminismError, match="weights"):
        determinism_self_check(make_world(TINY_WORLD, 0), trainer=reseeding)
