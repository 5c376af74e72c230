"""mmgate's embedding drift test beside alibi-detect's MMDDrift and Evidently's embedding drift, on
the same real embeddings and drift injections: the LiT digits image tower under a brightness shift
of 0.1 and all-MiniLM-L6-v2 on paraphrases, a quarter of them in a new style (``TemplatePrefix``).

Each trial splits the clean canary into a seeded reference half and a test half; the test half is
embedded clean (a null trial) or drifted (a drift trial). Every method's score (mmgate, alibi:
1 - p-value over the same number of permutations; Evidently: its drift score) is thresholded at the
95th percentile of its own null trials on the same case, so power is compared at a matched
false-alarm rate; the headline power is the mean over the cases. ``--trials`` sets the trials per case.
The peers run in their own venv (``--peers-python``, default /work/peers-venv/bin/python: alibi-detect
0.13 downgrades numpy and transformers). Run from the repository root with HF_HUB_OFFLINE=1.
Last line: ``BENCH drift_power_mmgate=.. drift_power_alibi=.. drift_power_evidently=.. speedup_vs_alibi_mmd=..``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mmgate.drift.mmd import mmd2_test
from mmgate.perturb import Brightness, TemplatePrefix
from mmgate.subjects.embedding import embed_set
from mmgate.subjects.subject import build_subject

TRIALS = 100
PERMUTATIONS = 100
CASES = (("examples.lit_digits.subject:make_subject", "image", lambda: Brightness(0.1)),
         ("examples.minilm_paraphrase.subject:make_subject", "text",
          lambda: TemplatePrefix(0.25, tokens=("reportedly,", "in", "plain", "words,"))))


def trials(count: int = TRIALS) -> list[tuple[np.ndarray, np.ndarray, bool]]:
    """Per case in CASES order, ``count`` (null, drift) trial pairs on seeded halves of the canary."""
    out = []
    for spec, modality, operator in CASES:
        subject = build_subject(spec)
        clean = embed_set(subject.encoder, subject.canary)
        drifted = embed_set(subject.encoder, operator().apply(subject.canary))
        side = "z_img" if modality == "image" else "z_txt"
        z_clean, z_drift = getattr(clean, side), getattr(drifted, side)
        n = z_clean.shape[0]
        for trial in range(count):
            order = np.random.default_rng(trial).permutation(n)
            ref, test = order[: n // 2], order[n // 2:]
            out.append((z_clean[ref], z_clean[test], False))
            out.append((z_clean[ref], z_drift[test], True))
    return out


def power(scores: list[float], drift: list[bool]) -> float:
    """Share of drift trials scored above the 95th percentile of the null trials' scores."""
    null = np.array([s for s, d in zip(scores, drift) if not d])
    hit = np.array([s for s, d in zip(scores, drift) if d])
    return float(np.mean(hit > np.quantile(null, 0.95)))


def case_powers(scores: list[float], drift: list[bool]) -> list[float]:
    """Power per case, each at the false-alarm rate matched on that case's own null trials."""
    size = len(scores) // len(CASES)
    return [power(scores[k * size:(k + 1) * size], drift[k * size:(k + 1) * size]) for k in range(len(CASES))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--peers-python", default="/work/peers-venv/bin/python")
    parser.add_argument("--trials", type=int, default=TRIALS, help="null and drift trials per case")
    args = parser.parse_args()
    cases = trials(args.trials)
    drift = [d for _, _, d in cases]
    mmgate_scores, mmgate_s = [], []
    for i, (ref, new, _) in enumerate(cases):
        start = time.perf_counter()
        mmgate_scores.append(1.0 - mmd2_test(ref, new, permutations=PERMUTATIONS, seed=i).p_value)
        mmgate_s.append(time.perf_counter() - start)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trials.npz"
        np.savez(path, count=len(cases), **{f"ref{i}": r for i, (r, _, _) in enumerate(cases)},
                 **{f"new{i}": n for i, (_, n, _) in enumerate(cases)})
        worker = Path(__file__).with_name("drift_peers_worker.py")
        subprocess.run([args.peers_python, str(worker), str(path), str(Path(tmp) / "peers.json"),
                        str(PERMUTATIONS)], check=True)
        peers = json.loads((Path(tmp) / "peers.json").read_text(encoding="utf-8"))
    # ties with the null's top (p-values of 1 / (1 + permutations)) break the strict quantile rule
    # the same way for mmgate and alibi, which use the same permutation count
    per_case = {"mmgate": case_powers(mmgate_scores, drift), "alibi": case_powers(peers["alibi"], drift),
                "evidently": case_powers(peers["evidently"], drift)}
    result = {name: float(np.mean(powers)) for name, powers in per_case.items()}
    times = {"mmgate": float(np.median(mmgate_s)), "alibi": float(np.median(peers["alibi_s"])),
             "evidently": float(np.median(peers["evidently_s"]))}
    print(f"trials {len(cases)} ({args.trials} null and {args.trials} drift per case), permutations {PERMUTATIONS}")
    for name in result:
        cases_text = ", ".join(f"{spec.split('.')[1]} {value:.3f}" for (spec, _, _), value in zip(CASES, per_case[name]))
        print(f"{name:10s} power at matched 5 % false alarms {result[name]:.3f} ({cases_text}), "
              f"median {times[name] * 1e3:.1f} ms/test")
    print(f"BENCH drift_power_mmgate={result['mmgate']:.3f} drift_power_alibi={result['alibi']:.3f} "
          f"drift_power_evidently={result['evidently']:.3f} speedup_vs_alibi_mmd={times['alibi'] / times['mmgate']:.2f}")


if __name__ == "__main__":
    sys.exit(main())
