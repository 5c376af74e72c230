"""Load the JSON Schemas shipped in ``mmgate.schemas`` and validate instances against them.

Each ``<name>.schema.json`` file holds one Draft 2020-12 schema whose ``$id`` is
``urn:mmgate:schema:<name>:<version>``; ``$ref`` between files resolves by ``$id`` through a
``referencing`` registry. A schema whose ``allOf`` references the envelope is a report kind, looked
up from ``facts_provided.report_kind``; adding a kind is adding one file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from mmgate.errors import ConfigError
from mmgate.records.resources import schemas_dir

SCHEMA_VERSION = "1.0.0"
ENVELOPE = "envelope"
SCHEMA_SUFFIX = ".schema.json"
_ID_PATTERN = re.compile(r"^urn:mmgate:schema:(?P<name>[a-z][a-z0-9_]*):(?P<version>[0-9]+\.[0-9]+\.[0-9]+)$")


def schema_id(name: str, version: str = SCHEMA_VERSION) -> str:
    """The ``$id`` of schema ``name`` at ``version``: ``urn:mmgate:schema:<name>:<version>``."""
    return f"urn:mmgate:schema:{name}:{version}"


@dataclass(frozen=True)
class SchemaViolation:
    """The first (most relevant) validation error: where in the instance, and what is wrong."""

    json_path: str
    message: str


@dataclass(frozen=True)
class SchemaSet:
    """Every shipped schema by name, with a validator for each and the names of the report kinds."""

    ids: Mapping[str, str]
    report_kinds: frozenset[str]
    validators: Mapping[str, Draft202012Validator]

    def first_error(self, name: str, instance: Any) -> SchemaViolation | None:
        """The most relevant error of ``instance`` against schema ``name``, or None if it is valid."""
        error = best_match(self.validators[name].iter_errors(instance))
        if error is None:
            return None
        return SchemaViolation(json_path=error.json_path, message=error.message)


def _is_report_schema(contents: Mapping[str, Any]) -> bool:
    """A report kind's schema is ``allOf`` with the envelope as one of its parts."""
    parts = contents.get("allOf", [])
    return any(isinstance(part, dict) and part.get("$ref") == schema_id(ENVELOPE) for part in parts)


def _load_file(path: Path) -> tuple[str, dict[str, Any]]:
    """Read one schema file, check it is a valid Draft 2020-12 schema whose ``$id`` names its file."""
    name = path.name[: -len(SCHEMA_SUFFIX)]
    try:
        contents = json.loads(path.read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(contents)
    except (OSError, ValueError, SchemaError) as exc:
        raise ConfigError(f"schema file {path}: not a valid Draft 2020-12 schema ({exc})") from exc
    match = _ID_PATTERN.match(str(contents.get("$id", "")))
    if match is None or match["name"] != name:
        raise ConfigError(
            f"schema file {path}: $id {contents.get('$id')!r} must be 'urn:mmgate:schema:{name}:<version>'"
        )
    return name, contents


def load_schemas(directory: str | Path | None = None) -> SchemaSet:
    """Load every ``*.schema.json`` in ``directory`` (default: the shipped schemas) into a SchemaSet."""
    root = Path(directory) if directory is not None else schemas_dir()
    loaded = dict(_load_file(path) for path in sorted(root.glob(f"*{SCHEMA_SUFFIX}")))
    if ENVELOPE not in loaded:
        raise ConfigError(f"schema directory {root}: missing {ENVELOPE}{SCHEMA_SUFFIX}")
    registry = (
        Registry()
        .with_resources(
            (contents["$id"], Resource.from_contents(contents, default_specification=DRAFT202012))
            for contents in loaded.values()
        )
        .crawl()
    )
    return SchemaSet(
        ids=MappingProxyType({name: contents["$id"] for name, contents in loaded.items()}),
        report_kinds=frozenset(name for name, contents in loaded.items() if _is_report_schema(contents)),
        validators=MappingProxyType(
            {name: Draft202012Validator(contents, registry=registry) for name, contents in loaded.items()}
        ),
    )
