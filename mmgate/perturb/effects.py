"""What a perturbation does to retrieval: ranks of a perturbed canary, recall@1 drops, and the exact
checks of the invariance gates (joint permutation, role swap, noise direction)."""

from __future__ import annotations

import json
from typing import Any, Callable

import numpy as np

from mmgate.panel import RetrievalRanks, bootstrap_ci, item_ranks
from mmgate.perturb.pairing import PairingOperator
from mmgate.subjects.embedding import Embeddings
from mmgate.subjects.items import CanaryItems, canary_items
from mmgate.subjects.paired import PairedSet

Embed = Callable[[PairedSet, str], Embeddings]
DIRECTIONS = ("image_to_text", "text_to_image")
PERMUTATION_STREAM = 301
SHOWN = 10


def perturbation_key(operator: Any) -> str:
    """Canonical JSON of ``operator.to_json()``: the embedding-cache key of the perturbed set."""
    return json.dumps(operator.to_json(), sort_keys=True, separators=(",", ":"))


def perturbed_embeddings(operator: Any, canary: PairedSet, embed: Embed) -> tuple[Embeddings, PairedSet]:
    """Embeddings of the canary after ``operator`` and the perturbed set. A pairing operator only
    moves texts between rows, so its embeddings are the clean ones with the text rows moved the
    same way (no encoder call); any other operator's set is embedded through ``embed(set, key)``."""
    perturbed = operator.apply(canary)
    if isinstance(operator, PairingOperator):
        clean = embed(canary, "clean")
        return Embeddings(clean.z_img, clean.z_txt[operator.permutation(len(canary))]), perturbed
    return embed(perturbed, perturbation_key(operator)), perturbed


def perturbed_ranks(operator: Any, canary: PairedSet, embed: Embed) -> RetrievalRanks:
    """Retrieval ranks of the canary after ``operator``, embedded through ``embed(set, key)``."""
    embeddings, perturbed = perturbed_embeddings(operator, canary, embed)
    return item_ranks(embeddings.z_img, embeddings.z_txt, canary_items(perturbed))


def _hits(ranks: RetrievalRanks, direction: str) -> np.ndarray:
    return (ranks.i2t if direction == "image_to_text" else ranks.t2i) < 1


def recall_drop(clean: RetrievalRanks, perturbed: RetrievalRanks) -> dict[str, Any]:
    """Recall@1 before and after per direction, and ``drop``: the larger loss of the two."""
    out: dict[str, Any] = {}
    for direction in DIRECTIONS:
        before = float(_hits(clean, direction).mean())
        after = float(_hits(perturbed, direction).mean())
        out[direction] = {"clean": before, "perturbed": after, "drop": before - after}
    out["drop"] = max(out[d]["drop"] for d in DIRECTIONS)
    return out


def joint_permutation(n: int, seed: int) -> np.ndarray:
    """A seeded permutation of the n pairs (images and texts move together)."""
    return np.random.default_rng(np.random.SeedSequence([seed, PERMUTATION_STREAM])).permutation(n)


def permutation_report(clean: RetrievalRanks, clean_items: CanaryItems, permuted: RetrievalRanks,
                       permuted_items: CanaryItems, order: np.ndarray) -> dict[str, Any]:
    """Rows of the permuted set whose queries' ranks are not the clean ranks of the pair moved
    there (ranks over unique items, read per row), and recall@1 of both sets (equal when every
    rank followed)."""
    report: dict[str, Any] = {"n_pairs": int(order.size)}
    total = 0
    for direction, name in zip(DIRECTIONS, ("i2t", "t2i")):
        moved = clean_items.per_row(clean, name)[order]
        wrong = np.flatnonzero(permuted_items.per_row(permuted, name) != moved)
        total += int(wrong.size)
        report[direction] = {
            "mismatched_queries": int(wrong.size),
            "first_mismatches": [int(i) for i in wrong[:SHOWN]],
            "recall@1_clean": float(_hits(clean, direction).mean()),
            "recall@1_permuted": float(_hits(permuted, direction).mean()),
        }
    report["mismatched_queries"] = total
    return report


def role_swap_report(ranks: RetrievalRanks, swapped: RetrievalRanks) -> dict[str, Any]:
    """Queries whose rank differs between a direction and its role-swapped counterpart."""
    i2t = np.flatnonzero(swapped.t2i != ranks.i2t)
    t2i = np.flatnonzero(swapped.i2t != ranks.t2i)
    return {
        "n_pairs": ranks.n,
        "image_to_text_vs_swapped": {"mismatched_queries": int(i2t.size),
                                     "first_mismatches": [int(i) for i in i2t[:SHOWN]]},
        "text_to_image_vs_swapped": {"mismatched_queries": int(t2i.size),
                                     "first_mismatches": [int(i) for i in t2i[:SHOWN]]},
        "mismatched_queries": int(i2t.size + t2i.size),
    }


def noise_gains(levels: tuple[float, ...], ranks: list[RetrievalRanks], n_boot: int,
                alpha: float, seed: int) -> dict[str, Any]:
    """Recall@1 gained by each step up in noise, per direction, with a paired bootstrap interval
    over queries; ``largest_gain_lower_bound`` > 0 means more noise significantly helped. The
    family-wise error is held at ``alpha`` (Bonferroni over the steps and directions), so a healthy
    model is not rejected for one lucky query in several comparisons."""
    steps = []
    comparisons = (len(levels) - 1) * len(DIRECTIONS)
    for (low, r_low), (high, r_high) in zip(zip(levels, ranks), zip(levels[1:], ranks[1:])):
        for direction in DIRECTIONS:
            diff = _hits(r_high, direction).astype(np.float64) - _hits(r_low, direction)
            ci = bootstrap_ci(diff, n_boot=n_boot, alpha=alpha / comparisons, seed=seed)
            steps.append({"from": low, "to": high, "direction": direction,
                          "gain": float(diff.mean()), "ci_low": ci[0], "ci_high": ci[1]})
    curve = {direction: [float(_hits(r, direction).mean()) for r in ranks] for direction in DIRECTIONS}
    return {"levels": list(levels), "recall@1": curve, "steps": steps,
            "alpha_per_comparison": alpha / comparisons,
            "largest_gain_lower_bound": max(step["ci_low"] for step in steps)}
