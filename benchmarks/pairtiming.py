"""Timing two competitors fairly on a loaded machine: calls alternate, so both see the same load."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping


def alternating_rounds(runs: Mapping[str, Callable[[], object]],
                       repeats: int) -> tuple[dict[str, list[float]], dict[str, object]]:
    """Wall-clock seconds of ``repeats`` calls of each named function, one call of each per round in
    order; also the last result of each."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    results: dict[str, object] = {}
    for _ in range(repeats):
        for name, fn in runs.items():
            start = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - start)
    return times, results


def alternating_times(first: Callable[[], object], second: Callable[[], object],
                      repeats: int) -> tuple[list[float], list[float], object, object]:
    """Wall-clock seconds of ``repeats`` calls of each function, calls alternating; also the last
    result of each."""
    times, results = alternating_rounds({"first": first, "second": second}, repeats)
    return times["first"], times["second"], results["first"], results["second"]
