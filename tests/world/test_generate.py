"""make_world: a pure function of (config, seed) whose knobs each move only their own draws."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mmgate.errors import ConfigError, InputError
from mmgate.world import (
    CHAPTER3_HARD,
    DEFAULT_WORLD,
    World,
    caption_tokens,
    factor_tuples,
    make_world,
    pairing_permutation,
    render_images,
    sample_factors,
)

SMALL = DEFAULT_WORLD.replace(n_train=300, n_val=100, n_test=100)


def arrays(world: World) -> list[np.ndarray]:
    out = []
    for name in ("train", "val", "test"):
        s = world.split(name)
        out += [s.images, s.tokens, s.index, s.text_index, *s.factors.values(),
                *s.confounders.values()]
    return out


@pytest.fixture(scope="module")
def default_world():
    return make_world(DEFAULT_WORLD, 0)


def test_default_world_has_the_configured_shapes_and_dtypes(default_world):
    w = default_world
    assert isinstance(w, World) and w.config == DEFAULT_WORLD and w.seed == 0
    for name, n in (("train", 4096), ("val", 256), ("test", 256)):
        s = w.split(name)
        assert s.name == name and len(s) == n
        assert s.images.shape == (n, 16, 16) and s.images.dtype == np.float32
        assert s.tokens.shape == (n, 11) and s.tokens.dtype == np.int64
        assert set(s.factors) == {"shape", "orient", "freq", "phase", "thick"}
        assert set(s.confounders) == {"parity", "bucket"}
        assert all(v.dtype == np.int64 for v in (s.index, s.text_index, *s.factors.values()))


def test_same_config_and_seed_give_bit_identical_arrays(default_world):
    again = make_world(DEFAULT_WORLD, 0)
    for a, b in zip(arrays(default_world), arrays(again)):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()


def test_another_seed_gives_another_world(default_world):
    other = make_world(DEFAULT_WORLD, 1)
    assert not np.array_equal(default_world.train.images, other.train.images)
    assert not np.array_equal(default_world.train.index, other.train.index)


def test_splits_are_disjoint_and_rows_are_the_pool_items(default_world):
    idx = [default_world.split(s).index for s in ("train", "val", "test")]
    assert np.array_equal(np.sort(np.concatenate(idx)), np.arange(DEFAULT_WORLD.n_total))
    pool = sample_factors(DEFAULT_WORLD, DEFAULT_WORLD.n_total, 0)
    test = default_world.test
    assert np.array_equal(factor_tuples(test.factors), factor_tuples(pool)[test.index])
    images = render_images(pool, DEFAULT_WORLD, 0)
    assert np.array_equal(test.images, images[test.index])
    assert np.array_equal(test.tokens, caption_tokens(pool, DEFAULT_WORLD, 0)[test.index])


def test_confounder_labels_are_the_item_index_cues(default_world):
    s = default_world.val
    assert np.array_equal(s.confounders["parity"], s.index % 2)
    assert np.array_equal(s.confounders["bucket"], (s.index // 7) % 8)
    assert np.array_equal(s.index, s.text_index)


def test_arrays_are_read_only(default_world):
    with pytest.raises(ValueError):
        default_world.train.images[0, 0, 0] = 1.0
    with pytest.raises(ValueError):
        default_world.train.factors["shape"][0] = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        default_world.train.name = "x"


@pytest.mark.parametrize(("knob", "value", "moves"), [
    ("noise_text", 0.3, {"tokens"}),
    ("token_dropout", 0.3, {"tokens"}),
    ("token_substitution", 0.3, {"tokens"}),
    ("token_shuffle", 0.5, {"tokens"}),
    ("noise_image", 0.5, {"images"}),
    ("image_scale", 2.0, {"images"}),
    ("confounder", "parity", {"images", "tokens"}),
    ("orient_concentration", 0.9, {"images", "tokens", "orient"}),
    ("pairing", "offset", {"tokens", "text_index"}),
])
def test_each_knob_moves_only_its_own_component(knob, value, moves):
    a, b = make_world(SMALL, 2), make_world(SMALL.replace(**{knob: value}), 2)
    parts = {
        "images": lambda w: w.train.images,
        "tokens": lambda w: w.train.tokens,
        "text_index": lambda w: w.train.text_index,
        "index": lambda w: w.train.index,
        "orient": lambda w: w.train.factors["orient"],
        "shape": lambda w: w.train.factors["shape"],
        "phase": lambda w: w.train.factors["phase"],
    }
    for part, get in parts.items():
        assert np.array_equal(get(a), get(b)) == (part not in moves), part


def test_chapter3_hard_world_is_the_notebook_size_with_more_caption_noise():
    hard = make_world(CHAPTER3_HARD, 0)
    notebook = make_world(DEFAULT_WORLD.replace(n_train=1024), 0)
    assert np.array_equal(hard.train.images, notebook.train.images)
    flips = (hard.train.tokens[:, 0:9:2] != notebook.train.tokens[:, 0:9:2]).mean()
    assert 0.05 < flips < 0.15


def test_split_lookup_and_bad_arguments(default_world):
    assert default_world.split("test") is default_world.test
    with pytest.raises(InputError, match="split name"):
        default_world.split("dev")
    with pytest.raises(ConfigError, match="seed"):
        make_world(DEFAULT_WORLD, -1)
    with pytest.raises(ConfigError, match="config"):
        make_world({"n_train": 10}, 0)


@pytest.mark.parametrize("split", ["train", "test"])
def test_the_public_pairing_permutation_is_the_one_make_world_applies(split):
    config = SMALL.replace(pairing="swap", pairing_rate=0.3, pairing_splits=("train", "test"))
    part = make_world(config, 3).split(split)
    perm = pairing_permutation(config, split, len(part.index), 3)
    np.testing.assert_array_equal(part.text_index, part.index[perm])
    assert np.array_equal(pairing_permutation(SMALL, split, 5, 3), np.arange(5))


def test_split_data_rejects_rows_that_disagree():
    s = make_world(SMALL, 0).val
    with pytest.raises(InputError, match=r"SplitData\.tokens: expected 100 rows"):
        dataclasses.replace(s, tokens=s.tokens[:50])


def test_worlds_compare_and_hash_by_identity_so_they_can_key_a_cache(default_world):
    cache = {default_world: "embedded"}
    assert cache[default_world] == "embedded"
    assert default_world != make_world(DEFAULT_WORLD, 0)
