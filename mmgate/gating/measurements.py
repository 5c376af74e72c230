"""Panel measurements of one subject's canary embeddings at one seed, computed lazily and once.

Everything is measured over the canary's unique items per side (``mmgate.subjects.items``), as
the field counts them: retrieval, pair AUC and symmetry rank unique images against unique texts,
geometry, spectra, hubness and the MI probe read each side's unique rows; only the CCA probe and
numerical health read the rows (pairs). The seed drives the bootstrap and the permutation nulls,
so the same embeddings give the same numbers in every process (``-n 0`` and ``-n 2`` agree).
"""

from __future__ import annotations

import dataclasses
from functools import cached_property
from typing import Any

import numpy as np

from mmgate import panel
from mmgate.errors import InputError
from mmgate.gating.contract import Contract
from mmgate.gating.snapshot import snapshot
from mmgate.panel.bootstrap import difference_ci
from mmgate.panel.hubness import occurrence_summary, query_neighbours
from mmgate.panel.replicates import (REPLICATE_STREAM, Resamples, concentration_replicates,
                                     geometry_replicates, interval, norm_cv_replicates)
from mmgate.panel.partner_auc import partner_auc_from_ranks, relevant_auc_per_query
from mmgate.panel.retrieval import Sweep
from mmgate.panel.spectra import relative_difference
from mmgate.panel.validate import (block_rows, embedding_matrix, embedding_pair, neighbour_count, row_norms,
                                   shared_unit_rows, unit_rows)
from mmgate.perturb.sample import CanarySample, canary_sample
from mmgate.subjects.embedding import Embeddings
from mmgate.subjects.items import CanaryItems, canary_items
from mmgate.subjects.paired import PairedSet

HUBNESS_K = 10
MI_NULL_PERMUTATIONS = 50
SNAPSHOT_POINTS = 512
SIMILARITY_SUBSET = 32
CCA_TOPK = 10
CCA_NULL_PERMUTATIONS = 20
CCA_NULL_STREAM = 7
PER_CLASS_LISTED = 50
CAP_LIMITED = 0.5  # a side whose effective rank exceeds this share of its cap may be held down by it
MIN_RELEVANT_SETS = 50  # fewest relevant sets to compare the towers' ranks over when a cap limits one side
# Resamples behind the intervals of the non-linear statistics (spectra, concentration, CCA), each
# a recomputation: at most this many (the contract's bootstrap_resamples when fewer). The 2.5 %
# quantile of 200 replicates is their 5th order statistic.
REPLICATE_RESAMPLES = 200
CCA_RESAMPLES = 100
GEOMETRY_INTERVAL_KEYS = {"mean_cosine": "mean_cosine", "variance_min": "variance", "effective_rank":
                          "effective_rank", "rankme_share": "rankme_share", "direction_energy": "direction_energy"}


class Measurements:
    """Lazy, memoised panel metrics; each public method returns JSON-ready numbers."""

    def __init__(self, embeddings: Embeddings, canary: PairedSet, contract: Contract, seed: int,
                 device: str | None = None, sweep: Sweep | None = None) -> None:
        """``device``: torch device of the canary's ranks (None: numpy); ``sweep``: where the numpy
        rank sweep of the canary runs (None: here; ``mmgate.distributed.panel``: on Ray)."""
        self.embeddings = embeddings
        self.canary = canary
        self.contract = contract
        self.seed = seed
        self.device = device
        self.sweep = sweep
        self._geometry: dict[str, dict[str, Any]] = {}
        self._replicates: dict[str, dict[str, np.ndarray]] = {}

    def _rows(self, modality: str) -> np.ndarray:
        return self.embeddings.z_img if modality == "image" else self.embeddings.z_txt

    def _z(self, modality: str) -> np.ndarray:
        """One modality's unique items (the rows themselves for a one-to-one canary)."""
        rows = self._rows(modality)
        return rows if self.items.one_to_one else rows[self.items.side(modality).rows]

    @cached_property
    def items(self) -> CanaryItems:
        """The canary's unique images and texts and the relevance between them."""
        return canary_items(self.canary)

    @property
    def relevance(self) -> str:
        """How relevance was read: one-to-one pairs, declared groups, or shared items."""
        if self.items.one_to_one:
            return "pairs"
        return "groups" if self.canary.groups is not None else "shared items"

    @cached_property
    def ranks(self) -> panel.RetrievalRanks:
        """Ranks of every query's relevant candidates among the unique items of the other side: its
        partner, or every item sharing its label (the five captions of one image, a class prompt)."""
        return panel.item_ranks(self.embeddings.z_img, self.embeddings.z_txt, self.items, device=self.device,
                                sweep=self.sweep)

    @cached_property
    def sample(self) -> CanarySample:
        """The seeded subsample the perturbation gates use (the canary itself up to ``SAMPLE_CAP``)."""
        return canary_sample(self.canary, self.seed)

    @property
    def sample_embeddings(self) -> Embeddings:
        """The clean embeddings of ``sample``'s rows."""
        return self.sample.clean_embeddings(self.embeddings)

    @property
    def sample_ranks(self) -> panel.RetrievalRanks:
        """The clean baseline of the perturbation gates: ``ranks`` up to the cap, else the ranks of
        the subsample's clean rows (never the full canary's when the perturbed set is the sample)."""
        return self.sample.clean_ranks(self.embeddings) if self.sample.sampled else self.ranks

    @cached_property
    def _partner_aucs(self) -> dict[str, np.ndarray]:
        """Per-query pair AUCs; one-to-one read off the ranks pass (the same numbers, see
        ``partner_auc_from_ranks``) instead of two more N x N passes, else over unique items."""
        if self.items.one_to_one and self.device is None:
            return partner_auc_from_ranks(self.ranks, self.embeddings.z_img, self.embeddings.z_txt)
        return relevant_auc_per_query(self._z("image"), self._z("text"), self.items.images.labels,
                                      self.items.texts.labels)

    def _direction_ranks(self, direction: str) -> np.ndarray:
        return self.ranks.i2t if direction == "image_to_text" else self.ranks.t2i

    def _pessimistic_ranks(self, direction: str) -> np.ndarray:
        ties = self.ranks.i2t_ties if direction == "image_to_text" else self.ranks.t2i_ties
        return self._direction_ranks(direction) + ties

    def _ci(self, values: np.ndarray) -> tuple[float, float]:
        return panel.bootstrap_ci(values, n_boot=self.contract.bootstrap_resamples,
                                  alpha=self.contract.bootstrap_alpha, seed=self.seed)

    def _resamples(self, n: int, stream_offset: int = 0, cap: int = REPLICATE_RESAMPLES) -> Resamples:
        """Seeded row-count resamples of ``n`` units; equal offsets give equal draws (joint resampling
        of the two sides of a one-to-one canary)."""
        return Resamples(n, min(self.contract.bootstrap_resamples, cap), self.seed,
                         REPLICATE_STREAM + stream_offset)

    def _side_offset(self, modality: str) -> int:
        """Resample stream of a side: shared by both sides of a one-to-one canary (pairs resampled
        jointly), separate otherwise (each side's unique items resampled on their own)."""
        return 0 if self.items.one_to_one or modality == "image" else 1

    def _interval(self, point: float, replicates: np.ndarray, resamples: Resamples,
                  low: float | None = None, high: float | None = None) -> list[float]:
        lo, hi = interval(point, replicates, self.contract.bootstrap_alpha, resamples.scale, low, high)
        return [lo, hi]

    @property
    def pairs(self) -> int:
        """Canary rows (pairs): the size the pairs-needed estimate of an inconclusive case scales."""
        return self.items.n_rows

    def _candidates(self, direction: str) -> tuple[int, str]:
        """Number of candidates a query of ``direction`` ranks, and what they are."""
        if direction == "image_to_text":
            return self.ranks.n_texts, "unique texts"
        return self.ranks.n_images, "unique images"

    def recall(self, direction: str, k: int) -> tuple[float, tuple[float, float]]:
        """Recall@k in one direction with its bootstrap interval over queries. Ties count against
        the true match here (rank + ties < k), so a collapsed space cannot pass on ties."""
        count, what = self._candidates(direction)
        if k > count:
            raise InputError(f"the canary has {count} {what}, fewer than k={k}: recall@{k} "
                             f"is meaningless; use a larger canary set")
        hits = (self._pessimistic_ranks(direction) < k).astype(np.float64)
        return float(hits.mean()), self._ci(hits)

    def retrieval_evidence(self, direction: str) -> dict[str, Any]:
        """MRR, tie counts and recall@k with intervals for the ks the contract names."""
        ranks = self._direction_ranks(direction)
        ties = self.ranks.i2t_ties if direction == "image_to_text" else self.ranks.t2i_ties
        out: dict[str, Any] = {"direction": direction, "n_queries": int(ranks.size),
                               "n_candidates": self._candidates(direction)[0],
                               "mrr": float(np.mean(1.0 / (ranks + 1.0))),
                               "queries_with_ties": int(np.count_nonzero(ties)),
                               "relevance": self.relevance, "items": self.items.evidence()}
        for k in sorted({1, 5, *self.contract.retrieval_ks}):
            if k <= self._candidates(direction)[0]:
                value, (low, high) = self.recall(direction, k)
                out[f"recall@{k}"] = {"value": value, "ci_low": low, "ci_high": high}
        return out

    def pair_auc(self, direction: str) -> tuple[float, tuple[float, float], dict[str, Any]]:
        """Per-query AUC of the true partner against the irrelevant candidates (outside the query's
        group), averaged over the queries; exact ties count against the partner as in ``recall``.
        Over unique items each query's AUC is the mean over its relevant candidates. Chance is 0.5
        at every canary size and group size (null sd about 0.29 / sqrt(N) one-to-one); it depends
        only on cosine ranks, so it does not change under a rotation."""
        per_query = self._partner_aucs["i2t" if direction == "image_to_text" else "t2i"]
        n = int(per_query.size)
        value = float(per_query.mean())
        evidence = {"direction": direction, "n_queries": n, "pair_auc": value, "chance": 0.5,
                    "null_sd": float(np.sqrt((n + 1) / (12.0 * (n - 1) * n))),
                    "worst_query_auc": float(per_query.min()),
                    "queries_below_chance": int(np.count_nonzero(per_query < 0.5)),
                    "relevance": self.relevance, "items": self.items.evidence(),
                    "method": "mean over queries of 1 - (irrelevant candidates scoring at or above the "
                              "partner) / (irrelevant candidates), averaged over a query's relevant "
                              "candidates"}
        return value, self._ci(per_query), evidence

    def symmetry_gap(self) -> tuple[float, tuple[float, float]]:
        """|i2t - t2i| recall@1 with a bootstrap interval: paired (the same queries both ways) for a
        one-to-one canary, else over the image and the text queries resampled independently."""
        i2t = (self._pessimistic_ranks("image_to_text") < 1).astype(np.float64)
        t2i = (self._pessimistic_ranks("text_to_image") < 1).astype(np.float64)
        if self.ranks.paired:
            low, high = self._ci(i2t - t2i)
        else:
            low, high = difference_ci(i2t, t2i, n_boot=self.contract.bootstrap_resamples,
                                      alpha=self.contract.bootstrap_alpha, seed=self.seed)
        abs_low = 0.0 if low <= 0.0 <= high else min(abs(low), abs(high))
        return abs(float(i2t.mean() - t2i.mean())), (abs_low, max(abs(low), abs(high)))

    def zero_shot(self, classes: tuple[int, ...], z_prompts: np.ndarray,
                  counts: tuple[int, ...]) -> tuple[float, tuple[float, float], dict[str, Any]]:
        """Zero-shot classification of the canary images (labels: the canary's groups) against the
        ``classes``' prototypes, each the renormalised mean of its ``counts[c]`` consecutive unit
        prompt rows of ``z_prompts`` (as CLIP_benchmark builds them). The statistic is top-1
        accuracy with ties counting against the true class (as in ``recall``: a text tower that maps
        every prompt to one point cannot pass), with a bootstrap interval over images; the evidence
        also has CLIP_benchmark's acc1 (ties do not count against), acc5 (C >= 5), mean per-class
        recall and the tie share."""
        if self.canary.groups is None:
            raise InputError("zero-shot classification needs a class-labelled canary (groups)")
        groups = self.canary.groups[self.items.images.rows]
        order = np.asarray(classes, dtype=np.int64)
        labels = np.searchsorted(order, groups)
        if np.any(labels >= order.size) or np.any(order[np.minimum(labels, order.size - 1)] != groups):
            raise InputError("the canary has group labels without class prompts")
        bounds = np.cumsum((0, *counts))
        prototypes = panel.class_prototypes([z_prompts[bounds[i]:bounds[i + 1]] for i in range(order.size)])
        ranks = panel.zeroshot_ranks(self._z("image"), prototypes, labels)
        n_classes = int(order.size)
        metrics = panel.zeroshot_metrics_from_ranks(ranks, (1, 5) if n_classes >= 5 else (1,))
        hits = ((ranks.rank + ranks.ties) == 0).astype(np.float64)
        value = float(hits.mean())
        present = np.unique(labels)
        evidence: dict[str, Any] = {
            "top1_ties_against": value, **metrics, "n_classes": n_classes, "chance": 1.0 / n_classes,
            "n_images": ranks.n, "classes_in_canary": int(present.size),
            "prompts_per_class": {"min": int(min(counts)), "max": int(max(counts))},
            "prototype": "renormalised mean of the class's unit prompt embeddings",
            "confused_top": _top_confusions(order, labels, ranks.predicted),
        }
        recall = {int(c): float(np.mean(ranks.rank[labels == c] == 0)) for c in present}
        if len(recall) > PER_CLASS_LISTED:  # the lowest recalls only, worst first
            worst = sorted(recall, key=lambda c: (recall[c], c))[:PER_CLASS_LISTED]
            evidence["lowest_class_recall"] = {str(int(order[c])): recall[c] for c in worst}
        else:
            evidence["per_class_recall"] = {str(int(order[c])): value for c, value in recall.items()}
        return value, self._ci(hits), evidence

    def geometry(self, modality: str) -> dict[str, Any]:
        """Collapse geometry of one modality: mean cosine, coordinate variance, ranks, and the share
        of the centred covariance energy in the top direction (computed once per modality: five
        gates read it)."""
        if modality not in self._geometry:
            z = self._z(modality)
            side = self.items.side(modality)
            rankme = panel.rankme(z)
            self._geometry[modality] = {
                "modality": modality,
                "mean_cosine": panel.mean_cosine(z),
                "variance": panel.coordinate_variance(z),
                "effective_rank": panel.effective_rank(z),
                "rankme": rankme,
                "rankme_share": rankme / z.shape[1],
                "direction_energy": panel.top_eigen_share(z, k=1),
                "dimension": int(z.shape[1]),
                "n_rows": self.items.n_rows,
                "n_items": side.count,
                "relevant_sets": None if self.items.one_to_one else int(np.unique(side.labels).size),
            }
            self._geometry[modality]["intervals"] = self._geometry_intervals(modality, z)
        return dict(self._geometry[modality])

    def _geometry_intervals(self, modality: str, z: np.ndarray) -> dict[str, Any]:
        """Bootstrap intervals over the side's unique items of every gated geometry statistic."""
        resamples = self._resamples(z.shape[0], self._side_offset(modality))
        reps = self._geometry_replicates(modality)
        point = self._geometry[modality]
        bounds = {"mean_cosine": (-1.0, 1.0), "variance_min": (0.0, None), "effective_rank": (0.0, None),
                  "rankme_share": (0.0, 1.0), "direction_energy": (0.0, 1.0)}
        values = {key: point[name]["min"] if key == "variance_min" else point[name]
                  for key, name in GEOMETRY_INTERVAL_KEYS.items()}
        return {"level": 1.0 - self.contract.bootstrap_alpha, "resamples": resamples.count,
                "rows_drawn": resamples.drawn, "method": "bootstrap over unique items, percentile "
                "interval re-centred on the estimate",
                **{key: self._interval(values[key], reps[key], resamples, *bounds[key]) for key in values}}

    def _geometry_replicates(self, modality: str) -> dict[str, np.ndarray]:
        if modality not in self._replicates:
            z = self._z(modality)
            self._replicates[modality] = geometry_replicates(z, self._resamples(z.shape[0],
                                                                                self._side_offset(modality)))
        return self._replicates[modality]

    @cached_property
    def _neighbours(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Each query's top-1 unique target and every target's k-occurrence count per direction
        (``i2t``: texts as targets), from one blocked pass each."""
        ui, ut = shared_unit_rows(*embedding_pair(self._z("image"), self._z("text"), paired=False))
        k = self.hubness_k
        out = {}
        for direction, queries, targets in (("i2t", ui, ut), ("t2i", ut, ui)):
            block = block_rows(None, targets.shape[0], ui.dtype.itemsize, ui.shape[1])
            out[direction] = query_neighbours(queries, targets, k, block)
        return out

    @property
    def _occurrences(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Top-1 and k-occurrence counts of every unique item per direction; shared by the hubness
        gate and the plot snapshot."""
        targets = {"i2t": self.items.texts.count, "t2i": self.items.images.count}
        return {direction: (np.bincount(top1, minlength=targets[direction]), k_occ)
                for direction, (top1, k_occ) in self._neighbours.items()}

    @cached_property
    def _hubness(self) -> dict[str, Any]:
        """Hubness of the canary's unique items: a repeated item (a class prompt on every row of its
        class) is one target, so the canary's shape never reads as a hub; with relevant sets the
        concentration is judged against their count."""
        sets = None if self.items.one_to_one else int(np.unique(self.items.images.labels).size)
        out: dict[str, Any] = {"k": float(self.hubness_k), **self.items.evidence()}
        for direction, counts in self._occurrences.items():
            out.update({f"{direction}_{name}": value
                        for name, value in occurrence_summary(*counts, self.hubness_k, sets).items()})
        return out

    @property
    def hubness_k(self) -> int:
        """Neighbours per query: HUBNESS_K, fewer when a side has fewer unique items."""
        smaller = min(self.items.images.count, self.items.texts.count)
        return neighbour_count(min(HUBNESS_K, max(1, smaller - 1)), smaller)

    def hubness(self, direction: str) -> dict[str, Any]:
        """Hubness of one direction; ``concentration`` is the gated top-1 target concentration."""
        prefix = "i2t_" if direction == "image_to_text" else "t2i_"
        stats = {key[len(prefix):]: value for key, value in self._hubness.items() if key.startswith(prefix)}
        return {"direction": direction, "k": int(self._hubness["k"]), "concentration": stats["top1_concentration"],
                "concentration_ci": self._concentration_ci(prefix[:-1], stats["top1_concentration"]),
                "items": self.items.evidence(), **stats}

    def _concentration_ci(self, direction: str, point: float) -> list[float]:
        """Bootstrap interval over the queries of the top-1 concentration."""
        top1, k_occ = self._neighbours[direction]
        sets = None if self.items.one_to_one else int(np.unique(self.items.images.labels).size)
        resamples = self._resamples(top1.shape[0], 2 if direction == "i2t" else 3)
        reps = concentration_replicates(top1, k_occ.shape[0], sets, resamples)
        return self._interval(point, reps, resamples, 0.0, 1.0)

    @cached_property
    def _divergence(self) -> dict[str, Any]:
        z_img, z_txt = self._z("image"), self._z("text")
        norms = panel.norm_divergence(z_img, z_txt)
        return {
            **self._rank_comparison(z_img, z_txt),
            "norm_divergence": abs(norms["cv_diff"]),
            "norm_divergence_ci": self._norm_divergence_ci(z_img, z_txt, abs(norms["cv_diff"])),
            "norm_divergence_basis": "|cv_image - cv_text| of the pre-normalisation row norms of the unique items",
            "norms_image": panel.norm_stats(z_img),
            "norms_text": panel.norm_stats(z_txt),
            "items": self.items.evidence(),
            **norms,
        }

    def _rank_comparison(self, z_img: np.ndarray, z_txt: np.ndarray) -> dict[str, Any]:
        """Effective ranks of the towers, each over its own unique items with its own cap
        min(items - 1, d). Compared directly unless a side's rank is bounded by its cap (above
        CAP_LIMITED of it: ten class prompts span at most nine directions whatever the tower); then
        over the relevant sets, each side's set centroids (one cap for both), or not comparable
        with fewer than MIN_RELEVANT_SETS sets."""
        d = z_img.shape[1]
        ranks = {"image": panel.effective_rank(z_img), "text": panel.effective_rank(z_txt)}
        caps = {"image": max(1, min(z_img.shape[0] - 1, d)), "text": max(1, min(z_txt.shape[0] - 1, d))}
        out: dict[str, Any] = {"effective_rank_image": ranks["image"], "effective_rank_text": ranks["text"],
                               "rank_caps": caps}
        limited = sorted(m for m in caps if caps[m] < max(caps.values()) and ranks[m] > CAP_LIMITED * caps[m])
        if not limited:
            value = panel.rank_divergence(z_img, z_txt)
            reps = {m: self._geometry_replicates(m)["effective_rank"] for m in ("image", "text")}
            ci = self._interval(value, relative_difference(reps["image"], reps["text"]),
                                self._resamples(z_img.shape[0]), 0.0, 1.0)
            return {**out, "rank_divergence": value, "rank_divergence_ci": ci,
                    "rank_divergence_basis": "every unique item of each side"}
        sets = int(np.unique(self.items.images.labels).size)
        why = (f"the {limited[0]} side's effective rank {ranks[limited[0]]:.1f} is bounded by its cap "
               f"{caps[limited[0]]} ({self.items.side(limited[0]).count} unique items)")
        if sets < MIN_RELEVANT_SETS:
            return {**out, "rank_divergence": None,
                    "not_comparable": f"{why}, and {sets} relevant sets are too few (< {MIN_RELEVANT_SETS}) "
                                      "to compare the towers on: ranks under different caps measure the "
                                      "canary's shape, not the towers"}
        centroids = {m: _set_centroids(z, self.items.side(m).labels, sets)
                     for m, z in (("image", z_img), ("text", z_txt))}
        value = panel.rank_divergence(centroids["image"], centroids["text"])
        resamples = self._resamples(sets)  # the sets resampled jointly: both sides' centroids of a draw
        reps = {m: geometry_replicates(c, resamples)["effective_rank"] for m, c in centroids.items()}
        return {**out, "rank_divergence": value, "relevant_sets": sets,
                "rank_divergence_ci": self._interval(value, relative_difference(reps["image"], reps["text"]),
                                                     resamples, 0.0, 1.0),
                "rank_divergence_basis": f"{why}: compared over the {sets} relevant sets, each side's "
                                         "mean unit embedding per set (one cap for both)"}

    def _norm_divergence_ci(self, z_img: np.ndarray, z_txt: np.ndarray, point: float) -> list[float]:
        """Bootstrap interval of |cv_image - cv_text| over the unique items (pairs jointly when
        one-to-one)."""
        cvs = {}
        for modality, z in (("image", z_img), ("text", z_txt)):
            resamples = self._resamples(z.shape[0], self._side_offset(modality))
            cvs[modality] = norm_cv_replicates(row_norms(embedding_matrix(z, modality)), resamples)
        return self._interval(point, np.abs(cvs["image"] - cvs["text"]), resamples, 0.0, None)

    def divergence(self) -> dict[str, Any]:
        """Effective-rank and pre-normalisation norm divergence between the towers."""
        return dict(self._divergence)

    @cached_property
    def _mi(self) -> dict[str, Any]:
        per_modality = {}
        for modality in ("image", "text"):
            rows = self.items.side(modality).rows
            probes = {name: panel.mi_proxy(self._z(modality), labels if self.items.one_to_one else labels[rows],
                                           n_null=MI_NULL_PERMUTATIONS, seed=self.seed)
                      for name, labels in sorted(self.canary.factors.items())}
            per_modality[modality] = {
                "excess_mean": float(np.mean([p.excess for p in probes.values()])),
                "value_mean": float(np.mean([p.value for p in probes.values()])),
                "per_factor": {name: dataclasses.asdict(p) for name, p in probes.items()},
            }
        weaker = min(per_modality, key=lambda m: per_modality[m]["excess_mean"])
        return {"method": "binned MI of leading principal components, normalised by H(factor), "
                          f"minus the mean of a {MI_NULL_PERMUTATIONS}-permutation label null",
                "excess": per_modality[weaker]["excess_mean"], "weaker_modality": weaker,
                "modalities": per_modality}

    def mi_probe(self) -> dict[str, Any]:
        """MI excess over a label-permutation null, mean over factors, for the weaker modality."""
        return dict(self._mi)

    def cca(self) -> dict[str, Any]:
        """Chance-corrected CCA: (cca - null) / (1 - null), with the null the mean CCA over
        row-shuffled pairings. Raw top-k canonical correlations are large for unrelated embeddings
        at small N (about 0.67 at N=256, d=48), so the raw value alone would pass random encoders."""
        z_img, z_txt = self.embeddings.z_img, self.embeddings.z_txt
        topk = min(CCA_TOPK, z_img.shape[1], z_txt.shape[1])
        n = len(z_txt)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, CCA_NULL_STREAM]))
        orders = [np.arange(n)] + [rng.permutation(n) for _ in range(CCA_NULL_PERMUTATIONS)]
        values = panel.cca_proxies(z_img, z_txt, orders, topk=topk)
        raw, null = float(values[0]), values[1:]
        null_mean = float(np.mean(null))
        corrected = (raw - null_mean) / (1.0 - null_mean) if null_mean < 1.0 else 0.0
        resamples = self._resamples(n, 4, CCA_RESAMPLES)
        raws = np.array([panel.cca_proxy(np.repeat(z_img, counts, axis=0), np.repeat(z_txt, counts, axis=0),
                                         topk=topk) for counts in resamples])
        reps = (raws - null_mean) / (1.0 - null_mean) if null_mean < 1.0 else np.zeros_like(raws)
        return {"cca": corrected, "cca_ci": self._interval(corrected, reps, resamples, None, 1.0),
                "cca_interval": f"bootstrap over pairs ({resamples.count} resamples), the null held at its mean",
                "raw_cca": raw, "null_mean": null_mean,
                "null_p95": float(np.percentile(null, 95)), "topk": topk,
                "n_null": CCA_NULL_PERMUTATIONS,
                "method": "mean top-k canonical correlation, chance-corrected against row-shuffled pairs"}

    def health(self, modality: str) -> dict[str, Any]:
        """NaN, Inf and zero-norm row counts of one modality."""
        stats = panel.numerical_health(self._rows(modality))
        bad = stats["nan_rows"] + stats["inf_rows"] + stats["zero_norm_rows"]
        return {"modality": modality, **stats, "bad_rows": int(bad)}

    def compare(self, again: Embeddings, modality: str) -> dict[str, Any]:
        """How a second embedding pass differs from this one, entry by entry."""
        first = self._rows(modality)
        second = again.z_img if modality == "image" else again.z_txt
        if first.shape != second.shape:
            return {"modality": modality, "shape_first": list(first.shape),
                    "shape_second": list(second.shape), "differing_entries": int(first.size)}
        differing = first != second
        return {"modality": modality, "differing_entries": int(np.count_nonzero(differing)),
                "max_abs_difference": float(np.max(np.abs(first - second))) if first.size else 0.0}

    def snapshot(self) -> dict[str, Any]:
        """Plot data for this seed (PCA, spectra, a similarity block, retrieval, k-occurrence)."""
        return snapshot(self.embeddings.z_img, self.embeddings.z_txt, self.canary.factors, self.ranks,
                        seed=self.seed, points=SNAPSHOT_POINTS, subset=SIMILARITY_SUBSET,
                        k=self.hubness_k, occurrences=self._occurrences)


def _set_centroids(z: np.ndarray, labels: np.ndarray, sets: int) -> np.ndarray:
    """(sets, d) mean unit row of each relevant set."""
    unit = unit_rows(z, "z", np.float64)
    sums = np.zeros((sets, z.shape[1]))
    np.add.at(sums, labels, unit)
    return sums / np.bincount(labels, minlength=sets)[:, None]


def _top_confusions(classes: np.ndarray, labels: np.ndarray, predicted: np.ndarray,
                    top: int = 5) -> list[dict[str, int]]:
    """The most frequent (true class, predicted class) errors, by count."""
    wrong = labels != predicted
    pairs, counts = np.unique(np.stack([labels[wrong], predicted[wrong]], axis=1), axis=0, return_counts=True) \
        if wrong.any() else (np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.int64))
    order = np.argsort(-counts, kind="stable")[:top]
    return [{"true": int(classes[pairs[i, 0]]), "predicted": int(classes[pairs[i, 1]]), "count": int(counts[i])}
            for i in order]
