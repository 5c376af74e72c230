"""Two-layer ReLU MLP tower: frozen parameters, He initialisation, forward and analytic backward."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mmgate.errors import InputError

PARAM_NAMES: tuple[str, ...] = ("w1", "b1", "w2", "b2")


@dataclass(frozen=True, eq=False)
class MLP:
    """x -> relu(x @ w1 + b1) @ w2 + b2; arrays are never modified (updates build new MLPs)."""

    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray

    def __post_init__(self) -> None:
        if self.w1.ndim != 2 or self.w2.ndim != 2:
            raise InputError(f"w1, w2: expected 2-D weight matrices, got {self.w1.shape}, "
                             f"{self.w2.shape}")
        if self.b1.shape != (self.w1.shape[1],):
            raise InputError(f"b1: expected shape {(self.w1.shape[1],)}, got {self.b1.shape}")
        if self.w2.shape[0] != self.w1.shape[1]:
            raise InputError(f"w2: expected {self.w1.shape[1]} rows to match w1, "
                             f"got {self.w2.shape[0]}")
        if self.b2.shape != (self.w2.shape[1],):
            raise InputError(f"b2: expected shape {(self.w2.shape[1],)}, got {self.b2.shape}")

    @property
    def d_in(self) -> int:
        """Input feature dimension."""
        return int(self.w1.shape[0])

    @property
    def hidden(self) -> int:
        """Hidden width (capacity)."""
        return int(self.w1.shape[1])

    @property
    def d_out(self) -> int:
        """Output (embedding) dimension."""
        return int(self.w2.shape[1])

    def arrays(self) -> dict[str, np.ndarray]:
        """Parameters by name, in PARAM_NAMES order."""
        return {"w1": self.w1, "b1": self.b1, "w2": self.w2, "b2": self.b2}

    def astype(self, dtype: np.dtype | type) -> MLP:
        """The same tower with parameters cast to `dtype`."""
        return MLP(**{k: np.asarray(v, dtype=dtype) for k, v in self.arrays().items()})


def mlp_from_arrays(arrays: dict[str, np.ndarray]) -> MLP:
    """Build an MLP from a name -> array mapping (as produced by MLP.arrays)."""
    missing = [k for k in PARAM_NAMES if k not in arrays]
    if missing:
        raise InputError(f"arrays: missing parameters {missing}")
    return MLP(**{k: np.asarray(arrays[k]) for k in PARAM_NAMES})


def init_mlp(d_in: int, hidden: int, d_out: int, rng: np.random.Generator,
             dtype: np.dtype | type = np.float32) -> MLP:
    """He-initialised tower (weights ~ N(0, 2/fan_in)), zero biases."""
    w1 = rng.standard_normal((d_in, hidden)) * np.sqrt(2.0 / d_in)
    w2 = rng.standard_normal((hidden, d_out)) * np.sqrt(2.0 / hidden)
    return MLP(w1=w1.astype(dtype), b1=np.zeros(hidden, dtype=dtype),
               w2=w2.astype(dtype), b2=np.zeros(d_out, dtype=dtype))


@dataclass(frozen=True, eq=False)
class MLPCache:
    """Forward activations kept for the backward pass."""

    x: np.ndarray
    z1: np.ndarray
    h1: np.ndarray


def mlp_forward(m: MLP, x: np.ndarray) -> tuple[np.ndarray, MLPCache]:
    """Output (n, d_out) and the cache; computes in the dtype of the parameters."""
    z1 = x @ m.w1 + m.b1
    h1 = np.maximum(z1, 0.0)
    return h1 @ m.w2 + m.b2, MLPCache(x=x, z1=z1, h1=h1)


def mlp_backward(m: MLP, cache: MLPCache, d_out: np.ndarray) -> dict[str, np.ndarray]:
    """Gradients of the loss w.r.t. every parameter, given dL/d(output)."""
    dz1 = (d_out @ m.w2.T) * (cache.z1 > 0.0)
    return {"w1": cache.x.T @ dz1, "b1": dz1.sum(axis=0),
            "w2": cache.h1.T @ d_out, "b2": d_out.sum(axis=0)}
