"""Best checkpoints: pickle-free .npz round trip; altered config, history or weights detected."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from mmgate.errors import ConfigError, InputError
from mmgate.reference import load_checkpoint, save_checkpoint


def _rewrite(src, dst, **changes):
    with np.load(src, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    arrays.update({k: np.array(v) for k, v in changes.items()})
    np.savez(dst, **arrays)


def test_round_trip_restores_model_history_and_config(short0, world0, tmp_path):
    path = tmp_path / "best.npz"
    save_checkpoint(short0, path)
    with np.load(path, allow_pickle=False) as data:
        assert str(data["config_json"][()]) == short0.config_json
        assert str(data["config_sha256"][()]) == short0.config_sha256
    back = load_checkpoint(path)
    assert back.model.identity() == short0.model.identity()
    assert back.history == short0.history
    assert (back.best_step, back.best_val_top1) == (short0.best_step, short0.best_val_top1)
    assert back.config_json == short0.config_json and back.config_sha256 == short0.config_sha256
    images = world0.val.images
    assert np.array_equal(back.model.embed_images(images), short0.model.embed_images(images))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.npz"]


def test_altered_config_json_is_a_config_error(short0, tmp_path):
    save_checkpoint(short0, tmp_path / "a.npz")
    doc = json.loads(short0.config_json)
    doc["training"]["lr"] = 1.0
    _rewrite(tmp_path / "a.npz", tmp_path / "b.npz", config_json=json.dumps(doc, sort_keys=True))
    with pytest.raises(ConfigError, match="config_sha256"):
        load_checkpoint(tmp_path / "b.npz")


def test_altered_config_sha_is_a_config_error(short0, tmp_path):
    save_checkpoint(short0, tmp_path / "a.npz")
    _rewrite(tmp_path / "a.npz", tmp_path / "b.npz", config_sha256="0" * 64)
    with pytest.raises(ConfigError, match="config_sha256"):
        load_checkpoint(tmp_path / "b.npz")


def test_altered_history_or_weights_are_input_errors(short0, tmp_path):
    save_checkpoint(short0, tmp_path / "a.npz")
    history = [dict(h) for h in short0.history]
    history[0]["val_top1"] = 0.99
    _rewrite(tmp_path / "a.npz", tmp_path / "h.npz", history_json=json.dumps(history))
    with pytest.raises(InputError, match="history"):
        load_checkpoint(tmp_path / "h.npz")
    bumped = {"img.b1": short0.model.image_tower.b1 + 1.0}
    _rewrite(tmp_path / "a.npz", tmp_path / "w.npz", **bumped)
    with pytest.raises(InputError, match="weights_sha256"):
        load_checkpoint(tmp_path / "w.npz")


def test_saving_a_result_whose_sha_does_not_match_its_config_is_refused(short0, tmp_path):
    bad = dataclasses.replace(short0, config_sha256="f" * 64)
    with pytest.raises(ConfigError, match="config_sha256"):
        save_checkpoint(bad, tmp_path / "x.npz")
    assert not list(tmp_path.iterdir())


def test_a_model_only_file_is_not_a_checkpoint(short0, tmp_path):
    short0.model.save(tmp_path / "m.npz")
    with pytest.raises(InputError, match="lacks"):
        load_checkpoint(tmp_path / "m.npz")
