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
from mmgate.panel.validate import embedding_pair, shared_unit_rows, unit_pair

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


def _relevant_auc(queries: np.ndarray, candidates: np.ndarray, query_labels: np.ndarray,
                  candidate_labels: np.ndarray, block: int) -> np.ndarray:
    """Per query: the mean over its relevant candidates of 1 - (irrelevant candidates scoring at or
    above that candidate) / (irrelevant candidates). Each block's irrelevant scores are sorted once
    and every relevant score is located by one search over the block (rows kept apart by an offset
    of 4 per row: float32 scores plus small integers are exact in float64)."""
    m, n = queries.shape[0], candidates.shape[0]
    out = np.empty(m, dtype=np.float64)
    for start in range(0, m, block):
        stop = min(m, start + block)
        scores = (queries[start:stop] @ candidates.T).astype(np.float64)
        relevant = query_labels[start:stop, None] == candidate_labels[None, :]
        irrelevant = n - np.count_nonzero(relevant, axis=1)
        if irrelevant.min() < 1:
            raise InputError("the AUC needs irrelevant candidates: every candidate is relevant to some query")
        offset = 4.0 * np.arange(stop - start)[:, None]
        row, col = np.nonzero(relevant)
        positive = scores[row, col] + offset[row, 0]
        ordered = np.sort(np.where(relevant, -2.0, scores) + offset, axis=1).ravel()
        below = np.searchsorted(ordered, positive, side="left") - row * n
        share = 1.0 - (n - below) / irrelevant[row]
        out[start:stop] = np.bincount(row, weights=share, minlength=stop - start) / np.bincount(
            row, minlength=stop - start)
    return out


def unit_pair_items(z_img: object, z_txt: object) -> tuple[np.ndarray, np.ndarray]:
    """Validated unit rows of unique images and unique texts (row counts may differ)."""
    return shared_unit_rows(*embedding_pair(z_img, z_txt, paired=False))


def relevant_auc_per_query(z_img: object, z_txt: object, image_labels: np.ndarray,
                           text_labels: np.ndarray, block_size: int | None = None) -> dict[str, np.ndarray]:
    """Pair AUC over unique items (``i2t``, ``t2i``): for each query, its relevant candidates (equal
    labels) against the irrelevant ones, ties against, averaged over the relevant candidates, so
    chance stays 0.5 whatever the number of captions per image or images per class."""
    ui, ut = unit_pair_items(z_img, z_txt)
    out: dict[str, np.ndarray] = {}
    for direction, queries, candidates, q_labels, c_labels in (
            ("i2t", ui, ut, image_labels, text_labels), ("t2i", ut, ui, text_labels, image_labels)):
        block = capped_rows(block_size or DEFAULT_BLOCK, candidates.shape[0], 3 * 8 + 1)
        out[direction] = _relevant_auc(queries, candidates, q_labels, c_labels, block)
    return out
