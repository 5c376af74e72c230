"""WorldConfig: validation names the field, canonical JSON round-trips, the hash tracks every field."""

from __future__ import annotations

import json

import pytest

from mmgate.errors import ConfigError
from mmgate.world import (
    CHAPTER3_HARD,
    DEFAULT_WORLD,
    NAMED_WORLDS,
    FactorSpec,
    WorldConfig,
)

BAD_VALUES = [
    ("n_train", 1), ("n_train", 2.0), ("n_val", 0), ("n_test", -3), ("n_test", True),
    ("image_side", 4), ("seq_len", 8), ("seq_len", "11"), ("vocab_size", 38),
    ("noise_image", -0.1), ("noise_image", float("nan")), ("noise_text", 1.5),
    ("noise_text", -0.01), ("confounder", "stripe"), ("confounder", None),
    ("confounder_strength", -1.0), ("confounder_prevalence", 1.01),
    ("orient_concentration", 2.0), ("orient_subset", 0), ("orient_subset", 9),
    ("image_scale", 0.0), ("image_scale", float("inf")), ("image_shift", float("nan")),
    ("text_scale", -1.0), ("text_shift", "0"), ("token_substitution", 1.2),
    ("token_dropout", -0.5), ("token_shuffle", 3), ("pairing", "rotate"),
    ("pairing_rate", 1.5), ("pairing_offset", 0), ("pairing_block", 0),
    ("pairing_splits", ("train", "dev")), ("pairing_splits", ("train", "train")),
    ("pairing_splits", "train"), ("factors", {"n_shape": 4}),
]

CHANGES = {
    "n_train": 1000, "n_val": 200, "n_test": 300, "image_side": 12, "seq_len": 12,
    "vocab_size": 80, "factors": FactorSpec(n_shape=5), "noise_image": 0.3, "noise_text": 0.1,
    "confounder": "parity", "confounder_strength": 2.0, "confounder_prevalence": 0.5,
    "orient_concentration": 0.85, "orient_subset": 3, "image_scale": 1.5, "image_shift": 0.2,
    "text_scale": 0.5, "text_shift": -0.1, "token_substitution": 0.1, "token_dropout": 0.1,
    "token_shuffle": 0.1, "pairing": "swap", "pairing_rate": 0.2, "pairing_offset": 3,
    "pairing_block": 8, "pairing_splits": ("train", "val"),
}


def test_every_field_has_a_hash_changing_alternative_in_this_table():
    assert set(CHANGES) == set(WorldConfig.__dataclass_fields__)


@pytest.mark.parametrize(("field", "value"), BAD_VALUES)
def test_bad_field_value_raises_config_error_naming_the_field(field, value):
    with pytest.raises(ConfigError, match=rf"WorldConfig\.{field}: expected"):
        WorldConfig(**{field: value})


@pytest.mark.parametrize("field", ["n_shape", "n_orient", "n_freq", "n_phase", "n_thick"])
def test_factor_cardinality_below_two_raises_naming_the_factor(field):
    with pytest.raises(ConfigError, match=rf"FactorSpec\.{field}: expected an integer >= 2"):
        FactorSpec(**{field: 1})


def test_confounder_needs_one_more_token_position():
    assert WorldConfig(seq_len=9).seq_len == 9
    with pytest.raises(ConfigError, match=r"WorldConfig\.seq_len: expected an integer >= 10"):
        WorldConfig(seq_len=9, confounder="bucket")


def test_vocab_must_hold_every_factor_token():
    spec = FactorSpec(n_shape=20, n_orient=16)
    need = 10 + 20 + 16 + 6 + 8 + 3
    assert WorldConfig(factors=spec, vocab_size=need).vocab_size == need
    with pytest.raises(ConfigError, match=rf"WorldConfig\.vocab_size: expected an integer >= {need}"):
        WorldConfig(factors=spec, vocab_size=need - 1)


def test_orient_subset_is_bounded_by_the_orientation_count():
    assert WorldConfig(factors=FactorSpec(n_orient=3), orient_subset=3).orient_subset == 3
    with pytest.raises(ConfigError, match=r"WorldConfig\.orient_subset: expected an integer in"):
        WorldConfig(factors=FactorSpec(n_orient=3), orient_subset=4)


def test_replace_validates_and_rejects_unknown_fields():
    assert DEFAULT_WORLD.replace(n_train=1024, noise_text=0.1) == CHAPTER3_HARD
    with pytest.raises(ConfigError, match=r"WorldConfig\.noise_text"):
        DEFAULT_WORLD.replace(noise_text=2.0)
    with pytest.raises(ConfigError, match="noise_txt"):
        DEFAULT_WORLD.replace(noise_txt=0.1)


@pytest.mark.parametrize("field", sorted(CHANGES))
def test_sha256_changes_when_any_field_changes(field):
    changed = DEFAULT_WORLD.replace(**{field: CHANGES[field]})
    assert changed.sha256() != DEFAULT_WORLD.sha256()
    assert changed.canonical_json() != DEFAULT_WORLD.canonical_json()


def test_canonical_json_round_trips_to_an_equal_config_with_the_same_hash():
    config = WorldConfig(**CHANGES)
    text = config.canonical_json()
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))
    back = WorldConfig.from_dict(json.loads(text))
    assert back == config
    assert back.sha256() == config.sha256()
    assert isinstance(config.to_dict()["pairing_splits"], list)
    assert config.to_dict()["factors"]["n_shape"] == 5


def test_from_dict_rejects_unknown_keys_at_both_levels():
    with pytest.raises(ConfigError, match="colour"):
        WorldConfig.from_dict({"colour": 1})
    with pytest.raises(ConfigError, match="n_colour"):
        WorldConfig.from_dict({"factors": {"n_colour": 3}})


def test_numbers_are_normalised_so_equal_values_hash_equal():
    a = WorldConfig(noise_image=0, image_scale=1, pairing_splits=["train"])
    b = WorldConfig(noise_image=0.0, image_scale=1.0, pairing_splits=("train",))
    assert isinstance(a.noise_image, float) and a.pairing_splits == ("train",)
    assert a.sha256() == b.sha256()
    assert hash(a) == hash(b)


def test_named_worlds_are_the_default_and_the_chapter3_hard_world():
    assert NAMED_WORLDS["default"] == WorldConfig() == DEFAULT_WORLD
    assert NAMED_WORLDS["chapter3-hard"] is CHAPTER3_HARD
    assert DEFAULT_WORLD.noise_text == 0.02 and CHAPTER3_HARD.noise_text == 0.10
    assert CHAPTER3_HARD.replace(n_train=4096, noise_text=0.02) == DEFAULT_WORLD
    with pytest.raises(TypeError):
        NAMED_WORLDS["mine"] = DEFAULT_WORLD


def test_factor_spec_reports_names_and_cardinalities():
    spec = FactorSpec()
    assert spec.names() == ("shape", "orient", "freq", "phase", "thick")
    assert spec.cardinalities() == (4, 8, 6, 8, 3)
    assert spec.cardinality("freq") == 6
    with pytest.raises(ConfigError, match="factor name"):
        spec.cardinality("colour")
