"""Public Hypothesis strategies (synthetic worlds, perturbation chains within budgets, drift
episodes) and the settings profiles mmgate registers.

Strategies are built lazily and draw nothing at import or collection time, so gate ids are the
same on every xdist worker. Profiles: ``mmgate-ci`` (derandomized, no example database, no
deadline: the default under ``--mmgate``, and what the stress gates run under) and
``mmgate-stress`` (fresh random examples, more of them: for exploratory or nightly runs of your
own properties over these strategies).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from mmgate.errors import ConfigError, InputError, MmgateError
from mmgate.gating.contract import Contract
from mmgate.perturb import Chain, OperatorRegistry, registry_for
from mmgate.subjects.paired import PairedSet
from mmgate.subjects.subject import Subject
from mmgate.world import FACTOR_TOKEN_BASE, FactorSpec, WorldConfig
from mmgate.world.config import CONFOUNDERS, FACTOR_NAMES, PAIRING_MODES, SPLIT_NAMES

PROFILE_CI = "mmgate-ci"
PROFILE_STRESS = "mmgate-stress"
MAX_STEPS = 3
MAX_SEED = 2**16 - 1

# Declared ranges of the generated worlds: sizes stay small so a world builds in milliseconds.
SIZE_RANGES: Mapping[str, tuple[int, int]] = MappingProxyType({
    "n_train": (16, 96), "n_val": (4, 24), "n_test": (4, 24), "image_side": (8, 12)})
FACTOR_RANGES: Mapping[str, tuple[int, int]] = MappingProxyType({
    "shape": (2, 4), "orient": (2, 8), "freq": (2, 6), "phase": (2, 8), "thick": (2, 3)})
# Continuous world knobs (also the knobs a drift episode turns) and their ranges.
KNOB_RANGES: Mapping[str, tuple[float, float]] = MappingProxyType({
    "noise_image": (0.0, 1.0), "noise_text": (0.0, 0.3), "confounder_strength": (0.0, 2.0),
    "confounder_prevalence": (0.0, 1.0), "orient_concentration": (0.0, 1.0),
    "image_scale": (0.5, 2.0), "image_shift": (-0.5, 0.5), "text_scale": (0.5, 2.0),
    "text_shift": (-0.5, 0.5), "token_substitution": (0.0, 0.3), "token_dropout": (0.0, 0.3),
    "token_shuffle": (0.0, 0.5), "pairing_rate": (0.0, 0.5)})


def register_profiles() -> None:
    """Register ``mmgate-ci`` and ``mmgate-stress`` with Hypothesis (safe to call again)."""
    quiet = [HealthCheck.too_slow, HealthCheck.data_too_large]
    settings.register_profile(PROFILE_CI, derandomize=True, database=None, deadline=None,
                              suppress_health_check=quiet, print_blob=False)
    settings.register_profile(PROFILE_STRESS, derandomize=False, database=None, deadline=None,
                              suppress_health_check=quiet, max_examples=200)


def _knob(name: str) -> st.SearchStrategy[float]:
    low, high = KNOB_RANGES[name]
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


@st.composite
def worlds(draw: st.DrawFn) -> WorldConfig:
    """Valid, small WorldConfigs: every knob inside its declared range (``SIZE_RANGES``,
    ``FACTOR_RANGES``, ``KNOB_RANGES``), sequence length and vocabulary large enough."""
    factors = FactorSpec(**{f"n_{name}": draw(st.integers(*FACTOR_RANGES[name]))
                            for name in FACTOR_NAMES})
    confounder = draw(st.sampled_from(CONFOUNDERS))
    grammar = 2 * len(FACTOR_NAMES) - 1 + int(confounder != "none")
    min_vocab = FACTOR_TOKEN_BASE + sum(factors.cardinalities())
    pairing_splits = draw(st.lists(st.sampled_from(SPLIT_NAMES), unique=True, max_size=3))
    return WorldConfig(
        **{name: draw(st.integers(*bounds)) for name, bounds in SIZE_RANGES.items()},
        seq_len=draw(st.integers(grammar, grammar + 3)),
        vocab_size=draw(st.integers(min_vocab, min_vocab + 16)),
        factors=factors,
        confounder=confounder,
        orient_subset=draw(st.integers(1, factors.n_orient)),
        pairing=draw(st.sampled_from(PAIRING_MODES)),
        pairing_offset=draw(st.integers(1, 8)),
        pairing_block=draw(st.integers(1, 16)),
        pairing_splits=tuple(pairing_splits),
        **{name: draw(_knob(name)) for name in KNOB_RANGES},
    )


def _budget_table(budgets: Mapping[str, float] | Contract | None) -> dict[str, float]:
    if budgets is None:
        budgets = Contract()
    if isinstance(budgets, Contract):
        return dict(budgets.stress_budgets)
    if not isinstance(budgets, Mapping):
        raise ConfigError(f"budgets: expected a mapping of operator name to maximum intensity, "
                          f"got {type(budgets).__name__}")
    return dict(budgets)


def _canary(subject: Subject | PairedSet) -> PairedSet:
    if isinstance(subject, Subject):
        return subject.canary
    if isinstance(subject, PairedSet):
        return subject
    raise InputError(f"subject: expected an mmgate Subject or PairedSet, got "
                     f"{type(subject).__name__}")


def applicable_budgets(subject: Subject | PairedSet,
                       budgets: Mapping[str, float] | Contract | None = None,
                       registry: OperatorRegistry | None = None
                       ) -> tuple[dict[str, float], dict[str, str]]:
    """Split the budgets into (operators that apply to the subject's data -> budget, operators
    that do not -> reason). A zero budget excludes its operator; an unknown name or a budget
    outside an operator's range raises ConfigError."""
    registry = registry or registry_for(getattr(subject, "operators", None))
    canary = _canary(subject)
    usable: dict[str, float] = {}
    refused: dict[str, str] = {}
    for name, budget in sorted(_budget_table(budgets).items()):
        if isinstance(budget, bool) or not isinstance(budget, (int, float)) \
                or not math.isfinite(budget) or budget < 0:
            raise ConfigError(f"budgets.{name}: expected a finite number >= 0, got {budget!r}")
        if budget == 0:
            refused[name] = "its budget is 0"
            continue
        widest = [registry.create(name, float(budget))]
        if registry.signed(name):
            widest.append(registry.create(name, -float(budget)))
        reason = widest[0].applies_to(canary)
        if reason is None:
            usable[name] = float(budget)
        else:
            refused[name] = reason
    return usable, refused


def perturbations(subject: Subject | PairedSet,
                  budgets: Mapping[str, float] | Contract | None = None,
                  max_steps: int = MAX_STEPS,
                  registry: OperatorRegistry | None = None) -> st.SearchStrategy[Chain]:
    """Chains of 1 to ``max_steps`` distinct operators, each at an intensity within its budget
    (±budget for signed operators) and a drawn seed, using only operators that apply to the
    subject's data; budgets default to the default contract's ``stress_budgets``. Shrinks towards
    fewer steps, intensity 0 and seed 0."""
    registry = registry or registry_for(getattr(subject, "operators", None))
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ConfigError(f"max_steps: expected an integer >= 1, got {max_steps!r}")
    usable, refused = applicable_budgets(subject, budgets, registry)
    if not usable:
        raise InputError(f"no perturbation within the budgets applies to the subject's data: "
                         f"{refused or 'no budgets declared'}")
    names = sorted(usable)

    @st.composite
    def chains(draw: st.DrawFn) -> Chain:
        chosen = draw(st.lists(st.sampled_from(names), min_size=1,
                               max_size=min(max_steps, len(names)), unique=True))
        steps = []
        for name in chosen:
            budget = usable[name]
            low = -budget if registry.signed(name) else 0.0
            intensity = draw(st.floats(low, budget, allow_nan=False, allow_infinity=False))
            steps.append(registry.create(name, intensity + 0.0, draw(st.integers(0, MAX_SEED))))
        return Chain(tuple(steps))

    return chains()


@dataclass(frozen=True)
class DriftStep:
    """One change of a world knob: set ``knob`` to ``value``."""

    knob: str
    value: float

    def __post_init__(self) -> None:
        if self.knob not in KNOB_RANGES:
            raise ConfigError(f"DriftStep.knob: expected one of {sorted(KNOB_RANGES)}, got "
                              f"{self.knob!r}")
        low, high = KNOB_RANGES[self.knob]
        if isinstance(self.value, bool) or not isinstance(self.value, (int, float)) \
                or not low <= self.value <= high:
            raise ConfigError(f"DriftStep.value: expected a number in [{low:g}, {high:g}] for "
                              f"{self.knob}, got {self.value!r}")
        object.__setattr__(self, "value", float(self.value))


@dataclass(frozen=True)
class DriftEpisode:
    """A sequence of knob changes applied one after another to a base world."""

    steps: tuple[DriftStep, ...]

    def __post_init__(self) -> None:
        steps = tuple(self.steps)
        if not steps or not all(isinstance(s, DriftStep) for s in steps):
            raise ConfigError(f"DriftEpisode.steps: expected a non-empty list of DriftStep, got "
                              f"{self.steps!r}")
        object.__setattr__(self, "steps", steps)

    def configs(self, base: WorldConfig) -> tuple[WorldConfig, ...]:
        """The world after each step, cumulatively (one config per step)."""
        out, world = [], base
        for step in self.steps:
            world = world.replace(**{step.knob: step.value})
            out.append(world)
        return tuple(out)

    def to_json(self) -> list[dict[str, Any]]:
        """``[{"knob", "value"}, ...]`` in order."""
        return [{"knob": s.knob, "value": s.value} for s in self.steps]


def drift_episodes(max_steps: int = 4) -> st.SearchStrategy[DriftEpisode]:
    """Episodes of 1 to ``max_steps`` knob changes, each value inside the knob's declared range."""
    step = st.sampled_from(sorted(KNOB_RANGES)).flatmap(
        lambda knob: _knob(knob).map(lambda value: DriftStep(knob, value)))
    return st.lists(step, min_size=1, max_size=max_steps).map(
        lambda steps: DriftEpisode(tuple(steps)))


@dataclass(frozen=True)
class StressOutcome:
    """What a stress search saw: how many examples ran, the worst effect among them, and the
    minimal (shrunk) counterexample with its effect or error, when the property failed."""

    examples: int
    limit: float
    worst: dict[str, Any] | None
    counterexample: dict[str, Any] | None

    @property
    def failed(self) -> bool:
        return self.counterexample is not None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready evidence."""
        return {"examples": self.examples, "limit": self.limit, "worst": self.worst,
                "counterexample": self.counterexample}


class _Violation(Exception):
    def __init__(self, record: dict[str, Any]) -> None:
        super().__init__(record.get("error") or f"drop {record['effect']['drop']:.4g}")
        self.record = record


def stress_search(strategy: st.SearchStrategy, measure: Callable[[Any], dict[str, Any]],
                  limit: float, max_examples: int) -> StressOutcome:
    """Run the property "``measure(example)['drop'] <= limit``" over ``max_examples`` examples
    under the ``mmgate-ci`` profile (derandomized: the same examples in every process). A failing
    example, or one whose measurement raises an mmgate error, is shrunk by Hypothesis; the
    outcome carries the minimal one as ``counterexample`` (its ``to_json`` and effect)."""
    register_profiles()
    seen: dict[str, Any] = {"examples": 0, "worst": None}

    @settings(settings.get_profile(PROFILE_CI), max_examples=max_examples,
              report_multiple_bugs=False, phases=(Phase.explicit, Phase.generate, Phase.shrink))
    @given(strategy)
    def holds(example: Any) -> None:
        seen["examples"] += 1
        try:
            effect = measure(example)
        except MmgateError as exc:
            raise _Violation({"perturbation": example.to_json(),
                              "error": f"{type(exc).__name__}: {exc}"}) from exc
        record = {"perturbation": example.to_json(), "effect": effect}
        if seen["worst"] is None or effect["drop"] > seen["worst"]["effect"]["drop"]:
            seen["worst"] = record
        if effect["drop"] > limit:
            raise _Violation(record)

    try:
        holds()
    except _Violation as violation:
        return StressOutcome(seen["examples"], limit, seen["worst"], violation.record)
    return StressOutcome(seen["examples"], limit, seen["worst"], None)
