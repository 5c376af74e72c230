"""Strict reports: the facts/assumptions/open-items envelope, schema validation, atomic writes.

Every JSON artifact mmgate writes is a strict report validated against its kind's schema before
a byte reaches disk; an invalid report raises ReportSchemaError and writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mmgate.errors import MmgateError
from mmgate.records.atomic import write_bytes_atomic
from mmgate.records.canonical import JsonValueError, canonical_json, json_value
from mmgate.records.schema_registry import SCHEMA_VERSION, SchemaSet, load_schemas

VERIFICATION_STATUS = "Not verified"
_KIND_PATH = "$.facts_provided.report_kind"


class ReportSchemaError(MmgateError):
    """A report (or record) does not match its schema; names the kind and the JSON path."""

    def __init__(self, kind: str, json_path: str, message: str) -> None:
        super().__init__(f"{kind} report invalid at {json_path}: {message}")
        self.kind = kind
        self.json_path = json_path
        self.message = message

    def __reduce__(self) -> tuple[type, tuple[str, str, str]]:
        return type(self), (self.kind, self.json_path, self.message)


def strict_report(
    kind: str,
    facts: Mapping[str, Any],
    *,
    assumptions: Mapping[str, str],
    open_items: Sequence[str],
    analysis: str,
    draft_output: Mapping[str, Any],
    questions_to_verify: Sequence[str],
) -> dict[str, Any]:
    """Build the strict envelope of a ``kind`` report; facts gain report_kind and schema_version.

    The result is plain JSON (tuples become lists, numpy scalars Python numbers); it is not
    validated here — ``validate_report``/``write_report`` do that.
    """
    for key, expected in (("report_kind", kind), ("schema_version", SCHEMA_VERSION)):
        if key in facts and facts[key] != expected:
            raise ReportSchemaError(kind, f"$.facts_provided.{key}", f"{facts[key]!r} conflicts with {expected!r}")
    report = {
        "facts_provided": {**facts, "report_kind": kind, "schema_version": SCHEMA_VERSION},
        "assumptions": dict(assumptions),
        "open_items": list(open_items),
        "analysis": analysis,
        "draft_output": dict(draft_output),
        "verification_status": VERIFICATION_STATUS,
        "questions_to_verify": list(questions_to_verify),
    }
    try:
        return json_value(report)
    except JsonValueError as exc:
        raise ReportSchemaError(kind, exc.json_path, exc.reason) from exc


def report_kind(report: Any) -> str:
    """The declared kind of a report: ``facts_provided.report_kind`` (raises if absent)."""
    facts = report.get("facts_provided") if isinstance(report, Mapping) else None
    kind = facts.get("report_kind") if isinstance(facts, Mapping) else None
    if not isinstance(kind, str):
        raise ReportSchemaError("unknown", _KIND_PATH, "missing; every report names its kind")
    return kind


def validate_report(report: Any, schemas: SchemaSet | None = None) -> str:
    """Validate ``report`` against the schema its report_kind names; return the kind.

    Raises ReportSchemaError naming the kind and the JSON path of the first error.
    """
    schemas = schemas if schemas is not None else load_schemas()
    kind = report_kind(report)
    if kind not in schemas.report_kinds:
        known = ", ".join(sorted(schemas.report_kinds))
        raise ReportSchemaError(kind, _KIND_PATH, f"unknown report kind {kind!r}; known kinds: {known}")
    violation = schemas.first_error(kind, report)
    if violation is not None:
        raise ReportSchemaError(kind, violation.json_path, violation.message)
    return kind


def validate_record(name: str, record: Any, schemas: SchemaSet | None = None) -> None:
    """Validate one JSON Lines record against schema ``name`` (e.g. ``config_log_record``)."""
    schemas = schemas if schemas is not None else load_schemas()
    if name not in schemas.validators:
        raise ReportSchemaError(name, "$", f"no schema named {name!r}")
    violation = schemas.first_error(name, record)
    if violation is not None:
        raise ReportSchemaError(name, violation.json_path, violation.message)


def report_bytes(report: Any, schemas: SchemaSet | None = None) -> tuple[str, bytes]:
    """Validated canonical UTF-8 bytes of ``report`` and its kind; what is validated is what is written."""
    kind = report_kind(report)
    try:
        text = canonical_json(report)
    except JsonValueError as exc:
        raise ReportSchemaError(kind, exc.json_path, exc.reason) from exc
    kind = validate_report(json.loads(text), schemas)
    return kind, text.encode("utf-8")


def write_report(path: str | Path, report: Any, schemas: SchemaSet | None = None) -> str:
    """Validate ``report`` then write it atomically as canonical JSON; return the file's sha256."""
    _, data = report_bytes(report, schemas)
    return write_bytes_atomic(path, data)
