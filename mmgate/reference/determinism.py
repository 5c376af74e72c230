"""Determinism self-check: train a tiny run twice and require bit-identical weights and history."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from mmgate.errors import MmgateError
from mmgate.records.canonical import canonical_json_line
from mmgate.reference.config import DEFAULT_ALIGNER, AlignerConfig, TrainConfig
from mmgate.reference.trainer import TrainResult, train_reference
from mmgate.world import World

TINY_TRAINING = TrainConfig(steps=12, batch_size=32, eval_every=6)

Trainer = Callable[[World, AlignerConfig, TrainConfig, int], TrainResult]


class DeterminismError(MmgateError, RuntimeError):
    """Two runs of the same (world, configs, seed) differed."""


def _first_difference(a: TrainResult, b: TrainResult) -> str | None:
    """Name of the first thing that differs between two results, or None when bit-identical."""
    wa, wb = a.model.weight_arrays(), b.model.weight_arrays()
    for name in sorted(set(wa) | set(wb)):
        x, y = wa.get(name), wb.get(name)
        same = x is not None and y is not None and (x.dtype, x.shape) == (y.dtype, y.shape)
        if not same or x.tobytes() != y.tobytes():  # type: ignore[union-attr]
            return f"weights {name}"
    if a.model.meta() != b.model.meta():
        return "model meta"
    ha = canonical_json_line(list(a.history))
    hb = canonical_json_line(list(b.history))
    if ha != hb:
        return "history"
    summary_a = (a.best_step, a.best_val_top1, a.config_sha256)
    if summary_a != (b.best_step, b.best_val_top1, b.config_sha256):
        return "best step / best val top-1 / config sha256"
    return None


def determinism_self_check(world: World, aligner: AlignerConfig = DEFAULT_ALIGNER,
                           training: TrainConfig = TINY_TRAINING, seed: int = 0,
                           trainer: Trainer = train_reference) -> dict:
    """Run `trainer` twice; raise DeterminismError naming the first difference, else summarise."""
    first = trainer(world, aligner, training, seed)
    second = trainer(world, aligner, training, seed)
    diff = _first_difference(first, second)
    if diff is not None:
        raise DeterminismError(f"determinism self-check failed: {diff} differ between two "
                               f"identical runs (seed {seed}, config sha256 "
                               f"{first.config_sha256[:12]}...)")
    history_json = canonical_json_line(list(first.history))
    return {"passed": True, "seed": seed, "steps": training.steps,
            "config_sha256": first.config_sha256, "weights_sha256": first.model.weights_sha256(),
            "history_sha256": hashlib.sha256(history_json.encode("utf-8")).hexdigest(),
            "n_history": len(first.history), "best_step": first.best_step,
            "best_val_top1": first.best_val_top1}
