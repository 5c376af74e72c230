"""Candidate pools of the counterfactual gate: per query, irrelevant candidates drawn without
replacement from those sharing its cue value, or from all rows, in O(N log N + N x pool) time.

Rows are sorted by (cue bucket, label), so a query's allowed candidates are its bucket's run minus
its own label's run inside it: two ranges of positions, indexed 0..m-1 without building a list.
Each query draws positions uniformly with rejection of repeats (sequential draws without
replacement, so every subset is equally likely); a query whose allowed set is small, or that did
not fill its pool from the drawn batch, draws with ``Generator.choice`` instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_OVERDRAW = 3   # draws per pool slot in the vectorised batch
_DIRECT = 4     # allowed sets up to this many pool slots draw directly
_QUERIES_PER_DRAW = 1024  # queries per batch of draws: O(batch x pool) memory whatever N


@dataclass(frozen=True)
class _Layout:
    """Rows sorted by (bucket, label) and, per query, its bucket's and its label's position ranges."""

    order: np.ndarray
    bucket_start: np.ndarray
    bucket_stop: np.ndarray
    label_start: np.ndarray
    label_stop: np.ndarray

    @property
    def allowed(self) -> np.ndarray:
        """Per query, how many candidates share its bucket but not its label."""
        return (self.bucket_stop - self.bucket_start) - (self.label_stop - self.label_start)

    def rows(self, query: np.ndarray, index: np.ndarray) -> np.ndarray:
        """Row of each query's ``index``-th allowed candidate (index < allowed, broadcast per query)."""
        before = (self.label_start - self.bucket_start)[query, None]
        position = np.where(index < before, self.bucket_start[query, None] + index,
                            self.label_stop[query, None] + index - before)
        return self.order[position]


def _layout(buckets: np.ndarray, labels: np.ndarray) -> _Layout:
    """Sort rows by (bucket, label) once and locate every query's ranges by binary search."""
    codes = np.unique(labels, return_inverse=True)[1].astype(np.int64)
    span = int(codes.max()) + 1
    key = buckets.astype(np.int64) * span + codes
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    base = buckets.astype(np.int64) * span
    return _Layout(order, np.searchsorted(ordered, base, "left"), np.searchsorted(ordered, base + span, "left"),
                   np.searchsorted(ordered, key, "left"), np.searchsorted(ordered, key, "right"))


def allowed_counts(buckets: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per row, the rows sharing its bucket (cue value) but not its label (group)."""
    return _layout(np.unique(buckets, return_inverse=True)[1], labels).allowed


def _first_draws(draws: np.ndarray) -> np.ndarray:
    """Mask of each row's first occurrence of every value, in draw order."""
    order = np.argsort(draws, axis=1, kind="stable")
    ordered = np.take_along_axis(draws, order, axis=1)
    first_sorted = np.ones_like(ordered, dtype=bool)
    first_sorted[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    first = np.empty_like(first_sorted)
    np.put_along_axis(first, order, first_sorted, axis=1)
    return first


def _draw_batch(layout: _Layout, queries: np.ndarray, slots: int, rng: np.random.Generator,
                out: np.ndarray) -> np.ndarray:
    """Fill ``out``'s rows of ``queries`` from one batch of uniform draws with repeats rejected;
    return the queries the batch did not fill."""
    draws = np.floor(rng.random((queries.size, _OVERDRAW * slots)) * layout.allowed[queries, None]).astype(np.int64)
    first = _first_draws(draws)
    filled = first.sum(axis=1) >= slots
    rows, cols = np.nonzero(first[filled])
    keep = np.cumsum(first[filled], axis=1)[rows, cols] <= slots
    chosen = draws[filled][rows[keep], cols[keep]].reshape(-1, slots)
    out[queries[filled]] = layout.rows(queries[filled], chosen)
    return queries[~filled]


def sample_pools(cue: np.ndarray, labels: np.ndarray, size: int, same: bool,
                 rng: np.random.Generator) -> np.ndarray:
    """Per query, ``size - 1`` irrelevant candidates (outside its label's group), drawn without
    replacement from those sharing its cue value (``same``) or from all rows; a query with fewer
    allowed candidates takes them all and is padded with -1."""
    n = cue.size
    slots = size - 1
    buckets = np.unique(cue, return_inverse=True)[1] if same else np.zeros(n, dtype=np.int64)
    layout = _layout(buckets, labels)
    allowed = layout.allowed
    take = np.minimum(slots, allowed)
    out = np.full((n, slots), -1, dtype=np.int64)
    batch = np.flatnonzero(allowed > _DIRECT * slots) if slots else np.zeros(0, dtype=np.int64)
    short = [np.flatnonzero(allowed <= _DIRECT * slots)]
    for start in range(0, batch.size, _QUERIES_PER_DRAW):
        short.append(_draw_batch(layout, batch[start:start + _QUERIES_PER_DRAW], slots, rng, out))
    for query in np.sort(np.concatenate(short)):
        if take[query]:
            index = rng.choice(int(allowed[query]), size=int(take[query]), replace=False)
            out[query, :take[query]] = layout.rows(np.array([query]), index[None, :])[0]
    return out
