"""Partner AUC: how often a query's own partner outscores an irrelevant candidate, per direction.

For query i, the irrelevant candidates are those outside i's group (every other row when there are
no groups); AUC_i = 1 - (irrelevant candidates scoring at or above the partner) / (irrelevant
candidates), so an exact tie counts against the partner, as in the retrieval gates. Its mean is
0.5 for unrelated towers at any N and any group size (unlike recall@K, whose chance level grows
with the group size), close to 1 for a trained model, and invariant to any rotation of the space.
One blocked pass: memory O(block x N)."""

from __future__ import annotations

from typing import Any

import numpy as np

from mmgate.errors import InputError
from mmgate.panel.blocks import capped_rows
from mmgate.panel.groups import group_labels
from mmgate.panel.validate import unit_pair

DEFAULT_BLOCK = 1024


def _irrelevant_above(queries: np.ndarray, candidates: np.ndarray, labels: np.ndarray | None,
                      block: int) -> tuple[np.ndarray, np.ndarray]:
    """Per query row: irrelevant candidates scoring >= its partner, and the irrelevant count.
    Without labels (row pairing) the only relevant candidate is the partner itself, so its own
    entry of the comparison is subtracted instead of building a (block, N) relevance mask."""
    n = queries.shape[0]
    above = np.empty(n, dtype=np.int64)
    irrelevant = np.empty(n, dtype=np.int64)
    for start in range(0, n, block):
        stop = min(n, start + block)
        rows = np.arange(stop - start)
        scores = queries[start:stop] @ candidates.T
        partner = scores[rows, np.arange(start, stop)]
        at_or_above = scores >= partner[:, None]
        del scores
        if labels is None:
            above[start:stop] = np.count_nonzero(at_or_above, axis=1) - at_or_above[rows, rows + start]
            irrelevant[start:stop] = n - 1
            continue
        relevant = labels[start:stop, None] == labels[None, :]
        above[start:stop] = np.count_nonzero(at_or_above & ~relevant, axis=1)
        irrelevant[start:stop] = n - np.count_nonzero(relevant, axis=1)
    return above, irrelevant


def partner_auc_per_query(z_img: object, z_txt: object, groups: object = None,
                          block_size: int | None = None) -> dict[str, np.ndarray]:
    """Per-query partner AUC in each direction (``i2t``, ``t2i``); InputError when some query has no
    irrelevant candidate (one group holds every row)."""
    ui, ut = unit_pair(z_img, z_txt)
    n = ui.shape[0]
    labels = None if groups is None else group_labels(groups, n)
    block = capped_rows(block_size or DEFAULT_BLOCK, n, ui.itemsize + 2)
    out: dict[str, np.ndarray] = {}
    for direction, (queries, candidates) in (("i2t", (ui, ut)), ("t2i", (ut, ui))):
        above, irrelevant = _irrelevant_above(queries, candidates, labels, block)
        if irrelevant.min() < 1:
            raise InputError("partner_auc: a query has no irrelevant candidate (one group holds every "
                             "row); the AUC needs rows outside the query's group")
        out[direction] = 1.0 - above / irrelevant
    return out


def partner_auc(z_img: object, z_txt: object, groups: object = None,
                block_size: int | None = None) -> dict[str, float]:
    """Mean partner AUC per direction (``i2t``, ``t2i``)."""
    per_query = partner_auc_per_query(z_img, z_txt, groups, block_size)
    return {direction: float(values.mean()) for direction, values in per_query.items()}


def _rows_above(queries: np.ndarray, candidates: np.ndarray, rows: np.ndarray, block: int) -> np.ndarray:
    """For the query ``rows`` only: other candidates scoring >= the query's partner, counted as
    ``_irrelevant_above`` counts them without labels (the partner score from the same product)."""
    above = np.empty(rows.size, dtype=np.int64)
    for start in range(0, rows.size, block):
        chunk = rows[start:start + block]
        local = np.arange(chunk.size)
        scores = queries[chunk] @ candidates.T
        at_or_above = scores >= scores[local, chunk][:, None]
        above[start:start + chunk.size] = np.count_nonzero(at_or_above, axis=1) - at_or_above[local, chunk]
    return above


def partner_auc_from_ranks(ranks: Any, z_img: object, z_txt: object,
                           block_size: int | None = None) -> dict[str, np.ndarray]:
    """``partner_auc_per_query`` without groups, read off a numpy ``retrieval_ranks`` pass of the
    same embeddings instead of two more N x N passes. Without groups a query's rank counts the other
    candidates scoring above its partner by more than the tie tolerance and its ties those within
    it; a query with no tie has no candidate near its partner, so the candidates at or above the
    partner are exactly the ones its rank counts. Queries with ties (duplicates, collapsed
    embeddings) are recounted exactly as ``partner_auc_per_query`` counts them, on their rows only."""
    ui, ut = unit_pair(z_img, z_txt)
    n = ui.shape[0]
    if ranks.groups is not None or ranks.n != n:
        raise InputError("partner_auc_from_ranks: expected the row-paired ranks of these embeddings")
    if n < 2:
        raise InputError("partner_auc: a query has no irrelevant candidate (one group holds every "
                         "row); the AUC needs rows outside the query's group")
    block = capped_rows(block_size or DEFAULT_BLOCK, n, ui.itemsize + 2)
    out: dict[str, np.ndarray] = {}
    for direction, queries, candidates in (("i2t", ui, ut), ("t2i", ut, ui)):
        above = np.array(getattr(ranks, direction), dtype=np.int64)
        tied = np.flatnonzero(getattr(ranks, f"{direction}_ties"))
        if tied.size:
            above[tied] = _rows_above(queries, candidates, tied, block)
        out[direction] = 1.0 - above / (n - 1)
    return out
