"""The built-in conditions: each is valid, belongs to a known family, and differs from healthy in
the part of the setting it claims to change (and nowhere a gain before normalisation would hide)."""

from __future__ import annotations

import pytest

from mmgate.errors import ConfigError
from mmgate.lab.conditions import (
    CONDITIONS,
    FAILURE_FAMILIES,
    FAMILIES,
    HEALTHY,
    Condition,
    condition,
)

INJECTED = [c for c in CONDITIONS.values() if c.injected]
PARTS = ("train_world", "eval_world", "aligner", "training", "temperature_scale")


def _changed(c: Condition) -> set[str]:
    return {part for part in PARTS if getattr(c, part) != getattr(HEALTHY, part)}


def test_healthy_is_the_embedded_default_and_not_injected():
    assert condition("healthy") is HEALTHY
    assert not HEALTHY.injected
    assert _changed(HEALTHY) == set()


def test_every_failure_family_has_at_least_one_condition():
    assert {c.family for c in INJECTED} == set(FAILURE_FAMILIES)


@pytest.mark.parametrize("c", INJECTED, ids=lambda c: c.name)
def test_each_injected_condition_has_a_known_family_and_a_description(c):
    assert c.family in FAMILIES and c.injected
    assert c.name in CONDITIONS and CONDITIONS[c.name] is c
    assert c.description


@pytest.mark.parametrize("c", INJECTED, ids=lambda c: c.name)
def test_each_injected_condition_changes_something_healthy_has(c):
    assert _changed(c)


EXPECTED_CHANGES = {
    "dominance_image_noise": {"train_world", "eval_world"},
    "dominance_text_noise": {"train_world", "eval_world"},
    "dominance_capacity_skew": {"aligner"},
    "dominance_loss_imbalance": {"training"},
    "dominance_gradient_imbalance": {"training"},
    "spurious_parity_marker": {"train_world", "eval_world"},
    "spurious_id_codebook": {"train_world", "eval_world"},
    "pairing_random_30": {"train_world"},
    "pairing_offset": {"train_world"},
    "collapse_low_temperature": {"aligner"},
    "collapse_high_lr": {"training"},
    "collapse_weight_decay": {"training"},
    "collapse_stop_grad_image": {"training"},
    "scoring_drift_temperature": {"temperature_scale"},
    "preprocessing_drift_image": {"eval_world"},
    "preprocessing_drift_text": {"eval_world"},
}


def test_the_registry_holds_exactly_the_specified_conditions():
    assert set(CONDITIONS) == {"healthy", *EXPECTED_CHANGES}


@pytest.mark.parametrize("name", sorted(EXPECTED_CHANGES))
def test_each_condition_changes_exactly_the_parts_it_claims(name):
    assert _changed(CONDITIONS[name]) == EXPECTED_CHANGES[name]


def test_spurious_conditions_carry_the_cue_in_training_and_evaluation():
    for name, cue in (("spurious_parity_marker", "parity"), ("spurious_id_codebook", "bucket")):
        c = CONDITIONS[name]
        assert c.train_world.confounder == cue and c.eval_world.confounder == cue


def test_pairing_corruption_reaches_only_the_training_split():
    for name in ("pairing_random_30", "pairing_offset"):
        c = CONDITIONS[name]
        assert c.train_world.pairing != "none" and c.train_world.pairing_splits == ("train",)
        assert c.eval_world.pairing == "none"
    assert CONDITIONS["pairing_random_30"].train_world.pairing_rate == pytest.approx(0.3)


def test_preprocessing_drift_happens_after_training():
    for name in ("preprocessing_drift_image", "preprocessing_drift_text"):
        c = CONDITIONS[name]
        assert c.train_world == HEALTHY.train_world and c.eval_world != c.train_world


def test_dominance_is_never_induced_by_a_gain_on_the_embedding():
    for c in CONDITIONS.values():
        if c.family == "dominance":
            assert _changed(c) <= {"train_world", "eval_world", "aligner", "training"}


def test_unknown_condition_is_rejected_with_the_known_names():
    with pytest.raises(ConfigError, match="'nope' is unknown.*healthy"):
        condition("nope")


@pytest.mark.parametrize("kwargs, field", [
    ({"family": "gremlins"}, "Condition.family"),
    ({"family": "collapse", "temperature_scale": 0.0}, "Condition.temperature_scale"),
    ({"family": "collapse", "temperature_scale": float("inf")}, "Condition.temperature_scale"),
    ({"family": "collapse", "temperature_scale": True}, "Condition.temperature_scale"),
])
def test_invalid_conditions_are_rejected_naming_the_field(kwargs, field):
    with pytest.raises(ConfigError, match=field):
        Condition(name="x", description="d", **kwargs)
