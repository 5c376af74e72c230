"""Peer half of bench_drift_peers.py, run in the peers' own environment (alibi-detect 0.13 pins
numpy < 2 and transformers < 4.58, so they never enter the test venv): reads the trials the main
script wrote, scores each with alibi-detect's MMDDrift (torch backend) and Evidently 0.7's
embedding drift (its default domain-classifier method), writes scores and seconds per test."""

import json
import sys
import time

import numpy as np
import pandas as pd
from alibi_detect.cd import MMDDrift
from evidently.legacy.metrics.data_drift.embedding_drift_methods import model


def main(trials_path: str, out_path: str, permutations: int) -> None:
    data = np.load(trials_path)
    out = {"alibi": [], "evidently": [], "alibi_s": [], "evidently_s": []}
    for i in range(int(data["count"])):
        ref, new = data[f"ref{i}"].astype(np.float32), data[f"new{i}"].astype(np.float32)
        start = time.perf_counter()
        detector = MMDDrift(ref, backend="pytorch", p_val=0.05, n_permutations=permutations)
        p_value = float(detector.predict(new)["data"]["p_val"])
        out["alibi_s"].append(time.perf_counter() - start)
        out["alibi"].append(1.0 - p_value)
        start = time.perf_counter()
        score, _, _ = model()(pd.DataFrame(new), pd.DataFrame(ref))
        out["evidently_s"].append(time.perf_counter() - start)
        out["evidently"].append(float(score))
    with open(out_path, "w", encoding="utf-8") as handle:
        json.dump(out, handle)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
