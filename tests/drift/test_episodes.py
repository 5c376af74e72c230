"""Specification of the drift episodes: the timeline's content and each episode's validation."""

from __future__ import annotations

import dataclasses
import json

import pytest

from mmgate.drift.classifier import CLASSES
from mmgate.drift.episodes import EPISODES, Episode, Retrain, episode
from mmgate.errors import ConfigError
from mmgate.records.canonical import canonical_json
from mmgate.world import DEFAULT_WORLD

REQUIRED = ("image_noise_ramp", "text_token_corruption", "scoring_temperature", "confounder_introduction",
            "confounder_removal", "pairing_random", "pairing_offset", "preprocessing_scale",
            "orientation_domain_shift", "collapse_fine_tune", "smooth_benign_drift")


def test_the_timeline_holds_at_least_twelve_distinct_episodes_with_the_required_ones():
    names = [e.name for e in EPISODES]
    assert len(names) >= 12
    assert len(set(names)) == len(names)
    assert set(REQUIRED) <= set(names)


def test_the_timeline_has_at_least_two_mixed_and_some_benign_episodes():
    kinds = [e.kind for e in EPISODES]
    assert kinds.count("mixed") >= 2
    assert kinds.count("benign") >= 1
    assert all(len(e.truth) >= 2 for e in EPISODES if e.kind == "mixed")


def test_every_truth_label_is_a_drift_class_and_every_episode_is_justified():
    for ep in EPISODES:
        assert set(ep.truth) <= set(CLASSES)
        assert len(ep.description) > 40


def test_data_drift_episodes_keep_the_model_and_model_changes_name_their_retrain():
    assert episode("image_noise_ramp").retrain is None
    assert episode("image_noise_ramp").eval_world.noise_image > DEFAULT_WORLD.noise_image
    assert episode("scoring_temperature").temperature_scale != 1.0
    assert episode("scoring_temperature").eval_world == DEFAULT_WORLD
    offset = episode("pairing_offset").retrain
    assert offset is not None and offset.train_world.pairing == "offset"
    assert "train" in offset.train_world.pairing_splits


def test_confounder_removal_deploys_the_marker_trained_model_on_unmarked_data():
    intro, removal = episode("confounder_introduction"), episode("confounder_removal")
    assert intro.retrain == removal.retrain
    assert intro.eval_world.confounder != "none"
    assert removal.eval_world.confounder == "none"


def test_to_dict_is_json_ready_and_lists_only_the_changed_world_fields():
    doc = episode("image_noise_ramp").to_dict()
    assert json.loads(canonical_json(doc))["eval_world_changes"] == {"noise_image": 1.0}
    assert doc["truth"] == ["modality_drift"] and doc["kind"] == "single_axis"
    assert episode("pairing_random").to_dict()["retrain"]["train_world"]["pairing"] == "swap"


@pytest.mark.parametrize("truth", [(), ("unknown",), ("benign", "collapse"), ("collapse", "collapse"),
                                   ("not_a_class",)])
def test_invalid_truth_labels_are_rejected(truth):
    with pytest.raises(ConfigError, match="truth"):
        Episode("bad", truth, "a description long enough to justify the label")


@pytest.mark.parametrize("changes, field", [({"name": "Bad Name"}, "name"), ({"description": "  "}, "description"),
                                            ({"temperature_scale": 0.0}, "temperature_scale"),
                                            ({"temperature_scale": float("nan")}, "temperature_scale"),
                                            ({"eval_world": {}}, "eval_world"), ({"retrain": "yes"}, "retrain")])
def test_invalid_episode_fields_are_rejected_naming_the_field(changes, field):
    with pytest.raises(ConfigError, match=field):
        dataclasses.replace(episode("scoring_temperature"), **changes)


def test_retrain_rejects_a_negative_seed_offset():
    with pytest.raises(ConfigError, match="seed_offset"):
        Retrain(seed_offset=-1)


def test_unknown_episode_names_are_rejected_with_the_known_ones_listed():
    with pytest.raises(ConfigError, match="image_noise_ramp"):
        episode("no_such_episode")


def test_episodes_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        EPISODES[0].truth = ("collapse",)  # type: ignore[misc]
