"""The reference aligner as a DualEncoder: images and token sequences in, raw embeddings out."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass

import numpy as np

from mmgate.errors import InputError
from mmgate.records.canonical import canonical_json_line
from mmgate.reference.gradients import loss_and_gradients
from mmgate.reference.mlp import MLP, PARAM_NAMES, mlp_forward, mlp_from_arrays
from mmgate.reference.npz import arrays_sha256, read_npz, scalar_str, write_npz_atomic
from mmgate.reference.optim import clip_by_norm, sgd_update
from mmgate.world import text_feature_dim, text_features

MODEL_NAME = "mmgate-reference-aligner"
MODEL_VERSION = "1"
TOWERS: tuple[str, ...] = ("img", "txt")
MODEL_KEYS: tuple[str, ...] = (
    *(f"{t}.{p}" for t in TOWERS for p in PARAM_NAMES), "meta_json", "weights_sha256")


def _float_batch(name: str, x: object) -> np.ndarray:
    """Validate a real-valued array argument (no bool/complex/object, all finite)."""
    a = np.asarray(x)
    if a.dtype.kind not in "fiu":
        raise InputError(f"{name}: expected a real numeric array, got dtype {a.dtype}")
    if a.size and not np.all(np.isfinite(a)):
        raise InputError(f"{name}: expected finite values, found NaN or Inf")
    return a


@dataclass(frozen=True, eq=False)
class ReferenceAligner:
    """Two MLP towers; text goes through mmgate.world.text_features inside the encoder.

    Embeddings are raw (pre-normalisation) float32; training and retrieval use their cosine.
    """

    image_tower: MLP
    text_tower: MLP
    vocab_size: int
    temperature: float
    text_scale: float = 1.0
    text_shift: float = 0.0

    def __post_init__(self) -> None:
        if self.image_tower.d_out != self.text_tower.d_out:
            raise InputError(f"text_tower: expected output dim {self.image_tower.d_out} like the "
                             f"image tower, got {self.text_tower.d_out}")
        if isinstance(self.vocab_size, bool) or not isinstance(self.vocab_size, (int, np.integer)):
            raise InputError(f"vocab_size: expected an integer, got {self.vocab_size!r}")
        object.__setattr__(self, "vocab_size", int(self.vocab_size))
        if self.text_tower.d_in != text_feature_dim(self.vocab_size):
            raise InputError(f"text_tower: expected input dim {text_feature_dim(self.vocab_size)} "
                             f"for vocab_size {self.vocab_size}, got {self.text_tower.d_in}")
        side = math.isqrt(self.image_tower.d_in)
        if side * side != self.image_tower.d_in:
            raise InputError(f"image_tower: expected a square image input dim, "
                             f"got {self.image_tower.d_in}")
        for name in ("temperature", "text_scale", "text_shift"):
            value = float(getattr(self, name))
            if not math.isfinite(value) or (name == "temperature" and value <= 0.0):
                bound = " > 0" if name == "temperature" else ""
                raise InputError(f"{name}: expected a finite number{bound}, "
                                 f"got {getattr(self, name)!r}")
            object.__setattr__(self, name, value)

    @property
    def image_side(self) -> int:
        """Side S of the (S, S) images the image tower takes."""
        return math.isqrt(self.image_tower.d_in)

    @property
    def emb_dim(self) -> int:
        """Dimension of the shared embedding space."""
        return self.image_tower.d_out

    def image_inputs(self, images: np.ndarray) -> np.ndarray:
        """Validated (N, S, S) or (N, S*S) images as (N, S*S) float32 features."""
        a = _float_batch("images", images)
        s = self.image_side
        if a.ndim == 3 and a.shape[1:] == (s, s):
            a = a.reshape(a.shape[0], s * s)
        elif not (a.ndim == 2 and a.shape[1] == s * s):
            raise InputError(f"images: expected shape (N, {s}, {s}) or (N, {s * s}), got {a.shape}")
        if a.shape[0] == 0:
            raise InputError("images: expected at least one row, got 0")
        return a.astype(np.float32, copy=False)

    def text_inputs(self, tokens: np.ndarray) -> np.ndarray:
        """Validated (N, L) integer tokens mapped to text features (N, F) float32."""
        a = np.asarray(tokens)
        if a.dtype.kind not in "iu":
            raise InputError(f"tokens: expected an integer array, got dtype {a.dtype}")
        if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
            raise InputError(f"tokens: expected shape (N, L) with N, L >= 1, got {a.shape}")
        if a.min() < 0 or a.max() >= self.vocab_size:
            raise InputError(f"tokens: expected ids in [0, {self.vocab_size}), "
                             f"got range [{a.min()}, {a.max()}]")
        feats = text_features(a, self.vocab_size, self.text_scale, self.text_shift)
        return np.asarray(feats, dtype=np.float32)

    def embed_images(self, images: np.ndarray) -> np.ndarray:
        """(N, S, S) or (N, S*S) images -> (N, d) raw float32 embeddings."""
        z, _ = mlp_forward(self.image_tower, self.image_inputs(images))
        return z.astype(np.float32, copy=False)

    def embed_texts(self, tokens: np.ndarray) -> np.ndarray:
        """(N, L) int tokens -> (N, d) raw float32 embeddings."""
        z, _ = mlp_forward(self.text_tower, self.text_inputs(tokens))
        return z.astype(np.float32, copy=False)

    def weight_arrays(self) -> dict[str, np.ndarray]:
        """Parameters of both towers keyed "img.w1" ... "txt.b2"."""
        return {**{f"img.{k}": v for k, v in self.image_tower.arrays().items()},
                **{f"txt.{k}": v for k, v in self.text_tower.arrays().items()}}

    def meta(self) -> dict[str, float | int]:
        """The non-weight values that shape the embedding."""
        return {"vocab_size": self.vocab_size, "temperature": self.temperature,
                "text_scale": self.text_scale, "text_shift": self.text_shift}

    def weights_sha256(self) -> str:
        """sha256 of the weights and of the meta values (canonical JSON), so any change shows."""
        meta = canonical_json_line(self.meta())
        return arrays_sha256({**self.weight_arrays(), "meta_json": np.array(meta)})

    def identity(self) -> dict[str, str]:
        """{name, version, weights_sha256}: what a release decision cites as the subject."""
        return {"name": MODEL_NAME, "version": MODEL_VERSION,
                "weights_sha256": self.weights_sha256()}

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain (pickle-free) arrays: weights, meta JSON and the weights sha256."""
        meta = canonical_json_line(self.meta())
        return {**self.weight_arrays(), "meta_json": np.array(meta),
                "weights_sha256": np.array(self.weights_sha256())}

    def train_step(self, images: np.ndarray, tokens: np.ndarray, lr: float,
                   grad_clip: float = 5.0) -> ReferenceAligner:
        """A new aligner after one clipped SGD step of symmetric InfoNCE on the paired batch."""
        x_img, x_txt = self.image_inputs(images), self.text_inputs(tokens)
        if x_img.shape[0] != x_txt.shape[0]:
            raise InputError(f"tokens: expected {x_img.shape[0]} rows to pair with images, "
                             f"got {x_txt.shape[0]}")
        g = loss_and_gradients(self.image_tower, self.text_tower, x_img, x_txt, self.temperature)
        towers = []
        for tower, grads in ((self.image_tower, g.img), (self.text_tower, g.txt)):
            clipped, _ = clip_by_norm(grads, grad_clip)  # type: ignore[arg-type]
            towers.append(mlp_from_arrays(sgd_update(tower.arrays(), clipped, lr)))
        return dataclasses.replace(self, image_tower=towers[0], text_tower=towers[1])

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model as a pickle-free .npz (atomically)."""
        write_npz_atomic(path, self.to_arrays())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ReferenceAligner:
        """Read a model written by save (or a checkpoint); InputError on a weights hash mismatch."""
        return aligner_from_arrays(read_npz(path, MODEL_KEYS), str(path))


def aligner_from_arrays(arrays: dict[str, np.ndarray], source: str = "arrays") -> ReferenceAligner:
    """Rebuild an aligner from to_arrays output, verifying the stored weights sha256."""
    try:
        meta = json.loads(scalar_str(arrays, "meta_json"))
        model = ReferenceAligner(
            image_tower=mlp_from_arrays({p: arrays[f"img.{p}"] for p in PARAM_NAMES}),
            text_tower=mlp_from_arrays({p: arrays[f"txt.{p}"] for p in PARAM_NAMES}),
            vocab_size=int(meta["vocab_size"]), temperature=float(meta["temperature"]),
            text_scale=float(meta["text_scale"]), text_shift=float(meta["text_shift"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise InputError(f"{source}: malformed reference-aligner arrays ({exc})") from exc
    stored = scalar_str(arrays, "weights_sha256")
    if model.weights_sha256() != stored:
        raise InputError(f"{source}: weights_sha256 mismatch (stored {stored[:12]}..., "
                         f"recomputed {model.weights_sha256()[:12]}...): the weights were altered")
    return model
