"""The canary embedded by Ray Data: shards of whole encoder batches streamed to a pool of stateful
actors (one model load per actor; one GPU each where the cluster has GPUs), each returning its
rows' embeddings as one block in Ray's object store, assembled by row index in the driver.

A shard is a run of the batches ``embed_set`` would make (its first row a multiple of the batch
size), so every encoder call sees the rows it sees locally and the values equal the local pass's.
A fault (an unreadable file, an encoder that raises, unusable output) comes back as the shard's
result rather than as Ray's wrapped traceback, and the first one in local order (image rows before
text rows, lower rows first) is raised as the local pass would raise it.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from mmgate.distributed.cluster import Cluster, ray_module
from mmgate.errors import MmgateError
from mmgate.subjects.embedding import EncoderOutputError, Embeddings, check_values, embed_rows
from mmgate.subjects.paired import PairedSet

BATCHES_PER_SHARD = 4
"""Encoder batches per shard: shards small enough to spread over the actors and retry cheaply,
large enough that a block's transfer dwarfs Ray's per-task overhead (a few ms)."""

_ORDER = {"image": 0, "text": 1}
Progress = Callable[[int, int, str], None]


def shard_bounds(n: int, batch_size: int, batches_per_shard: int = BATCHES_PER_SHARD) -> list[tuple[int, int]]:
    """``[start, stop)`` of the shards of ``n`` rows, each ``batches_per_shard`` whole batches."""
    step = batch_size * batches_per_shard
    return [(start, min(n, start + step)) for start in range(0, n, step)]


class ShardEmbedder:
    """A Ray Data actor: holds the encoder and the canary, embeds each shard it is handed and
    returns it pickled (embeddings, or the fault that stopped it) as one row of the output."""

    def __init__(self, encoder: Any, paired_set: PairedSet, batch_size: int, modalities: Sequence[str]) -> None:
        self.encoder, self.paired_set = encoder, paired_set
        self.batch_size, self.modalities = batch_size, tuple(modalities)

    def __call__(self, shard: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One shard (``start``, ``stop`` columns of one row) embedded, as a ``payload`` row."""
        start, stop = int(shard["start"][0]), int(shard["stop"][0])
        result: Any = {}
        dim = None
        for modality in self.modalities:
            try:
                result.update(embed_rows(self.encoder, self.paired_set, start, stop, self.batch_size, (modality,), dim))
            except MmgateError as exc:
                result = Fault(exc, _portable(exc.__cause__), modality)
                break
            dim = result[modality].shape[1]
        return {"start": np.array([start]), "payload": np.array([pickle.dumps(result)], dtype=object)}


class Fault:
    """A shard's fault as it travels back: mmgate's error, its cause (tracebacks stay behind) and
    the modality it was met in."""

    def __init__(self, error: MmgateError, cause: BaseException | None, modality: str) -> None:
        self.error, self.cause, self.modality = error, cause, modality

    def raised(self) -> MmgateError:
        """The error with its cause re-attached, as the local pass would raise it."""
        self.error.__cause__ = self.cause
        return self.error


def _portable(cause: BaseException | None) -> BaseException | None:
    """The cause itself when it survives pickling (most do), else a RuntimeError with its type and message."""
    if cause is None:
        return None
    try:
        pickle.loads(pickle.dumps(cause))
    except Exception:
        return RuntimeError(f"{type(cause).__name__}: {cause}")
    return cause


def _first_fault(faults: list[tuple[int, Fault]]) -> MmgateError:
    """The fault the local pass would meet first: image before text, then the lowest row."""
    def order(item: tuple[int, Fault]) -> tuple[int, int]:
        start, fault = item
        return _ORDER[fault.modality], getattr(fault.error, "start", start)
    return min(faults, key=order)[1].raised()


def _assembled(parts: dict[int, dict[str, np.ndarray]], n: int, modalities: Sequence[str]) -> dict[str, np.ndarray]:
    """The shards of each modality placed by row, one dimension checked across them."""
    out: dict[str, np.ndarray] = {}
    for modality in modalities:
        dims = {part[modality].shape[1] for part in parts.values()}
        first = parts[min(parts)][modality].shape[1]
        if len(dims) > 1:
            start = min(s for s, part in parts.items() if part[modality].shape[1] != first)
            raise EncoderOutputError(f"{modality} embeddings for rows {start}: embedding dimension differs "
                                     f"from earlier batches: expected {first}, got {sorted(dims - {first})[0]}")
        z = np.empty((n, first), dtype=np.float64)
        for start, part in parts.items():
            z[start:start + part[modality].shape[0]] = part[modality]
        check_values(z, modality)
        out[modality] = z
    return out


def ray_embed_set(encoder: Any, paired_set: PairedSet, batch_size: int, cluster: Cluster,
                  progress: Progress | None = None, known: Mapping[str, np.ndarray] | None = None) -> Embeddings:
    """``embed_set`` on Ray: the same values, checks and errors, computed by a pool of actors
    (one per GPU on a cluster with GPUs, else one per CPU, at most one per shard)."""
    ray = ray_module()
    known = dict(known or {})
    todo = [modality for modality in ("image", "text") if modality not in known]
    n = len(paired_set)
    if todo:
        bounds = shard_bounds(n, batch_size)
        gpus = cluster.gpus > 0
        actors = max(1, min(len(bounds), cluster.gpus if gpus else cluster.cpus))
        shards = ray.data.from_items([{"start": a, "stop": b} for a, b in bounds], override_num_blocks=len(bounds))
        embedded = shards.map_batches(
            ShardEmbedder, fn_constructor_kwargs={"encoder": encoder, "paired_set": paired_set,
                                                  "batch_size": batch_size, "modalities": todo},
            batch_size=1, batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=actors),
            num_gpus=1 if gpus else None, num_cpus=None if gpus else 1)
        parts: dict[int, dict[str, np.ndarray]] = {}
        faults: list[tuple[int, Fault]] = []
        done = 0
        for block in embedded.iter_batches(batch_size=None, batch_format="numpy"):
            for start, payload in zip(block["start"], block["payload"]):
                result = pickle.loads(payload)
                if isinstance(result, Fault):
                    faults.append((int(start), result))
                    continue
                parts[int(start)] = result
                done += next(iter(result.values())).shape[0]
                if progress is not None:
                    for modality in todo:
                        progress(done, n, modality)
        if faults:
            raise _first_fault(faults)
        known.update(_assembled(parts, n, todo))
    return Embeddings(z_img=known["image"], z_txt=known["text"])
