"""Input checks shared by every panel metric: typed errors whose message names the problem."""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np

from mmgate.errors import ConfigError, InputError
from mmgate.panel.blocks import floor_rows

_REAL_KINDS = frozenset("fiu")


def _describe_dtype(dtype: np.dtype) -> str:
    kinds = {"b": "bool", "c": "complex", "O": "object", "U": "string", "S": "bytes"}
    return f"{kinds.get(dtype.kind, 'non-numeric')} dtype {dtype}"


def real_array(x: object, name: str) -> np.ndarray:
    """``x`` as an ndarray of real numbers (float or integer); bool, complex, object, strings raise."""
    arr = np.asarray(x)
    if arr.dtype.kind not in _REAL_KINDS:
        raise InputError(f"{name} must hold real numbers (float or integer); got {_describe_dtype(arr.dtype)}")
    return arr


def compute_dtype(dtype: np.dtype) -> np.dtype:
    """Float type the panel computes in: float32 for float16/float32 input, float64 otherwise."""
    if dtype.kind == "f" and dtype.itemsize <= 4:
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def embedding_matrix(z: object, name: str = "z") -> np.ndarray:
    """Validate ``z`` as a 2-D (N, d) real array with N >= 2 rows, d >= 1 and finite values."""
    arr = real_array(z, name)
    if arr.ndim != 2:
        raise InputError(f"{name} must be 2-D (N, d) embeddings; got a {arr.ndim}-D array of shape {arr.shape}")
    if arr.shape[0] < 2:
        raise InputError(f"{name} needs at least 2 rows (N >= 2); got N={arr.shape[0]}")
    if arr.shape[1] < 1:
        raise InputError(f"{name} needs at least 1 column (d >= 1); got d={arr.shape[1]}")
    if arr.dtype.kind == "f":
        bad_rows = int(np.count_nonzero(~np.isfinite(arr).all(axis=1)))
        if bad_rows:
            raise InputError(f"{name} contains non-finite values (NaN or Inf) in {bad_rows} of {arr.shape[0]} rows")
    return arr


def embedding_pair(z_img: object, z_txt: object, same_dim: bool = True,
                   paired: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Validate two embedding matrices: equal N when ``paired`` (rows matched by index), equal d
    when ``same_dim``."""
    zi = embedding_matrix(z_img, "z_img")
    zt = embedding_matrix(z_txt, "z_txt")
    if paired and zi.shape[0] != zt.shape[0]:
        raise InputError(f"shape mismatch: z_img has N={zi.shape[0]} rows but z_txt has N={zt.shape[0]}; "
                         "pairs are matched by row")
    if same_dim and zi.shape[1] != zt.shape[1]:
        raise InputError(f"shape mismatch: z_img has d={zi.shape[1]} columns but z_txt has d={zt.shape[1]}; "
                         "cosine scores need a shared space")
    return zi, zt


def row_norms(z: np.ndarray) -> np.ndarray:
    """Euclidean norm of each row in float64, scaled by the row's largest entry so it cannot overflow."""
    x = z.astype(np.float64)
    scale = np.maximum(x.max(axis=1), -x.min(axis=1))
    x /= np.where(scale > 0, scale, 1.0)[:, None]
    return scale * np.sqrt(np.einsum("ij,ij->i", x, x))


def zero_rows_error(name: str, count: int, first: int) -> InputError:
    """The error for rows that cannot be L2-normalised: how many, and the first one's index."""
    return InputError(f"{name} has {count} zero-norm rows (first: row {first}); cosine-based metrics need nonzero rows")


def unit_rows(z: np.ndarray, name: str = "z", dtype: np.dtype | None = None) -> np.ndarray:
    """L2-normalised copy of validated rows in ``dtype`` (default: the compute dtype); zero rows raise.

    Each row is first divided by its largest absolute entry, so huge values cannot overflow the
    norm; the result equals z / ||z|| up to rounding."""
    out = z.astype(compute_dtype(z.dtype) if dtype is None else np.dtype(dtype), copy=True)
    scale = np.maximum(out.max(axis=1), -out.min(axis=1))
    zero = np.flatnonzero(scale == 0)
    if zero.size:
        raise zero_rows_error(name, zero.size, int(zero[0]))
    out /= scale[:, None]
    norm = np.sqrt(np.einsum("ij,ij->i", out, out))
    out /= norm[:, None]
    return out


def shared_unit_rows(zi: np.ndarray, zt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """L2-normalised copies of a validated pair in one compute dtype (float64 if either needs it)."""
    dtype = np.promote_types(compute_dtype(zi.dtype), compute_dtype(zt.dtype))
    return unit_rows(zi, "z_img", dtype), unit_rows(zt, "z_txt", dtype)


def unit_pair(z_img: object, z_txt: object) -> tuple[np.ndarray, np.ndarray]:
    """Validated, L2-normalised pair in one shared compute dtype."""
    return shared_unit_rows(*embedding_pair(z_img, z_txt))


def config_int(value: object, name: str, minimum: int) -> int:
    """``value`` as an int >= ``minimum``; bools, floats and smaller values raise ConfigError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"{name} must be an integer >= {minimum}; got {value!r}")
    if int(value) < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}; got {int(value)}")
    return int(value)


def neighbour_count(k: object, n: int, name: str = "k") -> int:
    """Validate a retrieval cut-off: an integer in [1, n]; k > n raises InputError naming both."""
    k_int = config_int(k, name, 1)
    if k_int > n:
        raise InputError(f"{name}={k_int} exceeds the number of items N={n}; need {name} <= N")
    return k_int


def cutoffs(ks: int | Iterable[int], n: int) -> tuple[int, ...]:
    """Validated, de-duplicated retrieval cut-offs in their given order."""
    values = (ks,) if isinstance(ks, numbers.Integral) else tuple(ks)
    if not values:
        raise ConfigError("ks must name at least one cut-off k")
    return tuple(dict.fromkeys(neighbour_count(k, n, "k") for k in values))


def block_rows(block_size: int | None, n: int, itemsize: int, dim: int) -> int:
    """Rows per block of an (rows, n) score matrix from a length-``dim`` product: ``block_size``, or
    a block of 64 KB x dim scores clipped to [4, 32] MB: a cheap product (small d) keeps its block in
    cache for the passes that follow, a costly one (large d) amortises the per-block overhead; never
    fewer than ``blocks.floor_rows`` rows (a thinner product re-reads all candidates per block)."""
    if block_size is None:
        target = min(32 << 20, max(4 << 20, (64 << 10) * dim))
        return int(min(n, max(floor_rows(n, itemsize), target // (itemsize * n))))
    return min(n, config_int(block_size, "block_size", 1))


def positive_real(value: object, name: str) -> float:
    """``value`` as a finite float > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 < float(value) < np.inf:
        raise ConfigError(f"{name} must be a finite number > 0; got {value!r}")
    return float(value)


def probability(value: object, name: str) -> float:
    """``value`` as a float strictly between 0 and 1 (a significance level)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 < float(value) < 1.0:
        raise ConfigError(f"{name} must be a number strictly between 0 and 1; got {value!r}")
    return float(value)
