"""Image operators reach lazily read canaries: each row is perturbed as it is read, the same way
whatever the batching, and nothing is decoded when the operator is applied."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from mmgate.perturb import Brightness, GaussianNoise, PreprocessScale
from mmgate.perturb.lazy import PerturbedImages
from mmgate.subjects.paired import PairedSet, row_slice, rows_of


class CountingRows:
    """A lazy image sequence that counts how many images it produced."""

    def __init__(self, images: np.ndarray, reads: list[int] | None = None) -> None:
        self.images = images
        self.reads = [] if reads is None else reads

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, key):
        if isinstance(key, slice):
            return [self[i] for i in range(*key.indices(len(self)))]
        self.reads.append(int(key))
        return self.images[int(key)]

    def take(self, indices) -> CountingRows:
        return CountingRows(self.images[np.asarray(indices, dtype=np.intp)], self.reads)

    def fingerprint(self) -> str:
        return str(hash(self.images.tobytes()))


def lazy_set(n: int = 12) -> tuple[PairedSet, CountingRows]:
    images = np.random.default_rng(0).integers(0, 256, size=(n, 6, 5, 3), dtype=np.uint8)
    rows = CountingRows(images)
    return PairedSet(rows, [f"caption {i}" for i in range(n)], name="lazy"), rows


def test_applying_an_operator_reads_only_the_first_row_and_a_batch_reads_only_its_rows() -> None:
    canary, rows = lazy_set()
    perturbed = Brightness(0.1).apply(canary)
    assert isinstance(perturbed.images, PerturbedImages) and rows.reads == [0]  # its type is checked
    batch = row_slice(perturbed.images, 2, 5)
    assert len(batch) == 3 and rows.reads == [0, 2, 3, 4]


def test_a_deterministic_operator_gives_the_array_result_row_by_row() -> None:
    canary, rows = lazy_set()
    lazy = Brightness(0.1).apply(canary).images
    eager = Brightness(0.1).apply(PairedSet(rows.images, list(canary.texts))).images
    assert np.array_equal(np.stack(lazy[0:len(lazy)]), eager)


def test_a_random_operator_perturbs_a_row_the_same_way_however_rows_are_selected() -> None:
    canary, _ = lazy_set()
    lazy = GaussianNoise(0.05, seed=3).apply(canary).images
    whole = np.stack(lazy[0:len(lazy)])
    picked = rows_of(lazy, [7, 2])
    assert np.array_equal(np.stack(picked[0:2]), whole[[7, 2]])
    assert not np.array_equal(whole[0], canary.images.images[0])


def test_the_fingerprint_follows_the_operator() -> None:
    canary, _ = lazy_set()
    prints = {GaussianNoise(x, seed=s).apply(canary).fingerprint() for x, s in ((0.05, 0), (0.05, 1), (0.1, 0))}
    assert len(prints) == 3
    assert GaussianNoise(0.05).apply(canary).fingerprint() == GaussianNoise(0.05).apply(canary).fingerprint()


def test_operators_act_on_a_manifest_of_image_files(tmp_path: Path) -> None:
    image_module = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(1)
    with (tmp_path / "canary.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "caption"])
        for i, side in enumerate((4, 6, 8)):
            image_module.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
            writer.writerow([f"{i}.png", f"image {i}"])
    canary = PairedSet.from_manifest(tmp_path / "canary.csv")
    noisy = GaussianNoise(0.1).apply(canary).images
    shapes = [image.shape for image in noisy[0:3]]
    assert shapes == [(4, 4, 3), (6, 6, 3), (8, 8, 3)]
    assert all(image.dtype == np.uint8 for image in noisy[0:3])
    assert not np.array_equal(noisy[1], canary.images[1])


def test_a_preprocessing_scale_reaches_decoded_images_as_the_array_operator_does() -> None:
    canary, rows = lazy_set()
    operator = PreprocessScale(-0.9, modality="image")
    assert operator.applies_to(canary) is None
    lazy = operator.apply(canary).images
    eager = operator.apply(PairedSet(rows.images, list(canary.texts))).images
    assert isinstance(lazy, PerturbedImages)
    assert np.array_equal(np.stack(lazy[0:len(lazy)]), eager)


def test_a_text_preprocessing_scale_still_refuses_strings_with_its_own_reason() -> None:
    canary, _ = lazy_set()
    reason = PreprocessScale(0.5, modality="text").applies_to(canary)
    assert reason is not None and "text items must be a numpy array" in reason
