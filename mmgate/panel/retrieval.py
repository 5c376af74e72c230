"""Cross-modal retrieval: ranks of the true match in both directions, recall@K, MRR, symmetry gap.

Scores are cosines (rows L2-normalised once; float32 compute for float16/float32 input, float64
otherwise). Rank convention: the rank of the true match (0 = retrieved first) is the number of other
candidates scoring above it by more than a rounding tolerance tol = sqrt(d) * eps (2.7e-6 for
float32 at d=512, about 1e-14 for float64); candidates within tol of the true score are counted as
ties and do not worsen the rank, and top-1 is the true match whenever its rank is 0. Ties are thus
resolved in favour of the true match: a fully collapsed space gets rank 0 (recall 1) everywhere and
shows only in its tie counts (N - 1 per query) and the geometry metrics, so gates should read ties
beside recall.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from mmgate.panel.rank_sweep import sweep_ranks
from mmgate.panel.validate import block_rows, cutoffs, embedding_pair, shared_unit_rows


@dataclass(frozen=True)
class RetrievalRanks:
    """Per-query retrieval outcome, both directions (arrays of shape (N,), int64, read-only).

    ``i2t[i]``: rank of text i among all texts for image i; ``t2i[j]``: rank of image j among all
    images for text j; ``*_top1``: index of the best-scoring candidate (the true match when its rank
    is 0); ``*_ties``: number of other candidates scoring within the rounding tolerance of the true
    pair's score (see the module docstring)."""

    i2t: np.ndarray
    t2i: np.ndarray
    i2t_top1: np.ndarray
    t2i_top1: np.ndarray
    i2t_ties: np.ndarray
    t2i_ties: np.ndarray

    @property
    def n(self) -> int:
        """Number of pairs (queries per direction)."""
        return int(self.i2t.shape[0])


def _ranks(zi: np.ndarray, zt: np.ndarray, block_size: int | None) -> RetrievalRanks:
    """Ranks of an already validated pair."""
    ui, ut = shared_unit_rows(zi, zt)
    sweep = sweep_ranks(ui, ut, block_rows(block_size, ui.shape[0], ui.dtype.itemsize, ui.shape[1]))
    arrays = [getattr(sweep, name) for name in ("i2t", "t2i", "i2t_top1", "t2i_top1", "i2t_ties", "t2i_ties")]
    for arr in arrays:
        arr.setflags(write=False)
    return RetrievalRanks(*arrays)


def retrieval_ranks(z_img: object, z_txt: object, block_size: int | None = None) -> RetrievalRanks:
    """Ranks, ties and top-1 of both directions from one blocked pass of cosine scores.

    Memory is O(block_size x N); the default block holds 4 to 32 MB of scores (more for larger d).
    Results do not depend on ``block_size``."""
    return _ranks(*embedding_pair(z_img, z_txt), block_size)


def metrics_from_ranks(ranks: RetrievalRanks, ks: int | Iterable[int] = (1, 5, 10)) -> dict[str, float]:
    """Recall@K (mean of rank < K), MRR (mean of 1 / (rank + 1)) and symmetry gap@K per direction."""
    out: dict[str, float] = {}
    ks = cutoffs(ks, ranks.n)
    for k in ks:
        out[f"i2t_recall@{k}"] = float(np.mean(ranks.i2t < k))
        out[f"t2i_recall@{k}"] = float(np.mean(ranks.t2i < k))
    out["i2t_mrr"] = float(np.mean(1.0 / (ranks.i2t + 1.0)))
    out["t2i_mrr"] = float(np.mean(1.0 / (ranks.t2i + 1.0)))
    for k in ks:
        out[f"symmetry_gap@{k}"] = out[f"i2t_recall@{k}"] - out[f"t2i_recall@{k}"]
    return out


def retrieval_metrics(z_img: object, z_txt: object, ks: int | Iterable[int] = (1, 5, 10),
                      block_size: int | None = None) -> dict[str, float]:
    """Keys ``i2t_recall@K``, ``t2i_recall@K``, ``i2t_mrr``, ``t2i_mrr``, ``symmetry_gap@K``
    (= i2t minus t2i) for cosine retrieval of row-paired embeddings; k > N raises InputError
    before any score is computed."""
    zi, zt = embedding_pair(z_img, z_txt)
    checked = cutoffs(ks, zi.shape[0])
    return metrics_from_ranks(_ranks(zi, zt, block_size), checked)
