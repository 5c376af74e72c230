"""Timing two competitors fairly on a loaded machine: calls alternate, so both see the same load."""

from __future__ import annotations

import time
from collections.abc import Callable


def alternating_times(first: Callable[[], object], second: Callable[[], object],
                      repeats: int) -> tuple[list[float], list[float], object, object]:
    """Wall-clock seconds of ``repeats`` calls of each function, calls alternating; also the last
    result of each."""
    times: tuple[list[float], list[float]] = ([], [])
    results: list[object] = [None, None]
    for _ in range(repeats):
        for slot, fn in enumerate((first, second)):
            start = time.perf_counter()
            results[slot] = fn()
            times[slot].append(time.perf_counter() - start)
    return times[0], times[1], results[0], results[1]
