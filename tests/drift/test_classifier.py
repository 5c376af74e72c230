"""Specification of the drift classifier: weighted evidence, minimum-evidence rules, unknown."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmgate.drift.classifier import (
    BENIGN,
    CLASSES,
    FAILURE_CLASSES,
    RULES,
    RULES_JSON,
    RULES_SHA256,
    UNKNOWN,
    classify,
    rules_report,
)
from mmgate.drift.features import FEATURE_NAMES, FeatureVector


def _features(normalised=None, value=None):
    """A feature vector with zero deltas and zero observations except the given ones."""
    norm = {f: 0.0 for f in FEATURE_NAMES}
    norm.update(normalised or {})
    current = {f: 0.0 for f in FEATURE_NAMES}
    current.update(value or {})
    return FeatureVector(baseline={f: 0.0 for f in FEATURE_NAMES}, current=current, raw=dict(norm),
                         normalised=norm)


def _evidence(result, label):
    return next(e for e in result.evidence if e.label == label)


def test_nothing_moved_is_benign():
    result = classify(_features())
    assert result.label == BENIGN and result.met == (BENIGN,)


def test_a_symmetry_gap_alone_is_not_dominance_and_so_unknown():
    result = classify(_features({"canary.symmetry_gap": 8.0}))
    assert not _evidence(result, "dominance").minimum_met
    assert result.label == UNKNOWN


def test_a_symmetry_gap_with_rank_or_norm_divergence_is_dominance():
    assert classify(_features({"canary.symmetry_gap": -5.0, "canary.rank_divergence": 5.0})).label == "dominance"
    assert classify(_features({"canary.symmetry_gap": 5.0, "canary.abs_log_norm_ratio": -5.0})).label == "dominance"


def test_collapse_needs_both_a_cosine_rise_and_a_rank_drop():
    assert classify(_features({"canary.mean_cos_max": 50.0})).label == UNKNOWN
    assert classify(_features({"canary.eff_rank_min": -10.0})).label == UNKNOWN
    both = classify(_features({"canary.mean_cos_max": 50.0, "canary.eff_rank_min": -10.0}))
    assert both.label == "collapse"


def test_spurious_alignment_needs_confounder_evidence():
    assert classify(_features({"current.mi_confounder_max": 20.0})).label == UNKNOWN
    assert classify(_features({"current.mi_confounder_max": 20.0, "canary.mi_factor_min": -5.0})).label \
        == "spurious_alignment"
    assert classify(_features(value={"compare.marker_reliance": 0.3})).label == "spurious_alignment"


def test_a_healthy_model_hurt_by_an_unseen_marker_is_not_spurious():
    result = classify(_features(value={"compare.marker_reliance": -0.55}))
    assert result.label == BENIGN


def test_scoring_drift_needs_the_embeddings_unchanged():
    shifted = {"canary.log_temperature_ratio": 30.0}
    assert classify(_features(shifted)).label == "scoring_drift"
    retrained = classify(_features(shifted, {"compare.canary_shift_max": 0.8}))
    assert retrained.label == UNKNOWN
    assert "temperature_shift and embeddings_unchanged" in _evidence(retrained, "scoring_drift").failed_rules


def test_modality_drift_needs_one_sided_input_drift():
    assert classify(_features(value={"compare.input_drift_img": 0.4})).label == "modality_drift"
    assert classify(_features(value={"compare.input_drift_txt": 0.4})).label == "modality_drift"
    both = classify(_features(value={"compare.input_drift_img": 0.4, "compare.input_drift_txt": 0.4}))
    assert both.label == UNKNOWN


def test_a_direct_test_outranks_the_symptoms_it_causes():
    offset = _features({"canary.mean_cos_max": 200.0, "canary.eff_rank_min": -10.0, "canary.top1": -60.0},
                       {"compare.pair_audit_suspect": 0.9})
    result = classify(offset)
    assert result.label == "pairing_corruption"
    assert set(result.met) == {"pairing_corruption", "collapse"}
    assert result.margin > 0


def test_unknown_records_every_failed_rule_and_no_met_class():
    result = classify(_features({"canary.top1": -20.0}))
    assert result.label == UNKNOWN and result.met == () and not result.confident
    for evidence in result.evidence:
        assert not evidence.minimum_met and evidence.failed_rules


def test_classification_is_deterministic_and_round_trips_through_json():
    features = _features({"canary.mean_cos_max": 50.0, "canary.eff_rank_min": -10.0})
    first, second = classify(features), classify(features)
    assert first == second
    doc = first.to_dict()
    assert json.loads(json.dumps(doc)) == doc
    assert doc["rules_sha256"] == RULES_SHA256 and doc["label"] == "collapse"


def test_the_rules_are_fixed_immutable_and_fingerprinted():
    assert hashlib.sha256(RULES_JSON.encode()).hexdigest() == RULES_SHA256 == rules_report()["sha256"]
    assert [r.label for r in RULES] == list(CLASSES)
    with pytest.raises(dataclasses.FrozenInstanceError):
        RULES[1].terms[0].threshold = 0.1  # type: ignore[misc]


_READINGS = st.sampled_from([-40.0, -6.0, -3.5, -1.0, 0.0, 0.02, 0.07, 0.15, 0.3, 1.0, 4.0, 6.0, 40.0])


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(FEATURE_NAMES), _READINGS, max_size=8),
       st.dictionaries(st.sampled_from(FEATURE_NAMES), _READINGS, max_size=8))
def test_benign_and_a_failure_class_never_both_meet_their_minimum_evidence(normalised, value):
    result = classify(_features(normalised, value))
    if BENIGN in result.met:
        assert result.met == (BENIGN,)
    assert result.label in (*CLASSES, UNKNOWN)
    assert all(label in FAILURE_CLASSES or label == BENIGN for label in result.met)
