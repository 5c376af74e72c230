"""Best checkpoints: pickle-free .npz with the model, the canonical config JSON and its sha256."""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np

from mmgate.errors import ConfigError, InputError
from mmgate.records.canonical import canonical_json_line
from mmgate.reference.model import MODEL_KEYS, aligner_from_arrays
from mmgate.reference.npz import read_npz, scalar_str, write_npz_atomic
from mmgate.reference.trainer import TrainResult

CHECKPOINT_FORMAT = "mmgate-reference-checkpoint/1"
CHECKPOINT_KEYS: tuple[str, ...] = (*MODEL_KEYS, "format", "config_json", "config_sha256",
                                    "history_json", "history_sha256", "best_step", "best_val_top1")


def _sha256(text: str) -> str:
    """sha256 hex digest of UTF-8 text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _history_json(history: tuple[dict, ...]) -> str:
    """Canonical JSON of the training history."""
    return canonical_json_line(list(history))


def save_checkpoint(result: TrainResult, path: str | os.PathLike[str]) -> None:
    """Write `result` atomically as .npz; ConfigError if config_sha256 mismatches config_json."""
    if _sha256(result.config_json) != result.config_sha256:
        raise ConfigError("config_sha256: does not match sha256(config_json); refusing to save")
    history_json = _history_json(result.history)
    write_npz_atomic(path, {
        **result.model.to_arrays(),
        "format": np.array(CHECKPOINT_FORMAT),
        "config_json": np.array(result.config_json),
        "config_sha256": np.array(result.config_sha256),
        "history_json": np.array(history_json),
        "history_sha256": np.array(_sha256(history_json)),
        "best_step": np.array(result.best_step, dtype=np.int64),
        "best_val_top1": np.array(result.best_val_top1, dtype=np.float64),
    })


def load_checkpoint(path: str | os.PathLike[str]) -> TrainResult:
    """Read a checkpoint, verifying config, history and weight hashes.

    ConfigError when the config JSON does not hash to the stored config_sha256 (or disagrees with
    the model's temperature); InputError for an unreadable file, altered history or weights.
    """
    source = str(path)
    arrays = read_npz(path, CHECKPOINT_KEYS)
    if scalar_str(arrays, "format") != CHECKPOINT_FORMAT:
        raise InputError(f"{source}: format {scalar_str(arrays, 'format')!r}, "
                         f"expected {CHECKPOINT_FORMAT!r}")
    config_json = scalar_str(arrays, "config_json")
    config_sha = scalar_str(arrays, "config_sha256")
    if _sha256(config_json) != config_sha:
        raise ConfigError(f"{source}: config_sha256 mismatch (stored {config_sha[:12]}..., "
                          f"recomputed {_sha256(config_json)[:12]}...): the config was altered")
    history_json = scalar_str(arrays, "history_json")
    if _sha256(history_json) != scalar_str(arrays, "history_sha256"):
        raise InputError(f"{source}: history_sha256 mismatch: the training history was altered")
    model = aligner_from_arrays(arrays, source)
    try:
        temperature = float(json.loads(config_json)["aligner"]["temperature"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: config_json lacks aligner.temperature ({exc})") from exc
    if temperature != model.temperature:
        raise ConfigError(f"{source}: config aligner.temperature {temperature} differs from the "
                          f"model's {model.temperature}")
    return TrainResult(model=model, history=tuple(json.loads(history_json)),
                       best_step=int(arrays["best_step"]),
                       best_val_top1=float(arrays["best_val_top1"]),
                       config_json=config_json, config_sha256=config_sha)
