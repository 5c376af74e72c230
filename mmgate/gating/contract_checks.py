"""Validation of each contract field: every check returns the normalised value or raises
``ContractError`` naming the source, the key, what was expected and what was given."""

from __future__ import annotations

import math
from typing import Any, Mapping

from mmgate.drift.budgets import DEFAULT_BUDGETS, Budget, budgets_from_table
from mmgate.errors import ConfigError
from mmgate.gating.results import BASES
from mmgate.gating.thresholds import (
    DEFAULT_REQUIRED,
    FLOAT_RANGES,
    GATE_NAMES,
    GATE_THRESHOLDS,
    GATES_WITH_INTERVALS,
    MIN_RESAMPLES,
)


class ContractError(ConfigError):
    """A contract file or mapping is malformed: the message names the key or the file."""


_SCALARS = (str, int, float, bool)


def _range_text(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f"a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    return f"a finite number {'>' if low_open else '>='} {low:g}"


def checked_float(source: str, name: str, value: Any) -> float:
    low, high, low_open, high_open = FLOAT_RANGES[name]
    expected = _range_text(low, high, low_open, high_open)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ContractError(f"{source}: {name}: expected {expected}, got {value!r} "
                            f"({type(value).__name__})")
    x = float(value)
    out_of_range = (not math.isfinite(x)
                    or (low is not None and (x <= low if low_open else x < low))
                    or (high is not None and (x >= high if high_open else x > high)))
    if out_of_range:
        raise ContractError(f"{source}: {name}: expected {expected}, got {value!r}")
    return x


def checked_resamples(source: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < MIN_RESAMPLES:
        raise ContractError(f"{source}: bootstrap_resamples: expected an integer >= "
                            f"{MIN_RESAMPLES}, got {value!r} ({type(value).__name__})")
    return int(value)


def checked_ks(source: str, value: Any) -> tuple[int, ...]:
    expected = "a non-empty list of distinct positive integers"
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)) or not value:
        raise ContractError(f"{source}: retrieval_ks: expected {expected}, got {value!r}")
    for k in value:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ContractError(f"{source}: retrieval_ks: expected {expected}, got element {k!r}")
    if len(set(value)) != len(value):
        raise ContractError(f"{source}: retrieval_ks: expected {expected}, got duplicates in "
                            f"{list(value)}")
    return tuple(sorted(int(k) for k in value))


def checked_gate(source: str, key: str, name: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(name, str) or name not in allowed:
        raise ContractError(f"{source}: {key}: unknown gate name {name!r}; expected one of "
                            f"{list(allowed)}")
    return name


def checked_bounds(source: str, value: Any) -> tuple[tuple[str, str], ...]:
    if isinstance(value, tuple) and all(isinstance(p, tuple) and len(p) == 2 for p in value):
        value = dict(value)
    if not isinstance(value, Mapping):
        raise ContractError(f"{source}: bounds: expected a table mapping gate name to one of "
                            f"{list(BASES)}, got {value!r}")
    gated = tuple(name for name in GATE_NAMES if name in GATE_THRESHOLDS)
    pairs = {}
    for gate, basis in value.items():
        checked_gate(source, "bounds", gate, gated)
        allowed = _allowed_bases(gate)
        if not isinstance(basis, str) or basis not in allowed:
            raise ContractError(f"{source}: bounds.{gate}: expected one of {list(allowed)} (a bound "
                                f"may only make a gate with a confidence interval stricter), "
                                f"got {basis!r}")
        pairs[gate] = basis
    return tuple((gate, pairs[gate]) for gate in gated if gate in pairs)


def _allowed_bases(gate: str) -> tuple[str, ...]:
    """Point always; the interval rule or the stricter bootstrap bound for the gates that measure one."""
    if gate not in GATES_WITH_INTERVALS:
        return ("point",)
    return ("point", "interval", "lower_bound" if GATE_THRESHOLDS[gate][0] == ">=" else "upper_bound")


def _builtin_operator(source: str, where: str, name: str, intensity: Any,
                      params: Mapping[str, Any]) -> None:
    """Build a built-in operator to validate its intensity and parameters; names that are not
    built in are left to the operators a subject registers (checked when the gate runs)."""
    from mmgate.perturb import BUILTIN_OPERATORS, OperatorRegistry

    if name not in BUILTIN_OPERATORS:
        return
    try:
        OperatorRegistry().create(name, intensity, **params)
    except ConfigError as exc:
        raise ContractError(f"{source}: {where}: {exc}") from exc


def _operator_name(source: str, where: str, name: Any) -> str:
    if not isinstance(name, str) or not name.isidentifier():
        raise ContractError(f"{source}: {where}: expected an operator name (an identifier), "
                            f"got {name!r}")
    return name


def _checked_spec(source: str, where: str, spec: Any) -> tuple[tuple[str, Any], ...]:
    if isinstance(spec, tuple) and all(isinstance(p, tuple) and len(p) == 2 for p in spec):
        spec = dict(spec)
    if not isinstance(spec, Mapping) or "name" not in spec or "intensity" not in spec:
        raise ContractError(f"{source}: {where}: expected a table with 'name', 'intensity' and "
                            f"optional 'seed' and operator parameters, got {spec!r}")
    name = _operator_name(source, f"{where}.name", spec["name"])
    intensity = spec["intensity"]
    if isinstance(intensity, bool) or not isinstance(intensity, (int, float)) \
            or not math.isfinite(intensity):
        raise ContractError(f"{source}: {where}.intensity: expected a finite number, got "
                            f"{intensity!r}")
    seed = spec.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ContractError(f"{source}: {where}.seed: expected an integer >= 0, got {seed!r}")
    params: dict[str, Any] = {}
    for key, value in spec.items():
        if key in ("name", "intensity", "seed"):
            continue
        if isinstance(value, (list, tuple)) and all(isinstance(v, _SCALARS) for v in value):
            value = tuple(value)
        elif not isinstance(value, _SCALARS):
            raise ContractError(f"{source}: {where}.{key}: expected a string, number, boolean "
                                f"or a list of them, got {value!r}")
        params[str(key)] = value
    _builtin_operator(source, where, name, intensity, params)
    out = {"name": name, "intensity": float(intensity), "seed": seed, **params}
    return tuple(sorted(out.items()))


def checked_benign(source: str, value: Any) -> tuple[tuple[tuple[str, Any], ...], ...]:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (list, tuple)):
        raise ContractError(f"{source}: benign_perturbations: expected a list of operator tables "
                            f"({{name, intensity, ...}}), got {value!r}")
    return tuple(_checked_spec(source, f"benign_perturbations[{i}]", spec)
                 for i, spec in enumerate(value))


def checked_budgets(source: str, value: Any) -> tuple[tuple[str, float], ...]:
    if isinstance(value, tuple) and all(isinstance(p, tuple) and len(p) == 2 for p in value):
        value = dict(value)
    if not isinstance(value, Mapping):
        raise ContractError(f"{source}: stress_budgets: expected a table of operator name to "
                            f"maximum intensity, got {value!r}")
    out = {}
    for name, budget in value.items():
        where = f"stress_budgets.{_operator_name(source, 'stress_budgets', name)}"
        if isinstance(budget, bool) or not isinstance(budget, (int, float)) \
                or not math.isfinite(budget) or budget < 0:
            raise ContractError(f"{source}: {where}: expected a finite number >= 0, got {budget!r}")
        _builtin_operator(source, where, name, budget, {})
        out[name] = float(budget)
    return tuple(sorted(out.items()))


def _required_from_table(source: str, table: Mapping[Any, Any], unset: frozenset | set) -> tuple[str, ...]:
    chosen = set(DEFAULT_REQUIRED) - set(unset)
    for name, flag in table.items():
        checked_gate(source, "required", name, GATE_NAMES)
        if not isinstance(flag, bool):
            raise ContractError(f"{source}: required.{name}: expected true or false, got {flag!r}")
        if flag:
            chosen.add(name)
        else:
            chosen.discard(name)
    return tuple(name for name in GATE_NAMES if name in chosen)


def checked_required(source: str, value: Any, unset: frozenset | set = frozenset()) -> tuple[str, ...]:
    """The required gates: None is the default list less the gates whose threshold is ``unset``;
    a table adjusts that list; a list replaces it. An unset gate cannot be required."""
    if value is None:
        chosen = tuple(name for name in DEFAULT_REQUIRED if name not in unset)
    elif isinstance(value, Mapping):
        chosen = _required_from_table(source, value, unset)
    else:
        chosen = _required_from_list(source, value)
    bad = [name for name in chosen if name in unset]
    if bad:
        raise ContractError(f"{source}: required: gate(s) {bad} have no threshold in this contract; "
                            f"set their threshold or leave them out of required")
    return chosen


def _required_from_list(source: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise ContractError(f"{source}: required: expected a list of gate names or a table of "
                            f"gate name to true/false, got {value!r}")
    names = [checked_gate(source, "required", name, GATE_NAMES) for name in value]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ContractError(f"{source}: required: gate name(s) listed twice: {duplicates}")
    return tuple(name for name in GATE_NAMES if name in names)


def checked_choice(source: str, name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ContractError(f"{source}: {name}: expected one of {list(allowed)}, got {value!r}")
    return value


def checked_sha256(source: str, name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise ContractError(f"{source}: {name}: expected 64 lower-case hex digits (a sha256), got {value!r}")
    return value


def checked_drift_budgets(source: str, value: Any) -> tuple[Budget, ...]:
    if isinstance(value, Mapping):
        try:
            return budgets_from_table(source, value)
        except ConfigError as exc:
            raise ContractError(str(exc)) from exc
    if isinstance(value, tuple) and all(isinstance(budget, Budget) for budget in value) \
            and [b.metric for b in value] == [b.metric for b in DEFAULT_BUDGETS]:
        return value
    raise ContractError(f"{source}: drift_budgets: expected a table of metric -> budget fields, got {value!r}")
