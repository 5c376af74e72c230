"""The shipped schema files: Draft 2020-12, versioned URN ids, strict envelope, one file per kind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from mmgate.records.resources import schemas_dir
from mmgate.records.schema_registry import ENVELOPE, schema_id

SCHEMA_FILES = sorted(schemas_dir().glob("*.json"))
REPORT_KINDS = ("acceptance", "gate_evidence", "hash_ledger", "release_decision", "risk_log", "run_manifest")
ENVELOPE_KEYS = {
    "facts_provided",
    "assumptions",
    "open_items",
    "analysis",
    "draft_output",
    "verification_status",
    "questions_to_verify",
}


def _load(name: str) -> dict:
    return json.loads((schemas_dir() / f"{name}.schema.json").read_text(encoding="utf-8"))


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_the_schema_directory_ships_every_expected_schema() -> None:
    names = {path.name for path in SCHEMA_FILES}
    expected = {f"{kind}.schema.json" for kind in (*REPORT_KINDS, "envelope", "common", "config_log_record")}
    assert expected <= names


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_each_schema_is_draft_2020_12_with_a_versioned_urn_id_named_for_its_file(path: Path) -> None:
    contents = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(contents)
    assert contents["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert path.name.endswith(".schema.json")
    assert contents["$id"] == schema_id(path.name.removesuffix(".schema.json"), "1.0.0")


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_schema_refs_resolve_by_urn_or_locally_never_over_the_web(path: Path) -> None:
    for ref in _refs(json.loads(path.read_text(encoding="utf-8"))):
        assert ref.startswith(("urn:mmgate:schema:", "#/")), ref


def test_the_envelope_requires_exactly_the_seven_strict_keys_and_forbids_others() -> None:
    envelope = _load(ENVELOPE)
    assert envelope["additionalProperties"] is False
    assert set(envelope["required"]) == ENVELOPE_KEYS == set(envelope["properties"])
    assert envelope["properties"]["verification_status"] == {"const": "Not verified"}


@pytest.mark.parametrize("kind", REPORT_KINDS)
def test_each_kind_schema_is_the_envelope_plus_closed_facts_naming_the_kind(kind: str) -> None:
    envelope_ref, facts_part = _load(kind)["allOf"]
    assert envelope_ref == {"$ref": schema_id(ENVELOPE)}
    facts = facts_part["properties"]["facts_provided"]
    assert facts["additionalProperties"] is False
    assert facts["properties"]["report_kind"] == {"const": kind}
    assert facts["properties"]["schema_version"] == {"const": "1.0.0"}
    assert {"report_kind", "schema_version"} <= set(facts["required"])
