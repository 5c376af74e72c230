"""Where a gated run embeds its canaries and sweeps its ranks: in this process, or on Ray when
``--mmgate-ray`` names a cluster (the same values, so the same evidence and decision)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmgate.distributed.cluster import Cluster, connect
from mmgate.distributed.embedding import ray_embed_set
from mmgate.distributed.panel import ray_sweep
from mmgate.errors import ConfigError, MmgateError
from mmgate.panel.retrieval import Sweep
from mmgate.plugin.settings import Settings
from mmgate.subjects.embedding import Embeddings, embed_set
from mmgate.subjects.paired import PairedSet

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Engine:
    """A run's compute: ``cluster`` None embeds and sweeps here, else on that Ray cluster."""

    cluster: Cluster | None = None

    def embed(self, encoder: Any, paired_set: PairedSet, batch_size: int, progress: Progress | None = None,
              known: Mapping[str, np.ndarray] | None = None) -> Embeddings:
        """``embed_set`` here or by Ray Data actors (``mmgate.distributed.embedding``)."""
        if self.cluster is None:
            return embed_set(encoder, paired_set, batch_size, progress, known)
        return ray_embed_set(encoder, paired_set, batch_size, self.cluster, progress, known)

    @property
    def sweep(self) -> Sweep | None:
        """The canary's rank sweep: None (here) or Ray tasks (``mmgate.distributed.panel``)."""
        if self.cluster is None:
            return None
        return ray_sweep(self.cluster)


LOCAL = Engine()


def ray_problems(settings: Settings, distributed: bool) -> list[str]:
    """Why ``--mmgate-ray`` cannot serve this run, if it cannot: combined with ``--mmgate-device``,
    ``local`` under xdist (each worker would start a cluster of its own), or no Ray / no cluster."""
    if settings.ray is None:
        return []
    if settings.device is not None:
        return [f"--mmgate-ray {settings.ray} with --mmgate-device {settings.device}: the Ray panel runs numpy "
                f"tasks on the cluster's CPUs; choose one of the two"]
    if distributed and settings.ray == "local":
        return ["--mmgate-ray local under xdist (-n): every worker would start a Ray cluster of its own; start "
                "one (`ray start --head`) and pass --mmgate-ray auto, or run without -n"]
    try:
        engine_for(settings)
    except MmgateError as exc:
        return [str(exc)]
    return []


def engine_for(settings: Settings) -> Engine:
    """The engine ``settings`` ask for, connecting to the Ray cluster once per process."""
    if settings.ray is None:
        return LOCAL
    try:
        return Engine(connect(settings.ray))
    except ConfigError:
        raise
    except Exception as exc:  # Ray's own start-up errors vary by version; none is a model failure
        raise ConfigError(f"--mmgate-ray {settings.ray}: Ray could not start or connect: "
                          f"{type(exc).__name__}: {exc}") from exc
