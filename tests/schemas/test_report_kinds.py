"""Each report kind's schema accepts a real report and rejects mutated ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mmgate.records.reports import ReportSchemaError, validate_record, validate_report
from mmgate.records.schema_registry import SchemaSet, load_schemas
from tests.report_samples import FACTS, sample_report

KINDS = sorted(FACTS)
Mutation = Callable[[dict[str, Any]], None]


@pytest.fixture(scope="module")
def schemas() -> SchemaSet:
    return load_schemas()


def _rejected(schemas: SchemaSet, report: dict[str, Any]) -> ReportSchemaError:
    with pytest.raises(ReportSchemaError) as caught:
        validate_report(report, schemas)
    return caught.value


def test_the_samples_cover_every_report_kind_the_schemas_define(schemas: SchemaSet) -> None:
    assert set(KINDS) == schemas.report_kinds


@pytest.mark.parametrize("kind", KINDS)
def test_schema_accepts_a_real_report(schemas: SchemaSet, kind: str) -> None:
    assert validate_report(sample_report(kind), schemas) == kind


ENVELOPE_MUTATIONS: dict[str, tuple[Mutation, str]] = {
    "extra_top_level_key": (lambda r: r.update(summary="extra"), "$"),
    "wrong_verification_status": (lambda r: r.update(verification_status="Verified"), "$.verification_status"),
    "missing_envelope_key": (lambda r: r.pop("questions_to_verify"), "$"),
    "assumption_not_a_string": (lambda r: r["assumptions"].update(scope=3), "$.assumptions.scope"),
    "open_items_not_strings": (lambda r: r.update(open_items=[1]), "$.open_items[0]"),
    "analysis_not_a_string": (lambda r: r.update(analysis=["a"]), "$.analysis"),
    "draft_output_not_an_object": (lambda r: r.update(draft_output="text"), "$.draft_output"),
    "extra_facts_key": (lambda r: r["facts_provided"].update(note="x"), "$.facts_provided"),
    "wrong_schema_version": (
        lambda r: r["facts_provided"].update(schema_version="9.9.9"),
        "$.facts_provided.schema_version",
    ),
    "run_id_wrong_type": (lambda r: r["facts_provided"].update(run_id=123), "$.facts_provided.run_id"),
    "run_id_with_a_slash": (lambda r: r["facts_provided"].update(run_id="a/b"), "$.facts_provided.run_id"),
}


@pytest.mark.parametrize("mutation", sorted(ENVELOPE_MUTATIONS))
@pytest.mark.parametrize("kind", KINDS)
def test_schema_rejects_envelope_mutations_naming_kind_and_path(schemas: SchemaSet, kind: str, mutation: str) -> None:
    mutate, path = ENVELOPE_MUTATIONS[mutation]
    report = sample_report(kind)
    mutate(report)
    error = _rejected(schemas, report)
    assert (error.kind, error.json_path) == (kind, path)
    assert kind in str(error) and path in str(error)


@pytest.mark.parametrize(("kind", "key"), [(kind, key) for kind in KINDS for key in FACTS[kind]])
def test_schema_rejects_a_report_missing_any_facts_key(schemas: SchemaSet, kind: str, key: str) -> None:
    report = sample_report(kind)
    del report["facts_provided"][key]
    error = _rejected(schemas, report)
    assert error.json_path == "$.facts_provided" and repr(key) in error.message


SHA_PATHS = [
    ("release_decision", ("contract_sha256",)),
    ("acceptance", ("contract_sha256",)),
    ("run_manifest", ("contract_sha256",)),
    ("run_manifest", ("config_sha256",)),
    ("run_manifest", ("artifacts", 0, "sha256")),
    ("hash_ledger", ("files", 0, "sha256")),
]


@pytest.mark.parametrize("bad", ["A" * 64, "a" * 63, "g" * 64, ""])
@pytest.mark.parametrize(("kind", "path"), SHA_PATHS)
def test_schema_rejects_a_malformed_sha256(schemas: SchemaSet, kind: str, path: tuple, bad: str) -> None:
    report = sample_report(kind)
    *parents, leaf = path
    node = report["facts_provided"]
    for step in parents:
        node = node[step]
    node[leaf] = bad
    assert _rejected(schemas, report).json_path.endswith(str(leaf))


@pytest.mark.parametrize("kind", ["nonexistent", "envelope", "common", "config_log_record", 7, None])
def test_validation_rejects_an_unknown_report_kind(schemas: SchemaSet, kind: object) -> None:
    report = sample_report("risk_log")
    report["facts_provided"]["report_kind"] = kind
    error = _rejected(schemas, report)
    assert error.json_path == "$.facts_provided.report_kind"


def test_validation_rejects_a_report_that_is_not_an_object(schemas: SchemaSet) -> None:
    assert _rejected(schemas, ["facts_provided"]).json_path == "$.facts_provided.report_kind"


def _decision(**facts: Any) -> dict[str, Any]:
    report = sample_report("release_decision")
    report["facts_provided"].update(facts)
    return report


@pytest.mark.parametrize(
    "facts",
    [
        {"exit_code": 1},
        {"failed_gates": ["g"]},
        {"errored_gates": ["g"]},
        {"missing_gates": ["g"]},
    ],
    ids=["nonzero_exit", "failed_gate", "errored_gate", "missing_gate"],
)
def test_release_decision_cannot_approve_with_missing_evidence_or_a_nonzero_exit(
    schemas: SchemaSet, facts: dict
) -> None:
    _rejected(schemas, _decision(**facts))


@pytest.mark.parametrize("decision", ["REJECT", "INCOMPLETE"])
def test_release_decision_other_than_approve_needs_a_nonzero_exit(schemas: SchemaSet, decision: str) -> None:
    _rejected(schemas, _decision(decision=decision, exit_code=0))
    assert validate_report(_decision(decision=decision, exit_code=1, failed_gates=["g"]), schemas) == "release_decision"


@pytest.mark.parametrize(
    "facts",
    [{"decision": "MAYBE"}, {"counts": {"passed": -1}}, {"counts": {"great": 1}}, {"subject": {"name": ""}}],
    ids=["unknown_decision", "negative_count", "unknown_status_count", "bad_subject"],
)
def test_release_decision_rejects_malformed_facts(schemas: SchemaSet, facts: dict) -> None:
    _rejected(schemas, _decision(**facts))


GATE_MUTATIONS: dict[str, Mutation] = {
    "unknown_status": lambda g: g.update(status="ok"),
    "unknown_family": lambda g: g.update(family="vibes"),
    "extra_key": lambda g: g.update(score=1),
    "missing_key": lambda g: g.pop("reason"),
    "param_is_a_list": lambda g: g["params"].update(seeds=[0, 1]),
    "measured_is_a_string": lambda g: g["measured"].update(value="0.7"),
    "unknown_threshold_basis": lambda g: g["threshold"].update(basis="mean"),
    "unknown_threshold_op": lambda g: g["threshold"].update(op="~"),
    "required_is_a_string": lambda g: g.update(required="yes"),
}


@pytest.mark.parametrize("mutation", sorted(GATE_MUTATIONS))
def test_gate_results_in_evidence_and_acceptance_reject_mutations(schemas: SchemaSet, mutation: str) -> None:
    evidence = sample_report("gate_evidence")
    GATE_MUTATIONS[mutation](evidence["facts_provided"]["result"])
    assert _rejected(schemas, evidence).json_path.startswith("$.facts_provided.result")
    acceptance = sample_report("acceptance")
    GATE_MUTATIONS[mutation](acceptance["facts_provided"]["gates"][0])
    assert _rejected(schemas, acceptance).json_path.startswith("$.facts_provided.gates[0]")


def test_gate_results_accept_every_status_and_null_measurement(schemas: SchemaSet) -> None:
    for status in ("passed", "failed", "error", "not_applicable", "skipped", "missing"):
        report = sample_report("gate_evidence")
        report["facts_provided"]["result"].update(status=status, measured=None, threshold=None, reason="why")
        assert validate_report(report, schemas) == "gate_evidence"


@pytest.mark.parametrize(
    ("kind", "mutate"),
    [
        ("risk_log", lambda f: f.update(risks=[])),
        ("risk_log", lambda f: f["risks"][0].update(controls=[])),
        ("risk_log", lambda f: f["risks"][0]["controls"][0].update(gates="variance_floor")),
        ("run_manifest", lambda f: f["environment"].update(cuda="12")),
        ("run_manifest", lambda f: f.update(git_commit="HEAD")),
        ("run_manifest", lambda f: f.update(started_utc="2026-02-17 13:40:16")),
        ("run_manifest", lambda f: f.update(finished_utc="2026-02-17T13:40:16+02:00")),
        ("run_manifest", lambda f: f["artifacts"][0].update(path="/etc/passwd")),
        ("run_manifest", lambda f: f["artifacts"][0].update(path="a/../b")),
        ("run_manifest", lambda f: f["artifacts"][0].update(schema_id="https://example.com/s.json")),
        ("run_manifest", lambda f: f["artifacts"][0].update(bytes=-1)),
        ("hash_ledger", lambda f: f.update(algorithm="md5")),
        ("hash_ledger", lambda f: f["files"][0].update(schema_id=None)),
    ],
)
def test_kind_specific_facts_are_checked(schemas: SchemaSet, kind: str, mutate: Mutation) -> None:
    report = sample_report(kind)
    mutate(report["facts_provided"])
    _rejected(schemas, report)


def test_run_manifest_accepts_a_git_commit(schemas: SchemaSet) -> None:
    report = sample_report("run_manifest")
    report["facts_provided"]["git_commit"] = "0123456789abcdef0123456789abcdef01234567"
    assert validate_report(report, schemas) == "run_manifest"


CONFIG_RECORD = {
    "source": "pyproject.toml",
    "redacted_text": "x = 1",
    "sha256": "f" * 64,
    "recorded_utc": "2026-02-17T13:40:16Z",
}


def test_config_log_record_schema_accepts_a_record_and_rejects_mutations(schemas: SchemaSet) -> None:
    validate_record("config_log_record", CONFIG_RECORD, schemas)
    for mutated in (
        {**CONFIG_RECORD, "extra": 1},
        {**CONFIG_RECORD, "sha256": "F" * 64},
        {**CONFIG_RECORD, "source": ""},
        {key: value for key, value in CONFIG_RECORD.items() if key != "redacted_text"},
    ):
        with pytest.raises(ReportSchemaError) as caught:
            validate_record("config_log_record", mutated, schemas)
        assert caught.value.kind == "config_log_record"
