"""Locate the files mmgate ships beside its code: the JSON Schemas and the gate modules."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def _shipped_dir(package: str, source_name: str) -> Path:
    """The installed package directory, or the top-level source directory in a bare checkout."""
    try:
        return Path(str(resources.files(package)))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / source_name


def schemas_dir() -> Path:
    """Directory holding the Draft 2020-12 schemas of every report kind."""
    return _shipped_dir("mmgate.schemas", "schemas")


def gates_dir() -> Path:
    """Directory holding the gate test modules that ``pytest --mmgate`` collects."""
    return _shipped_dir("mmgate.gates", "gates")
