"""The retrieval panel's rank sweep as Ray tasks: the plan (reference scores and tie bands) is
computed once in the driver, the unit rows and the plan go to Ray's object store once, each task
sweeps one run of whole query blocks against every candidate, and the runs are merged exactly
(``rank_sweep.merge_sweeps``): the ranks, ties and top-1s equal the local sweep's."""

from __future__ import annotations

import numpy as np

from mmgate.distributed.cluster import Cluster, ray_module
from mmgate.panel.rank_sweep import RowSweep, SweepPlan, SweepResult, merge_sweeps, row_runs, sweep_plan, sweep_rows
from mmgate.panel.retrieval import Labels, Sweep

RUNS_PER_CPU = 2
"""Runs per CPU of the cluster: enough that a slow worker does not hold the merge up for long."""


def _sweep_run(zi: np.ndarray, zt: np.ndarray, start: int, stop: int, block: int, plan: SweepPlan) -> RowSweep:
    """One Ray task: rows ``[start, stop)`` on the one CPU the task holds."""
    return sweep_rows(zi, zt, start, stop, block, plan, max_threads=1)


def ray_sweep(cluster: Cluster, runs: int | None = None) -> Sweep:
    """A ``Sweep`` (see ``panel.retrieval``) whose runs of query blocks are Ray tasks on ``cluster``:
    ``runs`` of them (default ``RUNS_PER_CPU`` per CPU; never more than there are blocks)."""
    ray = ray_module()
    task = ray.remote(num_cpus=1)(_sweep_run)
    count = runs if runs is not None else max(1, RUNS_PER_CPU * cluster.cpus)

    def sweep(zi: np.ndarray, zt: np.ndarray, block: int, labels: Labels) -> SweepResult:
        plan = sweep_plan(zi, zt, labels)
        zi_ref, zt_ref, plan_ref = ray.put(zi), ray.put(zt), ray.put(plan)
        pending = [task.remote(zi_ref, zt_ref, a, b, block, plan_ref) for a, b in row_runs(zi.shape[0], block, count)]
        return merge_sweeps(ray.get(pending), plan)

    return sweep
