"""Input checks: dtypes, shapes, normalisation robustness, argument validation."""

from __future__ import annotations

import numpy as np
import pytest

from mmgate.errors import ConfigError, InputError
from mmgate.panel.validate import (
    block_rows,
    compute_dtype,
    config_int,
    cutoffs,
    embedding_matrix,
    positive_real,
    probability,
    row_norms,
    unit_rows,
)


@pytest.mark.parametrize(("dtype", "expected"), [
    (np.float16, np.float32), (np.float32, np.float32), (np.float64, np.float64),
    (np.int8, np.float64), (np.int64, np.float64), (np.uint16, np.float64),
])
def test_compute_dtype_is_float32_for_narrow_floats_and_float64_otherwise(dtype, expected):
    assert compute_dtype(np.dtype(dtype)) == expected


def test_unit_rows_survive_values_whose_squares_overflow():
    z = np.array([[3e30, 4e30], [-1e-30, 0.0], [65000.0, 65000.0]], dtype=np.float32)
    u = unit_rows(z)
    np.testing.assert_allclose(u, [[0.6, 0.8], [-1.0, 0.0], [2 ** -0.5, 2 ** -0.5]], rtol=1e-6)
    half = np.array([[65000.0, 65000.0], [1.0, 0.0]], dtype=np.float16)
    np.testing.assert_allclose(unit_rows(half), [[2 ** -0.5, 2 ** -0.5], [1.0, 0.0]], rtol=1e-6)
    assert unit_rows(half).dtype == np.float32


def test_unit_rows_name_the_zero_rows():
    z = np.ones((5, 2))
    z[[1, 4]] = 0.0
    with pytest.raises(InputError, match=r"img has 2 zero-norm rows \(first: row 1\)"):
        unit_rows(z, "img")


def test_row_norms_are_exact_for_huge_and_tiny_rows():
    z = np.array([[3e200, 4e200], [0.0, 0.0], [3e-200, -4e-200]])
    np.testing.assert_allclose(row_norms(z), [5e200, 0.0, 5e-200])


def test_embedding_matrix_accepts_nested_lists_and_integers():
    assert embedding_matrix([[1, 2], [3, 4]]).shape == (2, 2)


def test_embedding_matrix_counts_rows_with_non_finite_values():
    z = np.ones((4, 3))
    z[0, 0] = np.nan
    z[2, :] = np.inf
    with pytest.raises(InputError, match=r"non-finite values \(NaN or Inf\) in 2 of 4 rows"):
        embedding_matrix(z, "z")


def test_embedding_matrix_rejects_empty_columns():
    with pytest.raises(InputError, match=r"at least 1 column \(d >= 1\)"):
        embedding_matrix(np.zeros((3, 0)))


def test_default_block_grows_with_d_from_4_to_32_mb_and_explicit_blocks_are_capped_at_n():
    assert block_rows(None, 8192, 4, 512) == 1024
    assert block_rows(None, 8192, 4, 4096) == 1024
    assert block_rows(None, 4096, 4, 48) == 256
    assert block_rows(None, 4096, 4, 128) == 512
    assert block_rows(None, 10, 8, 3) == 10
    assert block_rows(None, 10**9, 8, 3) == 1
    assert block_rows(500, 100, 4, 3) == 100


def test_cutoffs_keep_order_and_drop_duplicates():
    assert cutoffs((5, 1, 5), 10) == (5, 1)
    assert cutoffs(3, 10) == (3,)


@pytest.mark.parametrize("bad", [True, 1.0, "2", None, -1])
def test_config_int_rejects_non_integers_and_small_values(bad):
    with pytest.raises(ConfigError, match="n_boot must be an integer >= 0"):
        config_int(bad, "n_boot", 0)


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, True, "0.05", float("nan")])
def test_probability_must_lie_strictly_between_zero_and_one(bad):
    with pytest.raises(ConfigError, match="alpha must be a number strictly between 0 and 1"):
        probability(bad, "alpha")


@pytest.mark.parametrize("bad", [0, -1.0, float("inf"), float("nan"), False])
def test_positive_real_rejects_non_positive_and_non_finite(bad):
    with pytest.raises(ConfigError, match="ridge must be a finite number > 0"):
        positive_real(bad, "ridge")


def test_large_canaries_keep_a_row_floor_so_products_stay_efficient_but_bounded():
    from mmgate.panel.blocks import FLOOR_BYTES, MIN_PRODUCT_ROWS, capped_rows
    assert block_rows(None, 100_000, 8, 256) == MIN_PRODUCT_ROWS
    assert capped_rows(MIN_PRODUCT_ROWS, 100_000, 16) == MIN_PRODUCT_ROWS
    assert capped_rows(10, 100_000, 16) == 10
    assert capped_rows(10**6, 10**6, 16) * 10**6 * 16 <= FLOOR_BYTES
