"""Robustness curves and margins of the built-in subject: for each knob of its evaluation world (or of
its scoring rule) a degradation curve over a fixed grid, and the margin, the largest intensity at
which every acceptance gate still passes, found by bisection to a stated tolerance.

Evaluations are cheap on purpose: only the test items are re-rendered (exactly the rows the
regenerated world would hold), the acceptance check uses point estimates (no bootstrap) and one
256 x 256 score matrix gives both retrieval directions and the top-1 hubness.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping

import numpy as np

from mmgate import panel
from mmgate.errors import ConfigError
from mmgate.gating.contract import Contract
from mmgate.gating.results import Threshold
from mmgate.lab.builtin import ReferenceTrainer
from mmgate.lab.conditions import Condition
from mmgate.lab.robustness import degradation_slope
from mmgate.panel.hubness import occurrence_summary
from mmgate.panel.rank_sweep import score_tolerance
from mmgate.panel.validate import unit_pair
from mmgate.perturb import TemperatureScale
from mmgate.reference import ReferenceAligner
from mmgate.subjects.embedding import Embeddings
from mmgate.world import (
    SplitData,
    WorldConfig,
    caption_tokens,
    pairing_permutation,
    render_images,
)

GRID_POINTS = 5
DIRECTIONS = ("image_to_text", "text_to_image")
MODALITIES = ("image", "text")
ACCEPTANCE_GATES = ("retrieval_top1", "retrieval_top5", "symmetry_gap", "mean_cosine",
                    "variance_floor", "effective_rank")
CONFOUNDER_MARKER = "parity"
TEMPERATURE_NOTE = ("a positive scale of the scores changes neither the order of any row or column "
                    "(so no rank, recall or top-1 hub) nor the embeddings (so no geometry): the "
                    "margin is the whole range, measured at every grid point, not assumed")


@dataclass(frozen=True)
class Knob:
    """One robustness knob: intensity 0 is the condition as evaluated, intensities run over
    ``[0, top]`` and the margin is bisected to within ``tolerance``."""

    name: str
    top: float
    tolerance: float
    unit: str
    description: str
    world: Callable[[WorldConfig, float], WorldConfig]
    changes: tuple[str, ...]

    @property
    def scores_scaled(self) -> bool:
        """Whether the knob acts on the scores rather than on the data."""
        return "scores" in self.changes

    @property
    def grid(self) -> tuple[float, ...]:
        """The fixed intensities of the degradation curve, both ends of the range included."""
        return tuple(float(x) for x in np.linspace(0.0, self.top, GRID_POINTS))


def _image_noise(world: WorldConfig, x: float) -> WorldConfig:
    return world.replace(noise_image=world.noise_image + x)


def _text_noise(world: WorldConfig, x: float) -> WorldConfig:
    return world.replace(noise_text=min(1.0, world.noise_text + x))


def _pair_corruption(world: WorldConfig, x: float) -> WorldConfig:
    return world.replace(pairing="swap", pairing_rate=x, pairing_splits=("test",))


def _unchanged(world: WorldConfig, x: float) -> WorldConfig:
    return world


def _confounder_strength(world: WorldConfig, x: float) -> WorldConfig:
    return world.replace(confounder=CONFOUNDER_MARKER, confounder_strength=x)


def _preprocessing_scale(world: WorldConfig, x: float) -> WorldConfig:
    return world.replace(image_scale=world.image_scale * 10.0 ** -x)


KNOBS: Mapping[str, Knob] = MappingProxyType({knob.name: knob for knob in (
    Knob("image_noise", 2.0, 0.02, "added image noise (std, images have unit variance)",
         "pixel noise std added to the evaluation images; captions unchanged", _image_noise,
         ("images",)),
    Knob("text_noise", 0.4, 0.005, "added caption noise (share of factor tokens replaced)",
         "caption noise rate added to the evaluation captions (capped at 1); images unchanged",
         _text_noise, ("captions",)),
    Knob("pair_corruption", 0.5, 0.01, "share of evaluation pairs swapped",
         "a share of the evaluation pairs pass their captions round a random cycle (a join bug at "
         "evaluation); the model is unchanged, so the margin is the headroom of its clean "
         "retrieval over the floors", _pair_corruption, ("captions",)),
    Knob("temperature_scale", 9.0, 0.1, "temperature scale - 1 (scores divided by 1 + x)",
         "the scoring temperature is multiplied by 1 + x, i.e. every score is divided by 1 + x",
         _unchanged, ("scores",)),
    Knob("confounder_strength", 32.0, 0.25, "parity marker strength (image pixel offset)",
         f"the {CONFOUNDER_MARKER} marker is rendered at this strength in the evaluation images "
         "(model as trained); the captions stay as evaluated, since the marker's caption token has "
         "no strength to turn (alone, that unseen token already breaks a model trained without it)",
         _confounder_strength, ("images",)),
    Knob("preprocessing_scale", 2.0, 0.02, "image scale reduction (decades: images x 10^-x)",
         "the deployed image preprocessing shrinks pixels by 10^-x after training (enlarging them "
         "barely moves the L2-normalised embeddings: measured harmless up to 20x)",
         _preprocessing_scale, ("images",)),
)})


def knob_named(name: str) -> Knob:
    """The knob called ``name``; unknown names are rejected with the known ones listed."""
    if name not in KNOBS:
        raise ConfigError(f"knob: expected one of {list(KNOBS)}, got {name!r}")
    return KNOBS[name]


def split_images(base: SplitData, config: WorldConfig, seed: int) -> np.ndarray:
    """The test images of ``make_world(config, seed)``, rendering only the items of ``base`` (that
    world's test split under any knob that keeps the factors and splits)."""
    return render_images(dict(base.factors), config, seed, index=np.asarray(base.index))


def split_tokens(base: SplitData, config: WorldConfig, seed: int) -> np.ndarray:
    """The test caption tokens of ``make_world(config, seed)`` (pairing included), rendering only
    the items of ``base`` as ``split_images`` does."""
    idx = np.asarray(base.index)
    perm = pairing_permutation(config, "test", idx.size, seed)
    caption_factors = {name: np.asarray(values)[perm] for name, values in base.factors.items()}
    return caption_tokens(caption_factors, config, seed, index=idx[perm])


def _pessimistic_ranks(scores: np.ndarray, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """Rank of the true match counting ties against it (as the acceptance gates do): the number of
    other candidates scoring at least the true score minus ``tolerance``, both directions."""
    diag = np.diag(scores)
    i2t = np.count_nonzero(scores >= diag[:, None] - tolerance, axis=1) - 1
    t2i = np.count_nonzero(scores >= diag[None, :] - tolerance, axis=0) - 1
    return i2t, t2i


def _top1_concentration(winners: np.ndarray, n: int) -> float:
    counts = np.bincount(winners, minlength=n)
    return occurrence_summary(counts, counts, 1)["top1_concentration"]


def measure_point(embeddings: Embeddings, temperature_scale: float = 0.0) -> dict[str, Any]:
    """Point acceptance statistics, geometry and top-1 hubness of one evaluation, with the scores
    divided by ``1 + temperature_scale`` before ranking."""
    ui, ut = unit_pair(embeddings.z_img, embeddings.z_txt)
    scoring = TemperatureScale(temperature_scale)
    scores = scoring.apply_scores(ui @ ut.T)
    tolerance = score_tolerance(ui.shape[1], scores.dtype) / scoring.factor
    ranks = dict(zip(DIRECTIONS, _pessimistic_ranks(scores, tolerance)))
    recall = {k: {d: float(np.mean(ranks[d] < k)) for d in DIRECTIONS} for k in (1, 5)}
    n = scores.shape[0]
    z = {"image": embeddings.z_img, "text": embeddings.z_txt}
    return {
        "recall@1": recall[1],
        "recall@5": recall[5],
        "symmetry_gap": abs(recall[1]["image_to_text"] - recall[1]["text_to_image"]),
        "mean_cosine": {m: panel.mean_cosine(z[m]) for m in MODALITIES},
        "variance_min": {m: panel.coordinate_variance(z[m])["min"] for m in MODALITIES},
        "effective_rank": {m: panel.effective_rank(z[m]) for m in MODALITIES},
        "hubness_concentration": {"image_to_text": _top1_concentration(scores.argmax(axis=1), n),
                                  "text_to_image": _top1_concentration(scores.argmax(axis=0), n)},
    }


def _gate_statistics(point: Mapping[str, Any]) -> dict[str, list[float]]:
    return {
        "retrieval_top1": list(point["recall@1"].values()),
        "retrieval_top5": list(point["recall@5"].values()),
        "symmetry_gap": [point["symmetry_gap"]],
        "mean_cosine": list(point["mean_cosine"].values()),
        "variance_floor": list(point["variance_min"].values()),
        "effective_rank": list(point["effective_rank"].values()),
    }


def failed_acceptance(point: Mapping[str, Any], contract: Contract) -> list[str]:
    """The acceptance gates whose contract threshold a point's estimates violate (every direction
    and modality must hold)."""
    failed = []
    for gate, values in _gate_statistics(point).items():
        declared = contract.threshold(gate)
        limit = Threshold(op=declared["op"], value=declared["value"])
        if not all(limit.holds(value) for value in values):
            failed.append(gate)
    return failed


class _Evaluator:
    """Evaluates one (condition, seed, knob) at any intensity, each intensity once."""

    def __init__(self, trainer: ReferenceTrainer, condition: Condition, seed: int, knob: Knob,
                 contract: Contract) -> None:
        self.model: ReferenceAligner = trainer.model(condition, seed)
        self.base = trainer.world(condition.eval_world, seed).test
        self.world = condition.eval_world
        self.seed = seed
        self.knob = knob
        self.contract = contract
        self.points: dict[float, dict[str, Any]] = {}
        self._base_z: dict[str, np.ndarray] = {}

    def _embedded(self, modality: str, changed: np.ndarray | None) -> np.ndarray:
        """Embeddings of the changed inputs, or the evaluated inputs' embeddings (computed once)."""
        embed = self.model.embed_images if modality == "images" else self.model.embed_texts
        if changed is not None:
            return embed(changed)
        if modality not in self._base_z:
            self._base_z[modality] = embed(self.base.images if modality == "images" else self.base.tokens)
        return self._base_z[modality]

    def __call__(self, intensity: float) -> dict[str, Any]:
        if intensity not in self.points:
            config = self.knob.world(self.world, intensity)
            changed = config != self.world
            images = split_images(self.base, config, self.seed) \
                if changed and "images" in self.knob.changes else None
            tokens = split_tokens(self.base, config, self.seed) \
                if changed and "captions" in self.knob.changes else None
            embeddings = Embeddings(self._embedded("images", images), self._embedded("captions", tokens))
            point = measure_point(embeddings, intensity if self.knob.scores_scaled else 0.0)
            failed = failed_acceptance(point, self.contract)
            self.points[intensity] = {"intensity": intensity, **point, "passes": not failed,
                                      "failed": failed}
        return self.points[intensity]


# curve name -> (value of a point, +1 when lower is worse, -1 when higher is worse)
CURVE_SERIES: Mapping[str, tuple[Callable[[Mapping[str, Any]], float], int]] = MappingProxyType({
    "recall@1 image_to_text": (lambda p: p["recall@1"]["image_to_text"], 1),
    "recall@1 text_to_image": (lambda p: p["recall@1"]["text_to_image"], 1),
    "effective rank (min over modalities)": (lambda p: min(p["effective_rank"].values()), 1),
    "mean cosine (max over modalities)": (lambda p: max(p["mean_cosine"].values()), -1),
    "top-1 hub concentration (max over directions)":
        (lambda p: max(p["hubness_concentration"].values()), -1),
})


def bisect_margin(passes: Callable[[float], bool], grid: tuple[float, ...],
                  tolerance: float) -> tuple[float, bool]:
    """The largest intensity found to pass, within ``tolerance`` of the first failure after it,
    and whether the range bounds it (False: it passes at the top of the grid). Acceptance is assumed
    monotone: the bracket is the first failing grid point and the grid point before it."""
    verdicts = [passes(x) for x in grid]
    if all(verdicts):
        return grid[-1], False
    first = verdicts.index(False)
    if first == 0:
        return grid[0], True
    low, high = grid[first - 1], grid[first]
    while high - low > tolerance:
        middle = (low + high) / 2.0
        if passes(middle):
            low = middle
        else:
            high = middle
    return low, True


def margin_evidence(spec: Any, measured: Mapping[str, Any], **specific: Any) -> dict[str, Any]:
    """The evidence every robustness margin reports (the knob, its margin from ``margin_curve``'s
    ``measured``, then the curve), with the subject's ``specific`` keys in between."""
    return {
        "knob": spec.name,
        "description": spec.description,
        "unit": spec.unit,
        "range": [0.0, spec.top],
        "tolerance": spec.tolerance,
        "margin": measured["margin"],
        "bounded": measured["bounded"],
        **specific,
        **{key: measured[key] for key in ("curve", "slopes", "slope_sign", "evaluations",
                                          "non_monotone_grid_points")},
    }


def clean_failures(evidence: Mapping[str, Any]) -> list[str]:
    """The acceptance gates the unperturbed state (intensity 0) of a margin's evidence fails."""
    clean = [e for e in evidence["evaluations"] if e["intensity"] == 0.0]
    return sorted({str(name) for e in clean for name in e["failed"]})


def margin_curve(evaluate: Callable[[float], dict[str, Any]], points: Mapping[float, Mapping[str, Any]],
                 grid: tuple[float, ...], tolerance: float) -> dict[str, Any]:
    """The margin of a knob (bisected on ``evaluate(x)["passes"]`` to ``tolerance``), its curve over
    ``grid``, the slopes and every evaluation (``points``: what ``evaluate`` measured, by intensity):
    the evidence keys shared by the built-in and the evaluation-time margins."""
    margin, bounded = bisect_margin(lambda x: evaluate(x)["passes"], grid, tolerance)
    curve = [evaluate(x) for x in grid]
    first_failure = next((p["intensity"] for p in curve if not p["passes"]), None)
    return {
        "margin": margin,
        "bounded": bounded,
        "curve": curve,
        "slopes": {name: sign * degradation_slope(grid, [get(p) for p in curve])
                   for name, (get, sign) in CURVE_SERIES.items()},
        "slope_sign": "least-squares change per unit of intensity, signed so that positive "
                      "means the metric moves toward failure",
        "evaluations": [{"intensity": p["intensity"], "passes": p["passes"], "failed": p["failed"]}
                        for p in points.values()],
        "non_monotone_grid_points": [p["intensity"] for p in curve
                                     if first_failure is not None and p["passes"]
                                     and p["intensity"] > first_failure],
    }


def robustness_margin(trainer: ReferenceTrainer, condition: Condition, seed: int, knob: str,
                      contract: Contract) -> dict[str, Any]:
    """The knob's degradation curve, slopes and margin for the condition's model at ``seed``:
    JSON-ready evidence (curve, slopes, margin, bounded, tolerance, evaluations)."""
    spec = knob_named(knob)
    evaluate = _Evaluator(trainer, condition, seed, spec, contract)
    measured = margin_curve(evaluate, evaluate.points, spec.grid, spec.tolerance)
    evidence = margin_evidence(
        spec, measured,
        basis="point estimates of the acceptance gates (no bootstrap), every direction and "
              "modality; bisection assumes acceptance is monotone in the intensity",
        acceptance_gates=list(ACCEPTANCE_GATES))
    if spec.scores_scaled:
        evidence["invariance"] = TEMPERATURE_NOTE
    return evidence


def curve_series(evidence: Mapping[str, Any]) -> dict[str, tuple[list[float], list[float]]]:
    """Plot series of a margin's evidence: the curves, effective rank as a share of its grid
    maximum, and the acceptance verdict (1 pass, 0 fail) at every evaluated intensity."""
    curve = evidence["curve"]
    xs = [p["intensity"] for p in curve]
    series = {name: (xs, [get(p) for p in curve]) for name, (get, _) in CURVE_SERIES.items()}
    rank_name = "effective rank (min over modalities)"
    ranks = series.pop(rank_name)[1]
    top = max(ranks) or 1.0
    series[f"{rank_name} / {top:.3g}"] = (xs, [r / top for r in ranks])
    verdicts = sorted((e["intensity"], 1.0 if e["passes"] else 0.0) for e in evidence["evaluations"])
    series["passes every acceptance gate"] = ([v[0] for v in verdicts], [v[1] for v in verdicts])
    return series
