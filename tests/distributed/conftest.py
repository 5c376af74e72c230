"""One local Ray cluster (two CPUs, as on CI) per test process, for the tests that need Ray."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def cluster() -> Iterator[object]:
    """The ``--mmgate-ray local`` connection these tests share; skipped without the ray extra."""
    ray = pytest.importorskip("ray", reason="the Ray scale-out needs mmgate[ray]")
    from mmgate.distributed.cluster import connect

    yield connect("local", num_cpus=2)
    ray.shutdown()
