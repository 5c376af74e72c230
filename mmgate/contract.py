"""Release contract: the pre-specified, validated, hashed thresholds every gate compares against."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from mmgate import tomlcompat
from mmgate.canonical import parse_json_strict
from mmgate.catalogue import GATES, KNOBS
from mmgate.drift.budgets import DEFAULT_BUDGETS, Budget, budgets_from_table
from mmgate.errors import ConfigError
from mmgate.results import BASES


GATE_NAMES = tuple(spec.name for spec in GATES)
# Gates that apply only when the subject supports them (labels, training data, perturbations).
CONDITIONAL_GATES = frozenset({
    "mi_probe", "cca_probe", "split_hygiene", "leakage_alarm", "noise_slope", "corruption_slope",
    "counterfactual_drop", "robustness_margin", "benign_perturbation", "noise_direction", "stress_retrieval",
    "pair_audit", "temperature_calibration", "input_drift", "drift_budget",
    "drift_diagnosis",
})
DEFAULT_REQUIRED = tuple(name for name in GATE_NAMES if name not in CONDITIONAL_GATES)
# Gates whose measurement carries a bootstrap interval, so a contract may gate on its bound.
GATES_WITH_INTERVALS = frozenset({"retrieval_top1", "retrieval_top5", "symmetry_gap"})
# gate name -> (comparison the measured statistic must satisfy, contract field holding the limit).
GATE_THRESHOLDS: Mapping[str, tuple[str, str]] = MappingProxyType({
    "retrieval_top1": (">=", "min_retrieval_top1"),
    "retrieval_top5": (">=", "min_retrieval_top5"),
    "symmetry_gap": ("<=", "max_symmetry_gap"),
    "mean_cosine": ("<=", "max_mean_cosine"),
    "variance_floor": (">=", "min_variance_floor"),
    "effective_rank": (">=", "min_effective_rank"),
    "rankme": (">=", "min_rankme_share"),
    "hubness": ("<=", "max_hubness_concentration"),
    "rank_divergence": ("<=", "max_rank_divergence"),
    "norm_divergence": ("<=", "max_norm_divergence"),
    "mi_probe": (">=", "min_mi_excess"),
    "cca_probe": (">=", "min_cca"),
    "noise_slope": ("<=", "max_noise_slope"),
    "corruption_slope": ("<=", "max_corruption_slope"),
    "counterfactual_drop": ("<=", "max_counterfactual_drop"),
    "leakage_alarm": ("<=", "max_leakage_correlation"),
    "pair_audit": ("<=", "max_suspect_pairs"),
    "temperature_calibration": ("<=", "max_temperature_log_ratio"),
    "input_drift": ("<=", "max_input_drift"),
    "benign_perturbation": ("<=", "max_benign_drop"),
    "stress_retrieval": ("<=", "max_stress_drop"),
})
CONTRACT_EXTENSIONS = (".toml", ".json")

# float field -> (low, high, low_open, high_open); None means unbounded on that side.
_FLOAT_RANGES: Mapping[str, tuple[float | None, float | None, bool, bool]] = MappingProxyType({
    "min_retrieval_top1": (0.0, 1.0, False, False),
    "min_retrieval_top5": (0.0, 1.0, False, False),
    "max_symmetry_gap": (0.0, 1.0, False, False),
    "max_mean_cosine": (-1.0, 1.0, False, False),
    "min_variance_floor": (0.0, 1.0, False, False),
    "min_effective_rank": (0.0, None, True, False),
    "min_rankme_share": (0.0, 1.0, False, False),
    "max_suspect_pairs": (0.0, 1.0, False, False),
    "max_temperature_log_ratio": (0.0, None, True, False),
    "max_input_drift": (0.0, 1.0, False, False),
    "min_mi_excess": (0.0, None, False, False),
    "min_cca": (0.0, 1.0, False, False),
    "max_noise_slope": (0.0, None, False, False),
    "max_corruption_slope": (0.0, None, False, False),
    "max_counterfactual_drop": (0.0, 1.0, False, False),
    "max_hubness_concentration": (0.0, 1.0, False, False),
    "max_rank_divergence": (0.0, None, False, False),
    "max_norm_divergence": (0.0, None, False, False),
    "max_leakage_correlation": (0.0, 1.0, False, False),
    "max_benign_drop": (0.0, 1.0, False, False),
    "max_stress_drop": (0.0, 1.0, False, False),
    "min_margin_image_noise": (0.0, None, False, False),
    "min_margin_text_noise": (0.0, None, False, False),
    "min_margin_pair_corruption": (0.0, None, False, False),
    "min_margin_temperature_scale": (0.0, None, False, False),
    "min_margin_confounder_strength": (0.0, None, False, False),
    "min_margin_preprocessing_scale": (0.0, None, False, False),
    "bootstrap_alpha": (0.0, 0.5, True, True),
})
_MIN_RESAMPLES = 100
# Benign perturbations the invariance gate applies when the contract declares none: a brightness
# shift either way (for subjects whose images are arrays; it does not apply to other data).
DEFAULT_BENIGN = (
    (("intensity", 0.05), ("name", "brightness"), ("seed", 0)),
    (("intensity", -0.05), ("name", "brightness"), ("seed", 0)),
)
# Operator -> largest intensity the stress property draws (photometric changes a deployed image
# pipeline meets; text and pairing operators are opt-in because they depend on the tokenizer).
DEFAULT_STRESS_BUDGETS = (("blur", 0.4), ("brightness", 0.1), ("contrast", 0.2),
                          ("gaussian_noise", 0.01))
_SCALARS = (str, int, float, bool)


class ContractError(ConfigError):
    """A contract file or mapping is malformed: the message names the key or the file."""


def _range_text(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f"a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    return f"a finite number {'>' if low_open else '>='} {low:g}"


def _checked_float(source: str, name: str, value: Any) -> float:
    low, high, low_open, high_open = _FLOAT_RANGES[name]
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


def _checked_resamples(source: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < _MIN_RESAMPLES:
        raise ContractError(f"{source}: bootstrap_resamples: expected an integer >= "
                            f"{_MIN_RESAMPLES}, got {value!r} ({type(value).__name__})")
    return int(value)


def _checked_ks(source: str, value: Any) -> tuple[int, ...]:
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


def _checked_gate(source: str, key: str, name: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(name, str) or name not in allowed:
        raise ContractError(f"{source}: {key}: unknown gate name {name!r}; expected one of "
                            f"{list(allowed)}")
    return name


def _checked_bounds(source: str, value: Any) -> tuple[tuple[str, str], ...]:
    if isinstance(value, tuple) and all(isinstance(p, tuple) and len(p) == 2 for p in value):
        value = dict(value)
    if not isinstance(value, Mapping):
        raise ContractError(f"{source}: bounds: expected a table mapping gate name to one of "
                            f"{list(BASES)}, got {value!r}")
    gated = tuple(name for name in GATE_NAMES if name in GATE_THRESHOLDS)
    pairs = {}
    for gate, basis in value.items():
        _checked_gate(source, "bounds", gate, gated)
        allowed = _allowed_bases(gate)
        if not isinstance(basis, str) or basis not in allowed:
            raise ContractError(f"{source}: bounds.{gate}: expected one of {list(allowed)} (a bound "
                                f"may only make a gate with a confidence interval stricter), "
                                f"got {basis!r}")
        pairs[gate] = basis
    return tuple((gate, pairs[gate]) for gate in gated if gate in pairs)


def _allowed_bases(gate: str) -> tuple[str, ...]:
    """Point always; the stricter bootstrap bound for the gates that measure one."""
    if gate not in GATES_WITH_INTERVALS:
        return ("point",)
    return ("point", "lower_bound" if GATE_THRESHOLDS[gate][0] == ">=" else "upper_bound")


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


def _checked_benign(source: str, value: Any) -> tuple[tuple[tuple[str, Any], ...], ...]:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (list, tuple)):
        raise ContractError(f"{source}: benign_perturbations: expected a list of operator tables "
                            f"({{name, intensity, ...}}), got {value!r}")
    return tuple(_checked_spec(source, f"benign_perturbations[{i}]", spec)
                 for i, spec in enumerate(value))


def _checked_budgets(source: str, value: Any) -> tuple[tuple[str, float], ...]:
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


def _required_from_table(source: str, table: Mapping[Any, Any]) -> tuple[str, ...]:
    chosen = set(DEFAULT_REQUIRED)
    for name, flag in table.items():
        _checked_gate(source, "required", name, GATE_NAMES)
        if not isinstance(flag, bool):
            raise ContractError(f"{source}: required.{name}: expected true or false, got {flag!r}")
        if flag:
            chosen.add(name)
        else:
            chosen.discard(name)
    return tuple(name for name in GATE_NAMES if name in chosen)


def _checked_required(source: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, Mapping):
        return _required_from_table(source, value)
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise ContractError(f"{source}: required: expected a list of gate names or a table of "
                            f"gate name to true/false, got {value!r}")
    names = [_checked_gate(source, "required", name, GATE_NAMES) for name in value]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ContractError(f"{source}: required: gate name(s) listed twice: {duplicates}")
    return tuple(name for name in GATE_NAMES if name in names)


def _checked_sha256(source: str, name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise ContractError(f"{source}: {name}: expected 64 lower-case hex digits (a sha256), got {value!r}")
    return value


def _checked_drift_budgets(source: str, value: Any) -> tuple[Budget, ...]:
    if isinstance(value, Mapping):
        try:
            return budgets_from_table(source, value)
        except ConfigError as exc:
            raise ContractError(str(exc)) from exc
    if isinstance(value, tuple) and all(isinstance(budget, Budget) for budget in value) \
            and [b.metric for b in value] == [b.metric for b in DEFAULT_BUDGETS]:
        return value
    raise ContractError(f"{source}: drift_budgets: expected a table of metric -> budget fields, got {value!r}")


@dataclass(frozen=True)
class Contract:
    """Thresholds declared before a run; validated on construction, hashed into the decision.

    ``bounds`` says which statistic a gate compares (point estimate or a confidence bound);
    ``required`` lists the gates whose absence makes the decision non-APPROVE (given as a table of
    gate name to true/false, it adjusts the default list). ``benign_perturbations`` lists the
    operators (``{name, intensity, seed, ...params}``) that must cost at most ``max_benign_drop``
    of recall@1; ``stress_budgets`` maps an operator to the largest intensity the stress property
    draws, whose chains must cost at most ``max_stress_drop``. ``drift_budgets`` maps a drift metric
    to the fields of its budget (``mmgate.drift.budgets``) that differ from the defaults;
    ``baseline_sha256`` pins the content hash of the only baseline a run may be compared against
    (the baseline's own hash catches accidental damage; this one, fixed before the run, catches a
    deliberately re-hashed edit). ``source`` records where the contract
    came from and is not part of its identity or hash.
    """

    min_retrieval_top1: float = 0.55
    min_retrieval_top5: float = 0.85
    max_symmetry_gap: float = 0.10
    max_mean_cosine: float = 0.22
    min_variance_floor: float = 2e-3
    min_effective_rank: float = 12.0
    min_rankme_share: float = 0.48
    max_suspect_pairs: float = 0.05
    max_temperature_log_ratio: float = round(math.log(3.0), 6)
    max_input_drift: float = 0.2
    min_mi_excess: float = 0.05
    min_cca: float = 0.35
    max_noise_slope: float = 0.18
    max_corruption_slope: float = 0.65
    max_counterfactual_drop: float = 0.20
    max_hubness_concentration: float = 0.25
    max_rank_divergence: float = 0.10
    max_norm_divergence: float = 0.5
    max_leakage_correlation: float = 0.35
    max_benign_drop: float = 0.05
    max_stress_drop: float = 0.10
    min_margin_image_noise: float = 1.0
    min_margin_text_noise: float = 0.02
    min_margin_pair_corruption: float = 0.05
    min_margin_temperature_scale: float = 4.0
    min_margin_confounder_strength: float = 16.0
    min_margin_preprocessing_scale: float = 0.7
    benign_perturbations: tuple = DEFAULT_BENIGN
    stress_budgets: tuple = DEFAULT_STRESS_BUDGETS
    drift_budgets: tuple = DEFAULT_BUDGETS
    baseline_sha256: str | None = None
    bootstrap_resamples: int = 1000
    bootstrap_alpha: float = 0.05
    retrieval_ks: tuple[int, ...] = (1, 5)
    bounds: tuple[tuple[str, str], ...] = ()
    required: tuple[str, ...] = DEFAULT_REQUIRED
    source: str = field(default="defaults", compare=False)

    def __post_init__(self) -> None:
        src = self.source
        if not isinstance(src, str) or not src:
            raise ContractError(f"Contract.source: expected a non-empty string, got {src!r}")
        checked: dict[str, Any] = {
            name: _checked_float(src, name, getattr(self, name)) for name in _FLOAT_RANGES
        }
        checked["bootstrap_resamples"] = _checked_resamples(src, self.bootstrap_resamples)
        checked["retrieval_ks"] = _checked_ks(src, self.retrieval_ks)
        checked["bounds"] = _checked_bounds(src, self.bounds)
        checked["required"] = _checked_required(src, self.required)
        checked["benign_perturbations"] = _checked_benign(src, self.benign_perturbations)
        checked["stress_budgets"] = _checked_budgets(src, self.stress_budgets)
        checked["drift_budgets"] = _checked_drift_budgets(src, self.drift_budgets)
        checked["baseline_sha256"] = _checked_sha256(src, "baseline_sha256", self.baseline_sha256)
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "mapping") -> Contract:
        """Defaults overridden by ``data``, flat or as ``{"mmgate": {"contract": ...}}``."""
        table = _unwrapped(source, data)
        known = {f.name for f in dataclasses.fields(cls)} - {"source"}
        unknown = sorted(str(key) for key in table if key not in known)
        if unknown:
            raise ContractError(f"{source}: unknown contract key(s) {unknown}; expected a subset "
                                f"of {sorted(known)}")
        return cls(**dict(table), source=source)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready thresholds (no ``source``); ``from_mapping`` of it gives an equal contract."""
        out: dict[str, Any] = {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "source"
        }
        out["retrieval_ks"] = list(self.retrieval_ks)
        out["bounds"] = dict(self.bounds)
        out["required"] = list(self.required)
        out["benign_perturbations"] = [
            {key: list(value) if isinstance(value, tuple) else value for key, value in spec}
            for spec in self.benign_perturbations]
        out["stress_budgets"] = dict(self.stress_budgets)
        out["drift_budgets"] = {budget.metric: {key: value for key, value in budget.to_dict().items()
                                                if key != "metric"} for budget in self.drift_budgets}
        return out

    def canonical_json(self) -> str:
        """Key-sorted, whitespace-free JSON of ``to_dict``: the text the hash is taken over."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False)

    def sha256(self) -> str:
        """Hex sha256 of the canonical JSON; any threshold change changes it."""
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()

    def basis(self, gate: str) -> str:
        """Which statistic ``gate`` compares: "point" unless ``bounds`` says otherwise."""
        _checked_gate(self.source, "gate", gate, GATE_NAMES)
        return dict(self.bounds).get(gate, "point")

    def is_required(self, gate: str) -> bool:
        """Whether a missing or errored ``gate`` blocks approval."""
        _checked_gate(self.source, "gate", gate, GATE_NAMES)
        return gate in self.required

    def budget(self, metric: str) -> Budget:
        """The drift budget of ``metric`` (see ``mmgate.drift.budgets``)."""
        for budget in self.drift_budgets:
            if budget.metric == metric:
                return budget
        raise ContractError(f"{self.source}: drift metric: expected one of "
                            f"{[b.metric for b in self.drift_budgets]}, got {metric!r}")

    def min_margin(self, knob: str) -> float:
        """The smallest robustness margin (largest intensity at which every acceptance gate still
        passes) the contract accepts for ``knob``."""
        if knob not in KNOBS:
            raise ContractError(f"{self.source}: knob: expected one of {list(KNOBS)}, got {knob!r}")
        return getattr(self, f"min_margin_{knob}")

    def benign(self) -> list[dict[str, Any]]:
        """The declared benign perturbations as operator JSON (``{name, intensity, seed, ...}``)."""
        return self.to_dict()["benign_perturbations"]

    def threshold(self, gate: str) -> dict[str, Any] | None:
        """The gate-result threshold ``{"op", "value", "basis"}``; None for pass/fail gates."""
        _checked_gate(self.source, "gate", gate, GATE_NAMES)
        if gate not in GATE_THRESHOLDS:
            return None
        op, name = GATE_THRESHOLDS[gate]
        return {"op": op, "value": getattr(self, name), "basis": self.basis(gate)}


def _unwrapped(source: str, data: Any) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ContractError(f"{source}: expected a table of thresholds, got {type(data).__name__}")
    if "mmgate" not in data:
        return data
    inner = data["mmgate"]
    if len(data) != 1 or not isinstance(inner, Mapping) or set(inner) != {"contract"} \
            or not isinstance(inner["contract"], Mapping):
        raise ContractError(f"{source}: mmgate: expected either a flat table of thresholds or "
                            f"only a [mmgate.contract] table")
    return inner["contract"]


def _parse(path: Path, text: str) -> Any:
    if path.suffix.lower() == ".toml":
        return tomlcompat.loads(text)
    return parse_json_strict(text)


def load_contract(path: str | os.PathLike[str] | None) -> Contract:
    """The default contract for None, else the contract in a ``.toml`` or ``.json`` file."""
    if path is None:
        return Contract()
    p = Path(path)
    if p.suffix.lower() not in CONTRACT_EXTENSIONS:
        raise ContractError(f"contract file {str(p)!r}: expected one of the extensions "
                            f"{list(CONTRACT_EXTENSIONS)}, got {p.suffix or 'none'!r}")
    if not p.is_file():
        raise ContractError(f"contract file {str(p)!r} does not exist or is not a file")
    try:
        text = p.read_bytes().decode("utf-8")
        data = _parse(p, text)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ContractError(f"contract file {str(p)!r} is malformed: {exc}") from exc
    return Contract.from_mapping(data, source=str(p))
