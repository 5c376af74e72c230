"""Blocked rank counting: one matrix product per block of image rows gives both retrieval directions.

For a block S = Zi[rows] @ Zt.T and the true-pair scores d, the image->text rank of row i is
#{j != i : S[i, j] > d[i] + tol} and the text->image rank of column j accumulates
#{i != j : S[i, j] > d[j] + tol}; other scores within tol of the true score are counted as ties.
Top-1 is the true match whenever its rank is 0 (ties resolved in its favour, as in the rank), else
the argmax of the computed scores. ``tol`` (see ``score_tolerance``) absorbs rounding: BLAS rounds
the same dot product differently in calls of different shapes (measured: a few float32 ulps), so
without it duplicates and collapsed embeddings would be ordered by rounding noise and results would
depend on the block size. The self entries of S are overwritten with d, so the true match never
counts against itself. Each block is swept in sub-chunks of about 1 MB (cache resident) by a few
threads; memory is O(block x N) and results depend on neither the block size nor the thread count.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

_LANE_MAX = 255           # counts up to 255 fit in one byte lane of a uint64 sum of 0/1 bytes
_GROUP = 8 * _LANE_MAX    # bools summed per uint64 lane group along a row
_CHUNK_BYTES = 1 << 20    # scores handled per sub-chunk: stays in a per-core cache
_MAX_THREADS = 8
_THREAD_MIN = 1 << 21     # scores per block below which one thread does the counting
_SPARSE = 8               # below 1/8 of rows (columns) needing the strict pass, it runs on those only


@dataclass(frozen=True)
class SweepResult:
    """Raw outputs of one sweep (see RetrievalRanks for the meaning of each array)."""

    i2t: np.ndarray
    t2i: np.ndarray
    i2t_top1: np.ndarray
    t2i_top1: np.ndarray
    i2t_ties: np.ndarray
    t2i_ties: np.ndarray


def score_tolerance(dim: int, dtype: np.dtype) -> float:
    """Scores closer than this to the true score are ties: sqrt(d) * eps of the compute dtype, the
    rounding scale of a length-d dot product of unit vectors (2.7e-6 for float32 at d=512)."""
    return float(np.sqrt(dim) * np.finfo(dtype).eps)


def _row_counts(flags: np.ndarray) -> np.ndarray:
    """Number of True per row of a (m, width) bool array, width a multiple of 8 * 255."""
    m = flags.shape[0]
    lanes = np.add.reduce(flags.view(np.uint64).reshape(m, -1, _LANE_MAX), axis=2)
    return lanes.view(np.uint8).reshape(m, -1).sum(axis=1, dtype=np.int64)


def _column_counts(flags: np.ndarray) -> np.ndarray:
    """Number of True per column of a (m <= 255, width) bool array, as uint8."""
    return np.add.reduce(flags.view(np.uint64), axis=0).view(np.uint8)


class _Sweeper:
    """One thread's scratch flags and its accumulators for the text->image direction (image->text
    results go straight to the output, rows being disjoint between threads)."""

    def __init__(self, n: int, chunk_rows: int, dtype: np.dtype):
        width = -(-n // _GROUP) * _GROUP
        self.flags = np.zeros((chunk_rows, width), dtype=bool)
        self.above = np.zeros(n, dtype=np.int64)
        self.at_least = np.zeros(n, dtype=np.int64)
        self.best = np.full(n, -np.inf, dtype=dtype)
        self.best_row = np.zeros(n, dtype=np.int64)

    def run(self, scores: np.ndarray, first_row: int, band: tuple[np.ndarray, np.ndarray],
            out: SweepResult) -> None:
        """Sweep rows ``first_row + [0, len(scores))`` in cache-sized sub-chunks; ``band`` holds the
        (low, high) tie limits around every true score."""
        step = self.flags.shape[0]
        for offset in range(0, scores.shape[0], step):
            self._chunk(scores[offset:offset + step], first_row + offset, band, out)

    def _chunk(self, scores: np.ndarray, first_row: int, band: tuple[np.ndarray, np.ndarray],
               out: SweepResult) -> None:
        self._image_queries(scores, first_row, band, out)
        self._text_queries(scores, first_row, band)

    def _image_queries(self, scores: np.ndarray, first_row: int, band: tuple[np.ndarray, np.ndarray],
                       out: SweepResult) -> None:
        """Rows of the chunk: rank, ties and top-1 of these image queries. The strict pass runs only
        on rows where some other score reaches the band (all rows when many do)."""
        m, n = scores.shape
        rows = slice(first_row, first_row + m)
        low, high = band
        flags = self.flags[:m]
        np.greater_equal(scores, low[rows, None], out=flags[:, :n])
        at_least = _row_counts(flags)
        contested = np.flatnonzero(at_least > 1)
        above = np.zeros(m, dtype=np.int64)
        if contested.size * _SPARSE > m:
            np.greater(scores, high[rows, None], out=flags[:, :n])
            above = _row_counts(flags)
        elif contested.size:
            subset = self.flags[:contested.size]
            np.greater(scores[contested], high[first_row + contested, None], out=subset[:, :n])
            above[contested] = _row_counts(subset)
        out.i2t[rows] = above
        out.i2t_ties[rows] = at_least - above - 1
        top1 = np.arange(first_row, first_row + m)
        beaten = np.flatnonzero(above)
        if beaten.size:
            top1[beaten] = np.argmax(scores[beaten], axis=1)
        out.i2t_top1[rows] = top1

    def _text_queries(self, scores: np.ndarray, first_row: int,
                      band: tuple[np.ndarray, np.ndarray]) -> None:
        """Columns of the chunk: accumulate rank and band counts and the best score above the band,
        on the columns some score of the chunk reaches (all columns when many do)."""
        m, n = scores.shape
        low, high = band
        flags = self.flags[:m]
        np.greater_equal(scores, low, out=flags[:, :n])
        at_least = _column_counts(flags)[:n].astype(np.int64)
        self.at_least += at_least
        at_least[first_row:first_row + m] -= 1
        contested = np.flatnonzero(at_least)
        if contested.size * _SPARSE > n:
            np.greater(scores, high, out=flags[:, :n])
            self.above += _column_counts(flags)[:n]
            self._keep_best(np.arange(n), scores.max(axis=0),
                            lambda cols: np.argmax(scores.T[cols], axis=1), first_row)
        elif contested.size:
            sub = scores[:, contested]
            above = sub > high[contested]
            self.above[contested] += np.count_nonzero(above, axis=0)
            masked = np.where(above, sub, -np.inf)
            self._keep_best(contested, masked.max(axis=0),
                            lambda cols: np.argmax(masked[:, cols], axis=0), first_row)

    def _keep_best(self, columns: np.ndarray, chunk_max: np.ndarray,
                   argmax: Callable[[np.ndarray], np.ndarray], first_row: int) -> None:
        """Record chunk maxima that beat the running best (strictly: the earliest row wins ties)."""
        better = np.flatnonzero(chunk_max > self.best[columns])
        if better.size:
            cols = columns[better]
            self.best[cols] = chunk_max[better]
            self.best_row[cols] = first_row + argmax(better)


def _merge(sweeps: list[_Sweeper], out: SweepResult) -> None:
    """Fold the per-thread column accumulators: sums, and the highest score (lowest row on equality)."""
    best = np.full_like(sweeps[0].best, -np.inf)
    best_row = np.zeros_like(sweeps[0].best_row)
    for sweep in sweeps:
        out.t2i[...] += sweep.above
        out.t2i_ties[...] += sweep.at_least - sweep.above
        take = (sweep.best > best) | ((sweep.best == best) & (sweep.best_row < best_row))
        best = np.where(take, sweep.best, best)
        best_row = np.where(take, sweep.best_row, best_row)
    out.t2i_ties[...] -= 1
    out.t2i_top1[...] = np.where(out.t2i > 0, best_row, np.arange(best_row.shape[0]))


def _thread_count(rows: int, n: int, chunk_rows: int) -> int:
    """Threads for one block: one per core up to _MAX_THREADS, none extra for blocks too small
    to amortise the hand-off (under _THREAD_MIN scores)."""
    if rows * n < _THREAD_MIN:
        return 1
    return max(1, min(os.cpu_count() or 1, _MAX_THREADS, -(-rows // chunk_rows)))


def sweep_ranks(zi: np.ndarray, zt: np.ndarray, block: int) -> SweepResult:
    """Ranks, ties and top-1 of both directions for unit rows ``zi``, ``zt`` (same dtype and shape)."""
    n = zi.shape[0]
    diag = np.einsum("ij,ij->i", zi, zt)
    tol = score_tolerance(zi.shape[1], zi.dtype)
    band = (diag - zi.dtype.type(tol), diag + zi.dtype.type(tol))
    out = SweepResult(*(np.zeros(n, dtype=np.int64) for _ in range(6)))
    chunk_rows = int(min(_LANE_MAX, block, max(1, _CHUNK_BYTES // (n * zi.dtype.itemsize))))
    threads = _thread_count(block, n, chunk_rows)
    sweeps = [_Sweeper(n, chunk_rows, zi.dtype) for _ in range(threads)]
    scores = np.empty((block, n), dtype=zi.dtype)
    with ThreadPoolExecutor(max_workers=threads) if threads > 1 else nullcontext() as pool:
        for start in range(0, n, block):
            stop = min(n, start + block)
            s = scores[:stop - start]
            np.matmul(zi[start:stop], zt.T, out=s)
            own = np.arange(start, stop)
            s[own - start, own] = diag[start:stop]
            if pool is None:
                sweeps[0].run(s, start, band, out)
                continue
            bounds = np.linspace(0, stop - start, threads + 1).astype(int)
            jobs = [pool.submit(sweep.run, s[a:b], start + a, band, out)
                    for sweep, a, b in zip(sweeps, bounds[:-1], bounds[1:]) if b > a]
            for job in jobs:
                job.result()
    _merge(sweeps, out)
    return out
