"""The example's data on disk: each scikit-learn digit as an 8 x 8 greyscale PNG, a caption from one
of several templates per class, and a CSV manifest per split with the class as the group."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
TEMPLATES = ("a handwritten {word}", "the digit {digit}", "a scan of the number {word}",
             "a handwritten digit {digit}", "the number {word}, written by hand", "a {word}")
CANARY_SHARE = 0.3
SPLIT_SEED = 20261130


@dataclass(frozen=True)
class Split:
    """Row indices into the digits data set and the caption template of each row."""

    rows: np.ndarray
    templates: np.ndarray


def caption(label: int, template: int) -> str:
    """The caption of a digit of class ``label`` in template ``template``."""
    return TEMPLATES[template].format(word=NUMBER_WORDS[label], digit=label)


def class_prompts() -> dict[int, list[str]]:
    """Every template of every class: the prompts zero-shot classification averages per class."""
    return {label: [caption(label, t) for t in range(len(TEMPLATES))] for label in range(10)}


def digits() -> tuple[np.ndarray, np.ndarray]:
    """(1797, 8, 8) uint8 scans (0-255) and their labels, from scikit-learn's bundled copy."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    pixels = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    return pixels, bunch.target.astype(np.int64)


def splits(labels: np.ndarray) -> tuple[Split, Split]:
    """Seeded, class-stratified (train, canary) splits with a seeded caption template per row."""
    rng = np.random.default_rng(SPLIT_SEED)
    train, canary = [], []
    for label in range(10):
        rows = rng.permutation(np.flatnonzero(labels == label))
        cut = int(round(len(rows) * CANARY_SHARE))
        canary.extend(rows[:cut])
        train.extend(rows[cut:])
    train_rows, canary_rows = np.sort(np.array(train)), np.sort(np.array(canary))
    return (Split(train_rows, rng.integers(0, len(TEMPLATES), train_rows.size)),
            Split(canary_rows, rng.integers(0, len(TEMPLATES), canary_rows.size)))


def write_png(path: Path, pixels: np.ndarray) -> None:
    """One greyscale PNG, written to a temporary name first so a reader never sees half a file."""
    from PIL import Image

    tmp = path.with_name(path.name + ".tmp")
    Image.fromarray(pixels, mode="L").save(tmp, format="PNG")
    os.replace(tmp, path)


def write_manifest(path: Path, split: Split, labels: np.ndarray) -> None:
    """CSV of image path (relative to the table), caption and class for the rows of ``split``."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "caption", "label"])
        for row, template in zip(split.rows, split.templates):
            label = int(labels[row])
            writer.writerow([f"images/{row:04d}.png", caption(label, int(template)), label])
    os.replace(tmp, path)


def write_data(root: Path) -> None:
    """Write every digit as ``root/images/NNNN.png`` and the ``train.csv`` / ``canary.csv`` tables."""
    pixels, labels = digits()
    (root / "images").mkdir(parents=True, exist_ok=True)
    for row, image in enumerate(pixels):
        write_png(root / "images" / f"{row:04d}.png", image)
    train, canary = splits(labels)
    write_manifest(root / "train.csv", train, labels)
    write_manifest(root / "canary.csv", canary, labels)
