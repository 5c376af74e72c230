"""ReferenceAligner as a DualEncoder: input validation, float32 outputs, identity, save/load."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mmgate.errors import InputError
from mmgate.reference import MODEL_NAME, ReferenceAligner


@pytest.fixture
def model(short0):
    return short0.model


def test_embeddings_are_raw_float32_with_one_row_per_item(model, world0):
    zi = model.embed_images(world0.test.images)
    zt = model.embed_texts(world0.test.tokens)
    n = world0.test.images.shape[0]
    assert zi.shape == (n, model.emb_dim) == zt.shape
    assert zi.dtype == np.float32 and zt.dtype == np.float32
    assert not np.allclose(np.linalg.norm(zi, axis=1), 1.0)


def test_flattened_images_embed_like_square_ones(model, world0):
    imgs = world0.val.images[:5]
    assert np.array_equal(model.embed_images(imgs), model.embed_images(imgs.reshape(5, -1)))


def test_temperature_attribute_is_the_training_temperature(model):
    assert model.temperature == pytest.approx(0.1)


@pytest.mark.parametrize("bad", [
    np.zeros((3, 15, 15)), np.zeros((3, 16)), np.zeros((0, 16, 16)), np.zeros((16, 16)),
    np.full((2, 16, 16), np.nan), np.zeros((2, 16, 16), dtype=bool), np.array([["a"] * 256]),
])
def test_bad_images_raise_input_error_naming_images(model, bad):
    with pytest.raises(InputError, match="images"):
        model.embed_images(bad)


@pytest.mark.parametrize("bad", [
    np.zeros((3, 11), dtype=np.float32), np.zeros(11, dtype=np.int64), np.zeros((0, 11), np.int64),
    np.full((2, 11), 64, dtype=np.int64), np.full((2, 11), -1, dtype=np.int64),
])
def test_bad_tokens_raise_input_error_naming_tokens(model, bad):
    with pytest.raises(InputError, match="tokens"):
        model.embed_texts(bad)


def test_identity_names_the_model_and_hashes_weights_and_meta(model):
    ident = model.identity()
    assert set(ident) == {"name", "version", "weights_sha256"} and ident["name"] == MODEL_NAME
    assert len(ident["weights_sha256"]) == 64
    bumped = model.image_tower.b2.copy()
    bumped[0] += 1e-3
    tower = dataclasses.replace(model.image_tower, b2=bumped)
    changed = dataclasses.replace(model, image_tower=tower)
    assert changed.identity()["weights_sha256"] != ident["weights_sha256"]
    drifted = dataclasses.replace(model, text_scale=1.5)
    assert drifted.identity()["weights_sha256"] != ident["weights_sha256"]


def test_text_scale_acts_inside_the_encoder(model, world0):
    drifted = dataclasses.replace(model, text_scale=1.5)
    tokens = world0.val.tokens[:4]
    assert not np.allclose(drifted.embed_texts(tokens), model.embed_texts(tokens))


def test_save_load_round_trip_without_pickle(model, world0, tmp_path):
    path = tmp_path / "m.npz"
    model.save(path)
    with np.load(path, allow_pickle=False) as data:
        assert "img.w1" in data.files
    loaded = ReferenceAligner.load(path)
    assert loaded.identity() == model.identity()
    tokens = world0.val.tokens
    assert np.array_equal(loaded.embed_texts(tokens), model.embed_texts(tokens))
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_load_rejects_altered_weights(model, tmp_path):
    arrays = model.to_arrays()
    arrays["txt.w2"] = arrays["txt.w2"] * 1.01
    path = tmp_path / "tampered.npz"
    np.savez(path, **arrays)
    with pytest.raises(InputError, match="weights_sha256"):
        ReferenceAligner.load(path)


def test_load_of_a_missing_or_foreign_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="path"):
        ReferenceAligner.load(tmp_path / "nope.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(InputError, match="lacks"):
        ReferenceAligner.load(tmp_path / "other.npz")


def test_train_step_returns_a_new_model_and_leaves_the_original_unchanged(model, world0):
    sha = model.identity()["weights_sha256"]
    stepped = model.train_step(world0.train.images[:32], world0.train.tokens[:32], lr=0.05)
    assert model.identity()["weights_sha256"] == sha
    assert stepped.identity()["weights_sha256"] != sha
    with pytest.raises(InputError, match="tokens"):
        model.train_step(world0.train.images[:32], world0.train.tokens[:30], lr=0.05)


def test_load_of_a_plain_npy_is_an_input_error(tmp_path):
    np.save(tmp_path / "single.npy", np.zeros(3))
    with pytest.raises(InputError, match="single array"):
        ReferenceAligner.load(tmp_path / "single.npy")
