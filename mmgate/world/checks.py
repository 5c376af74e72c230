"""Argument checks shared by the world modules: each names the argument and what was expected."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mmgate.errors import ConfigError


def require_int(name: str, value: Any, minimum: int, error: type[Exception] = ConfigError) -> int:
    """``value`` as an int (bools refused) if it is at least ``minimum``, else ``error``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise error(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


def require_number(name: str, value: Any, *, low: float | None = None, high: float | None = None,
                   positive: bool = False, error: type[Exception] = ConfigError) -> float:
    """``value`` as a finite float within [low, high] (or > 0 when ``positive``), else ``error``."""
    if positive:
        expected = "a finite number > 0"
    elif low is not None and high is not None:
        expected = f"a number in [{low:g}, {high:g}]"
    elif low is not None:
        expected = f"a finite number >= {low:g}"
    else:
        expected = "a finite number"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise error(f"{name}: expected {expected}, got {value!r}")
    x = float(value)
    if (not math.isfinite(x) or (positive and x <= 0.0) or (low is not None and x < low)
            or (high is not None and x > high)):
        raise error(f"{name}: expected {expected}, got {value!r}")
    return x


def require_choice(name: str, value: Any, options: tuple[str, ...],
                   error: type[Exception] = ConfigError) -> str:
    """``value`` if it is one of ``options``, else ``error``."""
    if not isinstance(value, str) or value not in options:
        raise error(f"{name}: expected one of {list(options)}, got {value!r}")
    return value
