"""The two default contracts (the built-in subject's calibrated one and the broken-model defaults
for a subject of your own), unset thresholds, the N-aware effective-rank floor, and the rotation
invariance of the pair-AUC and top-direction-energy measurements."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mmgate.gating.contract import (
    USER_SUBJECT_DEFAULTS,
    Contract,
    ContractError,
    load_contract,
)
from mmgate.gating.measurements import Measurements
from mmgate.gating.thresholds import DEFAULT_REQUIRED
from mmgate.subjects.embedding import Embeddings
from mmgate.subjects.paired import PairedSet


def test_builtin_defaults_are_the_field_defaults():
    builtin = Contract.for_subject(builtin=True)
    assert builtin == Contract() and builtin.profile == "builtin" and builtin.source == "defaults"
    assert builtin.sha256() == Contract().sha256()
    assert (builtin.max_mean_cosine, builtin.min_variance_floor, builtin.min_rankme_share,
            builtin.min_retrieval_top1, builtin.min_retrieval_top5) == (0.22, 2e-3, 0.48, 0.55, 0.85)
    assert builtin.effective_rank_room_share is None
    assert builtin.required == DEFAULT_REQUIRED


def test_user_defaults_differ_and_hash_differently():
    user = Contract.for_subject(builtin=False)
    assert user.profile == "user" and user.source == "defaults (user subject)"
    assert user != Contract() and user.sha256() != Contract().sha256()
    for name, value in USER_SUBJECT_DEFAULTS.items():
        assert getattr(user, name) == value
    assert (user.max_mean_cosine, user.min_retrieval_top1, user.min_retrieval_top5) == (0.90, 0.05, 0.20)
    assert user.min_pair_auc == Contract().min_pair_auc == 0.90
    assert user.max_direction_energy == Contract().max_direction_energy == 0.30
    assert json.loads(user.canonical_json())["profile"] == "user"
    assert Contract.from_mapping(user.to_dict()) == user


def test_only_the_profile_differs_when_thresholds_are_equal():
    same = Contract.from_mapping({**Contract().to_dict(), "profile": "user"})
    assert same.max_mean_cosine == 0.22 and same.sha256() != Contract().sha256()


def test_user_defaults_leave_variance_floor_and_rankme_unset_and_not_required():
    user = Contract.for_subject(builtin=False)
    for gate in ("variance_floor", "rankme"):
        assert not user.is_required(gate)
        assert user.threshold(gate)["value"] is None
    assert "basis" in user.unset_reason("variance_floor")
    assert "min_variance_floor" in user.unset_reason("variance_floor")
    assert "min_rankme_share" in user.unset_reason("rankme")
    assert user.unset_reason("mean_cosine") is None and Contract().unset_reason("variance_floor") is None
    assert set(DEFAULT_REQUIRED) - set(user.required) == {"variance_floor", "rankme"}


def test_setting_an_unset_threshold_gates_and_requires_it_again():
    user = Contract.from_mapping({"min_variance_floor": 1e-4}, profile="user")
    assert user.is_required("variance_floor") and user.unset_reason("variance_floor") is None
    assert not user.is_required("rankme") and user.max_mean_cosine == 0.90


def test_an_unset_gate_cannot_be_required():
    with pytest.raises(ContractError, match="rankme"):
        Contract.from_mapping({"required": {"rankme": True}}, profile="user")
    with pytest.raises(ContractError, match="min_pair_auc|pair_auc"):
        Contract.from_mapping({"min_pair_auc": None, "required": ["pair_auc"]})
    table = Contract.from_mapping({"max_mean_cosine": None})
    assert "mean_cosine" not in table.required and table.unset_reason("mean_cosine")


def test_a_contract_file_overrides_the_profile_defaults(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("min_retrieval_top1 = 0.3\n", "utf-8")
    user = load_contract(path, profile="user")
    assert user.profile == "user" and user.min_retrieval_top1 == 0.3 and user.max_mean_cosine == 0.90
    assert user.min_variance_floor is None
    builtin = load_contract(path)
    assert builtin.profile == "builtin" and builtin.max_mean_cosine == 0.22
    assert load_contract(None, profile="user") == Contract.for_subject(builtin=False)
    path.write_text('profile = "builtin"\n', "utf-8")
    assert load_contract(path, profile="user") == Contract()
    path.write_text('profile = "mine"\n', "utf-8")
    with pytest.raises(ContractError, match="profile"):
        load_contract(path, profile="user")


def test_effective_rank_floor_is_capped_by_the_room_for_user_subjects():
    user = Contract.for_subject(builtin=False)
    assert user.effective_rank_floor(256, 48)[0] == 12.0
    floor, basis = user.effective_rank_floor(20, 384)
    assert floor == pytest.approx(0.25 * 19) and basis["room"] == 19 and "min(N-1, d)" in basis["rule"]
    assert user.effective_rank_floor(64, 16)[0] == 4.0
    assert Contract().effective_rank_floor(20, 384)[0] == 12.0


def _measured(z_img, z_txt, seed=0):
    n = len(z_img)
    canary = PairedSet(np.arange(n), [f"t{i}" for i in range(n)])
    return Measurements(Embeddings(z_img, z_txt), canary, Contract(), seed)


def test_pair_auc_and_direction_energy_are_rotation_invariant():
    rng = np.random.default_rng(3)
    n, d = 96, 24
    signal = rng.standard_normal((n, d)) * np.linspace(3.0, 0.2, d)
    z_img = signal + 2.0 * np.ones(d)
    z_txt = signal + 2.5 * rng.standard_normal((n, d)) + 2.0 * np.ones(d)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    plain, rotated = _measured(z_img, z_txt), _measured(z_img @ q, z_txt @ q)
    for direction in ("image_to_text", "text_to_image"):
        a, b = plain.pair_auc(direction)[0], rotated.pair_auc(direction)[0]
        assert 0.6 < a < 1.0 and b == pytest.approx(a, abs=1e-12)
    for modality in ("image", "text"):
        a = plain.geometry(modality)["direction_energy"]
        b = rotated.geometry(modality)["direction_energy"]
        assert 0.0 < a < 1.0 and b == pytest.approx(a, rel=1e-9)
    # the basis-dependent statistic the user defaults do not gate moves under the same rotation
    assert plain.geometry("image")["variance"]["min"] != pytest.approx(
        rotated.geometry("image")["variance"]["min"], rel=1e-3)


def test_pair_auc_is_one_when_paired_and_chance_when_unrelated():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((200, 16))
    value, (low, high), evidence = _measured(z, z).pair_auc("image_to_text")
    assert value == 1.0 and evidence["chance"] == 0.5 and low <= value <= high
    unrelated = _measured(z, rng.standard_normal((200, 16))).pair_auc("text_to_image")
    assert abs(unrelated[0] - 0.5) < 5 * unrelated[2]["null_sd"]
    tied = _measured(np.ones((10, 4)), np.ones((10, 4))).pair_auc("image_to_text")[0]
    assert tied == 0.0


def test_direction_energy_flags_a_line():
    rng = np.random.default_rng(1)
    line = np.outer(rng.standard_normal(64), rng.standard_normal(8)) + 0.01 * rng.standard_normal((64, 8))
    assert _measured(line, line).geometry("image")["direction_energy"] > 0.9
