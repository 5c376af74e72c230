"""Specification of the drift diagnosis of built-in conditions: a condition as a drift episode, and a
per-process diagnoser that labels it exactly as the timeline labels the equivalent episode. Fast tests
replace the trained observation by a synthetic one that depends only on the deployment; the slow
test runs one real condition."""

from __future__ import annotations

import dataclasses
import json

import pytest

from mmgate.drift.classifier import CLASSES, RULES_SHA256, UNKNOWN
from mmgate.drift.episodes import Retrain, episode
from mmgate.drift.features import FEATURE_NAMES
from mmgate.errors import ConfigError
from mmgate.lab import timeline, timeline_report
from mmgate.lab.conditions import CONDITIONS, FAMILIES, Condition, condition
from mmgate.lab.diagnosis import FAMILY_LABELS, Diagnoser, episode_of
from mmgate.records.reports import validate_report
from mmgate.reference import DEFAULT_ALIGNER
from mmgate.world import DEFAULT_WORLD

SPREAD_SEEDS = (100, 101, 102)


def _fake_observe(lab, ep, seed):
    """Baseline values with a seed-dependent jitter, shifted by what the deployment changed (never by
    the episode's name or truth)."""
    obs = {f: 0.5 + 0.001 * ((seed * 7 + i) % 5) for i, f in enumerate(FEATURE_NAMES)}
    for name in ("compare.input_drift_img", "compare.input_drift_txt", "compare.canary_shift_max",
                 "compare.pair_audit_suspect", "compare.marker_removal_drop"):
        obs[name] = 0.0
    obs["compare.marker_reliance"] = -0.5
    if ep.temperature_scale != 1.0:
        obs["canary.log_temperature_ratio"] += 1.6
    if ep.eval_world.image_scale != DEFAULT_WORLD.image_scale:
        obs["compare.input_drift_img"] = 0.35
    if ep.eval_world.text_scale != DEFAULT_WORLD.text_scale:
        obs["canary.top1"] -= 0.3
        obs["compare.canary_shift_max"] = 0.5
    if ep.retrain is not None:
        obs["canary.mean_cos_max"] += 0.5
        obs["canary.eff_rank_min"] -= 5.0
        obs["compare.canary_shift_max"] = 0.8
    return obs


class _Counting:
    """The fake observation, counting calls per (episode, seed)."""

    def __init__(self):
        self.calls = []

    def __call__(self, lab, ep, seed):
        self.calls.append((ep.name, seed))
        return _fake_observe(lab, ep, seed)


@pytest.fixture
def fake(monkeypatch):
    counting = _Counting()
    monkeypatch.setattr(timeline, "observe", counting)
    return counting


def test_every_condition_family_has_a_drift_class():
    assert set(FAMILY_LABELS) == set(FAMILIES)
    assert set(FAMILY_LABELS.values()) == set(CLASSES)
    assert FAMILY_LABELS["healthy"] == "benign" and FAMILY_LABELS["preprocessing_drift"] == "modality_drift"


@pytest.mark.parametrize("name", sorted(CONDITIONS))
def test_every_condition_becomes_an_episode_named_for_it_with_its_family_as_truth(name):
    cond = condition(name)
    ep = episode_of(cond)
    assert ep.name == name and ep.description == cond.description
    assert ep.truth == (FAMILY_LABELS[cond.family],)
    assert ep.eval_world == cond.eval_world and ep.temperature_scale == cond.temperature_scale


def test_only_a_changed_training_world_aligner_or_recipe_is_a_retrain():
    assert episode_of(condition("healthy")).retrain is None
    assert episode_of(condition("scoring_drift_temperature")).retrain is None
    assert episode_of(condition("preprocessing_drift_image")).retrain is None
    offset = condition("pairing_offset")
    assert episode_of(offset).retrain == Retrain(train_world=offset.train_world)
    low_temperature = condition("collapse_low_temperature")
    assert episode_of(low_temperature).retrain == Retrain(aligner=low_temperature.aligner)
    noisy = condition("dominance_image_noise")
    assert episode_of(noisy).retrain == Retrain(train_world=noisy.train_world)
    assert episode_of(noisy).eval_world == noisy.eval_world


def test_conditions_matching_a_timeline_episode_describe_the_same_deployment():
    for name, timeline_name in (("scoring_drift_temperature", "scoring_temperature"),
                                ("preprocessing_drift_image", "preprocessing_scale")):
        ours, theirs = episode_of(condition(name)), episode(timeline_name)
        assert (ours.eval_world, ours.temperature_scale, ours.retrain) == \
            (theirs.eval_world, theirs.temperature_scale, theirs.retrain)
        assert ours.truth == theirs.truth


def test_episode_of_rejects_anything_but_a_condition():
    with pytest.raises(ConfigError, match="condition"):
        episode_of("healthy")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["healthy", "scoring_drift_temperature", "preprocessing_drift_image",
                                  "collapse_low_temperature", "preprocessing_drift_text"])
def test_diagnose_gives_exactly_the_timelines_classification_of_the_equivalent_episode(fake, name):
    cond = condition(name)
    diagnosis = Diagnoser(SPREAD_SEEDS).diagnose(cond, 3)
    record = timeline.run_timeline(seeds=(3,), episodes=(episode_of(cond),), spread_seeds=SPREAD_SEEDS)["records"][0]
    assert diagnosis["classification"] == record["classification"]
    assert diagnosis["decision"] == record["decision"]
    assert diagnosis["features"]["raw"] == record["features"]["raw"]
    assert diagnosis["features"]["normalised"] == record["features"]["normalised"]


def test_diagnoses_are_labelled_decided_and_json_ready(fake):
    diagnoser = Diagnoser(SPREAD_SEEDS)
    expected = {"healthy": ("benign", "APPROVE"), "scoring_drift_temperature": ("scoring_drift", "REJECT"),
                "preprocessing_drift_image": ("modality_drift", "REJECT"),
                "collapse_low_temperature": ("collapse", "REJECT")}
    for name, (label, decision) in expected.items():
        result = diagnoser.diagnose(condition(name), 0)
        assert json.loads(json.dumps(result)) == result
        assert set(result) == {"episode", "features", "classification", "decision", "debug", "rules_sha256"}
        assert (result["classification"]["label"], result["decision"]["decision"]) == (label, decision)
        assert result["debug"] is None and not result["decision"]["escalate"]
        assert result["rules_sha256"] == RULES_SHA256 and result["episode"]["name"] == name


def test_an_unattributed_drift_is_rejected_escalated_and_gets_a_debug_artifact(fake):
    result = Diagnoser(SPREAD_SEEDS).diagnose(condition("preprocessing_drift_text"), 1)
    assert result["classification"]["label"] == UNKNOWN
    assert result["decision"]["decision"] == "REJECT" and result["decision"]["escalate"]
    debug = result["debug"]
    assert (debug["episode"], debug["seed"], debug["label"]) == ("preprocessing_drift_text", 1, UNKNOWN)
    assert debug["features"] == result["features"]
    assert validate_report(timeline_report.debug_report(debug, "gate-run-1")) == "drift_debug"


def test_the_truth_is_never_read_by_the_classifier(fake):
    scoring = condition("scoring_drift_temperature")
    relabelled = dataclasses.replace(scoring, name="mislabelled", family="collapse")
    diagnoser = Diagnoser(SPREAD_SEEDS)
    first, second = diagnoser.diagnose(scoring, 2), diagnoser.diagnose(relabelled, 2)
    assert second["episode"]["truth"] == ["collapse"]
    assert first["classification"] == second["classification"]


def test_the_spread_and_each_seeds_baseline_are_observed_once_per_diagnoser(fake):
    diagnoser = Diagnoser(SPREAD_SEEDS)
    for name in ("healthy", "scoring_drift_temperature", "collapse_low_temperature"):
        for seed in (0, 1):
            diagnoser.diagnose(condition(name), seed)
    assert sorted(s for e, s in fake.calls if e == "baseline") == [0, 1, *SPREAD_SEEDS]
    assert fake.calls.count(("healthy", 0)) == 1
    assert diagnoser.spread.seeds == SPREAD_SEEDS


def test_diagnosers_share_no_state(fake):
    Diagnoser(SPREAD_SEEDS).diagnose(condition("healthy"), 0)
    Diagnoser(SPREAD_SEEDS).diagnose(condition("healthy"), 0)
    assert fake.calls.count(("baseline", 0)) == 2


@pytest.mark.parametrize("seed", [-1, 1.5, True, "0"])
def test_diagnose_rejects_a_bad_seed(fake, seed):
    with pytest.raises(ConfigError, match="seed"):
        Diagnoser(SPREAD_SEEDS).diagnose(condition("healthy"), seed)


def test_a_bad_spread_seed_list_is_rejected_naming_it(fake):
    with pytest.raises(ConfigError, match="spread_seeds"):
        Diagnoser((100, 100)).diagnose(condition("healthy"), 0)


def test_a_condition_with_only_a_changed_aligner_is_diagnosed_as_a_retrain(fake):
    custom = Condition("wide_aligner", "healthy", "a wider image tower, otherwise the default",
                       aligner=DEFAULT_ALIGNER.replace(hidden_img=64))
    result = Diagnoser(SPREAD_SEEDS).diagnose(custom, 0)
    assert result["episode"]["retrain"]["aligner"]["hidden_img"] == 64
    assert result["classification"]["label"] == "collapse"


@pytest.mark.slow
def test_a_real_condition_is_labelled_as_the_timeline_labels_its_episode():
    cond = condition("scoring_drift_temperature")
    diagnoser = Diagnoser((100, 101))
    diagnosis = diagnoser.diagnose(cond, 101)
    record = timeline.run_timeline(seeds=(101,), episodes=(episode_of(cond),), spread_seeds=(100, 101))["records"][0]
    assert diagnosis["classification"] == record["classification"]
    assert diagnosis["classification"]["label"] == "scoring_drift" and diagnosis["decision"]["decision"] == "REJECT"
    healthy = diagnoser.diagnose(condition("healthy"), 101)
    assert healthy["classification"]["label"] == "benign" and healthy["decision"]["decision"] == "APPROVE"
