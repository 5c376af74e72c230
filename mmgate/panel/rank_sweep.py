"""Blocked rank counting: one matrix product per block of image rows gives both retrieval directions.

Each query is measured against a reference score r: the true pair's score d (row-paired data), or
with group labels the best score of a relevant candidate (one sharing the query's group; the true
pair is always among them). For a block S = Zi[rows] @ Zt.T, the image->text rank of row i is
#{j irrelevant to i : S[i, j] > r_i2t[i] + tol} and the text->image rank of column j accumulates
#{i irrelevant to j : S[i, j] > r_t2i[j] + tol}; irrelevant scores within tol of r are counted as
ties. Relevant entries of S are overwritten with -inf, so they never count for or against their
query. Top-1 is the reference candidate (the true match, or the best relevant one) whenever the
rank is 0 (ties resolved in its favour, as in the rank), else the argmax of the computed scores.
``tol`` (see ``score_tolerance``) absorbs rounding: BLAS rounds the same dot product differently in
calls of different shapes (measured: a few float32 ulps), so without it duplicates and collapsed
embeddings would be ordered by rounding noise and results would depend on the block size. The
reference scores come before the sweep: d from one einsum, and with groups the best of d and the
group mates' scores, from a product per group in chunks of a fixed size (never N x N, and
independent of the block size). Only queries whose best irrelevant score reaches the band can
have a rank or a tie, so a block is first reduced (one arg-max per image row, one max per text
column of each 1 MB sub-chunk) and only those rows and columns are compared and counted. Blocks
are swept by a few threads; memory is O(block x N) and results depend on neither the block size
nor the thread count.

A sweep splits into independent runs of image rows (``sweep_rows``) sharing one ``SweepPlan`` (the
reference scores and tie bands): a run's image->text results are final for its rows, and its
text->image accumulators add up (counts) or max-merge (best score, lowest row on equality), so
``merge_sweeps`` folds runs computed anywhere (threads here, Ray tasks in ``mmgate.distributed``)
into exactly the result of one run over all rows.
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
SPARSE_COLUMNS = 8        # up to 1/8 of a chunk's columns reaching the band, only those are compared
SPARSE_ROWS = 2           # up to half of a slice's rows reaching the band, only those are gathered and compared
_MATE_SCORES = 1 << 20    # scores per product of group mates when finding the best relevant score


@dataclass(frozen=True)
class SweepResult:
    """Raw outputs of one sweep (see RetrievalRanks for the meaning of each array)."""

    i2t: np.ndarray
    t2i: np.ndarray
    i2t_top1: np.ndarray
    t2i_top1: np.ndarray
    i2t_ties: np.ndarray
    t2i_ties: np.ndarray


@dataclass(frozen=True)
class Targets:
    """Per query and direction: the reference score its irrelevant candidates are compared with,
    and the candidate reported as top-1 when none of them scores above it (shape (N,) each)."""

    i2t_score: np.ndarray
    i2t_match: np.ndarray
    t2i_score: np.ndarray
    t2i_match: np.ndarray


@dataclass(frozen=True)
class _Bands:
    """Tie band (low, high) around every reference score, per direction, and the targets."""

    i2t: tuple[np.ndarray, np.ndarray]
    t2i: tuple[np.ndarray, np.ndarray]
    targets: Targets


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
        """Scratch for blocks of ``chunk_rows`` image rows against ``n`` texts."""
        width = -(-n // _GROUP) * _GROUP
        self.flags = np.zeros((chunk_rows, width), dtype=bool)
        self.above = np.zeros(n, dtype=np.int64)
        self.at_least = np.zeros(n, dtype=np.int64)
        self.best = np.full(n, -np.inf, dtype=dtype)
        self.best_row = np.zeros(n, dtype=np.int64)

    def run(self, scores: np.ndarray, first_row: int, bands: _Bands, out: _RowResults) -> None:
        """Sweep rows ``first_row + [0, len(scores))`` (relevant entries already -inf): the image
        queries of the whole slice at once, the text queries in cache-sized sub-chunks."""
        self._image_queries(scores, first_row, bands.i2t, bands.targets.i2t_match, out)
        step = self.flags.shape[0]
        for offset in range(0, scores.shape[0], step):
            self._text_queries(scores[offset:offset + step], first_row + offset, bands.t2i)

    def _image_queries(self, scores: np.ndarray, first_row: int, band: tuple[np.ndarray, np.ndarray],
                       match: np.ndarray, out: _RowResults) -> None:
        """Rows of the slice: rank, ties and top-1 of these image queries. One arg-max per row finds
        the rows whose best irrelevant score reaches the band (the only ones with a rank or a tie)
        and is the top-1 of those it beats; only those rows are compared and counted, a sub-chunk at
        a time (gathered when up to half of the rows are, else read in place)."""
        m, n = scores.shape
        rows = slice(first_row, first_row + m)
        low, high = band
        best_col = scores.argmax(axis=1)
        contested = np.flatnonzero(scores[np.arange(m), best_col] >= low[rows])
        above = np.zeros(m, dtype=np.int64)
        at_least = np.zeros(m, dtype=np.int64)
        step = self.flags.shape[0]
        gather = contested.size * SPARSE_ROWS <= m
        for start in range(0, contested.size if gather else m, step):
            group = contested[start:start + step] if gather else np.arange(start, min(m, start + step))
            sub = scores[group] if gather else scores[start:start + step]
            flags = self.flags[:group.size]
            np.greater_equal(sub, low[first_row + group, None], out=flags[:, :n])
            at_least[group] = _row_counts(flags)
            np.greater(sub, high[first_row + group, None], out=flags[:, :n])
            above[group] = _row_counts(flags)
        local = slice(first_row - out.start, first_row - out.start + m)
        out.i2t[local] = above
        out.i2t_ties[local] = at_least - above
        out.i2t_top1[local] = np.where(above > 0, best_col, match[rows])

    def _text_queries(self, scores: np.ndarray, first_row: int,
                      band: tuple[np.ndarray, np.ndarray]) -> None:
        """Columns of the chunk: accumulate rank and band counts and the best score above the band.
        One max per column finds the columns some score of the chunk reaches the band in; only those
        are compared and counted (all columns in place when many are)."""
        m, n = scores.shape
        low, high = band
        best = scores.max(axis=0)
        contested = np.flatnonzero(best >= low)
        if not contested.size:
            return
        if contested.size * SPARSE_COLUMNS > n:
            flags = self.flags[:m]
            np.greater_equal(scores, low, out=flags[:, :n])
            self.at_least += _column_counts(flags)[:n]
            np.greater(scores, high, out=flags[:, :n])
            self.above += _column_counts(flags)[:n]
        else:
            sub = scores[:, contested]
            self.at_least[contested] += np.count_nonzero(sub >= low[contested], axis=0)
            self.above[contested] += np.count_nonzero(sub > high[contested], axis=0)
        beaten = contested[best[contested] > high[contested]]
        self._keep_best(beaten, best[beaten], lambda better: np.argmax(scores[:, beaten[better]], axis=0), first_row)

    def _keep_best(self, columns: np.ndarray, chunk_max: np.ndarray,
                   argmax: Callable[[np.ndarray], np.ndarray], first_row: int) -> None:
        """Record chunk maxima that beat the running best (strictly: the earliest row wins ties)."""
        better = np.flatnonzero(chunk_max > self.best[columns])
        if better.size:
            cols = columns[better]
            self.best[cols] = chunk_max[better]
            self.best_row[cols] = first_row + argmax(better)


@dataclass(frozen=True)
class _RowResults:
    """Image->text results of the rows ``start + [0, len(i2t))``, written by the sweepers."""

    start: int
    i2t: np.ndarray
    i2t_ties: np.ndarray
    i2t_top1: np.ndarray


@dataclass(frozen=True)
class RowSweep:
    """One run of image rows ``[start, start + len(i2t))`` swept against every text: the final
    image->text rank, ties and top-1 of those rows, and the run's text->image accumulators over all
    N texts (scores above the band and within it, the best score above the band and its earliest row)."""

    start: int
    i2t: np.ndarray
    i2t_ties: np.ndarray
    i2t_top1: np.ndarray
    above: np.ndarray
    at_least: np.ndarray
    best: np.ndarray
    best_row: np.ndarray


def _fold(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]) -> tuple[np.ndarray, ...]:
    """Column accumulators (above, at_least, best, best_row) folded: sums, and the highest score
    with the lowest row on equality; the result does not depend on the order of ``parts``."""
    above, at_least, best, best_row = (np.array(a, copy=True) for a in parts[0])
    for other_above, other_at_least, other_best, other_row in parts[1:]:
        above += other_above
        at_least += other_at_least
        take = (other_best > best) | ((other_best == best) & (other_row < best_row))
        best = np.where(take, other_best, best)
        best_row = np.where(take, other_row, best_row)
    return above, at_least, best, best_row


def merge_sweeps(runs: list[RowSweep], plan: SweepPlan) -> SweepResult:
    """The sweep of all image rows from runs covering each row exactly once (in any order)."""
    if not runs:
        raise ValueError("merge_sweeps: no runs to merge")
    covered = np.zeros(plan.n_images, dtype=np.int64)
    out = SweepResult(*(np.zeros(size, dtype=np.int64) for size in
                        (plan.n_images, plan.n_texts, plan.n_images, plan.n_texts, plan.n_images, plan.n_texts)))
    for run in runs:
        rows = slice(run.start, run.start + run.i2t.size)
        out.i2t[rows], out.i2t_ties[rows], out.i2t_top1[rows] = run.i2t, run.i2t_ties, run.i2t_top1
        covered[rows] += 1
    if not (covered == 1).all():
        raise ValueError(f"merge_sweeps: the runs must cover each of the {plan.n_images} image rows once; "
                         f"{int((covered != 1).sum())} rows are covered 0 or several times")
    above, at_least, _, best_row = _fold([(r.above, r.at_least, r.best, r.best_row) for r in runs])
    out.t2i[...] = above
    out.t2i_ties[...] = at_least - above
    out.t2i_top1[...] = np.where(above > 0, best_row, plan.bands.targets.t2i_match)
    return out


def _thread_count(rows: int, n: int, chunk_rows: int) -> int:
    """Threads for one block: one per core up to _MAX_THREADS, none extra for blocks too small
    to amortise the hand-off (under _THREAD_MIN scores)."""
    if rows * n < _THREAD_MIN:
        return 1
    return max(1, min(os.cpu_count() or 1, _MAX_THREADS, -(-rows // chunk_rows)))


Relevance = tuple[np.ndarray, np.ndarray]


def relevance_of(groups: np.ndarray | Relevance | None) -> Relevance | None:
    """(image labels, text labels): one label array serves both sides of row-paired data."""
    if groups is None or isinstance(groups, tuple):
        return groups
    return groups, groups


def _label_runs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Indices sorted by label, and per distinct label its value, first and end position."""
    order = np.argsort(labels, kind="stable")
    cuts = np.flatnonzero(np.diff(labels[order])) + 1
    starts = np.r_[0, cuts]
    return order, labels[order][starts] if order.size else labels[:0], starts, np.r_[cuts, order.size]


def _raise(score: np.ndarray, match: np.ndarray, queries: np.ndarray, best: np.ndarray,
           candidates: np.ndarray) -> None:
    """Set the reference of ``queries`` to ``best`` where strictly higher (earlier holders keep ties)."""
    higher = np.flatnonzero(best > score[queries])
    score[queries[higher]] = best[higher]
    match[queries[higher]] = candidates[higher]


def _raise_pairs(zi: np.ndarray, zt: np.ndarray, img: np.ndarray, txt: np.ndarray,
                 targets: Targets, diag: np.ndarray | None) -> None:
    """Raise references over explicit relevant (image, text) pairs, scored by an einsum in chunks:
    per query the best pair (the lowest candidate among equal scores), where strictly higher. A
    true pair keeps its own score ``diag`` (bitwise), so it wins equal scores."""
    step = _MATE_SCORES
    for start in range(0, img.size, step):
        a, b = img[start:start + step], txt[start:start + step]
        scores = np.einsum("ij,ij->i", zi[a], zt[b])
        if diag is not None:
            own = np.flatnonzero(a == b)
            scores[own] = diag[a[own]]
        for queries, candidates, score, match in ((a, b, targets.i2t_score, targets.i2t_match),
                                                  (b, a, targets.t2i_score, targets.t2i_match)):
            order = np.lexsort((candidates, -scores, queries))
            first = order[np.r_[True, queries[order][1:] != queries[order][:-1]]]
            _raise(score, match, queries[first], scores[first], candidates[first])


def _raise_block(zi: np.ndarray, zt: np.ndarray, images: np.ndarray, texts: np.ndarray,
                 targets: Targets, diag: np.ndarray | None) -> None:
    """Raise references within one relevant set with several members on both sides, from products
    of a fixed size (never larger than _MATE_SCORES scores); true pairs keep ``diag`` as above."""
    mates = zt[texts]
    step = max(1, _MATE_SCORES // texts.size)
    for start in range(0, images.size, step):
        rows = images[start:start + step]
        scores = zi[rows] @ mates.T
        if diag is not None:
            r, c = np.nonzero(rows[:, None] == texts[None, :])
            scores[r, c] = diag[rows[r]]
        best = scores.argmax(axis=1)
        _raise(targets.i2t_score, targets.i2t_match, rows, scores[np.arange(rows.size), best], texts[best])
        best = scores.argmax(axis=0)
        _raise(targets.t2i_score, targets.t2i_match, texts, scores[best, np.arange(texts.size)], rows[best])


def reference_targets(zi: np.ndarray, zt: np.ndarray, groups: np.ndarray | Relevance | None) -> Targets:
    """Reference score and top-1 candidate per query: the true pair's (einsum) for row-paired data,
    raised with labels to the best score of a relevant candidate in either direction (the true
    pair, then the lowest index, wins equal scores). Sets with one member on a side are scored
    as explicit pairs; larger ones by products of a fixed size."""
    relevance = relevance_of(groups)
    m_img, m_txt = zi.shape[0], zt.shape[0]
    diag = None
    if relevance is None or m_img == m_txt and relevance[0] is relevance[1]:
        diag = np.einsum("ij,ij->i", zi, zt)
        targets = Targets(diag.copy(), np.arange(m_img), diag.copy(), np.arange(m_img))
    else:
        targets = Targets(np.full(m_img, -np.inf, zi.dtype), np.zeros(m_img, np.int64),
                          np.full(m_txt, -np.inf, zi.dtype), np.zeros(m_txt, np.int64))
    if relevance is None:
        return targets
    img_order, img_labels, img_start, img_stop = _label_runs(relevance[0])
    txt_order, txt_labels, txt_start, txt_stop = _label_runs(relevance[1])
    at = np.searchsorted(txt_labels, img_labels)
    pair_img, pair_txt = [], []
    for g, t in enumerate(at):
        images = img_order[img_start[g]:img_stop[g]]
        texts = txt_order[txt_start[t]:txt_stop[t]]
        if images.size > 1 and texts.size > 1:
            _raise_block(zi, zt, images, texts, targets, diag)
        else:
            pair_img.append(np.repeat(images, texts.size))
            pair_txt.append(np.tile(texts, images.size))
    if pair_img:
        _raise_pairs(zi, zt, np.concatenate(pair_img), np.concatenate(pair_txt), targets, diag)
    return targets


def _mask_relevant(scores: np.ndarray, start: int, relevance: Relevance | None,
                   mask: np.ndarray | None) -> None:
    """Set the entries of a block (rows ``start + [0, len(scores))``) whose image and text are
    relevant to each other to -inf: the true pairs, or every pair with equal labels."""
    rows = scores.shape[0]
    if relevance is None:
        own = np.arange(start, start + rows)
        scores[own - start, own] = -np.inf
        return
    np.equal(relevance[0][start:start + rows, None], relevance[1], out=mask[:rows])
    np.putmask(scores, mask[:rows], -np.inf)


@dataclass(frozen=True)
class SweepPlan:
    """What every run of one sweep shares, computed once before any product: the tie bands around
    each query's reference score (with the targets), the relevance labels and the two row counts."""

    bands: _Bands
    relevance: Relevance | None
    n_images: int
    n_texts: int


def sweep_plan(zi: np.ndarray, zt: np.ndarray, groups: np.ndarray | Relevance | None = None) -> SweepPlan:
    """The plan of a sweep of unit rows ``zi`` against ``zt`` (labels as in ``sweep_ranks``)."""
    relevance = relevance_of(groups)
    targets = reference_targets(zi, zt, relevance)
    tol = zi.dtype.type(score_tolerance(zi.shape[1], zi.dtype))
    bands = _Bands((targets.i2t_score - tol, targets.i2t_score + tol),
                   (targets.t2i_score - tol, targets.t2i_score + tol), targets)
    return SweepPlan(bands, relevance, zi.shape[0], zt.shape[0])


def sweep_rows(zi: np.ndarray, zt: np.ndarray, start: int, stop: int, block: int, plan: SweepPlan,
               max_threads: int | None = None) -> RowSweep:
    """Image rows ``[start, stop)`` against every text, in products of ``block`` rows counted by up
    to ``max_threads`` threads (default: the cores, at most 8)."""
    relevance, n = plan.relevance, zt.shape[0]
    size = stop - start
    out = _RowResults(start, *(np.zeros(size, dtype=np.int64) for _ in range(3)))
    chunk_rows = int(min(_LANE_MAX, block, max(1, _CHUNK_BYTES // (n * zi.dtype.itemsize))))
    threads = _thread_count(block, n, chunk_rows)
    threads = threads if max_threads is None else max(1, min(threads, max_threads))
    sweeps = [_Sweeper(n, chunk_rows, zi.dtype) for _ in range(threads)]
    scores = np.empty((max(1, min(block, size)), n), dtype=zi.dtype)
    mask = None if relevance is None else np.empty(scores.shape, dtype=bool)
    with ThreadPoolExecutor(max_workers=threads) if threads > 1 else nullcontext() as pool:
        for first in range(start, stop, block):
            last = min(stop, first + block)
            s = scores[:last - first]
            np.matmul(zi[first:last], zt.T, out=s)
            _mask_relevant(s, first, relevance, mask)
            if pool is None:
                sweeps[0].run(s, first, plan.bands, out)
                continue
            bounds = np.linspace(0, last - first, threads + 1).astype(int)
            jobs = [pool.submit(sweep.run, s[a:b], first + a, plan.bands, out)
                    for sweep, a, b in zip(sweeps, bounds[:-1], bounds[1:]) if b > a]
            for job in jobs:
                job.result()
    folded = _fold([(sw.above, sw.at_least, sw.best, sw.best_row) for sw in sweeps])
    return RowSweep(start, out.i2t, out.i2t_ties, out.i2t_top1, *folded)


def row_runs(n_images: int, block: int, runs: int) -> list[tuple[int, int]]:
    """``[start, stop)`` of about ``runs`` runs of whole blocks covering ``n_images`` rows (fewer
    when there are fewer blocks), so each run's products are the blocks of a one-run sweep."""
    blocks = -(-n_images // block)
    cuts = np.linspace(0, blocks, min(max(1, runs), blocks) + 1).round().astype(int) * block
    return [(int(a), int(min(b, n_images))) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]


def sweep_ranks(zi: np.ndarray, zt: np.ndarray, block: int,
                groups: np.ndarray | Relevance | None = None) -> SweepResult:
    """Ranks, ties and top-1 of both directions for unit rows ``zi`` (images) and ``zt`` (texts) of
    one dtype and width. Without ``groups`` row i of each is a pair (same row count); with one label
    array (int64, per row of both) or a pair (image labels, text labels; the row counts may then
    differ), every candidate whose label equals the query's is relevant."""
    plan = sweep_plan(zi, zt, groups)
    return merge_sweeps([sweep_rows(zi, zt, 0, zi.shape[0], block, plan)], plan)
