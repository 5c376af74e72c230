"""Strict reports: the envelope is built, validated before writing, and an invalid one writes nothing."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from mmgate.errors import MmgateError
from mmgate.records.canonical import canonical_json
from mmgate.records.hashing import sha256_bytes
from mmgate.records.reports import (
    ReportSchemaError,
    report_bytes,
    strict_report,
    validate_record,
    validate_report,
    write_report,
)
from tests.report_samples import ENVELOPE, FACTS, RUN_ID, sample_report


def test_strict_report_builds_the_envelope_and_stamps_kind_version_and_status() -> None:
    report = strict_report("risk_log", FACTS["risk_log"], **ENVELOPE)
    assert set(report) == {
        "facts_provided",
        "assumptions",
        "open_items",
        "analysis",
        "draft_output",
        "verification_status",
        "questions_to_verify",
    }
    assert report["verification_status"] == "Not verified"
    assert report["facts_provided"]["report_kind"] == "risk_log"
    assert report["facts_provided"]["schema_version"] == "1.0.0"
    assert "report_kind" not in FACTS["risk_log"]


def test_strict_report_returns_plain_json_from_tuples_and_numpy_values() -> None:
    facts = {**FACTS["gate_evidence"], "result": {**FACTS["gate_evidence"]["result"],
                                                          "measured": {"value": np.float64(0.5)}}}
    report = strict_report("gate_evidence", facts, **{**ENVELOPE, "open_items": ("a", "b")})
    assert report["open_items"] == ["a", "b"]
    assert type(report["facts_provided"]["result"]["measured"]["value"]) is float
    assert validate_report(report) == "gate_evidence"


def test_strict_report_refuses_facts_that_claim_another_kind() -> None:
    with pytest.raises(ReportSchemaError, match=r"\$\.facts_provided\.report_kind"):
        strict_report("acceptance", {"report_kind": "risk_log"}, **ENVELOPE)


def test_report_schema_error_is_an_mmgate_error_naming_kind_and_path() -> None:
    report = sample_report("acceptance")
    report["facts_provided"]["gates"][1]["family"] = "vibes"
    with pytest.raises(ReportSchemaError) as caught:
        validate_report(report)
    assert isinstance(caught.value, MmgateError)
    assert str(caught.value).startswith("acceptance report invalid at $.facts_provided.gates[1].family:")


def test_report_schema_error_survives_pickling_between_processes() -> None:
    error = pickle.loads(pickle.dumps(ReportSchemaError("risk_log", "$.facts_provided", "bad")))
    assert (error.kind, error.json_path, error.message, str(error)) == (
        "risk_log",
        "$.facts_provided",
        "bad",
        "risk_log report invalid at $.facts_provided: bad",
    )


def test_write_report_writes_canonical_json_and_returns_its_sha256(tmp_path: Path) -> None:
    target = tmp_path / "out" / "risk_log.json"
    report = sample_report("risk_log")
    digest = write_report(target, report)
    assert target.read_text(encoding="utf-8") == canonical_json(report)
    assert digest == sha256_bytes(target.read_bytes())
    assert json.loads(target.read_text(encoding="utf-8")) == report


def test_write_report_refuses_an_invalid_report_and_leaves_no_file_or_temp_file(tmp_path: Path) -> None:
    report = sample_report("release_decision")
    report["facts_provided"]["missing_gates"] = ["gates/test_drift.py::test_budget"]
    with pytest.raises(ReportSchemaError, match="release_decision report invalid at"):
        write_report(tmp_path / "release_decision.json", report)
    assert os.listdir(tmp_path) == []


def test_an_invalid_report_leaves_the_previous_file_untouched(tmp_path: Path) -> None:
    target = tmp_path / "acceptance.json"
    write_report(target, sample_report("acceptance"))
    before = target.read_bytes()
    report = sample_report("acceptance")
    report["verification_status"] = "Verified"
    with pytest.raises(ReportSchemaError, match=r"\$\.verification_status"):
        write_report(target, report)
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["acceptance.json"]


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_write_report_refuses_non_finite_numbers_naming_the_path(tmp_path: Path, bad: float) -> None:
    report = sample_report("gate_evidence")
    report["facts_provided"]["result"]["measured"]["ci_low"] = bad
    with pytest.raises(ReportSchemaError) as caught:
        write_report(tmp_path / "e.json", report)
    assert caught.value.kind == "gate_evidence"
    assert caught.value.json_path == "$.facts_provided.result.measured.ci_low"
    assert os.listdir(tmp_path) == []


def test_report_bytes_validates_what_it_serialises() -> None:
    kind, data = report_bytes(sample_report("hash_ledger"))
    assert kind == "hash_ledger"
    assert json.loads(data)["facts_provided"]["run_id"] == RUN_ID


def test_validate_record_names_the_schema_and_refuses_unknown_schemas() -> None:
    with pytest.raises(ReportSchemaError, match=r"config_log_record report invalid at \$"):
        validate_record("config_log_record", {"source": "x"})
    with pytest.raises(ReportSchemaError, match="no schema named 'nope'"):
        validate_record("nope", {})
