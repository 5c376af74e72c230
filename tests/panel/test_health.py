"""Numerical health: bad rows are counted, never raised on."""

from __future__ import annotations

import numpy as np
import pytest

from mmgate.errors import InputError
from mmgate.panel.health import numerical_health


def test_counts_nan_inf_and_zero_rows_without_raising():
    z = np.ones((6, 3))
    z[0, 1] = np.nan
    z[1, 2] = np.inf
    z[2] = [np.nan, -np.inf, 1.0]
    z[4] = 0.0
    assert numerical_health(z) == {"n_rows": 6, "nan_rows": 2, "inf_rows": 2, "zero_norm_rows": 1}


def test_healthy_integer_and_float16_inputs_report_zeros():
    assert numerical_health(np.arange(12).reshape(4, 3) + 1) == {"n_rows": 4, "nan_rows": 0, "inf_rows": 0,
                                                                  "zero_norm_rows": 0}
    assert numerical_health(np.ones((2, 2), dtype=np.float16))["zero_norm_rows"] == 0


def test_a_single_row_is_reported_not_rejected():
    assert numerical_health(np.zeros((1, 4)))["zero_norm_rows"] == 1


@pytest.mark.parametrize(("z", "words"), [(np.ones(3), "must be 2-D"), (np.ones((2, 2), dtype=bool), "bool"),
                                          (np.ones((2, 2), dtype=complex), "complex")])
def test_non_matrices_and_non_real_dtypes_still_raise(z, words):
    with pytest.raises(InputError, match=words):
        numerical_health(z)
