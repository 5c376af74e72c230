"""Seeded subsample of a large canary for the perturbation-based gates.

A perturbation gate (robustness margins, noise slope and direction, benign perturbations, the
stress search, the joint-permutation and role-swap invariances) measures the *effect* of a change:
a recall difference between a clean and a perturbed evaluation of the same pairs, or an exact
rank-for-rank check. On a canary of N pairs each evaluation is an N x N retrieval pass and a fresh
embedding of the perturbed set, and a margin bisection runs a dozen of them per knob, so these gates
would dominate a large run (quadratic time, one cached perturbed embedding per point). Above
``SAMPLE_CAP`` pairs they run on a seeded subsample of ``SAMPLE_CAP`` pairs instead; the clean
baseline they compare against is measured on the same subsample (the clean canary's embedding rows,
so nothing is re-embedded), never the full-canary ranks. At or below the cap nothing changes: the
sample is the canary itself and the gates see the measured ranks, as before.

Why 8192: recall@1 on n queries has a sampling sd of at most 0.5 / sqrt(n) = 0.0055 at n = 8192,
and a clean-vs-perturbed drop measured on the *same* queries (paired) has a smaller sd still, well
inside the contracts' drop budgets and margin tolerances (0.01 and up); the acceptance statistics
of a margin's curve (recall@1/5, pair AUC, symmetry gap) are estimated to the same precision. One
8192-pair evaluation is a 67 M-score pass (one to two seconds on two cores at d = 256) and its
perturbed embeddings cost 16 MB in float64 per modality, whatever the canary's size. Retrieval
over a smaller candidate pool is easier (recall@1 rises as the pool shrinks), so a sampled gate's
*levels* are those of an 8192-pair canary; its *effects* (drops, gains, margins relative to the
same-pool clean point) are what the gates compare, and the evidence says the sample was used
(``sample_pairs``, ``canary_pairs``, ``sample_cap``).

Grouped canaries: whole groups are taken (in a seeded order, until the cap) when groups are small
enough that at least ``MIN_GROUPS`` of them fit; otherwise (a few large classes) rows are sampled
uniformly and each row keeps its label, so every class stays represented.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from mmgate.panel import RetrievalRanks, item_ranks
from mmgate.subjects.embedding import Embeddings
from mmgate.subjects.items import canary_items
from mmgate.subjects.paired import PairedSet

Embed = Callable[[PairedSet, str], Embeddings]

SAMPLE_CAP = 8192
SAMPLE_STREAM = 503
MIN_GROUPS = 64


def sample_rows(canary: PairedSet, seed: int, cap: int = SAMPLE_CAP) -> np.ndarray | None:
    """Sorted row indices of the seeded subsample, or None when the canary has at most ``cap`` pairs."""
    n = len(canary)
    if n <= cap:
        return None
    rng = np.random.default_rng(np.random.SeedSequence([seed, SAMPLE_STREAM]))
    groups = canary.groups
    if groups is not None:
        labels, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
        if counts.max() * MIN_GROUPS <= cap:
            order = rng.permutation(labels.size)
            taken = order[:int(np.searchsorted(np.cumsum(counts[order]), cap, side="right"))]
            chosen = np.zeros(labels.size, dtype=bool)
            chosen[taken] = True
            return np.flatnonzero(chosen[inverse.ravel()])
    return np.sort(rng.choice(n, size=cap, replace=False))


@dataclass
class CanarySample:
    """The set the perturbation gates perturb (``canary``: the subsample, or the canary itself when
    it is within the cap), the rows taken (None: all) and the full canary's size."""

    canary: PairedSet
    rows: np.ndarray | None
    canary_pairs: int
    _clean_ranks: RetrievalRanks | None = field(default=None, repr=False)

    @property
    def sampled(self) -> bool:
        return self.rows is not None

    def evidence(self) -> dict[str, Any]:
        """What to add to a gate's evidence: nothing below the cap (the evidence as it always was)."""
        if not self.sampled:
            return {}
        return {"sample_pairs": len(self.canary), "canary_pairs": self.canary_pairs, "sample_cap": SAMPLE_CAP,
                "sample_note": "perturbation effects measured on a seeded subsample of the canary; the "
                               "clean baseline is the same subsample"}

    def clean_embeddings(self, clean: Embeddings) -> Embeddings:
        """The subsample's rows of the full canary's clean embeddings."""
        if not self.sampled:
            return clean
        return Embeddings(clean.z_img[self.rows], clean.z_txt[self.rows])

    def embedder(self, embed: Embed, full_canary: PairedSet) -> Embed:
        """``embed`` with the clean subsample served from the full canary's clean embeddings (no
        encoder call; the clean baseline is then exactly the measured canary's rows)."""
        if not self.sampled:
            return embed

        def sampled_embed(paired_set: PairedSet, key: str) -> Embeddings:
            if key == "clean":
                return self.clean_embeddings(embed(full_canary, "clean"))
            return embed(paired_set, key)

        return sampled_embed

    def clean_ranks(self, clean: Embeddings) -> RetrievalRanks:
        """Ranks of the subsample's clean embedding rows (computed once); below the cap use the
        measured ranks instead (``Measurements.sample_ranks`` does)."""
        if self._clean_ranks is None:
            rows = self.clean_embeddings(clean)
            self._clean_ranks = item_ranks(rows.z_img, rows.z_txt, canary_items(self.canary))
        return self._clean_ranks


def canary_sample(canary: PairedSet, seed: int, cap: int = SAMPLE_CAP) -> CanarySample:
    """The seeded subsample of ``canary`` the perturbation gates use (the canary itself within ``cap``)."""
    rows = sample_rows(canary, seed, cap)
    return CanarySample(canary if rows is None else canary.take(rows), rows, len(canary))
