"""mmgate's public Hypothesis strategies generate valid worlds, perturbation chains within the
contract's budgets and drift episodes; its settings profiles are registered; the stress search
reports the minimal failing example."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from mmgate.errors import ConfigError, InputError
from mmgate.gating.contract import Contract
from mmgate.perturb import Chain
from mmgate.strategies import (
    FACTOR_RANGES,
    KNOB_RANGES,
    PROFILE_CI,
    PROFILE_STRESS,
    SIZE_RANGES,
    DriftEpisode,
    DriftStep,
    applicable_budgets,
    drift_episodes,
    perturbations,
    register_profiles,
    stress_search,
    worlds,
)
from mmgate.subjects.paired import PairedSet
from mmgate.world import WorldConfig, make_world

IMAGE_SET = PairedSet(np.random.default_rng(0).random((12, 8, 8)), [f"item {i}" for i in range(12)])
TOKEN_SET = PairedSet(np.random.default_rng(0).random((12, 8, 8)).astype(np.float32),
                      np.random.default_rng(1).integers(0, 20, size=(12, 6)))
BUDGETS = {"gaussian_noise": 0.1, "brightness": 0.2, "template_prefix": 1.0, "swap_pairs": 0.3,
           "channel_shift": 0.5}


@settings(max_examples=15, deadline=None)
@given(worlds())
def test_every_generated_world_validates_builds_and_stays_in_range(config):
    assert WorldConfig.from_dict(config.to_dict()) == config
    for name, (low, high) in SIZE_RANGES.items():
        assert low <= getattr(config, name) <= high
    for name, (low, high) in FACTOR_RANGES.items():
        assert low <= config.factors.cardinality(name) <= high
    for name, (low, high) in KNOB_RANGES.items():
        assert low <= getattr(config, name) <= high
    world = make_world(config, seed=0)
    assert len(world.test) == config.n_test
    assert world.test.tokens.shape == (config.n_test, config.seq_len)


@settings(max_examples=30, deadline=None)
@given(perturbations(IMAGE_SET, BUDGETS))
def test_perturbations_stay_within_budget_and_apply_to_the_data(chain):
    assert isinstance(chain, Chain) and 1 <= len(chain.steps) <= 3
    names = [step.name for step in chain.steps]
    assert len(set(names)) == len(names)
    for step in chain.steps:
        assert abs(step.intensity) <= BUDGETS[step.name]
        assert step.name != "channel_shift"  # needs a channel axis the images lack
    assert chain.applies_to(IMAGE_SET) is None
    assert len(chain.apply(IMAGE_SET)) == len(IMAGE_SET)


@settings(max_examples=20, deadline=None)
@given(perturbations(TOKEN_SET, BUDGETS))
def test_perturbations_of_token_texts_leave_out_the_string_template(chain):
    assert "template_prefix" not in [step.name for step in chain.steps]
    assert chain.applies_to(TOKEN_SET) is None


def test_applicable_budgets_give_the_reason_an_operator_is_left_out():
    usable, refused = applicable_budgets(TOKEN_SET, {**BUDGETS, "blur": 0.0})
    assert set(usable) == {"gaussian_noise", "brightness", "swap_pairs"}
    assert "integer ids declared" in refused["template_prefix"]
    assert "channel axis" in refused["channel_shift"] and refused["blur"] == "its budget is 0"


def test_perturbations_default_to_the_contract_budgets():
    usable, _ = applicable_budgets(IMAGE_SET)
    assert usable == {name: b for name, b in Contract().stress_budgets}


def test_perturbations_refuse_data_no_budgeted_operator_applies_to():
    paths = PairedSet([f"{i}.png" for i in range(4)], [f"t {i}" for i in range(4)])
    with pytest.raises(InputError, match="no perturbation within the budgets applies"):
        perturbations(paths, {"gaussian_noise": 0.1})


@pytest.mark.parametrize("budgets, match", [
    ({"gaussian_nois": 0.1}, "unknown perturbation operator"),
    ({"brightness": 2.0}, "brightness.intensity"),
    ({"blur": -1.0}, "budgets.blur"),
])
def test_bad_budgets_are_config_errors(budgets, match):
    with pytest.raises(ConfigError, match=match):
        applicable_budgets(IMAGE_SET, budgets)


@settings(max_examples=20, deadline=None)
@given(drift_episodes())
def test_drift_episodes_turn_declared_knobs_within_range(episode):
    configs = episode.configs(WorldConfig())
    assert len(configs) == len(episode.steps)
    for step, config in zip(episode.steps, configs):
        low, high = KNOB_RANGES[step.knob]
        assert low <= step.value <= high and getattr(config, step.knob) == step.value
    assert [s["knob"] for s in episode.to_json()] == [s.knob for s in episode.steps]


def test_drift_steps_are_validated():
    with pytest.raises(ConfigError, match="DriftStep.knob"):
        DriftStep("n_train", 3.0)
    with pytest.raises(ConfigError, match="DriftStep.value"):
        DriftStep("noise_text", 0.9)
    with pytest.raises(ConfigError, match="DriftEpisode.steps"):
        DriftEpisode(())


def test_profiles_are_registered_derandomized_for_ci():
    register_profiles()
    ci = settings.get_profile(PROFILE_CI)
    assert ci.derandomize and ci.database is None and ci.deadline is None
    stress = settings.get_profile(PROFILE_STRESS)
    assert not stress.derandomize and stress.max_examples > ci.max_examples


def test_stress_search_shrinks_to_the_minimal_failing_example():
    outcome = stress_search(perturbations(IMAGE_SET, {"brightness": 0.5}),
                            lambda chain: {"drop": abs(chain.steps[0].intensity)}, 0.25, 50)
    assert outcome.failed
    step = outcome.counterexample["perturbation"]["steps"][0]
    assert step["name"] == "brightness" and step["seed"] == 0
    assert abs(step["intensity"]) > 0.25 and len(outcome.counterexample["perturbation"]["steps"]) == 1
    assert outcome.worst["effect"]["drop"] >= abs(step["intensity"])


def test_stress_search_is_deterministic_and_passes_when_the_property_holds():
    runs = [stress_search(perturbations(IMAGE_SET, {"brightness": 0.5}),
                          lambda chain: {"drop": abs(chain.steps[0].intensity)}, 0.75, 10)
            for _ in range(2)]
    assert not runs[0].failed and runs[0].examples == 10
    assert runs[0].to_json() == runs[1].to_json()


def test_stress_search_records_an_encoder_error_as_the_counterexample():
    def broken(chain):
        raise InputError("encoder exploded")

    outcome = stress_search(perturbations(IMAGE_SET, {"brightness": 0.5}), broken, 0.1, 5)
    assert "encoder exploded" in outcome.counterexample["error"]

