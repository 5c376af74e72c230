"""Limited fine-tuning with stop rules and rollback (book §3.7.5).

At most K optimiser steps (AdamW from fresh moments, the given learning rate and temperature) on a
paired training set. After every step the stop rules are checked on a monitor set: NaN or infinite
parameters or embeddings, mean cosine above its ceiling, the per-coordinate variance floor or the
effective rank below its floor, hubness above its ceiling, and the one-step sensitivity proxy above
its ceiling. A bound the starting model already violates is relaxed to "no worse than the start
plus a margin" (a fine-tune may not deepen a violation). A healthy step is checkpointed every
``checkpoint_every`` steps (and step 0); when a rule fires the run stops and rolls back to the last
healthy checkpoint, read back from its file and checked byte for byte (sha256 of the file against
the sha256 recorded when it was written, and of the restored model's serialisation).

Checkpoints are deterministic .npz files (fixed zip timestamps), so the same weights always give the
same bytes and the same sha256.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import math
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from mmgate import panel
from mmgate.lab.interventions.config import InterventionConfig
from mmgate.records.atomic import write_bytes_atomic
from mmgate.reference import (
    ReferenceAligner,
    adam_init,
    adamw_update,
    clip_by_norm,
    loss_and_gradients,
)
from mmgate.reference.gradients import DECAYED_PARAMS
from mmgate.reference.mlp import mlp_from_arrays
from mmgate.reference.model import aligner_from_arrays
from mmgate.reference.sensitivity import sensitivity_proxy_one_step

_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
RULES = ("nan", "mean_cosine_ceiling", "variance_floor", "effective_rank_floor", "hubness_ceiling",
         "sensitivity_ceiling")


def checkpoint_bytes(model: ReferenceAligner) -> bytes:
    """Deterministic pickle-free .npz bytes of ``model`` (its arrays and weights sha256)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, array in sorted(model.to_arrays().items()):
            entry = io.BytesIO()
            np.lib.format.write_array(entry, np.asarray(array), allow_pickle=False)
            archive.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_TIME), entry.getvalue())
    return buffer.getvalue()


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def load_checkpoint_bytes(data: bytes, source: str = "checkpoint") -> ReferenceAligner:
    """The model of ``checkpoint_bytes`` output (weights sha256 verified)."""
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    return aligner_from_arrays(arrays, source)


@dataclass(frozen=True)
class StopRules:
    """The stop rules' bounds for one fine-tune (after relaxing those the start already violates)."""

    max_mean_cosine: float
    min_variance_floor: float
    min_effective_rank: float
    max_hubness: float
    max_sensitivity: float

    def to_dict(self) -> dict[str, float]:
        """JSON-ready copy."""
        return dataclasses.asdict(self)


def health(model: ReferenceAligner, images: np.ndarray, tokens: np.ndarray, config: InterventionConfig,
           with_sensitivity: bool = True) -> dict[str, float]:
    """The stop rules' readings of ``model`` on a monitor set (NaN readings when embeddings are not finite)."""
    names = ("mean_cosine", "variance_floor", "effective_rank", "hubness", "sensitivity")
    arrays = model.weight_arrays()
    if not all(np.all(np.isfinite(a)) for a in arrays.values()):
        return {n: math.nan for n in names}
    with np.errstate(all="ignore"):
        zi, zt = model.embed_images(images), model.embed_texts(tokens)
    if not (np.all(np.isfinite(zi)) and np.all(np.isfinite(zt))) or min(np.linalg.norm(zi, axis=1).min(),
                                                                        np.linalg.norm(zt, axis=1).min()) == 0:
        return {n: math.nan for n in names}
    hub = panel.hubness(zi, zt, k=10)
    out = {"mean_cosine": max(panel.mean_cosine(zi), panel.mean_cosine(zt)),
           "variance_floor": min(panel.coordinate_variance(zi)["p5"], panel.coordinate_variance(zt)["p5"]),
           "effective_rank": min(panel.effective_rank(zi), panel.effective_rank(zt)),
           "hubness": max(hub["i2t_top1_concentration"], hub["t2i_top1_concentration"]),
           "sensitivity": math.nan}
    if with_sensitivity:
        n = min(128, len(images))
        try:
            out["sensitivity"] = sensitivity_proxy_one_step(model, images[:n], tokens[:n], config.sensitivity_lr).value
        except Exception:  # noqa: BLE001 - a non-finite step is itself an instability
            out["sensitivity"] = math.nan
    return {k: float(v) for k, v in out.items()}


def stop_rules(start: Mapping[str, float], config: InterventionConfig) -> StopRules:
    """The bounds for a fine-tune whose starting model reads ``start``."""
    return StopRules(
        max_mean_cosine=max(config.max_mean_cosine, start["mean_cosine"] + config.stop_margin_cosine),
        min_variance_floor=min(config.min_variance_floor, start["variance_floor"] - config.stop_margin_variance),
        min_effective_rank=min(config.min_effective_rank, start["effective_rank"] - config.stop_margin_rank),
        max_hubness=max(config.max_hubness, start["hubness"] + config.stop_margin_hubness),
        max_sensitivity=max(config.max_sensitivity, start["sensitivity"] + 0.05))


def fired_rules(reading: Mapping[str, float], rules: StopRules) -> list[str]:
    """The stop rules ``reading`` violates (``nan`` alone when any reading is not finite)."""
    if not all(math.isfinite(v) for v in reading.values()):
        return ["nan"]
    checks = (("mean_cosine_ceiling", reading["mean_cosine"] > rules.max_mean_cosine),
              ("variance_floor", reading["variance_floor"] < rules.min_variance_floor),
              ("effective_rank_floor", reading["effective_rank"] < rules.min_effective_rank),
              ("hubness_ceiling", reading["hubness"] > rules.max_hubness),
              ("sensitivity_ceiling", reading["sensitivity"] > rules.max_sensitivity))
    return [name for name, bad in checks if bad]


@dataclass(frozen=True, eq=False)
class FineTuneResult:
    """The model the fine-tune leaves (the last step, or the rolled-back checkpoint) and its record."""

    model: ReferenceAligner
    record: dict[str, Any]


def _to_features(model: ReferenceAligner, images: np.ndarray, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return model.image_inputs(images), model.text_inputs(tokens)


def limited_fine_tune(model: ReferenceAligner, images: np.ndarray, tokens: np.ndarray, monitor: tuple[np.ndarray, np.ndarray],
                      config: InterventionConfig, checkpoint_dir: str | Path, *, steps: int | None = None,
                      lr: float | None = None, temperature: float | None = None, grad_scale_img: float = 1.0,
                      grad_scale_txt: float = 1.0, seed: int = 0) -> FineTuneResult:
    """At most K steps of AdamW on (images, tokens) under the stop rules; see the module docstring.
    ``lr`` defaults to ``config.lr`` (a destabilised run passes a larger one)."""
    steps = config.fine_tune_steps if steps is None else steps
    if steps > config.max_steps:
        raise ValueError(f"steps {steps} exceed the intensity bound K = {config.max_steps}")
    lr = config.lr if lr is None else float(lr)
    temperature = config.temperature if temperature is None else float(temperature)
    out = Path(checkpoint_dir)
    with threadpool_limits(limits=1, user_api="blas"):
        x_img, x_txt = _to_features(model, images, tokens)
        start = health(model, *monitor, config)
        rules = stop_rules(start, config)
        current = dataclasses.replace(model, temperature=temperature)
        towers = {"img": current.image_tower, "txt": current.text_tower}
        states = {k: adam_init(t.arrays()) for k, t in towers.items()}
        scales = {"img": grad_scale_img, "txt": grad_scale_txt}
        checkpoints: list[dict[str, Any]] = []

        def save(step: int, m: ReferenceAligner) -> None:
            data = checkpoint_bytes(m)
            path = out / f"checkpoint_step{step:04d}.npz"
            sha = write_bytes_atomic(path, data)
            checkpoints.append({"step": step, "path": path.name, "sha256": sha, "weights_sha256": m.weights_sha256()})

        save(0, current)
        rng = np.random.default_rng(np.random.SeedSequence([seed, 0x1F7]))
        n = x_img.shape[0]
        trace, fired, stopped_at, taken = [], [], None, 0
        for step in range(1, steps + 1):
            idx = rng.choice(n, size=min(config.batch_size, n), replace=False)
            with np.errstate(all="ignore"):
                g = loss_and_gradients(towers["img"], towers["txt"], x_img[idx], x_txt[idx], temperature)
                for key, grads in (("img", g.img), ("txt", g.txt)):
                    clipped, _ = clip_by_norm(grads, config.grad_clip)  # type: ignore[arg-type]
                    params, states[key] = adamw_update(towers[key].arrays(), clipped, states[key], lr * scales[key],
                                                       config.weight_decay, decay=DECAYED_PARAMS)
                    towers[key] = mlp_from_arrays(params)
            taken = step
            current = dataclasses.replace(current, image_tower=towers["img"], text_tower=towers["txt"])
            reading = health(current, *monitor, config)
            fired = fired_rules(reading, rules)
            trace.append({"step": step, "loss": float(g.loss) if math.isfinite(g.loss) else None,
                          **{k: (v if math.isfinite(v) else None) for k, v in reading.items()}, "fired": fired})
            if fired:
                stopped_at = step
                break
            if step % config.checkpoint_every == 0:
                save(step, current)
        rollback = None
        final = current
        if stopped_at is not None:
            last = checkpoints[-1]
            data = (out / last["path"]).read_bytes()
            restored = load_checkpoint_bytes(data, last["path"])
            rollback = {"to_step": last["step"], "checkpoint": last["path"], "checkpoint_sha256": last["sha256"],
                        "read_back_sha256": sha256_bytes(data),
                        "restored_sha256": sha256_bytes(checkpoint_bytes(restored)),
                        "restored_weights_sha256": restored.weights_sha256()}
            rollback["byte_identical"] = (rollback["checkpoint_sha256"] == rollback["read_back_sha256"]
                                          == rollback["restored_sha256"]
                                          and rollback["restored_weights_sha256"] == last["weights_sha256"])
            final = restored
    record = {"steps_requested": steps, "steps_taken": taken, "k_bound": config.max_steps, "lr": lr,
              "temperature": temperature, "grad_scale_img": grad_scale_img, "grad_scale_txt": grad_scale_txt,
              "start": start, "stop_rules": rules.to_dict(), "rules_checked": list(RULES),
              "fired": fired if stopped_at is not None else [], "stopped": stopped_at is not None,
              "stopped_at_step": stopped_at, "rolled_back": rollback is not None, "rollback": rollback,
              "checkpoints": checkpoints, "trace_tail": trace[-5:],
              "final_weights_sha256": final.weights_sha256()}
    return FineTuneResult(final, record)
