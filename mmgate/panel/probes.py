"""Structural probes: how much a discrete factor is encoded (binned mutual information with a
label-permutation null) and how strongly the modalities co-vary (a ridge CCA proxy, and the same proxy
over row re-pairings for a permutation null, each modality whitened once).

Binned MI is biased upward at small N (measured on pure noise, 10 bins, N=256: 0.033 of H(labels)
for 3 labels, 0.067 for 8; 0.004 for 4 labels at N=2048), so the probe reports the excess over a
label-permutation null; gate on ``excess``, not on ``value``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from mmgate.errors import InputError
from mmgate.panel.spectra import principal_scores
from mmgate.panel.validate import (
    config_int,
    embedding_matrix,
    embedding_pair,
    positive_real,
    unit_rows,
    zero_rows_error,
)

_NULL_STREAM = 41
_CODES_PER_CHUNK = 1 << 22
_CROSS_BLOCK_BYTES = 4 << 20
_MAX_THREADS = 8
_MIN_ORDERS_PER_TASK = 2
_GRAM_STACK_BYTES = 32 << 20

_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass(frozen=True)
class MIProbe:
    """Binned-MI probe of one factor: ``value`` = mean over ``dims`` principal components of
    MI(quantile bin, label) / H(label); ``null_mean`` / ``null_p95`` over ``n_null`` label
    permutations and ``excess`` = value - null_mean (all nan when n_null = 0)."""

    value: float
    null_mean: float
    null_p95: float
    excess: float
    bins: int
    dims: int
    n_null: int


def _label_codes(labels: object, n: int) -> np.ndarray:
    """Labels (1-D, length N, at least two distinct values) as codes 0..V-1."""
    arr = np.asarray(labels)
    if arr.dtype.kind not in "biufUS":
        raise InputError(f"labels must be integers, bools or strings; got dtype {arr.dtype}")
    if arr.ndim != 1 or arr.shape[0] != n:
        raise InputError(f"labels must be 1-D with one label per row (N={n}); got shape {arr.shape}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise InputError("labels contain non-finite values (NaN or Inf)")
    values, codes = np.unique(arr, return_inverse=True)
    if values.shape[0] < 2:
        raise InputError("labels take a single value; MI needs at least two distinct labels")
    return codes.reshape(-1)


def quantile_bins(scores: np.ndarray, bins: int) -> np.ndarray:
    """Equal-frequency bin index (0..bins-1) of each column of ``scores``; equal values share a bin."""
    edges = np.quantile(scores, np.linspace(0.0, 1.0, bins + 1)[1:-1], axis=0)
    return (scores[:, :, None] >= edges.T[None, :, :]).sum(axis=2)


def _mi_from_counts(joint: np.ndarray) -> np.ndarray:
    """MI (nats) of each (..., bins, values) joint count table."""
    total = joint.sum(axis=(-2, -1), keepdims=True)
    pxy = joint / total
    px = pxy.sum(axis=-1, keepdims=True)
    py = pxy.sum(axis=-2, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(pxy > 0, pxy * np.log(pxy / (px * py)), 0.0)
    return terms.sum(axis=(-2, -1))


def _normalised_mi(binned: np.ndarray, codes: np.ndarray, bins: int, n_values: int, entropy: float) -> np.ndarray:
    """Mean over dims of MI / H(labels), for each row of ``codes`` (shape (P, N)): one bincount."""
    n_perm = codes.shape[0]
    dims = binned.shape[1]
    cell = binned.T[None, :, :] * n_values + codes[:, None, :]
    offsets = (np.arange(n_perm)[:, None, None] * dims + np.arange(dims)[None, :, None]) * (bins * n_values)
    counts = np.bincount((cell + offsets).ravel(), minlength=n_perm * dims * bins * n_values)
    mi = _mi_from_counts(counts.reshape(n_perm, dims, bins, n_values).astype(np.float64))
    return mi.mean(axis=1) / entropy


def mi_proxy(z: object, labels: object, bins: int = 10, dims: int = 10, n_null: int = 0, seed: int = 0) -> MIProbe:
    """MI between quantile-binned leading principal components of the L2-normalised embeddings and
    a discrete factor, normalised by H(factor), averaged over components; rotation invariant.

    ``dims`` is capped at min(N, d) (the cap is recorded). ``n_null`` seeded label permutations give
    the null distribution; vectorised (one bincount per chunk of permutations)."""
    arr = embedding_matrix(z, "z")
    bins = config_int(bins, "bins", 2)
    dims = min(config_int(dims, "dims", 1), arr.shape[0], arr.shape[1])
    n_null = config_int(n_null, "n_null", 0)
    codes = _label_codes(labels, arr.shape[0])
    n_values = int(codes.max()) + 1
    p = np.bincount(codes) / codes.shape[0]
    entropy = float(-np.sum(p * np.log(p)))
    binned = quantile_bins(principal_scores(arr, dims), bins)
    value = float(_normalised_mi(binned, codes[None, :], bins, n_values, entropy)[0])
    if n_null == 0:
        nan = float("nan")
        return MIProbe(value, nan, nan, nan, bins, dims, 0)
    rng = np.random.default_rng(np.random.SeedSequence([config_int(seed, "seed", 0), _NULL_STREAM]))
    chunk = max(1, _CODES_PER_CHUNK // (dims * codes.shape[0]))
    null = []
    for start in range(0, n_null, chunk):
        size = min(chunk, n_null - start)
        shuffled = rng.permuted(np.broadcast_to(codes, (size, codes.shape[0])), axis=1)
        null.append(_normalised_mi(binned, shuffled, bins, n_values, entropy))
    null_values = np.concatenate(null)
    null_mean = float(null_values.mean())
    return MIProbe(value, null_mean, float(np.quantile(null_values, 0.95)), value - null_mean, bins, dims, n_null)


def _row_order(order: object, n: int, index: int) -> np.ndarray:
    """``order`` as an integer array that permutes 0..n-1 (a re-pairing of the rows); else InputError."""
    arr = np.asarray(order)
    if arr.dtype.kind not in "iu" or arr.shape != (n,) or not np.array_equal(np.sort(arr), np.arange(n)):
        raise InputError(f"orders must be permutations of the N={n} row indices; order {index} "
                         f"(dtype {arr.dtype}, shape {arr.shape}) is not")
    return arr


def _block_starts(n: int, width: int) -> range:
    """Starts of row blocks of a float64 (rows, width) array within ``_CROSS_BLOCK_BYTES``."""
    return range(0, n, max(1, _CROSS_BLOCK_BYTES // (8 * width)))


@dataclass(frozen=True)
class _Side:
    """One modality made ready for the cross-covariance of any re-pairing. Gram side (N < d):
    ``rows``, its whitened rows (N, N), and no whitener. Covariance side (d <= N): the mean of its
    unit rows and a (d, d) ``whitener``; its rows are unit-normalised and centred block by block
    whenever they are read, so no float64 copy of the modality is ever held."""

    z: np.ndarray
    name: str
    rows: np.ndarray | None
    mean: np.ndarray | None
    whitener: np.ndarray | None

    @property
    def width(self) -> int:
        return int(self.rows.shape[1] if self.rows is not None else self.z.shape[1])

    def block(self, index: slice | np.ndarray) -> np.ndarray:
        """Rows ``index`` as they enter the cross product (whitened, or centred unit rows)."""
        if self.rows is not None:
            return self.rows[index]
        return unit_rows(self.z[index], self.name, np.float64) - self.mean


def _gram_side(z: np.ndarray, name: str, ridge: float) -> _Side:
    """Whitened rows w (N, N) with w w^T = x (x^T x / N + shift I)^-1 x^T for the centred unit rows
    x, shift = ridge x their mean variance: the whitened rows up to a rotation of the columns, which
    leaves every canonical correlation unchanged; one N x N eigensolve."""
    x = unit_rows(z, name, np.float64)
    x -= x.mean(axis=0)
    n, d = x.shape
    shift = ridge * max(float(np.einsum("ij,ij->", x, x)) / (n * d), np.finfo(np.float64).tiny)
    lam, vectors = np.linalg.eigh(x @ x.T / n)
    lam = np.clip(lam, 0.0, None)
    return _Side(z, name, vectors * np.sqrt(n * lam / (lam + shift)), None, None)


def _covariance_side(z: np.ndarray, name: str, ridge: float) -> _Side:
    """Mean unit row and whitener V / sqrt(lambda + shift) from the eigendecomposition of the
    covariance of the centred unit rows (shift as in ``_gram_side``), in two blocked passes (the
    mean first, so the covariance is of centred rows and loses no digits)."""
    n, d = z.shape
    starts = _block_starts(n, d)
    total = np.zeros(d)
    zero = []
    for start in starts:
        block = z[start:start + starts.step]
        empty = np.flatnonzero(~block.any(axis=1))
        if empty.size:
            zero.append(start + empty)
        else:
            total += unit_rows(block, name, np.float64).sum(axis=0)
    if zero:
        zero_rows = np.concatenate(zero)
        raise zero_rows_error(name, zero_rows.size, int(zero_rows[0]))
    side = _Side(z, name, None, total / n, None)
    cov = np.zeros((d, d))
    for start in starts:
        centred = side.block(slice(start, start + starts.step))
        cov += centred.T @ centred
    cov /= n
    shift = ridge * max(float(np.trace(cov)) / d, np.finfo(np.float64).tiny)
    lam, vectors = np.linalg.eigh(cov)
    return dataclasses.replace(side, whitener=vectors / np.sqrt(np.clip(lam, 0.0, None) + shift))


def _prepared(z: np.ndarray, name: str, ridge: float) -> _Side:
    """The smaller side's whitening: Gram side when N < d, else covariance side."""
    return _gram_side(z, name, ridge) if z.shape[0] < z.shape[1] else _covariance_side(z, name, ridge)


def _cross(a: _Side, b: _Side, order: np.ndarray) -> np.ndarray:
    """Whitened cross-covariance of a's rows with b's rows re-paired by ``order``, a bounded block of
    rows at a time (the covariance side's whitener applied once to the summed product): O(block x d
    + d^2) memory."""
    n = order.shape[0]
    starts = _block_starts(n, max(a.width, b.width))
    raw = np.zeros((a.width, b.width))
    for start in starts:
        rows = slice(start, start + starts.step)
        raw += a.block(rows).T @ b.block(order[rows])
    if a.whitener is not None:
        raw = a.whitener.T @ raw
    if b.whitener is not None:
        raw = raw @ b.whitener
    return raw / n


def _smaller_gram(cross: np.ndarray) -> np.ndarray:
    """The smaller of cross^T cross and cross cross^T: its eigenvalues are the squared singular values."""
    return cross.T @ cross if cross.shape[1] <= cross.shape[0] else cross @ cross.T


def _mean_top_singulars(grams: np.ndarray, topk: int) -> np.ndarray:
    """Per stacked Gram matrix, the mean of its ``topk`` largest singular values of the cross-covariance
    (zero past its rank), as square roots of the Gram's eigenvalues (about 3x cheaper than an SVD);
    eigenvalues at or below the solver's error (size x eps x the largest) count as zero, so rounding
    cannot add sqrt(eps)."""
    lam = np.linalg.eigvalsh(grams)[:, ::-1][:, :topk]
    floor = np.maximum(lam[:, :1], 0.0) * grams.shape[1] * np.finfo(np.float64).eps
    return np.sqrt(np.where(lam > floor, lam, 0.0)).sum(axis=1) / topk


def _blas_threads() -> int:
    """Threads the BLAS may use right now: 1 under a one-thread limit (an xdist worker's), else its pool."""
    counts = [int(info.get("num_threads", 1)) for info in threadpool_info() if info.get("user_api") == "blas"]
    return max(1, min(_MAX_THREADS, max(counts, default=1)))


def _mapped(fn: Callable[[_T], _R], items: Sequence[_T], threads: int) -> list[_R]:
    """``[fn(item) for item in items]``, on ``threads`` threads of one BLAS thread each when more than one:
    the same budget of cores the BLAS would use, spent on whole LAPACK calls (a small eigensolve barely
    gains from a second BLAS thread) instead of inside each. Results and the first exception come in
    item order, and each item's arithmetic is the same on any thread, so the values do not change."""
    threads = min(threads, len(items))
    if threads <= 1:
        return [fn(item) for item in items]
    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(fn, items))


def _cca_values(zi: np.ndarray, zt: np.ndarray, orders: Iterable[object], topk: object,
                ridge: object) -> np.ndarray:
    """Mean top-k canonical correlation of the validated pair for each row order of ``zt``."""
    topk = config_int(topk, "topk", 1)
    if topk > min(zi.shape[1], zt.shape[1]):
        raise InputError(f"topk={topk} exceeds the smaller embedding dimension "
                         f"min(d_img, d_txt)={min(zi.shape[1], zt.shape[1])}")
    ridge = positive_real(ridge, "ridge")
    n = zi.shape[0]
    threads = _blas_threads()
    a, b = _mapped(lambda side: _prepared(side[0], side[1], ridge), ((zi, "z_img"), (zt, "z_txt")), threads)
    checked = list(enumerate(orders))
    # One task of equal size per thread (an uneven split leaves a core idle for a whole task), split
    # further only to keep each task's stack of Gram matrices within _GRAM_STACK_BYTES; the stack
    # is solved in one call, which matters beyond balance: numpy releases the GIL around a linalg
    # call only when the problem exceeds 500 (a single 500 x 500 Gram holds it, so threads would
    # take turns).
    side = min(a.width, b.width)
    per_task = max(_MIN_ORDERS_PER_TASK, _GRAM_STACK_BYTES // (8 * side * side))
    tasks = max(threads, -(-len(checked) // per_task))
    chunks = [chunk for chunk in (checked[i * len(checked) // tasks:(i + 1) * len(checked) // tasks]
                                  for i in range(tasks)) if chunk]

    def values(chunk: list[tuple[int, object]]) -> np.ndarray:
        grams = np.stack([_smaller_gram(_cross(a, b, _row_order(order, n, i))) for i, order in chunk])
        return _mean_top_singulars(grams, topk)

    return np.concatenate([np.empty(0), *_mapped(values, chunks, threads)])


def cca_proxy(z_img: object, z_txt: object, topk: int = 10, ridge: float = 1e-3) -> float:
    """Mean of the top-k canonical correlations between the L2-normalised modalities, from
    ridge-regularised whitening and one symmetric eigensolve. The ridge is relative (``ridge`` x the
    mean variance of each side), so it does not depend on the embedding scale; topk > min(d_img, d_txt)
    raises."""
    zi, zt = embedding_pair(z_img, z_txt, same_dim=False)
    return float(_cca_values(zi, zt, [np.arange(zi.shape[0])], topk, ridge)[0])


def cca_proxies(z_img: object, z_txt: object, orders: Iterable[object], topk: int = 10,
                ridge: float = 1e-3) -> np.ndarray:
    """``cca_proxy(z_img, z_txt[order])`` for each row order (a permutation of 0..N-1), for a
    permutation null: re-pairing the rows changes only the cross-covariance, so each modality is
    whitened once (r = min(N, d) columns) and each order costs one blocked O(N r^2) product and one
    r x r eigensolve, the orders spread over as many threads as the BLAS may use (each on one BLAS
    thread); memory O(N d + threads x d^2). Orders may come from a generator."""
    zi, zt = embedding_pair(z_img, z_txt, same_dim=False)
    return _cca_values(zi, zt, orders, topk, ridge)
