"""A canary embedded by Ray Data actors has the local pass's values, checks and errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mmgate.distributed.embedding import ray_embed_set, shard_bounds
from mmgate.subjects.embedding import EncoderOutputError, EncoderRaised, UnreadableRows, embed_set
from mmgate.subjects.paired import PairedSet

N, D = 70, 8
TABLE = np.random.default_rng(0).standard_normal((N, D))


class PixelEncoder:
    """Image i (a solid grey of value i) reads back as row i of a fixed table; texts 'item i' too,
    with a batch-dependent part, so a shard cut differently from the local batches would show."""

    def __init__(self, fault: str = "") -> None:
        self.fault = fault

    def embed_images(self, batch):
        return TABLE[[int(np.asarray(image)[0, 0, 0]) for image in batch]]

    def embed_texts(self, batch):
        rows = [int(text.split()[1]) for text in batch]
        if self.fault == "raises" and 40 in rows:
            raise KeyError("token 'item 40' not in vocabulary")
        out = TABLE[rows] + 1e-3 * len(batch)
        if self.fault == "nan":
            out[0, 0] = np.nan
        return out


def _manifest(tmp_path: Path, corrupt: tuple[int, ...] = ()) -> PairedSet:
    image = pytest.importorskip("PIL.Image")
    for i in range(N):
        image.new("RGB", (4, 4), (i, i, i)).save(tmp_path / f"img{i:03d}.png")
    for i in corrupt:
        (tmp_path / f"img{i:03d}.png").write_bytes(b"\x89PNG\r\n\x1a\n not a png")
    (tmp_path / "canary.csv").write_text("image,caption\n" + "".join(f"img{i:03d}.png,item {i}\n" for i in range(N)))
    return PairedSet.from_manifest(tmp_path / "canary.csv")


def test_shards_are_runs_of_whole_batches() -> None:
    assert shard_bounds(70, 8) == [(0, 32), (32, 64), (64, 70)]
    assert shard_bounds(10, 256) == [(0, 10)]


def test_a_manifest_canary_embedded_on_ray_has_the_local_values(cluster, tmp_path: Path) -> None:
    canary = _manifest(tmp_path)
    seen = []
    remote = ray_embed_set(PixelEncoder(), canary, 8, cluster, progress=lambda done, n, m: seen.append((done, n, m)))
    local = embed_set(PixelEncoder(), canary, 8)
    np.testing.assert_array_equal(remote.z_img, local.z_img)
    np.testing.assert_array_equal(remote.z_txt, local.z_txt)
    assert seen[-1][:2] == (N, N) and {m for _, _, m in seen} == {"image", "text"}


def test_a_known_modality_is_not_embedded_again(cluster, tmp_path: Path) -> None:
    canary = _manifest(tmp_path)
    known = np.zeros((N, D)) + 1.0
    out = ray_embed_set(PixelEncoder(), canary, 8, cluster, known={"image": known})
    np.testing.assert_array_equal(out.z_img, known)
    np.testing.assert_array_equal(out.z_txt, embed_set(PixelEncoder(), canary, 8).z_txt)


@pytest.mark.parametrize("fault, corrupt, error", [
    ("raises", (), EncoderRaised),
    ("", (17, 60), UnreadableRows),
    ("nan", (), EncoderOutputError),
], ids=["encoder-raises", "corrupt-png", "nan-output"])
def test_a_fault_is_raised_as_the_local_pass_raises_it(cluster, tmp_path: Path, fault, corrupt, error) -> None:
    canary = _manifest(tmp_path, corrupt)
    with pytest.raises(error) as local:
        embed_set(PixelEncoder(fault), canary, 8)
    with pytest.raises(error) as remote:
        ray_embed_set(PixelEncoder(fault), canary, 8, cluster)
    assert str(remote.value) == str(local.value)
    assert type(remote.value.__cause__) is type(local.value.__cause__)
    for name in ("modality", "start", "stop"):
        assert getattr(remote.value, name, None) == getattr(local.value, name, None)
