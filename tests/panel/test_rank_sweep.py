"""A sweep splits into runs of image rows merged exactly (the basis of the distributed panel)."""

from __future__ import annotations

import numpy as np
import pytest

from mmgate.panel.rank_sweep import merge_sweeps, row_runs, sweep_plan, sweep_ranks, sweep_rows


def _unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    z = rng.standard_normal((n, d)).astype(np.float32)
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def _pairs(seed: int = 0, n: int = 300, d: int = 16) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    zi = _unit(rng, n, d)
    zt = zi + 0.8 * _unit(rng, n, d)
    zt[5] = zt[9]  # an exact duplicate text: ties must merge the same way
    return zi, (zt / np.linalg.norm(zt, axis=1, keepdims=True)).astype(np.float32)


def _same(a, b) -> None:
    for name in ("i2t", "t2i", "i2t_top1", "t2i_top1", "i2t_ties", "t2i_ties"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


@pytest.mark.parametrize("runs", [1, 2, 3, 7])
def test_runs_of_whole_blocks_merged_in_any_order_equal_one_sweep(runs: int) -> None:
    zi, zt = _pairs()
    block = 32
    plan = sweep_plan(zi, zt)
    parts = [sweep_rows(zi, zt, a, b, block, plan, max_threads=1) for a, b in row_runs(len(zi), block, runs)]
    assert len(parts) == runs
    _same(merge_sweeps(parts[::-1], plan), sweep_ranks(zi, zt, block))


def test_grouped_runs_merge_exactly() -> None:
    zi, zt = _pairs(seed=1)
    groups = np.arange(len(zi)) // 3
    plan = sweep_plan(zi, zt, groups)
    parts = [sweep_rows(zi, zt, a, b, 50, plan) for a, b in row_runs(len(zi), 50, 4)]
    _same(merge_sweeps(parts, plan), sweep_ranks(zi, zt, 50, groups))


def test_row_runs_cover_every_row_once_in_whole_blocks() -> None:
    runs = row_runs(1000, 64, 5)
    assert runs[0][0] == 0 and runs[-1][1] == 1000
    assert all(b == c for (_, b), (c, _) in zip(runs[:-1], runs[1:]))
    assert all(a % 64 == 0 for a, _ in runs)
    assert row_runs(100, 64, 8) == [(0, 64), (64, 100)]


def test_a_row_covered_twice_or_not_at_all_is_refused() -> None:
    zi, zt = _pairs(n=64)
    plan = sweep_plan(zi, zt)
    first = sweep_rows(zi, zt, 0, 32, 32, plan)
    with pytest.raises(ValueError, match="cover each of the 64 image rows once"):
        merge_sweeps([first], plan)
    with pytest.raises(ValueError, match="cover each"):
        merge_sweeps([first, first, sweep_rows(zi, zt, 32, 64, 32, plan)], plan)
    with pytest.raises(ValueError, match="no runs"):
        merge_sweeps([], plan)
