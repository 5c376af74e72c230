"""Torch backend of the retrieval panel, on CPU torch: the same ranks, ties and top-1 as numpy
(row-paired and grouped, any block size), backend selection, and the same input errors."""

from __future__ import annotations

import numpy as np
import pytest

from mmgate.errors import ConfigError, InputError
from mmgate.panel import rank_sweep
from mmgate.panel.retrieval import retrieval_metrics, retrieval_ranks
from mmgate.panel.torch_backend import check_device, select_backend

torch = pytest.importorskip("torch", reason="the torch backend needs PyTorch")

FIELDS = ("i2t", "t2i", "i2t_top1", "t2i_top1", "i2t_ties", "t2i_ties")


def _pairs(seed: int, n: int, d: int, noise: float, dtype: type = np.float32) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    zi = rng.standard_normal((n, d))
    return zi.astype(dtype), (zi + noise * rng.standard_normal((n, d))).astype(dtype)


def _assert_same(a, b) -> None:
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


@pytest.mark.parametrize(("n", "d", "noise", "dtype"), [(2, 3, 1.0, np.float32), (257, 16, 1.0, np.float32),
                                                        (400, 24, 3.0, np.float32), (300, 8, 0.5, np.float64)])
@pytest.mark.parametrize("block", [None, 1, 37])
def test_tensors_give_the_numpy_ranks(n, d, noise, dtype, block):
    zi, zt = _pairs(n + d, n, d, noise, dtype)
    expected = retrieval_ranks(zi, zt)
    _assert_same(retrieval_ranks(torch.from_numpy(zi), torch.from_numpy(zt), block_size=block), expected)


@pytest.mark.parametrize("block", [None, 5, 64])
def test_groups_give_the_numpy_ranks(block):
    zi, zt = _pairs(7, 360, 12, 1.5)
    groups = np.random.default_rng(1).integers(0, 90, 360)
    expected = retrieval_ranks(zi, zt, groups=groups)
    got = retrieval_ranks(torch.from_numpy(zi), torch.from_numpy(zt), block_size=block, groups=torch.from_numpy(groups))
    _assert_same(got, expected)
    np.testing.assert_array_equal(got.groups, expected.groups)


@pytest.mark.parametrize("sparse", [1, 10**9])  # contested rows and columns gathered / counted in place
@pytest.mark.parametrize("noise", [0.3, 3.0])
def test_gathered_and_in_place_counts_give_the_numpy_ranks(monkeypatch, sparse, noise):
    zi, zt = _pairs(11, 300, 10, noise)
    zt[20:26] = zt[20]
    expected = retrieval_ranks(zi, zt)
    monkeypatch.setattr(rank_sweep, "SPARSE_ROWS", sparse)
    monkeypatch.setattr(rank_sweep, "SPARSE_COLUMNS", sparse)
    _assert_same(retrieval_ranks(zi, zt, backend="torch", block_size=64), expected)


def test_tie_heavy_sign_data_gives_the_numpy_ties():
    # +-1 rows in 4-d: 16 distinct unit rows of entries +-0.5, so every score is exact in float32 and
    # the ties are exact on both backends (scores that differ by an ulp would make top-1 a coin toss).
    rng = np.random.default_rng(3)
    zi, zt = (rng.choice(np.array([-1.0, 1.0], dtype=np.float32), (200, 4)) for _ in range(2))
    expected = retrieval_ranks(zi, zt)
    assert expected.i2t_ties.sum() > 0
    _assert_same(retrieval_ranks(zi, zt, backend="torch", block_size=13), expected)


def test_collapsed_embeddings_are_ties_on_torch_too():
    z = torch.ones((50, 8))
    ranks = retrieval_ranks(z, z)
    assert not ranks.i2t.any() and (ranks.i2t_ties == 49).all() and (ranks.t2i_top1 == np.arange(50)).all()


def test_metrics_match_and_outputs_are_read_only_host_int64():
    zi, zt = _pairs(5, 300, 16, 2.0)
    assert retrieval_metrics(zi, zt, backend="torch", device="cpu") == retrieval_metrics(zi, zt)
    ranks = retrieval_ranks(torch.from_numpy(zi), torch.from_numpy(zt))
    for name in FIELDS:
        arr = getattr(ranks, name)
        assert isinstance(arr, np.ndarray) and arr.dtype == np.int64 and not arr.flags.writeable


def test_tf32_setting_is_restored_after_the_sweep():
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("high")
    try:
        zi, zt = _pairs(2, 64, 8, 1.0)
        retrieval_ranks(zi, zt, backend="torch")
        assert torch.get_float32_matmul_precision() == "high"
    finally:
        torch.set_float32_matmul_precision(previous)


@pytest.mark.parametrize(("backend", "device", "inputs", "expected"), [
    (None, None, (np.zeros(2),), "numpy"), (None, "cpu", (np.zeros(2),), "torch"),
    ("torch", None, (np.zeros(2),), "torch"), ("numpy", None, (torch.zeros(2),), "numpy")])
def test_backend_selection(backend, device, inputs, expected):
    assert select_backend(backend, device, *inputs) == expected
    assert select_backend(None, None, torch.zeros(2)) == "torch"


def test_numpy_backend_takes_tensors_too():
    zi, zt = _pairs(4, 100, 8, 1.0)
    _assert_same(retrieval_ranks(torch.from_numpy(zi), torch.from_numpy(zt), backend="numpy"), retrieval_ranks(zi, zt))


@pytest.mark.parametrize(("kwargs", "words"), [({"backend": "jax"}, "backend must be one of"),
                                               ({"backend": "numpy", "device": "cpu"}, "needs backend='torch'")])
def test_bad_backend_arguments_raise_config_error(kwargs, words):
    zi, zt = _pairs(0, 10, 4, 1.0)
    with pytest.raises(ConfigError, match=words):
        retrieval_ranks(zi, zt, **kwargs)


def test_unusable_device_raises_config_error():
    assert check_device("cpu") == "cpu"
    with pytest.raises(ConfigError, match="not usable"):
        check_device("no-such-device")


@pytest.mark.parametrize(("zi", "zt", "words"), [
    (torch.zeros((5, 3), dtype=torch.bool), torch.ones((5, 3)), "real numbers"),
    (torch.ones(5), torch.ones(5), "must be 2-D"),
    (torch.ones((1, 3)), torch.ones((1, 3)), "at least 2 rows"),
    (torch.ones((5, 3)), torch.ones((4, 3)), "shape mismatch"),
    (torch.ones((5, 3)), torch.ones((5, 2)), "shape mismatch"),
    (torch.tensor([[1.0, float("nan")], [1.0, 2.0]]), torch.ones((2, 2)), "non-finite"),
    (torch.zeros((3, 2)), torch.ones((3, 2)), "zero-norm rows")])
def test_bad_tensors_raise_input_error_naming_the_problem(zi, zt, words):
    with pytest.raises(InputError, match=words):
        retrieval_ranks(zi, zt)
