"""The rank sweep as Ray tasks gives the local sweep's ranks, ties and top-1s exactly."""

from __future__ import annotations

import numpy as np
import pytest

from mmgate.distributed.panel import ray_sweep
from mmgate.panel.retrieval import item_ranks, retrieval_ranks
from mmgate.subjects.items import canary_items
from mmgate.subjects.paired import PairedSet

FIELDS = ("i2t", "t2i", "i2t_top1", "t2i_top1", "i2t_ties", "t2i_ties")


def _pairs(n: int, d: int = 24, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    zi = rng.standard_normal((n, d))
    zt = zi + rng.standard_normal((n, d))
    zt[3] = zt[7]  # duplicate texts: ties merge across tasks as they do across threads
    return zi, zt


def _same(a, b) -> None:
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


@pytest.mark.parametrize("runs", [1, 3, 50])
def test_one_to_one_ranks_on_ray_equal_the_local_sweep(cluster, runs: int) -> None:
    zi, zt = _pairs(400)
    local = retrieval_ranks(zi, zt, block_size=32)
    _same(retrieval_ranks(zi, zt, block_size=32, sweep=ray_sweep(cluster, runs=runs)), local)


def test_unique_item_ranks_of_a_coco_layout_canary_on_ray_equal_the_local_sweep(cluster) -> None:
    zi, zt = _pairs(300, seed=1)
    image_of_row = np.arange(300) // 5  # five caption rows per image
    zi = zi[image_of_row * 5]  # every row of an image carries that image's embedding
    canary = PairedSet(image_of_row, [f"caption {i}" for i in range(300)], groups=image_of_row)
    items = canary_items(canary)
    assert (len(items.images.rows), len(items.texts.rows)) == (60, 300)
    _same(item_ranks(zi, zt, items, block_size=16, sweep=ray_sweep(cluster)), item_ranks(zi, zt, items, block_size=16))


def test_the_ray_sweep_refuses_the_torch_backend(cluster) -> None:
    zi, zt = _pairs(40)
    with pytest.raises(ValueError, match="cannot run on the torch backend"):
        retrieval_ranks(zi, zt, backend="torch", sweep=ray_sweep(cluster))
