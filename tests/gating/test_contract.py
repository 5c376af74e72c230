"""Specification of the release contract: defaults, validation, hashing and file loading."""

from __future__ import annotations

import hashlib
import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmgate.errors import ConfigError
from mmgate.gating.contract import (
    CONDITIONAL_GATES,
    DEFAULT_REQUIRED,
    GATE_NAMES,
    GATE_THRESHOLDS,
    Contract,
    ContractError,
    load_contract,
)

FLOAT_FIELDS = [name for _, name in GATE_THRESHOLDS.values()] + ["bootstrap_alpha"]


def test_defaults_match_the_chapter3_acceptance_config() -> None:
    c = Contract()
    assert (c.min_retrieval_top1, c.min_retrieval_top5) == (0.55, 0.85)
    assert (c.max_symmetry_gap, c.max_mean_cosine, c.min_variance_floor) == (0.10, 0.22, 2e-3)
    assert (c.min_effective_rank, c.min_mi_excess, c.min_cca) == (12.0, 0.05, 0.35)
    assert (c.max_noise_slope, c.max_corruption_slope, c.max_counterfactual_drop) == (
        0.18, 0.65, 0.20)
    assert (c.bootstrap_resamples, c.bootstrap_alpha, c.retrieval_ks) == (1000, 0.05, (1, 5))


def test_default_required_gates_are_all_but_the_subject_dependent_ones() -> None:
    c = Contract()
    assert set(c.required) == set(GATE_NAMES) - CONDITIONAL_GATES
    assert c.is_required("retrieval_top1") and not c.is_required("mi_probe")
    assert DEFAULT_REQUIRED == c.required


def test_every_gate_decides_on_its_interval_unless_bounds_or_decide_on_say_otherwise() -> None:
    c = Contract.from_mapping({"bounds": {"retrieval_top1": "lower_bound"}})
    assert c.basis("retrieval_top1") == "lower_bound"
    assert c.basis("retrieval_top5") == "interval"
    point = Contract.from_mapping({"decide_on": "point", "bounds": {"pair_auc": "interval"}})
    assert point.basis("retrieval_top5") == "point" and point.basis("pair_auc") == "interval"
    assert c.basis("noise_slope") == "point"  # no interval: its point estimate decides
    assert point.sha256() != Contract().sha256()


@pytest.mark.parametrize("bad", ["median", "", None, 1])
def test_decide_on_names_its_two_rules(bad) -> None:
    with pytest.raises(ContractError, match=r"decide_on: expected one of \['interval', 'point'\]"):
        Contract.from_mapping({"decide_on": bad})


def test_threshold_gives_the_gate_result_threshold_object() -> None:
    c = Contract.from_mapping({"max_symmetry_gap": 0.2, "bounds": {"symmetry_gap": "upper_bound"}})
    assert c.threshold("symmetry_gap") == {"op": "<=", "value": 0.2, "basis": "upper_bound"}
    assert c.threshold("retrieval_top1") == {"op": ">=", "value": 0.55, "basis": "interval"}
    assert c.threshold("determinism") is None


def test_a_mapping_overrides_any_subset_and_keeps_the_other_defaults() -> None:
    c = Contract.from_mapping({"min_retrieval_top1": 0.7, "required": ["retrieval_top1"]})
    assert c.min_retrieval_top1 == 0.7
    assert c.min_retrieval_top5 == 0.85
    assert c.required == ("retrieval_top1",)


def test_ints_are_accepted_for_float_fields_and_hash_like_the_float() -> None:
    c = Contract.from_mapping({"min_effective_rank": 12})
    assert isinstance(c.min_effective_rank, float)
    assert c.sha256() == Contract().sha256()


@pytest.mark.parametrize("key, value", [
    ("min_retrieval_top1", 1.5), ("min_retrieval_top5", -0.1), ("min_cca", 2.0),
    ("max_noise_slope", -0.01), ("max_corruption_slope", float("inf")),
    ("min_effective_rank", 0.0), ("max_counterfactual_drop", float("nan")),
    ("bootstrap_alpha", 0.0), ("bootstrap_alpha", 0.5), ("bootstrap_resamples", 99),
    ("max_hubness_concentration", 1.01), ("max_mean_cosine", -1.5),
])
def test_out_of_range_values_are_rejected_naming_the_key(key: str, value: object) -> None:
    with pytest.raises(ContractError, match=key):
        Contract.from_mapping({key: value})


@pytest.mark.parametrize("key, value", [
    ("min_retrieval_top1", "0.6"), ("min_retrieval_top1", True), ("bootstrap_resamples", True),
    ("bootstrap_resamples", 1000.0), ("retrieval_ks", [1, True]), ("retrieval_ks", "1,5"),
    ("retrieval_ks", []), ("retrieval_ks", [0, 5]), ("retrieval_ks", [5, 5]),
    ("required", "retrieval_top1"), ("bounds", ["retrieval_top1"]),
])
def test_wrong_types_are_rejected_naming_the_key(key: str, value: object) -> None:
    with pytest.raises(ContractError, match=key):
        Contract.from_mapping({key: value})


def test_unknown_keys_are_rejected_naming_them() -> None:
    with pytest.raises(ContractError, match="min_top1"):
        Contract.from_mapping({"min_top1": 0.5})


def test_unknown_gate_names_in_required_or_bounds_are_rejected() -> None:
    with pytest.raises(ContractError, match="required.*'retrieval_top9'"):
        Contract.from_mapping({"required": ["retrieval_top9"]})
    with pytest.raises(ContractError, match="bounds.*'nope'"):
        Contract.from_mapping({"bounds": {"nope": "point"}})
    with pytest.raises(ContractError, match="bounds.retrieval_top1"):
        Contract.from_mapping({"bounds": {"retrieval_top1": "upper"}})


def test_bounds_only_apply_to_gates_with_a_numeric_threshold() -> None:
    with pytest.raises(ContractError, match="bounds.*'determinism'"):
        Contract.from_mapping({"bounds": {"determinism": "lower_bound"}})


def test_a_required_table_adds_to_and_removes_from_the_default_list() -> None:
    c = Contract.from_mapping({"required": {"mi_probe": True, "hubness": False}})
    assert c.is_required("mi_probe") and not c.is_required("hubness")
    assert c.is_required("retrieval_top1")
    listed = [g for g in DEFAULT_REQUIRED if g != "hubness"] + ["mi_probe"]
    assert c.sha256() == Contract.from_mapping({"required": listed}).sha256()


def test_a_required_table_needs_known_gates_and_booleans() -> None:
    with pytest.raises(ContractError, match="required.*'nope'"):
        Contract.from_mapping({"required": {"nope": True}})
    with pytest.raises(ContractError, match="required.mi_probe"):
        Contract.from_mapping({"required": {"mi_probe": 1}})


def test_a_gate_required_twice_is_rejected() -> None:
    with pytest.raises(ContractError, match="twice.*retrieval_top1"):
        Contract.from_mapping({"required": ["retrieval_top1", "retrieval_top1"]})


def test_contract_errors_are_config_errors() -> None:
    assert issubclass(ContractError, ConfigError) and issubclass(ContractError, ValueError)


def test_asking_about_an_unknown_gate_is_an_error() -> None:
    with pytest.raises(ContractError, match="'top1'"):
        Contract().basis("top1")
    with pytest.raises(ContractError, match="'top1'"):
        Contract().is_required("top1")


def test_direct_construction_is_validated_too() -> None:
    with pytest.raises(ContractError, match="min_cca"):
        Contract(min_cca=-1.0)


@pytest.mark.parametrize("key", FLOAT_FIELDS)
def test_the_hash_changes_when_any_float_threshold_changes(key: str) -> None:
    base = Contract()
    changed = Contract.from_mapping({key: getattr(base, key) * 0.5})
    assert changed.sha256() != base.sha256()


@pytest.mark.parametrize("override", [
    {"bootstrap_resamples": 2000}, {"retrieval_ks": [1, 5, 10]},
    {"bounds": {"retrieval_top5": "lower_bound"}}, {"required": ["retrieval_top1"]},
])
def test_the_hash_changes_when_any_other_field_changes(override: dict) -> None:
    assert Contract.from_mapping(override).sha256() != Contract().sha256()


def test_the_source_is_not_part_of_identity_or_hash() -> None:
    a = Contract.from_mapping({"min_cca": 0.4}, source="a.toml")
    b = Contract.from_mapping({"min_cca": 0.4}, source="b.json")
    assert a == b and a.sha256() == b.sha256()


OVERRIDES = {
    "min_retrieval_top1": 0.6, "max_noise_slope": 0.3, "retrieval_ks": [5, 1, 10],
    "bounds": {"symmetry_gap": "upper_bound", "retrieval_top1": "lower_bound"},
    "required": ["mean_cosine", "retrieval_top1", "determinism"], "bootstrap_resamples": 500,
}


@settings(max_examples=25, deadline=None)
@given(st.randoms(use_true_random=False))
def test_the_hash_is_stable_across_key_and_list_order(rnd: random.Random) -> None:
    items = list(OVERRIDES.items())
    rnd.shuffle(items)
    shuffled = {}
    for key, value in items:
        if isinstance(value, list):
            value = rnd.sample(value, len(value))
        elif isinstance(value, dict):
            value = dict(rnd.sample(list(value.items()), len(value)))
        shuffled[key] = value
    assert Contract.from_mapping(shuffled).sha256() == Contract.from_mapping(OVERRIDES).sha256()


def test_the_hash_is_the_sha256_of_the_canonical_json() -> None:
    c = Contract.from_mapping(OVERRIDES)
    text = c.canonical_json()
    assert hashlib.sha256(text.encode()).hexdigest() == c.sha256()
    assert json.loads(text) == c.to_dict()
    assert " " not in text


def test_to_dict_round_trips() -> None:
    c = Contract.from_mapping(OVERRIDES)
    assert Contract.from_mapping(c.to_dict()) == c


def test_load_none_gives_the_defaults() -> None:
    assert load_contract(None) == Contract()


def test_load_toml_with_nested_required_and_bounds(tmp_path) -> None:
    p = tmp_path / "thresholds.toml"
    p.write_text('min_retrieval_top1 = 0.6\nretrieval_ks = [1, 10]\n'
                 'required = ["retrieval_top1"]\n[bounds]\nretrieval_top1 = "lower_bound"\n')
    c = load_contract(p)
    assert c.min_retrieval_top1 == 0.6 and c.retrieval_ks == (1, 10)
    assert c.required == ("retrieval_top1",) and c.basis("retrieval_top1") == "lower_bound"
    assert c.source == str(p)


def test_load_toml_wrapped_in_an_mmgate_contract_table(tmp_path) -> None:
    p = tmp_path / "c.toml"
    p.write_text('[mmgate.contract]\nmin_cca = 0.5\n'
                 '[mmgate.contract.required]\nmi_probe = true\n')
    c = load_contract(p)
    assert c.min_cca == 0.5 and c.is_required("mi_probe")


def test_load_json_equals_the_same_toml(tmp_path) -> None:
    t = tmp_path / "c.toml"
    t.write_text('max_symmetry_gap = 0.05\n[bounds]\nsymmetry_gap = "upper_bound"\n')
    j = tmp_path / "c.JSON"
    j.write_text(json.dumps({"bounds": {"symmetry_gap": "upper_bound"}, "max_symmetry_gap": 0.05}))
    assert load_contract(t).sha256() == load_contract(j).sha256()


def test_a_missing_file_is_an_error_naming_the_path(tmp_path) -> None:
    p = tmp_path / "absent.toml"
    with pytest.raises(ContractError, match="absent.toml"):
        load_contract(p)


def test_an_unsupported_extension_is_an_error_naming_the_expected_ones(tmp_path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text("min_cca: 0.5\n")
    with pytest.raises(ContractError, match=r"\.toml.*\.json"):
        load_contract(p)


@pytest.mark.parametrize("name, text, parser_hint", [
    ("bad.toml", "min_cca = = 0.5\n", "line 1"),
    ("bad.json", '{"min_cca": 0.5,}', "line 1"),
    ("dup.json", '{"min_cca": 0.5, "min_cca": 0.6}', "duplicate key 'min_cca'"),
])
def test_a_malformed_file_is_an_error_naming_the_file_and_the_parser_message(
        tmp_path, name: str, text: str, parser_hint: str) -> None:
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(ContractError, match=name) as info:
        load_contract(p)
    assert parser_hint in str(info.value)


def test_a_json_file_that_is_not_an_object_is_rejected(tmp_path) -> None:
    p = tmp_path / "c.json"
    p.write_text("[0.5]")
    with pytest.raises(ContractError, match="c.json.*table"):
        load_contract(p)


def test_bad_values_in_a_file_name_the_file_and_the_key(tmp_path) -> None:
    p = tmp_path / "c.toml"
    p.write_text("bootstrap_alpha = 0.7\n")
    with pytest.raises(ContractError, match=r"c\.toml.*bootstrap_alpha"):
        load_contract(p)


def test_an_mmgate_table_beside_other_keys_is_rejected() -> None:
    with pytest.raises(ContractError, match="mmgate"):
        Contract.from_mapping({"mmgate": {"contract": {}}, "min_cca": 0.4})


def test_benign_perturbations_and_stress_budgets_round_trip_and_change_the_hash() -> None:
    declared = {"benign_perturbations": [{"name": "template_prefix", "intensity": 1.0,
                                          "tokens": ["a", "photo", "of"]}],
                "stress_budgets": {"template_prefix": 1.0, "blur": 0.5}, "max_stress_drop": 0.2}
    c = Contract.from_mapping(declared)
    assert c.benign() == [{"name": "template_prefix", "intensity": 1.0, "seed": 0,
                           "tokens": ["a", "photo", "of"]}]
    assert Contract.from_mapping(c.to_dict()) == c
    assert c.sha256() != Contract().sha256()
    assert c.threshold("stress_retrieval") == {"op": "<=", "value": 0.2, "basis": "point"}


@pytest.mark.parametrize("data, match", [
    ({"benign_perturbations": {"name": "blur"}}, "benign_perturbations: expected a list"),
    ({"benign_perturbations": [{"name": "blur"}]}, r"benign_perturbations\[0\]: expected a table"),
    ({"benign_perturbations": [{"name": "blur", "intensity": -1}]}, r"\[0\]: blur.intensity"),
    ({"benign_perturbations": [{"name": "blur", "intensity": 1, "seed": -2}]}, r"\[0\].seed"),
    ({"benign_perturbations": [{"name": "blur", "intensity": 1, "kind": "median"}]}, "blur.kind"),
    ({"stress_budgets": {"gaussian_noise": -0.1}}, "stress_budgets.gaussian_noise"),
    ({"stress_budgets": {"crop": 1.0}}, "crop.intensity"),
    ({"stress_budgets": ["blur"]}, "stress_budgets: expected a table"),
    ({"max_benign_drop": 1.5}, "max_benign_drop"),
])
def test_bad_perturbation_declarations_are_rejected_naming_the_field(data, match) -> None:
    with pytest.raises(ContractError, match=match):
        Contract.from_mapping(data)


@pytest.mark.parametrize("gate, basis", [("noise_slope", "upper_bound"), ("noise_slope", "interval"), ("retrieval_top1", "upper_bound"),
                                         ("symmetry_gap", "lower_bound")])
def test_a_bound_may_only_make_a_gate_with_an_interval_stricter(gate, basis):
    with pytest.raises(ContractError, match=rf"bounds\.{gate}: expected one of"):
        Contract.from_mapping({"bounds": {gate: basis}})


def test_the_stricter_bound_of_an_interval_gate_is_accepted():
    contract = Contract.from_mapping({"bounds": {"retrieval_top1": "lower_bound", "symmetry_gap": "upper_bound"}})
    assert contract.basis("retrieval_top1") == "lower_bound" and contract.basis("symmetry_gap") == "upper_bound"


def test_a_pinned_baseline_hash_is_validated_and_hashed_into_the_contract() -> None:
    pinned = Contract.from_mapping({"baseline_sha256": "ab" * 32})
    assert pinned.baseline_sha256 == "ab" * 32 and pinned.sha256() != Contract().sha256()
    assert Contract.from_mapping(pinned.to_dict()) == pinned
    for bad in ("AB" * 32, "ab" * 31, 42):
        with pytest.raises(ContractError, match="baseline_sha256: expected 64 lower-case hex digits"):
            Contract.from_mapping({"baseline_sha256": bad})
