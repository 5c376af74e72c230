"""Loading the schema set: ids by name, report kinds discovered from files, bad files named."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mmgate.errors import ConfigError
from mmgate.records.reports import strict_report, validate_report
from mmgate.records.resources import schemas_dir
from mmgate.records.schema_registry import load_schemas, schema_id

EXPECTED_IDS = {
    "acceptance": "urn:mmgate:schema:acceptance:1.0.0",
    "common": "urn:mmgate:schema:common:1.0.0",
    "config_log_record": "urn:mmgate:schema:config_log_record:1.0.0",
    "decision_record": "urn:mmgate:schema:decision_record:1.0.0",
    "detection_matrix": "urn:mmgate:schema:detection_matrix:1.0.0",
    "drift_baseline": "urn:mmgate:schema:drift_baseline:1.0.0",
    "drift_debug": "urn:mmgate:schema:drift_debug:1.0.0",
    "drift_timeline": "urn:mmgate:schema:drift_timeline:1.0.0",
    "envelope": "urn:mmgate:schema:envelope:1.0.0",
    "gate_evidence": "urn:mmgate:schema:gate_evidence:1.0.0",
    "hash_ledger": "urn:mmgate:schema:hash_ledger:1.0.0",
    "intervention_summary": "urn:mmgate:schema:intervention_summary:1.0.0",
    "release_decision": "urn:mmgate:schema:release_decision:1.0.0",
    "risk_log": "urn:mmgate:schema:risk_log:1.0.0",
    "run_manifest": "urn:mmgate:schema:run_manifest:1.0.0",
}
ENVELOPE_ARGS = {"assumptions": {}, "open_items": [], "analysis": "", "draft_output": {}, "questions_to_verify": []}


@pytest.fixture
def schema_copy(tmp_path: Path) -> Path:
    target = tmp_path / "schemas"
    shutil.copytree(schemas_dir(), target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


def test_load_schemas_maps_every_shipped_name_to_its_urn_id() -> None:
    assert dict(load_schemas().ids) == EXPECTED_IDS


def test_report_kinds_are_the_schemas_built_on_the_envelope() -> None:
    assert load_schemas().report_kinds == {
        "acceptance",
        "decision_record",
        "detection_matrix",
        "drift_baseline",
        "drift_debug",
        "drift_timeline",
        "gate_evidence",
        "hash_ledger",
        "intervention_summary",
        "release_decision",
        "risk_log",
        "run_manifest",
    }


def test_schema_id_builds_the_versioned_urn() -> None:
    assert schema_id("drift", "2.1.0") == "urn:mmgate:schema:drift:2.1.0"


def test_adding_a_kind_is_adding_one_schema_file(schema_copy: Path) -> None:
    facts = {
        "type": "object",
        "additionalProperties": False,
        "required": ["report_kind", "schema_version", "psi"],
        "properties": {
            "report_kind": {"const": "drift"},
            "schema_version": {"const": "1.0.0"},
            "psi": {"type": "number"},
        },
    }
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:mmgate:schema:drift:1.0.0",
        "allOf": [{"$ref": "urn:mmgate:schema:envelope:1.0.0"}, {"properties": {"facts_provided": facts}}],
    }
    (schema_copy / "drift.schema.json").write_text(json.dumps(schema), encoding="utf-8")
    schemas = load_schemas(schema_copy)
    assert "drift" in schemas.report_kinds
    assert validate_report(strict_report("drift", {"psi": 0.1}, **ENVELOPE_ARGS), schemas) == "drift"


def test_a_schema_whose_id_does_not_name_its_file_is_refused(schema_copy: Path) -> None:
    path = schema_copy / "risk_log.schema.json"
    contents = json.loads(path.read_text(encoding="utf-8"))
    contents["$id"] = "https://example.com/risk_log.json"
    path.write_text(json.dumps(contents), encoding="utf-8")
    with pytest.raises(ConfigError, match="risk_log.schema.json"):
        load_schemas(schema_copy)


def test_an_invalid_schema_file_is_refused_by_name(schema_copy: Path) -> None:
    (schema_copy / "broken.schema.json").write_text('{"$id": "urn:mmgate:schema:broken:1.0.0", "type": 5}')
    with pytest.raises(ConfigError, match="broken.schema.json"):
        load_schemas(schema_copy)


def test_a_schema_directory_without_the_envelope_is_refused(schema_copy: Path) -> None:
    (schema_copy / "envelope.schema.json").unlink()
    with pytest.raises(ConfigError, match="envelope"):
        load_schemas(schema_copy)
