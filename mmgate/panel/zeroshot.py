"""Zero-shot classification of a class-labelled canary, as CLIP_benchmark computes it: a class's
prototype is the mean of its L2-normalised prompt-template text embeddings, renormalised, and an
image is predicted the class whose prototype has the highest cosine.

Rank convention as in retrieval: the rank of the true class (0 = predicted) is the number of other
classes scoring above it by more than tol = sqrt(d) * eps of the compute dtype; classes within tol
of it are ties, which do not worsen the rank but are counted per image (``ties``) and in
``tie_share``. A text tower that maps every prompt to one point thus scores accuracy 1 with
tie_share 1, so gates should read tie_share beside accuracy. Scores are computed in blocks of
images: memory O(block x C).
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from mmgate.errors import ConfigError, InputError
from mmgate.panel.groups import group_labels
from mmgate.panel.rank_sweep import score_tolerance
from mmgate.panel.validate import (
    block_rows,
    compute_dtype,
    config_int,
    embedding_matrix,
    real_array,
    row_norms,
    unit_rows,
)


@dataclass(frozen=True)
class ZeroShotRanks:
    """Per-image outcome (arrays of shape (N,), int64, read-only): ``rank`` of the true class among
    the ``n_classes`` prototypes, ``ties`` (other classes within tol of its score), ``predicted``
    (the true class when its rank is 0, else the best-scoring class) and the validated ``labels``.
    ``rank < k`` is the per-image top-k hit vector a bootstrap resamples."""

    rank: np.ndarray
    ties: np.ndarray
    predicted: np.ndarray
    labels: np.ndarray
    n_classes: int

    @property
    def n(self) -> int:
        """Number of images (queries)."""
        return int(self.rank.shape[0])


def _per_class(templates: object) -> list[np.ndarray]:
    """The classes' template arrays: the rows of a (C, T, d) array, or the items of a list/tuple."""
    if isinstance(templates, (list, tuple)):
        return list(templates)
    arr = real_array(templates, "templates")
    if arr.ndim != 3:
        raise InputError("templates must be a (C, T, d) array or a list of C (T_c, d) arrays; "
                         f"got a {arr.ndim}-D array of shape {arr.shape}")
    return list(arr)


def _class_templates(raw: object, c: int, dim: int | None) -> np.ndarray:
    """Validate class ``c``'s template embeddings: a finite (T_c >= 1, d >= 1) real array whose d
    is ``dim`` (any for the first class)."""
    name = f"templates[{c}]"
    arr = real_array(raw, name)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1 or (dim is not None and arr.shape[1] != dim):
        wanted = "d >= 1" if dim is None else f"d={dim} as templates[0]"
        raise InputError(f"{name} must be a (T, d) array of template embeddings with T >= 1 and {wanted}; "
                         f"got shape {arr.shape}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise InputError(f"{name} contains non-finite values (NaN or Inf)")
    return arr


def class_prototypes(templates: object) -> np.ndarray:
    """(C, d) unit class prototypes from template text embeddings, a (C, T, d) array or a list of C
    (T_c, d) arrays: each the mean of its L2-normalised templates, renormalised (in float64, returned
    in the compute dtype: float32 for float16/float32 input)."""
    per_class = _per_class(templates)
    if len(per_class) < 2:
        raise InputError(f"templates must hold at least 2 classes (C >= 2); got C={len(per_class)}")
    first = _class_templates(per_class[0], 0, None)
    classes = [first] + [_class_templates(raw, c, first.shape[1]) for c, raw in enumerate(per_class) if c]
    means = np.stack([unit_rows(arr, f"templates[{c}]", np.float64).mean(axis=0) for c, arr in enumerate(classes)])
    zero = np.flatnonzero(row_norms(means) == 0)
    if zero.size:
        raise InputError(f"templates[{int(zero[0])}] average to the zero vector (templates cancel out); "
                         "a prototype needs a direction")
    dtype = np.result_type(*(compute_dtype(arr.dtype) for arr in classes))
    return unit_rows(means, "prototypes", dtype)


def _class_labels(labels: object, n: int, n_classes: int) -> np.ndarray:
    """``labels`` as int64 class indices in [0, C), one per image."""
    arr = group_labels(labels, n, "labels")
    bad = np.flatnonzero((arr < 0) | (arr >= n_classes))
    if bad.size:
        raise InputError(f"labels must be class indices in [0, C={n_classes}); "
                         f"row {int(bad[0])} holds {int(arr[bad[0]])}")
    return arr


def class_cutoffs(ks: int | Iterable[int], n_classes: int) -> tuple[int, ...]:
    """Validated, de-duplicated top-k cut-offs in their given order; k > C raises InputError."""
    values = (ks,) if isinstance(ks, numbers.Integral) else tuple(ks)
    if not values:
        raise ConfigError("ks must name at least one cut-off k")
    checked = tuple(dict.fromkeys(config_int(k, "k", 1) for k in values))
    for k in checked:
        if k > n_classes:
            raise InputError(f"k={k} exceeds the number of classes C={n_classes}; need k <= C")
    return checked


def _validated(z_img: object, prototypes: object, labels: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit image rows and prototypes in one compute dtype, and the labels."""
    zi = embedding_matrix(z_img, "z_img")
    zp = embedding_matrix(prototypes, "prototypes")
    if zi.shape[1] != zp.shape[1]:
        raise InputError(f"shape mismatch: z_img has d={zi.shape[1]} columns but prototypes has "
                         f"d={zp.shape[1]}; cosine scores need a shared space")
    y = _class_labels(labels, zi.shape[0], zp.shape[0])
    dtype = np.promote_types(compute_dtype(zi.dtype), compute_dtype(zp.dtype))
    return unit_rows(zi, "z_img", dtype), unit_rows(zp, "prototypes", dtype), y


def _ranks(ui: np.ndarray, up: np.ndarray, labels: np.ndarray, block_size: int | None) -> ZeroShotRanks:
    """Rank, ties and prediction per image from blocks of image-by-class cosines."""
    n, c = ui.shape[0], up.shape[0]
    block = block_rows(block_size, c, ui.dtype.itemsize, ui.shape[1])
    true = np.einsum("ij,ij->i", ui, up[labels])
    tol = ui.dtype.type(score_tolerance(ui.shape[1], ui.dtype))
    rank, ties, predicted = (np.empty(n, dtype=np.int64) for _ in range(3))
    for start in range(0, n, block):
        rows = slice(start, min(n, start + block))
        scores = ui[rows] @ up.T
        scores[np.arange(scores.shape[0]), labels[rows]] = -np.inf
        rank[rows] = np.count_nonzero(scores > true[rows, None] + tol, axis=1)
        ties[rows] = np.count_nonzero(scores >= true[rows, None] - tol, axis=1) - rank[rows]
        predicted[rows] = np.where(rank[rows] > 0, scores.argmax(axis=1), labels[rows])
    for arr in (rank, ties, predicted, labels):
        arr.setflags(write=False)
    return ZeroShotRanks(rank, ties, predicted, labels, c)


def zeroshot_ranks(z_img: object, prototypes: object, labels: object,
                   block_size: int | None = None) -> ZeroShotRanks:
    """Per-image rank of the true class (``labels``: class index per image row) among the rows of
    ``prototypes`` (see ``class_prototypes``), ties and predicted class; independent of block_size."""
    return _ranks(*_validated(z_img, prototypes, labels), block_size)


def zeroshot_metrics_from_ranks(ranks: ZeroShotRanks, ks: int | Iterable[int] = (1, 5)) -> dict[str, float]:
    """``acc{k}`` (mean of rank < k), ``mean_per_class_recall`` (top-1 accuracy averaged over the
    classes present in the labels: balanced accuracy) and ``tie_share`` (images with a tied class)."""
    out = {f"acc{k}": float(np.mean(ranks.rank < k)) for k in class_cutoffs(ks, ranks.n_classes)}
    counts = np.bincount(ranks.labels, minlength=ranks.n_classes)
    hits = np.bincount(ranks.labels, weights=ranks.rank == 0, minlength=ranks.n_classes)
    present = counts > 0
    out["mean_per_class_recall"] = float(np.mean(hits[present] / counts[present]))
    out["tie_share"] = float(np.mean(ranks.ties > 0))
    return out


def zeroshot_metrics(z_img: object, prototypes: object, labels: object, ks: int | Iterable[int] = (1, 5),
                     block_size: int | None = None) -> dict[str, float]:
    """Zero-shot accuracy@k, mean per-class recall and tie share of image embeddings against class
    prototypes; k > C and bad labels raise InputError before any score is computed."""
    ui, up, y = _validated(z_img, prototypes, labels)
    checked = class_cutoffs(ks, up.shape[0])
    return zeroshot_metrics_from_ranks(_ranks(ui, up, y, block_size), checked)
