"""Unique items per side of a canary and the ground truth between them, as the field counts them.

A canary's rows are pairs, but retrieval papers and CLIP_benchmark rank *unique* images and texts:
COCO's image appears in five caption rows, a class-level canary repeats one prompt per class. Item
identity comes from ``PairedSet.image_ids`` / ``text_ids`` where given, else from the content (same
file bytes for ``ImageFiles``, identical array rows or equal strings in memory), numbered by first
appearance. With ``groups`` an item is (identity, group) and a text is relevant to an image when
their groups are equal; without, relevance is the connected components of the rows' pairs (exact
for one-to-one, COCO and class-level layouts; components that are not complete are counted).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmgate.subjects.paired import LazyRows, PairedSet, _item_bytes, row_slice


@dataclass(frozen=True)
class Side:
    """One modality's items: ``rows[k]`` is the first row holding item k, ``of_row[r]`` the item of
    row r, ``labels[k]`` its relevance label (int64, read-only)."""

    rows: np.ndarray
    of_row: np.ndarray
    labels: np.ndarray

    @property
    def count(self) -> int:
        """Number of unique items."""
        return int(self.rows.size)


@dataclass(frozen=True)
class CanaryItems:
    """The unique images and texts of a canary and their positive-pair relation (equal labels)."""

    images: Side
    texts: Side
    n_rows: int
    incomplete_components: int

    @property
    def one_to_one(self) -> bool:
        """Every row is its own image and its own text, relevant only to each other."""
        return self.images.count == self.texts.count == self.n_rows and bool(
            np.array_equal(self.images.labels, np.arange(self.n_rows))
            and np.array_equal(self.texts.labels, np.arange(self.n_rows)))

    def relevance(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(image labels, text labels) for the panel, or None for one-to-one ground truth."""
        return None if self.one_to_one else (self.images.labels, self.texts.labels)

    def swapped(self) -> CanaryItems:
        """The same items with the roles of the two sides exchanged (texts as the image side)."""
        return CanaryItems(self.texts, self.images, self.n_rows, self.incomplete_components)

    def per_row(self, ranks: Any, name: str) -> np.ndarray:
        """``ranks.<name>`` (a per-query array, ``i2t*`` over images, ``t2i*`` over texts) read
        per canary row: the value of the row's own item."""
        values = getattr(ranks, name)
        if self.one_to_one:
            return values
        return values[(self.images if name.startswith("i2t") else self.texts).of_row]

    def side(self, modality: str) -> Side:
        """``images`` for "image", ``texts`` for "text"."""
        return self.images if modality == "image" else self.texts

    def evidence(self) -> dict[str, Any]:
        """Rows and unique items per side, for every report that measures over items."""
        out: dict[str, Any] = {"rows": self.n_rows, "unique_images": self.images.count,
                               "unique_texts": self.texts.count,
                               "relevant_sets": int(np.unique(self.images.labels).size)}
        if self.incomplete_components:
            out["incomplete_relevant_sets"] = self.incomplete_components
        return out


def _dense(keys: list[Any]) -> np.ndarray:
    """Keys numbered 0, 1, ... by first appearance."""
    numbering: dict[Any, int] = {}
    return np.fromiter((numbering.setdefault(k, len(numbering)) for k in keys), dtype=np.int64,
                       count=len(keys))


def _array_keys(items: np.ndarray) -> np.ndarray:
    """Identical rows of an array get the same number (by their bytes)."""
    flat = np.ascontiguousarray(items.reshape(items.shape[0], -1))
    if flat.dtype.hasobject:
        return _dense([_item_bytes(row, "row") for row in flat])
    rows = flat.view(np.dtype((np.void, flat.dtype.itemsize * flat.shape[1]))).reshape(-1)
    _, first, inverse = np.unique(rows, return_index=True, return_inverse=True)
    return _dense(first[inverse.reshape(-1)].tolist())


def content_ids(items: Any) -> np.ndarray:
    """Per row, an item number equal for rows with the same content (see the module docstring)."""
    if isinstance(items, np.ndarray):
        return _array_keys(items)
    keys = getattr(items, "content_keys", None)
    if callable(keys):
        return _dense(keys())
    if isinstance(items, LazyRows):
        return _dense([hashlib.sha256(_item_bytes(items[i], f"row {i}")).hexdigest()
                       for i in range(len(items))])
    return _dense([x if isinstance(x, str) else _item_bytes(x, f"row {i}")
                   for i, x in enumerate(row_slice(items, 0, len(items)))])


def item_ids(canary: PairedSet, modality: str) -> np.ndarray:
    """Per row, the number of its item on one side: the declared ids, else the content's."""
    declared = canary.image_ids if modality == "image" else canary.text_ids
    if declared is not None:
        return _dense(declared.tolist())
    return content_ids(canary.images if modality == "image" else canary.texts)


def _first_rows(of_row: np.ndarray, count: int) -> np.ndarray:
    first = np.full(count, of_row.size, dtype=np.int64)
    np.minimum.at(first, of_row, np.arange(of_row.size))
    return first


def _components(img: np.ndarray, txt: np.ndarray, m_img: int, m_txt: int) -> tuple[np.ndarray, np.ndarray]:
    """Connected components of the bipartite graph whose edges are the rows, as the lowest image
    item of each component (label propagation; two rounds for one-to-one, COCO and class layouts)."""
    image_label = np.arange(m_img, dtype=np.int64)
    while True:
        text_label = np.full(m_txt, m_img, dtype=np.int64)
        np.minimum.at(text_label, txt, image_label[img])
        spread = image_label.copy()
        np.minimum.at(spread, img, text_label[txt])
        if np.array_equal(spread, image_label):
            return image_label, text_label
        image_label = spread


def _side(of_row: np.ndarray, labels: np.ndarray) -> Side:
    for arr in (of_row, labels):
        arr.setflags(write=False)
    rows = _first_rows(of_row, labels.size)
    rows.setflags(write=False)
    return Side(rows, of_row, labels)


def canary_items(canary: PairedSet) -> CanaryItems:
    """The canary's unique items per side and their relevance labels (see the module docstring)."""
    n = len(canary)
    img, txt = item_ids(canary, "image"), item_ids(canary, "text")
    if canary.groups is not None:
        img = _dense(list(zip(img.tolist(), canary.groups.tolist())))
        txt = _dense(list(zip(txt.tolist(), canary.groups.tolist())))
    m_img, m_txt = int(img.max()) + 1, int(txt.max()) + 1
    if canary.groups is not None:
        image_label = np.zeros(m_img, dtype=np.int64)
        text_label = np.zeros(m_txt, dtype=np.int64)
        image_label[img] = _dense(canary.groups.tolist())
        text_label[txt] = _dense(canary.groups.tolist())
    else:
        image_label, text_label = _components(img, txt, m_img, m_txt)
        image_label, text_label = _renumbered(image_label, text_label)
    return CanaryItems(_side(img, image_label), _side(txt, text_label), n,
                       _incomplete(img, txt, image_label, text_label))


def _renumbered(image_label: np.ndarray, text_label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Component labels numbered by the first image that carries them (so one-to-one is arange)."""
    numbering = _dense(np.concatenate([image_label, text_label]).tolist())
    return numbering[:image_label.size], numbering[image_label.size:]


def _incomplete(img: np.ndarray, txt: np.ndarray, image_label: np.ndarray, text_label: np.ndarray) -> int:
    """Relevant sets in which some (image, text) combination never appears as a row: relevance
    there is inferred, not observed (e.g. two images sharing one of their captions)."""
    sets = int(image_label.max()) + 1
    pairs = np.unique(img * text_label.size + txt)
    observed = np.bincount(image_label[pairs // text_label.size], minlength=sets)
    implied = np.bincount(image_label, minlength=sets) * np.bincount(text_label, minlength=sets)
    return int(np.count_nonzero(observed != implied))
