"""Wall time and peak memory of the full default gate run on large canaries (a script, not a test).

Run: ``python benchmarks/bench_scale.py [--sizes 10000 30000 100000] [--workers 0] [--seeds 1]``.

The subject is what a user with precomputed embeddings writes: a factory module (written into a
temporary directory) whose ``PairedSet`` holds row indices and whose ``DualEncoder`` looks the rows
up in an (N + training, 256) float32 table (text = image + noise, with ten latent clusters as a factor). For
each size N, ``pytest --mmgate --mmgate-subject scale_subject:make_subject`` runs in its own
subprocess (serial ``-n 0`` by default: one fixed subject, so two workers would only duplicate the
embedding table and the per-seed measurements); the wall time and the peak RSS of that process and
every child it waited for (``os.wait4``'s rusage) are measured per run. Prints one line per size,
then the exponent of time vs N fitted by least squares on log-log axes; the last line is
``BENCH scale_n<N>_s=<x> scale_n<N>_peak_rss_mib=<y> scale_n<N>_peak_rss_gb=<z> time_exponent=<e>`` for the
largest N (peak RSS in MiB, and in decimal GB for the goal).
Goals (issue 12): 100,000 pairs in <= 15 min wall and < 2 GB peak RSS on two cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

DECISION = re.compile(r"^mmgate: decision=(\w+) bundle=", re.MULTILINE)
DIM = 256
TRAIN = 10_000

SUBJECT = textwrap.dedent('''\
    """Precomputed embeddings looked up by index: {n} pairs, d={dim}, text = image + noise."""

    import numpy as np

    from mmgate import PairedSet, Subject

    N, TRAIN, DIM, CLUSTERS, NOISE = {n}, {train}, {dim}, 10, 0.6


    class LookupEncoder:
        """Both towers look their rows up in a precomputed table (the user's embedding cache): rows
        0..N-1 are the canary, the next TRAIN rows a sample of the training pairs."""

        temperature = 0.07

        def __init__(self):
            rng = np.random.default_rng(12)
            centres = 0.5 * rng.standard_normal((CLUSTERS, DIM), dtype=np.float32)
            self.cluster = rng.integers(0, CLUSTERS, N + TRAIN)
            self.images = rng.standard_normal((N + TRAIN, DIM), dtype=np.float32)
            self.images += centres[self.cluster]
            self.texts = NOISE * rng.standard_normal((N + TRAIN, DIM), dtype=np.float32)
            self.texts += self.images

        def embed_images(self, batch):
            return self.images[np.asarray(batch, dtype=np.int64)]

        def embed_texts(self, batch):
            return self.texts[np.asarray(batch, dtype=np.int64)]

        def identity(self):
            return {{"name": "lookup-{n}", "version": "1", "weights_sha256": "0" * 64}}


    def make_subject():
        encoder = LookupEncoder()
        rows, train = np.arange(N), np.arange(N, N + TRAIN)
        canary = PairedSet(rows, rows.copy(), factors={{"cluster": encoder.cluster[:N]}}, name="lookup-canary")
        training = PairedSet(train, train.copy(), name="lookup-training")
        return Subject(name="lookup-{n}", encoder=encoder, canary=canary, training=training)
    ''')


def gate_run(n: int, workers: int, seeds: int | None) -> tuple[float, float, str, int]:
    """Seconds, peak RSS (MiB) of the pytest process and its children, decision and exit status of
    one ``pytest --mmgate`` on an N-pair lookup subject in a fresh directory."""
    with tempfile.TemporaryDirectory(prefix="mmgate-scale-") as tmp:
        Path(tmp, "scale_subject.py").write_text(SUBJECT.format(n=n, dim=DIM, train=min(n, TRAIN)))
        command = [sys.executable, "-m", "pytest", "--mmgate", "--mmgate-subject", "scale_subject:make_subject",
                   "-p", "no:cacheprovider", "-q", "-n", str(workers)]
        if seeds is not None:
            command += ["--mmgate-seeds", str(seeds)]
        started = time.perf_counter()
        with open(Path(tmp, "out.txt"), "w") as out:
            process = subprocess.Popen(command, cwd=tmp, stdout=out, stderr=subprocess.STDOUT)
            _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        text = Path(tmp, "out.txt").read_text()
    found = DECISION.findall(text)
    if not found:
        print(text[-3000:])
    return elapsed, usage.ru_maxrss / 1024, found[-1] if found else "none", process.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000])
    parser.add_argument("--workers", type=int, default=0, help="xdist workers (0: serial)")
    parser.add_argument("--seeds", type=int, default=None,
                        help="--mmgate-seeds (default: the plugin's; a fixed subject is evaluated once)")
    args = parser.parse_args()
    print(f"machine: {platform.machine()} cpus={os.cpu_count()} load={os.getloadavg()} numpy={np.__version__} "
          f"workers={args.workers or 'serial (-n 0)'} seeds={args.seeds or 'default'} d={DIM}")
    times, peaks = [], []
    for n in args.sizes:
        seconds, peak_mib, decision, code = gate_run(n, args.workers, args.seeds)
        times.append(seconds)
        peaks.append(peak_mib)
        print(f"N={n:>7}: {seconds:8.1f} s  peak RSS {peak_mib:7.0f} MiB ({peak_mib * 2**20 / 1e9:.2f} GB)  "
              f"decision={decision} exit={code} "
              f"load={os.getloadavg()[0]:.2f}", flush=True)
    exponent = float(np.polyfit(np.log(args.sizes), np.log(times), 1)[0]) if len(args.sizes) > 1 else float("nan")
    print(f"time ~ N^{exponent:.2f} (least squares on log-log over {len(args.sizes)} sizes)")
    n = args.sizes[-1]
    print(f"BENCH scale_n{n}_s={times[-1]:.1f} scale_n{n}_peak_rss_mib={peaks[-1]:.0f} "
          f"scale_n{n}_peak_rss_gb={peaks[-1] * 2**20 / 1e9:.2f} time_exponent={exponent:.2f}")


if __name__ == "__main__":
    main()
