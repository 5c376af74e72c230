"""Monitoring profiles: what a baseline keeps of one seed, JSON-ready, and every drift budget
judged on a baseline against itself (no drift) and against a drifted canary."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from examples.grid_subject import make_canary
from mmgate.drift.budgets import DEFAULT_BUDGETS
from mmgate.drift.errors import BaselineError
from mmgate.drift.monitor import SAMPLE_ROWS, check_profile, judge
from mmgate.errors import InputError
from mmgate.subjects.paired import PairedSet
from tests.drift.profiles_support import grid_profile as _profile


@pytest.fixture(scope="module")
def baseline() -> dict:
    return json.loads(json.dumps(_profile(make_canary()), allow_nan=False))


def test_a_profile_is_json_ready_and_samples_unit_embeddings(baseline):
    assert baseline["dimension"] == 16 and baseline["subject"]["name"] == "grid"
    assert len(baseline["embeddings"]["rows"]) == min(SAMPLE_ROWS, 256)
    norms = np.linalg.norm(np.asarray(baseline["embeddings"]["image"]), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)
    assert baseline["inputs"]["image"]["profile"]["modality"] == "vision"
    assert baseline["inputs"]["text"]["profile"]["modality"] == "text"
    assert baseline["metrics"]["retrieval_top1_i2t"]["ci"] is not None


@pytest.mark.parametrize("budget", DEFAULT_BUDGETS, ids=lambda b: b.metric)
def test_a_release_judged_against_its_own_baseline_is_within_every_budget(baseline, budget):
    check, details = judge(budget, baseline, _profile(make_canary()), seed=0)
    assert check.passed, details
    # embeddings are stored to 6 decimals, so a per-item shift of the same model is ~1e-6, not 0
    assert check.statistic == pytest.approx(0.0, abs=1e-5) or budget.metric == "embedding_mmd_joint"


def test_brighter_deployed_images_exceed_the_image_budgets_only(baseline):
    canary = make_canary()
    brighter = PairedSet(np.asarray(canary.images) + 0.5, canary.texts, factors=canary.factors, name=canary.name)
    current = _profile(brighter)
    failed = {budget.metric for budget in DEFAULT_BUDGETS if not judge(budget, baseline, current, seed=0)[0].passed}
    assert "input_drift_image" in failed and "input_drift_text" not in failed
    assert "embedding_shift_text" not in failed


def test_a_canary_of_another_size_has_no_per_item_shift(baseline):
    current = _profile(make_canary(n=128))
    shift = next(b for b in DEFAULT_BUDGETS if b.metric == "embedding_shift_image")
    with pytest.raises(InputError, match="cannot be compared item by item"):
        judge(shift, baseline, current, seed=0)


def _budget(metric):
    return next(b for b in DEFAULT_BUDGETS if b.metric == metric)


def test_inputs_profilable_on_one_side_only_are_a_baseline_problem(baseline):
    current = copy.deepcopy(baseline)
    current["inputs"]["image"] = {"unavailable": "images are paths"}
    with pytest.raises(BaselineError, match="run's image inputs could not be profiled"):
        judge(_budget("input_drift_image"), baseline, current, seed=0)
    with pytest.raises(BaselineError, match="baseline's image inputs could not be profiled"):
        judge(_budget("input_drift_image"), current, baseline, seed=0)
    with pytest.raises(InputError, match="cannot be profiled"):
        judge(_budget("input_drift_image"), current, current, seed=0)


@pytest.mark.parametrize("damage, problem", [
    (lambda p: p["metrics"].pop("symmetry_gap"), "metrics: missing"),
    (lambda p: p["embeddings"].update(rows=p["embeddings"]["rows"][:2]), "embeddings.rows"),
    (lambda p: p["embeddings"].update(image=[row[:3] for row in p["embeddings"]["image"]]), "embeddings.image"),
    (lambda p: p.update(outputs={"modality": "output"}), "outputs: "),
])
def test_a_gutted_profile_is_refused(baseline, damage, problem):
    profile = copy.deepcopy(baseline)
    damage(profile)
    with pytest.raises(InputError, match=problem):
        check_profile(profile, 16)
