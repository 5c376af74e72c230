"""Connecting to Ray for ``--mmgate-ray``: a local cluster started in this process, the running
cluster (``auto``, Ray's own meaning) or one at an address; a missing extra or an unreachable
cluster is a setup error naming what to do."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from types import ModuleType

from mmgate.adapters.extras import require
from mmgate.errors import ConfigError

LOCAL = "local"
AUTO = "auto"


@dataclass(frozen=True)
class Cluster:
    """The Ray cluster a run uses: how it was named and the CPUs and GPUs it offers."""

    target: str
    cpus: int
    gpus: int


def ray_module() -> ModuleType:
    """``ray``, or ConfigError naming the extra that installs it."""
    return require("ray", "ray", "--mmgate-ray (the Ray scale-out)")


def connect(target: str, num_cpus: int | None = None) -> Cluster:
    """The cluster ``target`` names (``"local"``: start one here with ``num_cpus`` CPUs, default all
    cores; ``"auto"``: the running cluster; else its address), connecting once per process."""
    ray = ray_module()
    if not ray.is_initialized():
        options = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING}
        try:
            if target == LOCAL:
                ray.init(num_cpus=num_cpus or os.cpu_count() or 1, **options)
            else:
                ray.init(address=target, **options)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            hint = " (start one with `ray start --head`, or pass local)" if target == AUTO else ""
            raise ConfigError(f"--mmgate-ray {target}: cannot connect to a Ray cluster{hint}: {exc}") from exc
        _quiet_data(ray)
    resources = ray.cluster_resources()
    return Cluster(target, int(resources.get("CPU", 0)), int(resources.get("GPU", 0)))


def _quiet_data(ray: ModuleType) -> None:
    """No progress bars or per-dataset log lines from Ray Data in a gated run's output."""
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
