"""Gate cases judged outside pytest, by the release's own gate functions and recorder: the power
study runs ``gates/`` test functions on a ``PowerContext`` (a ``RunContext`` over one given
subject, its canary embeddings adopted and an optional baseline profile) and reads back the
``GateResult`` each one records, so power is measured with exactly the gates a release runs."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from mmgate.drift.budgets import METRICS
from mmgate.errors import MmgateError
from mmgate.gating.catalogue import GATES, GateSpec, confounder_axis
from mmgate.gating.contract import Contract
from mmgate.gating.decision import Decision, decide
from mmgate.gating.results import GateResult
from mmgate.plugin.context import RunContext
from mmgate.plugin.recorder import RESULT_PROPERTY, GateRecorder
from mmgate.plugin.runspec import RunSpec
from mmgate.plugin.settings import Settings
from mmgate.subjects.embedding import Embeddings, embedding_key
from mmgate.subjects.subject import Subject

# The gates a power case runs: everything that reads the canary's embeddings, its declared
# training pairs, confounders, class prompts and temperature, and (given a baseline) the drift
# budgets. Left out: gates that re-embed perturbed canaries many times (margins, slopes, stress,
# invariance) and those that need the synthetic world.
POWER_GATES = ("retrieval_top1", "retrieval_top5", "pair_auc", "symmetry_gap", "zero_shot", "mean_cosine",
               "variance_floor", "effective_rank", "rankme", "direction_energy", "hubness", "rank_divergence",
               "norm_divergence", "mi_probe", "cca_probe", "numerical_health", "pair_audit",
               "temperature_calibration", "input_drift", "drift_budget", "counterfactual_drop")
_AXIS_VALUES = {"direction": ("image_to_text", "text_to_image"), "modality": ("image", "text"),
                "metric": METRICS}


class _Item:
    """What a GateRecorder writes to: the user properties of a pytest item."""

    def __init__(self) -> None:
        self.user_properties: list[tuple[str, object]] = []


class ProfileBaseline:
    """A baseline held in memory: one seed's monitoring profile of the clean subject."""

    def __init__(self, profile: Mapping[str, Any]) -> None:
        self._profile = dict(profile)

    def profile(self, seed: int) -> dict[str, Any]:
        """The recorded profile (the power study records and compares one seed)."""
        return self._profile

    def check_subject(self, name: str, dimension: int) -> None:
        """The clean and the injected subject are one model by construction."""


class PowerContext(RunContext):
    """A run context over one given subject whose canary embeddings are given (an injected failure
    may change them without touching the encoder), optionally compared against a baseline."""

    def __init__(self, subject: Subject, embeddings: Embeddings, contract: Contract,
                 baseline: ProfileBaseline | None = None,
                 known: Mapping[Any, Embeddings] | None = None) -> None:
        settings = Settings(subject="power-study:given-subject")
        super().__init__(RunSpec(settings=settings, contract=contract, problems=(), config_texts=()))
        self._given = subject
        self._compared = baseline
        self.embeddings_cache.adopt(embedding_key(subject, subject.canary), embeddings)
        for key, value in (known or {}).items():
            self.embeddings_cache.adopt(key, value)

    def subject(self, seed: int) -> Subject:
        return self._given

    @property
    def comparing(self) -> bool:
        return self._compared is not None

    def baseline(self) -> Any:
        return self._compared


@dataclass(frozen=True)
class Case:
    """One gate case: its spec, parameters and id."""

    spec: GateSpec
    params: Mapping[str, Any]

    @property
    def case_id(self) -> str:
        return "-".join(str(value) for value in self.params.values())

    @property
    def key(self) -> str:
        return self.spec.gate_id(self.case_id)


def cases(subject: Subject, seed: int) -> list[Case]:
    """The POWER_GATES cases of ``subject`` at ``seed`` (one per axis value)."""
    out = []
    for spec in GATES:
        if spec.name not in POWER_GATES:
            continue
        axes = [axis for axis in spec.axes if axis != "seed"]
        values: list[dict[str, Any]] = [{"seed": seed}]
        for axis in axes:
            choices = confounder_axis(subject.canary.confounders) if axis == "confounder" else _AXIS_VALUES[axis]
            values = [{**v, axis: choice} for v in values for choice in choices]
        out.extend(Case(spec, v) for v in values)
    return out


def _gate_function(spec: GateSpec) -> Callable[..., None]:
    for package in ("mmgate.gates", "gates"):
        try:
            module = importlib.import_module(f"{package}.{spec.module[:-3]}")
        except ModuleNotFoundError:
            continue
        return getattr(module, spec.test_name)
    raise MmgateError(f"the gate module {spec.module} cannot be imported (neither mmgate.gates nor gates)")


def run_case(case: Case, context: PowerContext, contract: Contract) -> GateResult:
    """Run one gate function as pytest would (fixtures by name) and return what it recorded; an
    exception is the gate's error, as in a release."""
    item = _Item()
    recorder = GateRecorder(item, case.spec, case.params, case.case_id, contract)
    seed = int(case.params["seed"])
    subject = context.subject(seed)
    fixtures = {"gate": recorder, "mmgate_context": context, "subject": subject, "seed": seed,
                "measured": None, **case.params}
    function = _gate_function(case.spec)
    wanted = inspect.signature(function).parameters
    try:
        if "measured" in wanted:
            fixtures["measured"] = context.measurements(seed)
        function(**{name: fixtures[name] for name in wanted})
    except (pytest.fail.Exception, pytest.skip.Exception):
        pass
    except (MmgateError, ValueError, ArithmeticError) as exc:
        return GateResult(gate_id=case.key, gate=case.spec.name, family=case.spec.family, params=case.params,
                          status="error", required=recorder.required, message=f"gate errored: {exc}",
                          reason=str(exc))
    recorded = [value for name, value in item.user_properties if name == RESULT_PROPERTY]
    if not recorded:
        return GateResult(gate_id=case.key, gate=case.spec.name, family=case.spec.family, params=case.params,
                          status="error", required=recorder.required,
                          message="the gate finished without recording a result", reason="no result")
    return GateResult.from_json(json.loads(str(recorded[-1])))


def judge_subject(subject: Subject, embeddings: Embeddings, contract: Contract, seed: int,
                  baseline: ProfileBaseline | None = None,
                  known: Mapping[Any, Embeddings] | None = None) -> Decision:
    """The release decision over the POWER_GATES cases of one subject and canary embeddings."""
    context = PowerContext(subject, embeddings, contract, baseline, known)
    results = {case.key: run_case(case, context, contract) for case in cases(subject, seed)}
    return decide(results, {}, contract.is_required, "not run by the power study")


def on_point_estimates(decision: Decision, contract: Contract) -> Decision:
    """The same cases judged on their point estimates (``decide_on = "point"``): what the interval
    rule changed, without measuring again."""
    judged = {}
    for result in decision.results:
        if result.status in ("passed", "failed", "inconclusive") and result.threshold is not None:
            point = dataclasses.replace(result.threshold, basis="point")
            status = point.judge(float(result.measured["value"]), None)
            result = dataclasses.replace(result, status=status, threshold=point)
        judged[result.gate_id] = result
    return decide(judged, {}, contract.is_required, "not run by the power study")


def fired(decision: Decision, statuses: Sequence[str] = ("failed", "error")) -> list[str]:
    """Catalogue names of the gates with a case in ``statuses``, in catalogue order."""
    names = {result.gate for result in decision.results if result.status in statuses}
    return [spec.name for spec in GATES if spec.name in names]
