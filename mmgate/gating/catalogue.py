"""The gate catalogue: every gate's name, family and parameter axes, the single source of truth
for both the parametrization of the gate tests and the controller's list of expected evidence."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from mmgate.drift.budgets import METRICS as DRIFT_METRICS

DIRECTIONS = ("image_to_text", "text_to_image")
MODALITIES = ("image", "text")
CONFOUNDERS = ("parity", "bucket")
KNOBS = ("image_noise", "text_noise", "pair_corruption", "temperature_scale", "confounder_strength",
         "preprocessing_scale")


@dataclass(frozen=True)
class GateSpec:
    """One gate: ``test_<name>`` in ``gates/`` is parametrized over ``axes``."""

    name: str
    family: str
    axes: tuple[str, ...]
    module: str
    meaning: str

    @property
    def test_name(self) -> str:
        """Name of the gate's test function in ``gates/``."""
        return f"test_{self.name}"

    def gate_id(self, case_id: str) -> str:
        """Install-independent id, e.g. ``gates/test_acceptance.py::test_retrieval_top1[seed0-...]``."""
        return f"gates/{self.module}::{self.test_name}[{case_id}]"


GATES: tuple[GateSpec, ...] = (
    GateSpec("retrieval_top1", "acceptance", ("seed", "direction"), "test_acceptance.py",
             "the true partner must rank first often enough in each direction"),
    GateSpec("retrieval_top5", "acceptance", ("seed", "direction"), "test_acceptance.py",
             "the true partner must be among the top five often enough in each direction"),
    GateSpec("pair_auc", "acceptance", ("seed", "direction"), "test_acceptance.py",
             "the true partner must outrank most unrelated items for every query: a per-query AUC near "
             "0.5 (chance at any canary size) means the model has learned no pairing, or the pairs are "
             "joined wrongly"),
    GateSpec("symmetry_gap", "acceptance", ("seed",), "test_acceptance.py",
             "image-to-text and text-to-image top-1 must agree: a gap means one modality dominates"),
    GateSpec("zero_shot", "acceptance", ("seed",), "test_acceptance.py",
             "the canary images must be classified by the subject's own class prompts (zero-shot, as "
             "CLIP_benchmark does) well above chance: near-chance accuracy means the towers do not meet "
             "at the class level"),
    GateSpec("mean_cosine", "geometry", ("seed", "modality"), "test_geometry.py",
             "a high mean cosine between unrelated items means the space is collapsing to a cone"),
    GateSpec("variance_floor", "geometry", ("seed", "modality"), "test_geometry.py",
             "coordinates with no variance are dead directions of a collapsing space"),
    GateSpec("effective_rank", "geometry", ("seed", "modality"), "test_geometry.py",
             "a low effective rank means the space uses only a few directions"),
    GateSpec("rankme", "geometry", ("seed", "modality"), "test_geometry.py",
             "the entropy rank (RankMe) of the unit embeddings, as a share of the dimension, must stay "
             "high: a spectrum concentrated on a few directions is a collapsing space"),
    GateSpec("direction_energy", "geometry", ("seed", "modality"), "test_geometry.py",
             "no single direction may hold most of the centred variance: a dominant direction means the "
             "space is collapsing onto a line (rotation-invariant, unlike coordinate variances)"),
    GateSpec("hubness", "hubness", ("seed", "direction"), "test_geometry.py",
             "a few targets retrieved for many queries (hubs) make retrieval unreliable"),
    GateSpec("rank_divergence", "geometry", ("seed",), "test_geometry.py",
             "the two modalities should use comparably many directions; divergence signals dominance"),
    GateSpec("norm_divergence", "geometry", ("seed",), "test_geometry.py",
             "diverging pre-normalisation norms signal an imbalance between the towers"),
    GateSpec("mi_probe", "probe", ("seed",), "test_probes.py",
             "embeddings must carry information about the known factors beyond a permutation null"),
    GateSpec("cca_probe", "probe", ("seed",), "test_probes.py",
             "the two modalities must share linearly aligned structure beyond chance"),
    GateSpec("numerical_health", "health", ("seed", "modality"), "test_health.py",
             "embeddings must be finite and non-zero for every item"),
    GateSpec("determinism", "health", ("seed", "modality"), "test_health.py",
             "embedding the canary twice must give identical arrays"),
    GateSpec("split_hygiene", "hygiene", ("seed",), "test_hygiene.py",
             "train, validation and test items must not overlap"),
    GateSpec("leakage_alarm", "hygiene", ("seed",), "test_hygiene.py",
             "no input feature may track an index-like cue (a shortcut waiting to be learned)"),
    GateSpec("pair_audit", "hygiene", ("seed",), "test_hygiene.py",
             "the model must score its own training pairs above unrelated pairs: training pairs it "
             "cannot tell from random combinations betray a join bug in the training data"),
    GateSpec("temperature_calibration", "scoring", ("seed",), "test_drift.py",
             "the declared scoring temperature must match the one the canary supports, else every "
             "softmax confidence is miscalibrated while ranks look fine"),
    GateSpec("input_drift", "drift", ("seed", "modality"), "test_drift.py",
             "the canary's inputs must come from the distribution the model was trained on: a changed "
             "preprocessing or source shifts them"),
    GateSpec("drift_budget", "drift", ("seed", "metric"), "test_baseline_drift.py",
             "against the baseline of the approved release, each monitored metric may move only within "
             "its drift budget"),
    GateSpec("drift_diagnosis", "drift", ("seed",), "test_baseline_drift.py",
             "against the healthy baseline, the drift classifier must attribute the built-in subject's "
             "drift to nothing but benign change; a failure class or unattributed drift blocks release"),
    GateSpec("noise_slope", "robustness", ("seed",), "test_robustness.py",
             "top-1 may only degrade slowly as image noise grows while text stays clean"),
    GateSpec("corruption_slope", "robustness", ("seed",), "test_robustness.py",
             "training on partly mispaired data may only cost top-1 slowly"),
    GateSpec("counterfactual_drop", "counterfactual", ("seed", "confounder"), "test_robustness.py",
             "removing a shared cue from the data must not cost retrieval (else it matches on the shortcut)"),
    GateSpec("permutation_invariance", "invariance", ("seed",), "test_invariance.py",
             "permuting the pairs jointly must only permute the ranks: retrieval is per item"),
    GateSpec("role_swap", "invariance", ("seed",), "test_invariance.py",
             "swapping the modality roles must swap the two retrieval directions exactly"),
    GateSpec("benign_perturbation", "invariance", ("seed",), "test_invariance.py",
             "declared benign changes of the inputs may cost only a little retrieval"),
    GateSpec("noise_direction", "invariance", ("seed",), "test_invariance.py",
             "adding image noise must never improve retrieval beyond bootstrap noise"),
    GateSpec("robustness_margin", "robustness", ("seed", "knob"), "test_margins.py",
             "every acceptance gate must keep passing over a declared range of each knob; the margin "
             "is the largest intensity at which they all still pass"),
    GateSpec("stress_retrieval", "stress", ("seed",), "test_stress.py",
             "every perturbation chain within the stress budgets may cost only a little retrieval"),
)

GATE_BY_NAME = {spec.name: spec for spec in GATES}
GATE_BY_TEST = {spec.test_name: spec for spec in GATES}


def confounder_axis(declared: Iterable[str] | None) -> tuple[str, ...]:
    """The confounders a run's counterfactual gate is parametrized over: those the canary of a
    user's subject declares (sorted), else the built-in world's cues (for the built-in subject;
    for a canary that declares none, each case then says so)."""
    names = tuple(sorted(declared or ()))
    return names or CONFOUNDERS


def axis_values(axis: str, seeds: int, confounders: tuple[str, ...] = CONFOUNDERS) -> tuple[object, ...]:
    """The values an axis takes for a run with ``seeds`` seeds over ``confounders``."""
    if axis == "seed":
        return tuple(range(seeds))
    if axis == "direction":
        return DIRECTIONS
    if axis == "modality":
        return MODALITIES
    if axis == "confounder":
        return confounders
    if axis == "knob":
        return KNOBS
    if axis == "metric":
        return DRIFT_METRICS
    raise KeyError(f"unknown gate axis {axis!r}")


def axis_id(axis: str, value: object) -> str:
    """Readable id fragment, e.g. ``seed0`` or ``image_to_text``."""
    return f"seed{value}" if axis == "seed" else str(value)


def cases(spec: GateSpec, seeds: int, confounders: tuple[str, ...] = CONFOUNDERS) -> list[tuple[dict, str]]:
    """All (params, id) pairs of a gate, in a fixed order."""
    grids = [axis_values(axis, seeds, confounders) for axis in spec.axes]
    out = []
    for combo in itertools.product(*grids):
        params = dict(zip(spec.axes, combo))
        out.append((params, "-".join(axis_id(a, v) for a, v in params.items())))
    return out


def expected_gates(seeds: int, confounders: tuple[str, ...] = CONFOUNDERS) -> dict[str, tuple[GateSpec, dict, str]]:
    """Every gate case of a complete run: ``test_<gate>[<id>]`` -> (spec, params, gate id)."""
    return {f"{spec.test_name}[{case_id}]": (spec, params, spec.gate_id(case_id))
            for spec in GATES for params, case_id in cases(spec, seeds, confounders)}


def gate_key(nodeid: str) -> str:
    """The catalogue key of a pytest node id: its last ``::`` component, without the ``@group``
    suffix that xdist's ``--dist loadgroup`` appends."""
    return nodeid.rsplit("::", 1)[-1].split("@", 1)[0]
