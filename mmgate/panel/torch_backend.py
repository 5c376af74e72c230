"""Torch backend of the retrieval panel: the blocked rank sweep of ``rank_sweep`` on a torch device.

Selection: ``select_backend(backend, device, z_img, z_txt)`` picks ``"torch"`` when asked, when a
device is named, or when an input is a torch tensor, else ``"numpy"``; torch is imported only then.
Semantics mirror ``rank_sweep.sweep_ranks`` exactly (relevant entries masked to -inf, ranks and ties
against the reference score with the same tie tolerance tol = sqrt(d) * eps, top-1 the reference
candidate at rank 0 else the first argmax, column top-1 the earliest row among equal maxima, groups
with the same host-side reference scores). Only the rounding of the products differs from numpy's
BLAS, by a few ulps, far inside tol: a rank can differ from numpy's only when an irrelevant score
lies within those few ulps of a band edge (reference +- tol), where the candidate moves between
"above" and "tie". TF32 is switched off for the sweep (precision "highest"): its ~1e-3 relative
error is hundreds of times tol and would reorder close candidates.

Memory on the device: the unit rows (2 N d), one (block, N) score block and its boolean flags, and
O(N) accumulators; one product per block gives both directions, as on numpy.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from mmgate.errors import ConfigError, InputError
from mmgate.panel import rank_sweep
from mmgate.panel.rank_sweep import Relevance, SweepResult, reference_targets, relevance_of, score_tolerance
from mmgate.panel.validate import block_rows, config_int

BACKENDS = ("numpy", "torch")
DEVICE_SCORE_BYTES = 2 << 30   # default score block on an accelerator: 2 GiB (536 rows at N = 1M)


def torch_module() -> ModuleType:
    """The torch module, or ConfigError when it is not installed (it is an optional dependency)."""
    try:
        return importlib.import_module("torch")
    except ImportError as exc:
        raise ConfigError("backend='torch' needs PyTorch; install torch or use backend='numpy'") from exc


def is_tensor(x: object) -> bool:
    """Whether ``x`` is a torch tensor, without importing torch (only a loaded torch made one)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def host_array(x: object) -> object:
    """``x`` as a host numpy array when it is a tensor (any device), else ``x`` unchanged."""
    return x.detach().cpu().numpy() if is_tensor(x) else x


def check_device(device: str) -> str:
    """``device`` if torch is installed and can allocate on it (e.g. ``"cpu"``, ``"cuda"``,
    ``"cuda:1"``), else ConfigError naming it: for validating a ``--mmgate-device`` option early."""
    torch = torch_module()
    try:
        torch.empty(1, device=device)
    except (RuntimeError, AssertionError, ValueError) as exc:
        raise ConfigError(f"device {device!r} is not usable by torch: {exc}") from exc
    return device


def select_backend(backend: str | None, device: str | None, *inputs: object) -> str:
    """``backend`` if given (``"numpy"`` or ``"torch"``); else torch when a ``device`` is named or
    an input is a tensor, numpy otherwise. A device with backend='numpy' raises ConfigError."""
    if backend is not None and backend not in BACKENDS:
        raise ConfigError(f"backend must be one of {BACKENDS} or None; got {backend!r}")
    if backend == "numpy" and device is not None:
        raise ConfigError(f"device={device!r} needs backend='torch' (or None); the numpy backend runs on the host")
    if backend is not None:
        return backend
    return "torch" if device is not None or any(is_tensor(x) for x in inputs) else "numpy"


def _real_tensor(z: Any, name: str, torch: ModuleType, device: str | None) -> Any:
    """``z`` (tensor or array) as a tensor on ``device`` (default: its own, host for arrays), checked
    like ``validate.embedding_matrix``: real dtype, 2-D, N >= 2, d >= 1, finite."""
    tensor = z if isinstance(z, torch.Tensor) else torch.as_tensor(np.asarray(z))
    tensor = tensor.detach().to(device) if device is not None else tensor.detach()
    if tensor.dtype == torch.bool or tensor.is_complex():
        raise InputError(f"{name} must hold real numbers (float or integer); got dtype {tensor.dtype}")
    if tensor.ndim != 2:
        raise InputError(f"{name} must be 2-D (N, d) embeddings; got a {tensor.ndim}-D array of shape "
                         f"{tuple(tensor.shape)}")
    if tensor.shape[0] < 2:
        raise InputError(f"{name} needs at least 2 rows (N >= 2); got N={tensor.shape[0]}")
    if tensor.shape[1] < 1:
        raise InputError(f"{name} needs at least 1 column (d >= 1); got d={tensor.shape[1]}")
    if tensor.is_floating_point():
        bad_rows = int((~torch.isfinite(tensor).all(dim=1)).sum())
        if bad_rows:
            raise InputError(f"{name} contains non-finite values (NaN or Inf) in {bad_rows} of {tensor.shape[0]} rows")
    return tensor


def _compute_dtype(torch: ModuleType, *tensors: Any) -> Any:
    """float32 when every input is a float of at most 32 bits (as ``validate.compute_dtype``), else float64."""
    small = all(t.is_floating_point() and t.element_size() <= 4 for t in tensors)
    return torch.float32 if small else torch.float64


def _unit_tensor(z: Any, name: str, dtype: Any, torch: ModuleType) -> Any:
    """L2-normalised copy in ``dtype`` (rows first scaled by their largest entry, as
    ``validate.unit_rows``); zero rows raise InputError."""
    out = z.to(dtype=dtype, copy=True)
    scale = torch.maximum(out.amax(dim=1), -out.amin(dim=1))
    zero = scale == 0
    if bool(zero.any()):
        first = int(torch.nonzero(zero)[0, 0])
        raise InputError(f"{name} has {int(zero.sum())} zero-norm rows (first: row {first}); "
                         "cosine-based metrics need nonzero rows")
    out /= scale[:, None]
    out /= torch.sqrt(torch.einsum("ij,ij->i", out, out))[:, None]
    return out


def unit_tensor_pair(z_img: object, z_txt: object, device: str | None,
                     paired: bool = True) -> tuple[Any, Any]:
    """Validated, L2-normalised pair on ``device`` (default: the inputs' device) in one compute
    dtype; equal row counts unless not ``paired``."""
    torch = torch_module()
    zi = _real_tensor(z_img, "z_img", torch, device)
    zt = _real_tensor(z_txt, "z_txt", torch, zi.device if device is None else device)
    if paired and zi.shape[0] != zt.shape[0]:
        raise InputError(f"shape mismatch: z_img has N={zi.shape[0]} rows but z_txt has N={zt.shape[0]}; "
                         "pairs are matched by row")
    if zi.shape[1] != zt.shape[1]:
        raise InputError(f"shape mismatch: z_img has d={zi.shape[1]} columns but z_txt has d={zt.shape[1]}; "
                         "cosine scores need a shared space")
    dtype = _compute_dtype(torch, zi, zt)
    return _unit_tensor(zi, "z_img", dtype, torch), _unit_tensor(zt, "z_txt", dtype, torch)


def device_block_rows(block_size: int | None, n: int, itemsize: int, dim: int, device_type: str) -> int:
    """Rows per score block: ``block_size``; by default the host rule of ``validate.block_rows``
    on the CPU, and ``DEVICE_SCORE_BYTES`` of scores on an accelerator (large blocks feed its GEMM)."""
    if block_size is not None or device_type == "cpu":
        return block_rows(block_size, n, itemsize, dim)
    return int(min(n, max(1, DEVICE_SCORE_BYTES // (itemsize * n))))


@contextmanager
def full_fp32_matmul(torch: ModuleType) -> Iterator[None]:
    """Float32 products in full precision (no TF32) inside the block, the caller's setting restored after."""
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(previous)


@dataclass
class DeviceSweep:
    """Device-side state of one sweep: tie bands and reference candidates per direction, group
    labels (or None), the score buffer, and the outputs (rows written per block, columns accumulated)."""

    i2t_low: Any
    i2t_high: Any
    i2t_match: Any
    t2i_low: Any
    t2i_high: Any
    t2i_match: Any
    labels: Any
    scores: Any
    i2t: Any
    i2t_ties: Any
    i2t_top1: Any
    t2i: Any
    t2i_at_least: Any
    t2i_best: Any
    t2i_best_row: Any


def _device_targets(ui: Any, ut: Any, groups: Relevance | None, torch: ModuleType) -> tuple[Any, Any, Any, Any]:
    """(i2t score, i2t match, t2i score, t2i match) on the device: the paired score from one einsum,
    or with labels the host's ``reference_targets`` (same products, same tie-breaking)."""
    if groups is None:
        diag = torch.einsum("ij,ij->i", ui, ut)
        own = torch.arange(ui.shape[0], device=ui.device)
        return diag, own, diag, own
    host = reference_targets(ui.cpu().numpy(), ut.cpu().numpy(), groups)
    return tuple(torch.from_numpy(np.ascontiguousarray(a)).to(ui.device)
                 for a in (host.i2t_score, host.i2t_match, host.t2i_score, host.t2i_match))


def start_sweep(ui: Any, ut: Any, block: int, groups: np.ndarray | Relevance | None) -> DeviceSweep:
    """Targets, bands, buffers and zeroed accumulators for sweeping unit rows ``ui`` (images)
    against ``ut`` (texts); labels as in ``rank_sweep.sweep_ranks``."""
    torch = torch_module()
    relevance = relevance_of(groups)
    m, dim = ui.shape
    n = ut.shape[0]
    i2t_score, i2t_match, t2i_score, t2i_match = _device_targets(ui, ut, relevance, torch)
    tol = score_tolerance(dim, np.dtype(str(ui.dtype).removeprefix("torch.")))

    def zeros(size: int) -> Any:
        return torch.zeros(size, dtype=torch.int64, device=ui.device)

    labels = None if relevance is None else tuple(torch.from_numpy(a).to(ui.device) for a in relevance)
    return DeviceSweep(i2t_score - tol, i2t_score + tol, i2t_match, t2i_score - tol, t2i_score + tol, t2i_match,
                       labels, torch.empty((block, n), dtype=ui.dtype, device=ui.device),
                       zeros(m), zeros(m), zeros(m), zeros(n), zeros(n),
                       torch.full((n,), float("-inf"), dtype=ui.dtype, device=ui.device), zeros(n))


def _mask_relevant(scores: Any, start: int, labels: Any, torch: ModuleType) -> None:
    """Set the block's relevant entries (true pairs, or equal-label pairs) to -inf, in place."""
    if labels is None:
        rows = torch.arange(scores.shape[0], device=scores.device)
        scores[rows, rows + start] = float("-inf")
        return
    image_labels, text_labels = labels
    scores.masked_fill_(image_labels[start:start + scores.shape[0], None] == text_labels[None, :],
                        float("-inf"))


def sweep_block(ui: Any, ut: Any, start: int, stop: int, state: DeviceSweep) -> None:
    """One product ``ui[start:stop] @ ut.T`` and both directions' counts, ties and top-1 from it."""
    torch = torch_module()
    scores = state.scores[:stop - start]
    torch.matmul(ui[start:stop], ut.T, out=scores)
    _mask_relevant(scores, start, state.labels, torch)
    _image_queries(scores, start, state, torch)
    _text_queries(scores, start, state, torch)


def _image_queries(scores: Any, start: int, state: DeviceSweep, torch: ModuleType) -> None:
    """Rows of the block, as ``rank_sweep``: one arg-max per row finds the rows whose best irrelevant
    score reaches the band (the top-1 of those it beats); only those rows are compared and counted
    (gathered when up to half of the block, else in place)."""
    rows = slice(start, start + scores.shape[0])
    best_col = scores.argmax(dim=1)
    best = scores.gather(1, best_col[:, None])[:, 0]
    contested = torch.nonzero(best >= state.i2t_low[rows]).flatten()
    above = torch.zeros_like(best_col)
    at_least = torch.zeros_like(best_col)
    if contested.numel():
        dense = contested.numel() * rank_sweep.SPARSE_ROWS > scores.shape[0]
        sub = scores if dense else scores[contested]
        low = state.i2t_low[rows] if dense else state.i2t_low[contested + start]
        high = state.i2t_high[rows] if dense else state.i2t_high[contested + start]
        strict, counted = (sub > high[:, None]).sum(dim=1), (sub >= low[:, None]).sum(dim=1)
        above[contested] = strict[contested] if dense else strict
        at_least[contested] = counted[contested] if dense else counted
    state.i2t[rows] = above
    state.i2t_ties[rows] = at_least - above
    state.i2t_top1[rows] = torch.where(above > 0, best_col, state.i2t_match[rows])


def _text_queries(scores: Any, start: int, state: DeviceSweep, torch: ModuleType) -> None:
    """Columns of the block: one max per column finds those some score reaches the band in; only
    those are compared and counted (all columns in place when many are); the best score and its
    earliest row are kept per column."""
    best, best_row = scores.max(dim=0)
    contested = torch.nonzero(best >= state.t2i_low).flatten()
    if contested.numel() * rank_sweep.SPARSE_COLUMNS > scores.shape[1]:
        state.t2i += (scores > state.t2i_high).sum(dim=0)
        state.t2i_at_least += (scores >= state.t2i_low).sum(dim=0)
    elif contested.numel():
        sub = scores[:, contested]
        state.t2i[contested] += (sub > state.t2i_high[contested]).sum(dim=0)
        state.t2i_at_least[contested] += (sub >= state.t2i_low[contested]).sum(dim=0)
    better = best > state.t2i_best
    state.t2i_best = torch.where(better, best, state.t2i_best)
    state.t2i_best_row = torch.where(better, best_row + start, state.t2i_best_row)


def finish_sweep(state: DeviceSweep) -> SweepResult:
    """The sweep's outputs as host int64 arrays (column top-1: earliest best row where beaten)."""
    torch = torch_module()
    t2i_top1 = torch.where(state.t2i > 0, state.t2i_best_row, state.t2i_match)
    tensors = (state.i2t, state.t2i, state.i2t_top1, t2i_top1, state.i2t_ties, state.t2i_at_least - state.t2i)
    return SweepResult(*(t.cpu().numpy().astype(np.int64, copy=False) for t in tensors))


def torch_sweep_ranks(ui: Any, ut: Any, block: int, groups: np.ndarray | Relevance | None = None) -> SweepResult:
    """``rank_sweep.sweep_ranks`` for unit-row tensors on their device, in blocks of ``block`` rows
    (TF32 off); ``groups`` are validated int64 host labels (one array, or image and text labels)
    or None."""
    torch = torch_module()
    n = ui.shape[0]
    block = min(n, config_int(block, "block_size", 1))
    with torch.no_grad(), full_fp32_matmul(torch):
        state = start_sweep(ui, ut, block, groups)
        for start in range(0, n, block):
            sweep_block(ui, ut, start, min(n, start + block), state)
    return finish_sweep(state)
