"""Image operators on lazily read canaries: ``PerturbedImages`` applies an operator to each image as
it is read (a manifest's decoded files, of any size), so robustness and stress gates reach canaries
that are never held in memory at once. Random operators draw from a stream of their seed and the
row's position in the canary, so a row's perturbation does not depend on how rows are batched."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from mmgate.errors import InputError
from mmgate.perturb.data import as_float, finished, image_reason, value_range
from mmgate.subjects.items import content_ids



class ImageOperator(Protocol):
    """What a lazy row needs of an image operator (``mmgate.perturb.images.ImageOperator``, a frozen
    dataclass with a ``seed`` field): its name, seed, per-batch transform and JSON form. Declared
    here so this module does not import the operators that import it."""

    NAME: ClassVar[str]
    seed: int

    def transform(self, x: np.ndarray, full: float) -> np.ndarray: ...

    def to_json(self) -> dict[str, Any]: ...


def row_seed(seed: int, position: int) -> int:
    """The seed of one row's perturbation: independent streams per (operator seed, row)."""
    return int(np.random.SeedSequence([seed, position]).generate_state(1)[0])


def perturbed_image(operator: ImageOperator, image: np.ndarray, position: int) -> np.ndarray:
    """One (H, W[, C]) image perturbed as row ``position``, in its own dtype."""
    reason = image_reason(image[None])
    if reason is not None:
        raise InputError(f"{operator.NAME}: row {position}: {reason}")
    row_operator = dataclasses.replace(operator, seed=row_seed(operator.seed, position))
    out = row_operator.transform(as_float(image[None]), value_range(image))
    return finished(out, image[None])[0]


@dataclass(frozen=True, eq=False)
class PerturbedImages(Sequence):
    """The rows of ``base`` (a lazy image sequence) with ``operator`` applied on access; row i was
    row ``positions[i]`` of the canary the operator was applied to."""

    base: Any
    operator: ImageOperator
    positions: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
            i = range(len(self))[int(key)]
            return perturbed_image(self.operator, np.asarray(self.base[i]), self.positions[i])
        rows = range(len(self))[key] if isinstance(key, slice) else [int(i) for i in key]
        return [self[i] for i in rows]

    def take(self, indices: Sequence[int] | np.ndarray) -> PerturbedImages:
        """The rows ``indices``, still lazy, each keeping its original position's perturbation."""
        idx = [range(len(self))[int(i)] for i in indices]
        return PerturbedImages(self.base.take(idx), self.operator, tuple(self.positions[i] for i in idx))

    def content_keys(self) -> list[int]:
        """Per row, the item identity of its base row: a perturbation neither splits nor merges images."""
        return content_ids(self.base).tolist()

    def fingerprint(self) -> str:
        """Hex sha256 of the base's fingerprint, the operator's JSON and the row positions."""
        digest = hashlib.sha256(self.base.fingerprint().encode())
        digest.update(json.dumps(self.operator.to_json(), sort_keys=True).encode())
        digest.update(np.asarray(self.positions, dtype=np.int64).tobytes())
        return digest.hexdigest()
