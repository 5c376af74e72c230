"""A complete user subject: a dual encoder of a few lines over numpy images and caption strings.

Images are 16 x 16 arrays with one bright cell; captions say where it is ("row 3 col 12"). Both
towers map a cell to the same Fourier code of its row and column, so a caption lands next to its
image and the space is organised by the two factors. Run it with:

    pytest --mmgate --mmgate-subject examples.grid_subject:make_subject
"""

from __future__ import annotations

import hashlib

import numpy as np

from mmgate import PairedSet, Subject

SIDE = 16
FREQUENCIES = (1, 2, 3, 4)


def cell_codes() -> np.ndarray:
    """(SIDE * SIDE, 16) Fourier code of every cell: sin/cos of row and column at 4 frequencies."""
    rows, cols = np.divmod(np.arange(SIDE * SIDE), SIDE)
    angles = [2 * np.pi * f * axis / SIDE for axis in (rows, cols) for f in FREQUENCIES]
    return np.stack([fn(a) for a in angles for fn in (np.sin, np.cos)], axis=1)


class GridEncoder:
    """Image tower: pixels weighted by the cell codes; text tower: the parsed cell's code."""

    temperature = 0.07

    def __init__(self) -> None:
        self.codes = cell_codes()

    def embed_images(self, batch: np.ndarray) -> np.ndarray:
        """Raw embeddings of (n, 16, 16) images."""
        return np.asarray(batch, dtype=np.float64).reshape(len(batch), -1) @ self.codes

    def embed_texts(self, batch: list[str]) -> np.ndarray:
        """Raw embeddings of captions "row R col C"."""
        cells = [int(row) * SIDE + int(col) for _, row, _, col in (caption.split() for caption in batch)]
        return self.codes[cells]

    def identity(self) -> dict:
        """Name, version and weights digest, recorded in the manifest."""
        digest = hashlib.sha256(self.codes.tobytes()).hexdigest()
        return {"name": "grid-encoder", "version": "1", "weights_sha256": digest}


def make_canary(n: int = 256, seed: int = 1) -> PairedSet:
    """``n`` images with one bright cell plus faint noise, and their captions."""
    rng = np.random.default_rng(seed)
    rows, cols = np.divmod(rng.permutation(SIDE * SIDE)[:n], SIDE)
    images = rng.normal(0.0, 0.05, size=(n, SIDE, SIDE))
    images[np.arange(n), rows, cols] += 1.0
    captions = [f"row {r} col {c}" for r, c in zip(rows, cols)]
    return PairedSet(images, captions, factors={"row": rows, "col": cols}, name="grid-canary")


def make_subject() -> Subject:
    """The subject factory that ``--mmgate-subject examples.grid_subject:make_subject`` names."""
    return Subject(name="grid-encoder", encoder=GridEncoder(), canary=make_canary())
