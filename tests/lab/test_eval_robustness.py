"""Evaluation-time robustness of any subject: the acceptance point agrees with the acceptance gates,
margins follow the acceptance floors over each knob's grid (temperature: the whole range, by rank
invariance), the noise slope reads the recall curve, the confounder counterfactual separates a model
that matches on a cue from one that aligned the content, and knobs an operator cannot apply to a
canary say why."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from mmgate.audit.charts import render_curve_plot
from mmgate.errors import ConfigError
from mmgate.gating.contract import Contract
from mmgate.gating.measurements import Measurements
from mmgate.lab import eval_robustness as er
from mmgate.lab import margins
from mmgate.subjects.embedding import Embeddings, embed_set
from mmgate.subjects.paired import PairedSet
from tests.panel.memory import peak_traced_bytes

USER = Contract.for_subject(builtin=False)
SIDE = 8


class PixelEncoder:
    """Image tower: a fixed projection of the pixels; text tower: the embedding of the clean image
    its caption names. ``fragile`` hashes the exact pixels, so any noise loses the pairing."""

    def __init__(self, images: np.ndarray, fragile: bool = False) -> None:
        self.fragile = fragile
        self.proj = np.random.default_rng(1).standard_normal((SIDE * SIDE, 16))
        self.clean = self.embed_images(images)

    def embed_images(self, batch):
        x = np.asarray(batch, dtype=np.float64).reshape(len(batch), -1)
        if self.fragile:
            seeds = [int(hashlib.sha256(row.tobytes()).hexdigest()[:8], 16) for row in x]
            return np.stack([np.random.default_rng(s).standard_normal(16) for s in seeds])
        return x @ self.proj

    def embed_texts(self, batch):
        return self.clean[[int(t.split()[1]) for t in batch]]


def image_canary(n: int = 64, **labels) -> PairedSet:
    images = np.random.default_rng(0).uniform(0.0, 1.0, size=(n, SIDE, SIDE))
    return PairedSet(images, [f"item {i}" for i in range(n)], name="pixels", **labels)


def embedder(encoder):
    cache: dict = {}

    def embed(paired_set, key):
        cache.setdefault((paired_set.fingerprint(), key), embed_set(encoder, paired_set, 64))
        return cache[(paired_set.fingerprint(), key)]
    return embed


def _embeddings(n: int = 48, d: int = 12, noise: float = 0.6, seed: int = 0) -> Embeddings:
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, d))
    return Embeddings(z + noise * rng.standard_normal((n, d)), z + noise * rng.standard_normal((n, d)))


@pytest.mark.parametrize("groups", [None, np.repeat(np.arange(12), 4)])
def test_the_acceptance_point_agrees_with_the_acceptance_gates_statistics(groups) -> None:
    embeddings = _embeddings()
    canary = PairedSet(np.arange(48), [f"item {i}" for i in range(48)], groups=groups)
    point = er.acceptance_point(embeddings, canary)
    measured = Measurements(embeddings, canary, USER, seed=0)
    for direction in ("image_to_text", "text_to_image"):
        assert point["recall@1"][direction] == measured.recall(direction, 1)[0]
        assert point["recall@5"][direction] == measured.recall(direction, 5)[0]
        assert point["pair_auc"][direction] == pytest.approx(measured.pair_auc(direction)[0])
    assert point["symmetry_gap"] == pytest.approx(measured.symmetry_gap()[0])


def test_the_margin_is_held_to_the_contracts_acceptance_gates_and_skips_unset_ones() -> None:
    limits = er.acceptance_limits(Contract.from_mapping({"min_pair_auc": None}, profile="user"))
    assert set(limits) == {"retrieval_top1", "retrieval_top5", "symmetry_gap"}
    assert limits["retrieval_top1"].value == USER.min_retrieval_top1


def test_a_robust_image_tower_keeps_a_margin_a_fragile_one_loses_it_and_the_curve_plots() -> None:
    canary = image_canary()
    robust = er.robustness_margin("image_noise", canary, embedder(PixelEncoder(canary.images)), USER, 0)
    fragile = er.robustness_margin("image_noise", canary,
                                   embedder(PixelEncoder(canary.images, fragile=True)), USER, 0)
    assert fragile["margin"] < USER.min_margin_image_noise <= robust["margin"]
    assert fragile["bounded"] and fragile["evaluations"][0]["passes"]
    assert [p["intensity"] for p in robust["curve"]] == list(er.user_knob("image_noise").grid)
    assert robust["operator"]["name"] == "gaussian_noise"
    png = render_curve_plot("image noise", robust["unit"], margins.curve_series(robust), "metric value")
    assert png.startswith(b"\x89PNG")


def test_pair_corruption_ends_when_the_pair_auc_floor_is_crossed() -> None:
    canary = image_canary(128)
    evidence = er.robustness_margin("pair_corruption", canary, embedder(PixelEncoder(canary.images)),
                                    USER, 0)
    # A perfect model's AUC is about 1 - rate / 2: the 0.90 floor is crossed near a 20 % swap rate.
    assert 0.15 <= evidence["margin"] <= 0.25
    first_failure = next(p for p in evidence["curve"] if not p["passes"])
    assert "pair_auc" in first_failure["failed"]


def test_temperature_leaves_every_rank_so_the_margin_is_the_whole_range_and_evidence_says_why() -> None:
    canary = image_canary()
    evidence = er.robustness_margin("temperature_scale", canary, embedder(PixelEncoder(canary.images)),
                                    USER, 0)
    assert evidence["margin"] == er.user_knob("temperature_scale").top and not evidence["bounded"]
    assert "invariance" in evidence and "order" in evidence["invariance"]


def test_noise_slope_is_the_least_squares_loss_of_mean_recall_per_unit_of_noise() -> None:
    canary = image_canary()
    robust = er.noise_slope(canary, embedder(PixelEncoder(canary.images)), 0)
    fragile = er.noise_slope(canary, embedder(PixelEncoder(canary.images, fragile=True)), 0)
    assert robust["levels"] == list(er.NOISE_LEVELS) and robust["top1"][0]["mean"] == 1.0
    means = [p["mean"] for p in fragile["top1"]]
    expected = -np.polyfit(er.NOISE_LEVELS, means, 1)[0]
    assert fragile["slope"] == pytest.approx(expected)
    assert fragile["slope"] > robust["slope"]


def test_knobs_an_operator_cannot_apply_say_why() -> None:
    ids = PairedSet(np.arange(8), [f"item {i}" for i in range(8)])
    assert "gaussian_noise" in er.knob_reason("image_noise", ids, USER)
    assert "preprocess_scale" in er.knob_reason("preprocessing_scale", ids, USER)
    assert "opt-in" in er.knob_reason("text_noise", ids, USER)
    opted = Contract.from_mapping({"stress_budgets": {"token_substitution": 0.1}}, profile="user")
    assert er.knob_reason("text_noise", ids, opted) is None
    tokens = PairedSet(np.arange(8), np.arange(16).reshape(8, 2) + 1)
    assert er.knob_reason("text_noise", tokens, USER) is None
    assert "counterfactual_drop" in er.knob_reason("confounder_strength", ids, USER)
    assert er.knob_reason("pair_corruption", ids, USER) is None
    with pytest.raises(ConfigError, match="knob"):
        er.user_knob("gravity")


def _cue_embeddings(values: np.ndarray, cue: float, signal: float) -> Embeddings:
    rng = np.random.default_rng(3)
    n, d = values.size, 24
    base, cues = rng.standard_normal((n, d)), rng.standard_normal((4, d))
    shared = cue * cues[values] + signal * base
    return Embeddings(shared + rng.standard_normal((n, d)), shared + rng.standard_normal((n, d)))


def test_a_model_matching_on_the_cue_loses_retrieval_in_same_cue_pools_a_content_model_does_not() -> None:
    values = np.arange(256) % 4
    canary = PairedSet(np.arange(256), [f"item {i}" for i in range(256)], confounders={"cue": values})
    content = er.counterfactual_drop(_cue_embeddings(values, 0.0, 3.0), canary, "cue", 0)
    shortcut = er.counterfactual_drop(_cue_embeddings(values, 6.0, 0.4), canary, "cue", 0)
    assert content["drop"] <= 0.05
    assert shortcut["drop"] >= 0.2
    assert shortcut["pool_size"] == er.POOL_SIZE and set(shortcut["values"]) == {"0", "1", "2", "3"}


def test_the_pools_are_scored_a_block_of_queries_at_a_time(monkeypatch) -> None:
    """20,000 queries x 15 pooled candidates x d = 32 would be 77 MB gathered at once; blocked, the
    whole gate (its two pools of indices included) peaks under a quarter of that."""
    n = 20000
    values = np.arange(n) % 4
    canary = PairedSet(np.arange(n), np.arange(n), confounders={"cue": values})
    rng = np.random.default_rng(4)
    z = rng.standard_normal((n, 32))
    embeddings = Embeddings(z, z + 0.1 * rng.standard_normal((n, 32)))
    monkeypatch.setattr(er, "BLOCK_BYTES", 1 << 20)
    gathered = n * (er.POOL_SIZE - 1) * 32 * 8
    result: list[dict] = []
    assert peak_traced_bytes(lambda: result.append(er.counterfactual_drop(embeddings, canary, "cue", 0))) < gathered // 4
    assert result[0]["pool_size"] == er.POOL_SIZE and result[0]["drop"] <= 0.05


def test_the_pool_shrinks_to_the_rarest_cue_value_and_undeclared_confounders_are_named() -> None:
    values = np.array([0] * 40 + [1] * 4)
    canary = PairedSet(np.arange(44), [f"item {i}" for i in range(44)], confounders={"cue": values})
    assert er.counterfactual_drop(_cue_embeddings(values, 0.0, 3.0), canary, "cue", 0)["pool_size"] == 4
    assert "declared: ['cue']" in er.confounder_reason(canary, "parity")
    single = PairedSet(np.arange(4), [f"item {i}" for i in range(4)], confounders={"cue": np.zeros(4, int)})
    assert "single value" in er.confounder_reason(single, "cue")
    lonely = PairedSet(np.arange(4), [f"item {i}" for i in range(4)], confounders={"cue": np.array([0, 0, 0, 1])})
    assert "single row" in er.confounder_reason(lonely, "cue")
