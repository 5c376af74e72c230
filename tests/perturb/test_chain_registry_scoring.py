"""Chains compose operators; the registry builds operators by name, round-trips their JSON and
takes new ones; scoring perturbations change scores but never ranks."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest

from mmgate.errors import ConfigError, InputError
from mmgate.perturb import (
    Brightness,
    Chain,
    GaussianNoise,
    OperatorRegistry,
    TemperatureScale,
    TemplatePrefix,
    registry_for,
)
from mmgate.subjects.paired import PairedSet
from mmgate.subjects.subject import Subject, SubjectError


def data() -> PairedSet:
    rng = np.random.default_rng(0)
    return PairedSet(rng.random((8, 6, 6)), [f"item {i}" for i in range(8)])


def test_a_chain_applies_its_steps_in_order():
    steps = (GaussianNoise(0.1, seed=2), Brightness(0.2), TemplatePrefix(1.0))
    out = Chain(steps).apply(data())
    expected = data()
    for step in steps:
        expected = step.apply(expected)
    assert out.fingerprint() == expected.fingerprint()
    assert out.texts[0] == "a photo of item 0"


def test_an_empty_chain_is_the_identity_with_intensity_zero():
    assert Chain().apply(data()).fingerprint() == data().fingerprint()
    assert Chain().intensity == 0.0


def test_chain_json_lists_its_steps_and_round_trips_through_the_registry():
    chain = Chain((GaussianNoise(0.1, seed=2), TemplatePrefix(0.5, tokens=("hey",))))
    payload = json.loads(json.dumps(chain.to_json()))
    assert payload["name"] == "chain" and payload["intensity"] == 0.5
    assert [s["name"] for s in payload["steps"]] == ["gaussian_noise", "template_prefix"]
    rebuilt = OperatorRegistry().from_json(payload)
    assert rebuilt == chain


def test_chain_reports_the_step_that_cannot_apply():
    tokens = PairedSet(np.zeros((4, 6, 6)), np.ones((4, 5), dtype=np.int64))
    assert "template_prefix" in Chain((Brightness(0.1), TemplatePrefix(1.0))).applies_to(tokens)


def test_chain_steps_must_be_operators():
    with pytest.raises(ConfigError, match=r"Chain.steps\[0\]"):
        Chain(("noise",))


@dataclass(frozen=True)
class Reverse:
    """A user operator for texts given as tuples of words."""

    intensity: float
    seed: int = 0
    name = "reverse"

    def applies_to(self, paired_set):
        return None if isinstance(paired_set.texts, list) else "texts must be a list"

    def apply(self, paired_set):
        return PairedSet(paired_set.images, [t[::-1] for t in paired_set.texts])

    def to_json(self):
        return {"name": self.name, "intensity": self.intensity, "seed": self.seed}


def test_a_subject_can_register_its_own_operator_by_name():
    registry = OperatorRegistry()
    registry.register("reverse", Reverse)
    assert "reverse" in registry.names() and not registry.signed("reverse")
    operator = registry.create("reverse", 1.0, seed=5)
    assert operator.apply(data()).texts[0] == "0 meti"
    assert registry.from_json(operator.to_json()) == operator


def test_registering_a_taken_or_malformed_name_is_refused():
    registry = OperatorRegistry()
    with pytest.raises(ConfigError, match="already registered"):
        registry.register("blur", Reverse)
    with pytest.raises(ConfigError, match="identifier"):
        registry.register("my op", Reverse)
    with pytest.raises(ConfigError, match="callable"):
        registry.register("mine", 3)


class Encoder:
    def embed_images(self, batch):
        return np.ones((len(batch), 2))

    def embed_texts(self, batch):
        return np.ones((len(batch), 2))


class SignedReverse(Reverse):
    SIGNED = True


def test_a_subjects_operators_join_the_builtins_in_its_own_registry_only():
    subject = Subject("s", Encoder(), data(), operators={"reverse": Reverse, "signed_reverse": SignedReverse})
    registry = registry_for(subject.operators)
    assert {"reverse", "signed_reverse", "blur"} <= set(registry.names())
    assert registry.signed("signed_reverse") and not registry.signed("reverse")
    assert "reverse" not in registry_for().names()  # nothing leaks into other subjects' registries
    with pytest.raises(TypeError):
        subject.operators["other"] = Reverse


def test_a_subject_operator_may_not_take_a_builtin_name():
    with pytest.raises(ConfigError, match="'blur' is already registered"):
        registry_for({"blur": Reverse})


@pytest.mark.parametrize("operators", [{"my op": Reverse}, {"reverse": 3}, [("reverse", Reverse)]])
def test_subject_operators_must_map_identifiers_to_factories(operators):
    with pytest.raises(SubjectError, match="Subject.operators"):
        Subject("s", Encoder(), data(), operators=operators)


def test_unknown_names_and_bad_parameters_are_config_errors():
    registry = OperatorRegistry()
    with pytest.raises(ConfigError, match="unknown perturbation operator 'blurr'"):
        registry.create("blurr", 0.1)
    with pytest.raises(ConfigError, match="operator 'blur': bad parameters"):
        registry.create("blur", 0.1, radius=3)


def test_signed_operators_are_known_to_the_registry():
    registry = OperatorRegistry()
    assert registry.signed("brightness") and not registry.signed("gaussian_noise")


def test_temperature_scale_changes_scores_but_not_ranks():
    scores = np.random.default_rng(0).standard_normal((6, 6))
    scaled = TemperatureScale(1.5).apply_scores(scores)
    assert np.allclose(scaled, scores / 2.5)
    assert np.array_equal(np.argsort(scaled, axis=1), np.argsort(scores, axis=1))
    assert TemperatureScale(1.0).apply_temperature(0.07) == pytest.approx(0.14)
    assert TemperatureScale(0.5, seed=2).to_json() == {"name": "temperature_scale",
                                                       "intensity": 0.5, "seed": 2}


def test_temperature_scale_validates_its_intensity_and_inputs():
    with pytest.raises(ConfigError, match="temperature_scale.intensity"):
        TemperatureScale(-1.0)
    with pytest.raises(InputError, match="temperature"):
        TemperatureScale(0.5).apply_temperature(0.0)
    with pytest.raises(InputError, match="scores"):
        TemperatureScale(0.5).apply_scores(np.ones((2, 2), dtype=np.int64))
