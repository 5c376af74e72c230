"""Evaluation-time robustness of any subject: what the built-in subject measures by regenerating its
world (a noise slope, per-knob acceptance margins, a shortcut counterfactual) measured instead by
perturbing the subject's canary with seeded operators and re-embedding it. Nothing is retrained.

Every function is pure given ``embed(paired_set, key) -> Embeddings`` (the gates pass the run's
cached embedder, keyed by the operator's canonical JSON), so a curve point is embedded once per
process however many gates ask for it.

- ``noise_slope``: recall@1 (both directions and their mean) against Gaussian image noise at a few
  levels, and the least-squares loss per unit of noise.
- ``robustness_margin``: per knob (``USER_KNOBS``), the largest intensity on a declared grid at which
  every acceptance gate of the contract still holds on point estimates, found by bisection, with
  the curves in the same shape as the built-in subject's (``margins.curve_series`` plots them).
- ``counterfactual_drop``: recall@1 of the partner within pools of candidates that share the query's
  value of a confounder the canary declares, against pools of the same size drawn at random. A cue
  cannot discriminate inside a same-cue pool, so a model that matches on the cue loses retrieval
  there while a model that aligned the content does not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from mmgate import panel
from mmgate.errors import ConfigError, InputError
from mmgate.gating.contract import Contract
from mmgate.gating.results import Threshold
from mmgate.lab.margins import (
    DIRECTIONS,
    MODALITIES,
    TEMPERATURE_NOTE,
    margin_curve,
    margin_evidence,
)
from mmgate.lab.pools import allowed_counts, sample_pools
from mmgate.lab.robustness import degradation_slope
from mmgate.panel.blocks import BLOCK_BYTES
from mmgate.panel.hubness import occurrence_summary
from mmgate.panel.partner_auc import partner_auc_from_ranks, relevant_auc_per_query
from mmgate.perturb import (
    GaussianNoise,
    PreprocessScale,
    SwapPairs,
    TemperatureScale,
    TokenSubstitution,
)
from mmgate.perturb.data import text_kind
from mmgate.perturb.effects import Embed, perturbation_key, perturbed_embeddings
from mmgate.subjects.embedding import Embeddings
from mmgate.subjects.items import canary_items
from mmgate.subjects.paired import PairedSet

NOISE_LEVELS = (0.0, 0.01, 0.02, 0.03, 0.05)
ACCEPTANCE_GATES = ("retrieval_top1", "retrieval_top5", "pair_auc", "symmetry_gap")
POOL_SIZE = 16
POOL_STREAM = 401
GRID_POINTS = 5

CORRUPTION_NEEDS_TRAINING = (
    "the slope is the clean recall lost by a model retrained on corrupted training pairs; a subject of "
    "your own is not retrained by mmgate. A training hook (a subject that can train itself on given "
    "pairs) is the way to measure it; until then evaluation-time join bugs are measured by "
    "robustness_margin[pair_corruption]")
CONFOUNDER_KNOB_REASON = (
    "the built-in knob turns a marker the reference model was trained with; on your canary a marker "
    "your model never saw says nothing about a shortcut it learned. Shortcut use over the confounders "
    "your canary declares is measured by counterfactual_drop")
GROUPED_SWAP = (
    "the canary declares groups: relevance follows each row's group label, so a caption moved to a row "
    "of another group is an irrelevant candidate that can equal the relevant captions it was copied "
    "from (repeated class captions), an exact tie that the acceptance gates count against every query "
    "of its class; the swap rate then measures the tie rule, not the model's headroom")
TEXT_OPT_IN = (
    "text operators are opt-in for string texts (an encoder may accept only the strings it was made "
    "for): name token_substitution in the contract's stress_budgets or "
    "benign_perturbations to measure caption noise; integer token texts are always measured")


@dataclass(frozen=True)
class UserKnob:
    """A robustness knob as an evaluation-time operator: ``operator(x, seed)`` perturbs the canary at
    knob intensity ``x`` (0 is the canary as given); intensities run over ``[0, top]`` and the margin
    is bisected to within ``tolerance``. A knob with ``scores_only`` acts on the scores, not on data."""

    name: str
    top: float
    tolerance: float
    unit: str
    description: str
    operator: Callable[[float, int], Any] | None
    scores_only: bool = False

    @property
    def grid(self) -> tuple[float, ...]:
        """The fixed intensities of the degradation curve, both ends included."""
        return tuple(float(x) for x in np.linspace(0.0, self.top, GRID_POINTS))


def _decades(x: float, seed: int) -> PreprocessScale:
    return PreprocessScale(10.0 ** -x - 1.0, seed=seed, modality="image")


USER_KNOBS: Mapping[str, UserKnob] = MappingProxyType({knob.name: knob for knob in (
    UserKnob("image_noise", 0.5, 0.01, "added image noise (std, in units of the full pixel range)",
             "Gaussian noise of this std (1 for float images, 255 for uint8) added to the canary "
             "images; texts unchanged", lambda x, seed: GaussianNoise(x, seed=seed)),
    UserKnob("text_noise", 0.5, 0.01, "share of caption tokens substituted",
             "each caption token is replaced with this probability by a token drawn from the canary's "
             "own vocabulary (token_substitution); images unchanged",
             lambda x, seed: TokenSubstitution(x, seed=seed)),
    UserKnob("pair_corruption", 0.5, 0.01, "share of canary pairs swapped",
             "a share of the canary's pairs pass their texts round a random cycle (a join bug at "
             "evaluation, swap_pairs); the model is unchanged, so the margin is the headroom of its "
             "retrieval over the acceptance floors", lambda x, seed: SwapPairs(x, seed=seed)),
    UserKnob("temperature_scale", 9.0, 0.1, "temperature scale - 1 (scores divided by 1 + x)",
             "the scoring temperature is multiplied by 1 + x", None, scores_only=True),
    UserKnob("confounder_strength", 0.0, 0.0, "", "", None),
    UserKnob("preprocessing_scale", 2.0, 0.02, "image scale reduction (decades: images x 10^-x)",
             "the deployed image preprocessing shrinks pixel values by 10^-x (preprocess_scale on "
             "the images; uint8 images are rounded back)", _decades),
)})


def user_knob(name: str) -> UserKnob:
    """The evaluation-time knob called ``name``; unknown names are rejected with the known ones."""
    if name not in USER_KNOBS:
        raise ConfigError(f"knob: expected one of {list(USER_KNOBS)}, got {name!r}")
    return USER_KNOBS[name]


def _declares_token_substitution(contract: Contract) -> bool:
    """Whether the contract names the operator the text_noise knob applies, so the team has said
    its encoder accepts substituted captions."""
    named = {spec["name"] for spec in contract.benign()} | {name for name, _ in contract.stress_budgets}
    return "token_substitution" in named


def knob_reason(name: str, canary: PairedSet, contract: Contract, seed: int = 0) -> str | None:
    """None when the knob can be measured on ``canary`` at evaluation time, else why not (the
    operator's own reason when it cannot act on the canary's data)."""
    knob = user_knob(name)
    if knob.name == "confounder_strength":
        return CONFOUNDER_KNOB_REASON
    if knob.operator is None:
        return None
    if knob.name == "pair_corruption" and canary.groups is not None:
        return GROUPED_SWAP
    if knob.name == "text_noise" and text_kind(canary.texts) == "strings" \
            and not _declares_token_substitution(contract):
        return TEXT_OPT_IN
    operator = knob.operator(knob.top, seed)
    reason = operator.applies_to(canary)
    return None if reason is None else f"{operator.name}: {reason}"


def _pessimistic(ranks: panel.RetrievalRanks, direction: str) -> np.ndarray:
    if direction == "image_to_text":
        return ranks.i2t + ranks.i2t_ties
    return ranks.t2i + ranks.t2i_ties


def _top1_concentration(winners: np.ndarray, n: int, classes: int | None) -> float:
    counts = np.bincount(winners, minlength=n)
    return occurrence_summary(counts, counts, 1, classes=classes)["top1_concentration"]


def acceptance_point(embeddings: Embeddings, paired_set: PairedSet) -> dict[str, Any]:
    """Point estimates of the acceptance statistics of one evaluation, computed as the acceptance
    gates compute them (ties count against the true match; with ``groups`` any relevant candidate
    is a hit), plus the geometry and top-1 hubness the built-in curves show."""
    items = canary_items(paired_set)
    ranks = panel.item_ranks(embeddings.z_img, embeddings.z_txt, items)
    recall = {k: {d: float(np.mean(_pessimistic(ranks, d) < k)) for d in DIRECTIONS} for k in (1, 5)}
    if items.one_to_one:
        z = {"image": embeddings.z_img, "text": embeddings.z_txt}
        aucs = partner_auc_from_ranks(ranks, z["image"], z["text"])
        classes = None
    else:
        z = {"image": embeddings.z_img[items.images.rows], "text": embeddings.z_txt[items.texts.rows]}
        aucs = relevant_auc_per_query(z["image"], z["text"], items.images.labels, items.texts.labels)
        classes = int(np.unique(items.images.labels).size)
    return {
        "recall@1": recall[1],
        "recall@5": recall[5],
        "pair_auc": {"image_to_text": float(aucs["i2t"].mean()), "text_to_image": float(aucs["t2i"].mean())},
        "symmetry_gap": abs(recall[1]["image_to_text"] - recall[1]["text_to_image"]),
        "mean_cosine": {m: panel.mean_cosine(z[m]) for m in MODALITIES},
        "effective_rank": {m: panel.effective_rank(z[m]) for m in MODALITIES},
        "hubness_concentration": {"image_to_text": _top1_concentration(ranks.i2t_top1, ranks.n_texts, classes),
                                  "text_to_image": _top1_concentration(ranks.t2i_top1, ranks.n_images, classes)},
    }


def _gate_values(point: Mapping[str, Any]) -> dict[str, list[float]]:
    return {"retrieval_top1": list(point["recall@1"].values()),
            "retrieval_top5": list(point["recall@5"].values()),
            "pair_auc": list(point["pair_auc"].values()),
            "symmetry_gap": [point["symmetry_gap"]]}


def acceptance_limits(contract: Contract) -> dict[str, Threshold]:
    """The acceptance gates the margins hold to, with the contract's limits (gates whose threshold
    the contract leaves unset are left out)."""
    limits = {}
    for gate in ACCEPTANCE_GATES:
        if contract.unset_reason(gate) is None:
            declared = contract.threshold(gate)
            limits[gate] = Threshold(op=declared["op"], value=float(declared["value"]))
    return limits


def failed_acceptance(point: Mapping[str, Any], limits: Mapping[str, Threshold]) -> list[str]:
    """The acceptance gates whose limit some direction of ``point`` violates."""
    values = _gate_values(point)
    return [gate for gate, limit in limits.items() if not all(limit.holds(v) for v in values[gate])]


class _Evaluator:
    """Evaluates one knob on one canary at any intensity, each intensity once."""

    def __init__(self, knob: UserKnob, canary: PairedSet, embed: Embed, limits: Mapping[str, Threshold],
                 seed: int) -> None:
        self.knob, self.canary, self.embed, self.limits, self.seed = knob, canary, embed, limits, seed
        self.points: dict[float, dict[str, Any]] = {}
        self._clean: dict[str, Any] | None = None

    def _measured(self, intensity: float) -> dict[str, Any]:
        if self.knob.scores_only or intensity == 0.0:
            if self._clean is None:
                self._clean = acceptance_point(self.embed(self.canary, "clean"), self.canary)
            return self._clean
        operator = self.knob.operator(intensity, self.seed)
        return acceptance_point(*perturbed_embeddings(operator, self.canary, self.embed))

    def __call__(self, intensity: float) -> dict[str, Any]:
        if intensity not in self.points:
            point = self._measured(intensity)
            failed = failed_acceptance(point, self.limits)
            self.points[intensity] = {"intensity": intensity, **point, "passes": not failed, "failed": failed}
        return self.points[intensity]


def robustness_margin(knob: str, canary: PairedSet, embed: Embed, contract: Contract,
                      seed: int) -> dict[str, Any]:
    """The knob's degradation curve over its grid, the slopes and the margin (the largest intensity
    at which every acceptance gate of ``contract`` holds on point estimates, bisected to the knob's
    tolerance): JSON-ready evidence in the built-in subject's shape. Call it only when
    ``knob_reason`` is None."""
    spec = user_knob(knob)
    limits = acceptance_limits(contract)
    evaluate = _Evaluator(spec, canary, embed, limits, seed)
    measured = margin_curve(evaluate, evaluate.points, spec.grid, spec.tolerance)
    evidence = margin_evidence(
        spec, measured,
        measured_at="evaluation time: the canary perturbed and re-embedded, the model unchanged",
        operator=None if spec.operator is None else spec.operator(spec.top, seed).to_json(),
        basis="point estimates of the acceptance gates (no bootstrap), both directions; bisection "
              "assumes acceptance is monotone in the intensity",
        acceptance_gates={gate: {"op": t.op, "value": t.value} for gate, t in limits.items()})
    if spec.scores_only:
        evidence["invariance"] = (f"{TemperatureScale.NAME}: {TEMPERATURE_NOTE}; here the unperturbed "
                                  "evaluation stands for every grid point")
    return evidence


def top1(embeddings: Embeddings, paired_set: PairedSet) -> dict[str, float]:
    """Recall@1 over the set's unique items (ties against the true match) per direction and their mean."""
    ranks = panel.item_ranks(embeddings.z_img, embeddings.z_txt, canary_items(paired_set))
    out = {d: float(np.mean(_pessimistic(ranks, d) < 1)) for d in DIRECTIONS}
    out["mean"] = (out["image_to_text"] + out["text_to_image"]) / 2.0
    return out


def noise_slope(canary: PairedSet, embed: Embed, seed: int,
                levels: tuple[float, ...] = NOISE_LEVELS) -> dict[str, Any]:
    """Recall@1 of the canary as Gaussian image noise of std ``levels`` (in units of the full pixel
    range) is added to its images, texts unchanged; ``slope`` is the least-squares recall@1 (mean of
    the two directions) lost per unit of noise std. Call it only when GaussianNoise applies."""
    curve = []
    for level in levels:
        operator = GaussianNoise(level, seed=seed)
        perturbed = operator.apply(canary)
        key = "clean" if level == 0.0 else perturbation_key(operator)
        curve.append({"level": level, **top1(embed(perturbed, key), perturbed)})
    return {
        "levels": list(levels),
        "unit": "image noise std, in units of the full pixel range (1 float, 255 uint8)",
        "operator": GaussianNoise(levels[-1], seed=seed).to_json(),
        "top1": curve,
        "slope": degradation_slope(levels, [p["mean"] for p in curve]),
        "slope_directions": {d: degradation_slope(levels, [p[d] for p in curve]) for d in DIRECTIONS},
        "measured_at": "evaluation time: the canary's images perturbed and re-embedded, the model unchanged",
    }


def confounder_reason(canary: PairedSet, confounder: str) -> str | None:
    """None when the canary declares ``confounder`` with at least two values that each hold two or
    more rows, else why the counterfactual cannot be measured."""
    declared = sorted(canary.confounders)
    if confounder not in canary.confounders:
        return (f"the canary declares no {confounder!r} confounder (declared: {declared or 'none'}); "
                f"declare one with PairedSet(confounders=...) or from_manifest(confounder_columns=...)")
    _, counts = np.unique(canary.confounders[confounder], return_counts=True)
    if counts.size < 2:
        return f"the canary's {confounder!r} confounder takes a single value: there is no cue to hold fixed"
    if counts.min() < 2:
        return f"some value of the canary's {confounder!r} confounder holds a single row: no same-cue pool"
    return None


def _pool_hits(queries: np.ndarray, candidates: np.ndarray, pools: np.ndarray) -> np.ndarray:
    """Whether each query's partner (same row) outscores every pooled candidate (ties against), by
    cosine, a bounded block of queries at a time (their pooled candidates are pool x d each)."""
    q_norm, c_norm = np.linalg.norm(queries, axis=1), np.linalg.norm(candidates, axis=1)
    rows = max(1, BLOCK_BYTES // (8 * queries.shape[1] * max(1, pools.shape[1])))
    hits = np.empty(queries.shape[0], dtype=bool)
    for start in range(0, queries.shape[0], rows):
        block = slice(start, start + rows)
        pool = np.maximum(pools[block], 0)
        q = queries[block] / q_norm[block, None]
        partner = np.einsum("ij,ij->i", q, candidates[block]) / c_norm[block]
        scores = np.einsum("ij,ikj->ik", q, candidates[pool]) / c_norm[pool]
        hits[block] = ~((scores >= partner[:, None]) & (pools[block] >= 0)).any(axis=1)
    return hits


def counterfactual_drop(embeddings: Embeddings, canary: PairedSet, confounder: str, seed: int,
                        pool_size: int = POOL_SIZE) -> dict[str, Any]:
    """Recall@1 within pools sharing the query's ``confounder`` value minus recall@1 within random
    pools of the same size, per direction; ``drop`` is the larger of the two. Each query's pool holds
    its partner and ``size - 1`` irrelevant candidates (outside its group); the size is ``pool_size``
    capped by the smallest number of irrelevant same-cue candidates plus one, so both pools always
    have equal size. Call it only when ``confounder_reason`` is None."""
    cue = np.asarray(canary.confounders[confounder])
    n = cue.size
    labels = np.arange(n) if canary.groups is None else np.asarray(canary.groups)
    available = int(allowed_counts(cue, labels).min())
    size = min(pool_size, available + 1)
    if size < 2:
        raise InputError(f"counterfactual_drop: some query has no irrelevant candidate sharing its "
                         f"{confounder!r} value")
    ui, ut = embeddings.z_img, embeddings.z_txt
    rng = np.random.default_rng(np.random.SeedSequence([seed, POOL_STREAM]))
    same, rand = sample_pools(cue, labels, size, True, rng), sample_pools(cue, labels, size, False, rng)
    out: dict[str, Any] = {"confounder": confounder, "pool_size": size, "n_queries": n,
                           "values": {str(v): int(c) for v, c in zip(*np.unique(cue, return_counts=True))}}
    for direction, (q, c) in (("image_to_text", (ui, ut)), ("text_to_image", (ut, ui))):
        with_cue = float(_pool_hits(q, c, rand).mean())
        held = float(_pool_hits(q, c, same).mean())
        out[direction] = {"top1_random_pools": with_cue, "top1_same_cue_pools": held,
                          "drop": with_cue - held}
    out["drop"] = max(out[d]["drop"] for d in DIRECTIONS)
    out["definition"] = ("recall@1 of the partner against size - 1 irrelevant candidates drawn at random, "
                         "minus against size - 1 drawn among those sharing the query's cue value (the "
                         "cue cannot tell them apart); ties count against the partner")
    out["caveat"] = ("a confounder that the captions describe is a real attribute, not only a cue: "
                     "same-value pools are then harder for any model")
    return out
