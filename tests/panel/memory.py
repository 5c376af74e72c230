"""Peak memory of one call, for the tests that show a metric never builds an N x N array."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable


def peak_traced_bytes(fn: Callable[[], object]) -> int:
    """Peak bytes allocated (above the starting level) while ``fn`` runs, as tracemalloc sees them;
    numpy reports its array buffers to tracemalloc, so every intermediate array counts."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    start = tracemalloc.get_traced_memory()[0]
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] - start
    finally:
        if not was_tracing:
            tracemalloc.stop()


def half_a_score_matrix(n: int) -> int:
    """Bytes of half an N x N float32 score matrix: a peak below this rules out any N x N array."""
    return n * n * 4 // 2
