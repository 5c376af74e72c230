"""Canonical JSON: one byte-exact text per value, so equal reports hash equally and NaN never hides."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from mmgate.errors import InputError


class JsonValueError(InputError):
    """A value JSON cannot hold (NaN, Inf, non-string key, foreign type), located by JSON path."""

    def __init__(self, json_path: str, reason: str) -> None:
        super().__init__(f"value at {json_path} {reason}")
        self.json_path = json_path
        self.reason = reason

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return type(self), (self.json_path, self.reason)


def json_value(obj: Any, path: str = "$") -> Any:
    """Plain JSON copy of ``obj`` (tuples -> lists, numpy scalars/arrays -> Python values).

    Raises JsonValueError naming the JSON path of a non-finite float, a non-string key or a
    value JSON cannot hold.
    """
    if isinstance(obj, np.ndarray):
        return json_value(obj.tolist(), path)
    if isinstance(obj, np.generic):
        return json_value(obj.item(), path)
    if obj is None or isinstance(obj, (str, bool, int)):
        return obj
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise JsonValueError(path, f"is {obj!r}; JSON reports hold finite numbers only")
        return obj
    if isinstance(obj, dict):
        out = {}
        for key, value in obj.items():
            if not isinstance(key, str):
                raise JsonValueError(path, f"has key {key!r} of type {type(key).__name__}; JSON keys are strings")
            out[key] = json_value(value, f"{path}.{key}")
        return out
    if isinstance(obj, (list, tuple)):
        return [json_value(item, f"{path}[{i}]") for i, item in enumerate(obj)]
    raise JsonValueError(path, f"has type {type(obj).__name__}, which JSON cannot hold")


def canonical_json(obj: Any) -> str:
    """Sorted-key, 2-space-indented, non-ASCII-preserving JSON text ending in a newline; rejects NaN/Inf."""
    return json.dumps(json_value(obj), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def canonical_json_line(obj: Any) -> str:
    """Compact canonical JSON on one line (no newline), for JSON Lines files and hashing."""
    return json.dumps(json_value(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _reject_constant(name: str) -> Any:
    """Refuse the NaN/Infinity literals Python's json module accepts by default."""
    raise ValueError(f"non-finite number {name} is not valid JSON")


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Build an object, refusing a key that appears twice (its meaning would be ambiguous)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def parse_json_strict(text: str) -> Any:
    """Parse JSON text, rejecting NaN/Infinity literals and duplicate object keys (ValueError)."""
    return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_pairs)
