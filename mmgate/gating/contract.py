"""Release contract: the pre-specified, validated, hashed thresholds every gate compares against.
The default thresholds are the field defaults of ``Contract`` below."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from mmgate.drift.budgets import DEFAULT_BUDGETS, Budget
from mmgate.gating.catalogue import KNOBS
from mmgate.gating.contract_checks import (
    ContractError,
    checked_benign,
    checked_bounds,
    checked_budgets,
    checked_choice,
    checked_drift_budgets,
    checked_float,
    checked_gate,
    checked_ks,
    checked_required,
    checked_resamples,
    checked_sha256,
)
from mmgate.gating.thresholds import (
    CONDITIONAL_GATES,
    CONTRACT_EXTENSIONS,
    DECIDE_ON,
    DEFAULT_BENIGN,
    DEFAULT_REQUIRED,
    DEFAULT_STRESS_BUDGETS,
    FLOAT_RANGES,
    GATE_NAMES,
    GATE_THRESHOLDS,
    GATES_WITH_INTERVALS,
    NULLABLE_FIELDS,
    PROFILES,
    UNSET_REASONS,
    USER_SUBJECT_DEFAULTS,
)
from mmgate.records import tomlcompat
from mmgate.records.canonical import parse_json_strict

__all__ = ["CONDITIONAL_GATES", "DEFAULT_REQUIRED", "GATE_NAMES", "GATE_THRESHOLDS", "USER_SUBJECT_DEFAULTS",
           "Contract", "ContractError", "load_contract"]


@dataclass(frozen=True)
class Contract:
    """Thresholds declared before a run; validated on construction, hashed into the decision.

    ``decide_on`` is the rule for every gate whose measurement has an interval: "interval" (the
    default) passes a case whose interval lies inside the limit, fails one whose interval lies
    beyond it and leaves one across it inconclusive (the release INCOMPLETE, with the pairs that
    would decide it); "point" decides on the point estimate alone. ``bounds`` overrides it per gate
    (point estimate or the stricter confidence bound);
    ``required`` lists the gates whose absence makes the decision non-APPROVE (given as a table of
    gate name to true/false, it adjusts the default list: every gate that applies to any subject
    and has a threshold). A gate threshold may be left unset (None, JSON ``null``): its gate is then
    ``not_applicable`` with the reason in ``UNSET_REASONS`` and may not be required. ``profile``
    names the defaults the contract starts from: "builtin" (the field defaults, calibrated on the
    built-in subject) or "user" (those overridden by ``USER_SUBJECT_DEFAULTS``, for a subject of
    your own); it is part of the hash. ``benign_perturbations`` lists the
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
    # Per-query AUC of the true partner, 1 - mean(rank + ties)/(N-1), chance 0.5 at any N (null sd
    # about 0.29/sqrt(N)), worse direction. /tmp/realmodels: MiniLM 0.994-0.995 (N=64-512, d=384),
    # built-in aligner 0.99-1.00 (N=64-256, d=48); random-init MiniLM 0.49-0.53, random tiny CLIP
    # 0.49-0.51, untrained aligner 0.51, off-by-one join 0.49-0.50, 30 % swapped pairs 0.83-0.86
    # (10 %: 0.93-0.95), one or both towers rank-2/4 collapsed 0.59-0.84.
    min_pair_auc: float | None = 0.90
    max_symmetry_gap: float = 0.10
    # Zero-shot top-1 over the subject's class prompts, a broken-model floor for both profiles:
    # min(chance + min_zero_shot_top1 * (1 - chance), zero_shot_chance_multiple * chance), chance = 1/C
    # (see ``zero_shot_floor``): 0.75 for C = 2, 0.5 for C = 10, 5/C for C >= 10. LiT digits (C = 10,
    # six templates per class, 539 canary scans, seed 0): trained 0.981 (CI 0.968-0.993), untrained image
    # tower 0.184 (CI 0.152-0.217; chance 0.1); tie share 0 for both.
    min_zero_shot_top1: float | None = 0.5
    zero_shot_chance_multiple: float | None = 5.0
    max_mean_cosine: float | None = 0.22
    min_variance_floor: float | None = 2e-3
    min_effective_rank: float | None = 12.0
    # When set, the effective-rank floor applied is min(min_effective_rank, share * min(N-1, d)).
    effective_rank_room_share: float | None = None
    min_rankme_share: float | None = 0.48
    # Share of the centred covariance energy in the top direction, worse modality. /tmp/realmodels:
    # MiniLM 0.06-0.09 (N=64-512, d=384), built-in aligner 0.12-0.15 (low temperature 0.19);
    # rank-2 collapse 0.95-0.97, rank-4 0.34-0.46, capacity skew 0.32-0.40.
    max_direction_energy: float | None = 0.30
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
    decide_on: str = "interval"
    bounds: tuple[tuple[str, str], ...] = ()
    required: tuple[str, ...] | None = None
    profile: str = "builtin"
    source: str = field(default="defaults", compare=False)

    def __post_init__(self) -> None:
        src = self.source
        if not isinstance(src, str) or not src:
            raise ContractError(f"Contract.source: expected a non-empty string, got {src!r}")
        if self.profile not in PROFILES:
            raise ContractError(f"{src}: profile: expected one of {list(PROFILES)}, got {self.profile!r}")
        checked: dict[str, Any] = {
            name: None if getattr(self, name) is None and name in NULLABLE_FIELDS
            else checked_float(src, name, getattr(self, name)) for name in FLOAT_RANGES
        }
        checked["bootstrap_resamples"] = checked_resamples(src, self.bootstrap_resamples)
        checked["retrieval_ks"] = checked_ks(src, self.retrieval_ks)
        checked["bounds"] = checked_bounds(src, self.bounds)
        checked["decide_on"] = checked_choice(src, "decide_on", self.decide_on, DECIDE_ON)
        unset = {gate for gate, (_, name) in GATE_THRESHOLDS.items() if checked[name] is None}
        checked["required"] = checked_required(src, self.required, unset)
        checked["benign_perturbations"] = checked_benign(src, self.benign_perturbations)
        checked["stress_budgets"] = checked_budgets(src, self.stress_budgets)
        checked["drift_budgets"] = checked_drift_budgets(src, self.drift_budgets)
        checked["baseline_sha256"] = checked_sha256(src, "baseline_sha256", self.baseline_sha256)
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    @classmethod
    def for_subject(cls, builtin: bool) -> Contract:
        """The default contract of a run: the built-in subject's calibrated thresholds, or the
        broken-model defaults for a subject of your own (``USER_SUBJECT_DEFAULTS``)."""
        return cls.from_mapping({}, source="defaults" if builtin else "defaults (user subject)",
                                profile="builtin" if builtin else "user")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "mapping",
                     profile: str = "builtin") -> Contract:
        """The ``profile``'s defaults (or those of the ``profile`` key in ``data``) overridden by
        ``data``, flat or as ``{"mmgate": {"contract": ...}}``."""
        table = dict(_unwrapped(source, data))
        known = {f.name for f in dataclasses.fields(cls)} - {"source"}
        unknown = sorted(str(key) for key in table if key not in known)
        if unknown:
            raise ContractError(f"{source}: unknown contract key(s) {unknown}; expected a subset "
                                f"of {sorted(known)}")
        chosen = table.pop("profile", profile)
        if chosen not in PROFILES:
            raise ContractError(f"{source}: profile: expected one of {list(PROFILES)}, got {chosen!r}")
        base = dict(USER_SUBJECT_DEFAULTS) if chosen == "user" else {}
        return cls(**{**base, **table}, profile=chosen, source=source)

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
        """Which statistic ``gate`` compares: its ``bounds`` entry, else, for a gate whose measurement
        has an interval, ``decide_on`` ("interval": pass inside the limit, fail beyond it,
        inconclusive across it; "point": the estimate), else the point estimate."""
        checked_gate(self.source, "gate", gate, GATE_NAMES)
        default = self.decide_on if gate in GATES_WITH_INTERVALS else "point"
        return dict(self.bounds).get(gate, default)

    def is_required(self, gate: str) -> bool:
        """Whether a missing or errored ``gate`` blocks approval."""
        checked_gate(self.source, "gate", gate, GATE_NAMES)
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
        checked_gate(self.source, "gate", gate, GATE_NAMES)
        if gate not in GATE_THRESHOLDS:
            return None
        op, name = GATE_THRESHOLDS[gate]
        return {"op": op, "value": getattr(self, name), "basis": self.basis(gate)}

    def unset_reason(self, gate: str) -> str | None:
        """Why ``gate`` is not gated under this contract (its threshold is unset), or None."""
        checked_gate(self.source, "gate", gate, GATE_NAMES)
        if gate not in GATE_THRESHOLDS or getattr(self, GATE_THRESHOLDS[gate][1]) is not None:
            return None
        name = GATE_THRESHOLDS[gate][1]
        return UNSET_REASONS.get(name, f"the contract leaves {name} unset; set it to gate {gate}")

    def effective_rank_floor(self, n: int, d: int, groups: int | None = None) -> tuple[float, dict[str, Any]]:
        """The effective-rank floor applied to a canary of ``n`` rows in ``d`` dimensions (and
        ``groups`` relevance groups, when it declares them), and how it was derived:
        min(min_effective_rank, effective_rank_room_share * room) when the share is set, room being
        min(n-1, d), or min(groups-1, d) for a grouped canary (a class-level canary asks the model to
        separate its groups, which takes at most groups-1 directions); else min_effective_rank."""
        floor = self.min_effective_rank
        basis: dict[str, Any] = {"min_effective_rank": floor,
                                 "effective_rank_room_share": self.effective_rank_room_share}
        if floor is not None and self.effective_rank_room_share is not None:
            room = min(n - 1, d) if groups is None else min(groups - 1, d)
            floor = min(floor, self.effective_rank_room_share * room)
            rule = "min(N-1, d)" if groups is None else "min(groups-1, d)"
            basis.update(room=room, groups=groups,
                         rule=f"min(min_effective_rank, effective_rank_room_share * {rule})")
        basis["applied"] = floor
        return floor, basis

    def zero_shot_floor(self, n_classes: int) -> tuple[float | None, dict[str, Any]]:
        """The zero-shot top-1 floor applied over ``n_classes`` classes (chance = 1/C), and how it
        was derived: min(chance + min_zero_shot_top1 * (1 - chance), zero_shot_chance_multiple *
        chance) when the multiple is set, else chance + min_zero_shot_top1 * (1 - chance). The first
        term asks for ``min_zero_shot_top1`` of the way from chance to perfect (so few classes never
        let chance pass); the second caps it at a multiple of chance for many classes (a broken
        model is near chance, a weak real one well above it)."""
        chance = 1.0 / n_classes
        share = self.min_zero_shot_top1
        basis: dict[str, Any] = {"min_zero_shot_top1": share,
                                 "zero_shot_chance_multiple": self.zero_shot_chance_multiple,
                                 "n_classes": n_classes, "chance": chance}
        if share is None:
            basis["applied"] = None
            return None, basis
        floor = chance + share * (1.0 - chance)
        rule = "chance + min_zero_shot_top1 * (1 - chance)"
        if self.zero_shot_chance_multiple is not None:
            floor = min(floor, self.zero_shot_chance_multiple * chance)
            rule = f"min({rule}, zero_shot_chance_multiple * chance)"
        basis.update(rule=rule, applied=floor)
        return floor, basis


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


def load_contract(path: str | os.PathLike[str] | None, profile: str = "builtin") -> Contract:
    """The ``profile``'s default contract for None, else the contract in a ``.toml`` or ``.json``
    file, overriding that profile's defaults (unless the file names its own ``profile``)."""
    if path is None:
        return Contract.for_subject(builtin=profile == "builtin")
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
    return Contract.from_mapping(data, source=str(p), profile=profile)
