"""Shared helpers of the end-to-end plugin tests: user subjects written into a pytester directory,
running ``pytest --mmgate`` in a subprocess, and reading the decision line and bundle back."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from mmgate.audit.verify import verify_bundle

DECISION_LINE = re.compile(r"^mmgate: decision=(APPROVE|REJECT|INCOMPLETE|SETUP_ERROR) bundle=(.+)$", re.M)

# A user subject module: texts are their images' embeddings plus small noise, so a healthy encoder
# passes; MODE selects one way of breaking it.
SUBJECT_MODULE = '''
import os

import numpy as np
from mmgate import PairedSet, Subject

MODE = {mode!r}
N = {n}
D = 32


class Encoder:
    def __init__(self, seed=0):
        self.calls = 0
        self.seed = seed
        self.table = np.random.default_rng(seed).standard_normal((N, D))

    def _rows(self, batch):
        return np.asarray(batch, dtype=np.int64).reshape(-1)

    def embed_images(self, batch):
        rows = self._rows(batch)
        out = self.table[rows].copy()
        if MODE == "nan":
            out[0, 0] = np.nan
        if MODE == "inf":
            out[0, 0] = np.inf
        if MODE == "zero_rows":
            out[:2] = 0.0
        if MODE == "one_d":
            return out[:, 0]
        if MODE == "wrong_rows":
            return out[:-1]
        return out

    def embed_texts(self, batch):
        if MODE == "encoder_raises":
            raise RuntimeError("tokenizer exploded")
        if MODE == "interrupt":
            raise KeyboardInterrupt
        if MODE == "worker_crash" and os.environ.get("PYTEST_XDIST_WORKER"):
            os._exit(3)
        self.calls += 1
        rows = np.array([int(t.split()[1]) for t in batch])
        out = self.table[rows] + 0.05 * np.random.default_rng(rows).standard_normal((len(rows), D))
        if MODE == "dim_changes" and self.calls > 1:
            return out[:, :-1]
        return out

    def identity(self):
        return {{"name": "fixture-encoder", "version": MODE, "seed": self.seed}}


def make():
    if MODE == "factory_raises":
        raise ValueError("no weights at /models/clip.bin")
    ids = np.arange(N)
    texts = [f"item {{i}}" for i in ids]
    return Subject(name="fixture-" + MODE, encoder=Encoder(), canary=PairedSet(ids, texts))


def make_per_seed(seed):
    ids = np.arange(N)
    texts = [f"item {{i}}" for i in ids]
    return Subject(name="fixture-" + MODE, encoder=Encoder(seed), canary=PairedSet(ids, texts))
'''


@dataclass(frozen=True)
class GateRun:
    """What one ``pytest --mmgate`` subprocess showed and left behind."""

    result: pytest.RunResult
    decision: str | None
    bundle: Path | None

    @property
    def output(self) -> str:
        return self.result.stdout.str() + self.result.stderr.str()

    def report(self, name: str) -> dict:
        return json.loads((self.bundle / name).read_text("utf-8"))

    def gates(self) -> dict[str, dict]:
        return {g["gate_id"]: g for g in self.report("acceptance.json")["facts_provided"]["gates"]}


def write_subject(pytester: pytest.Pytester, mode: str = "healthy", n: int = 64,
                  module: str = "user_subject") -> str:
    """Write a subject module into the pytester directory; return its ``MODULE:CALLABLE`` spec."""
    pytester.makepyfile(**{module: SUBJECT_MODULE.format(mode=mode, n=n)})
    return f"{module}:make"


def run_gates(pytester: pytest.Pytester, *args: str) -> GateRun:
    """Run ``pytest --mmgate`` in a subprocess (entry point loading, xdist and all)."""
    result = pytester.runpytest_subprocess("--mmgate", "-p", "no:cacheprovider", *args)
    found = DECISION_LINE.findall(result.stdout.str())
    if not found:
        return GateRun(result, None, None)
    decision, bundle = found[-1]
    path = Path(bundle.strip())
    return GateRun(result, decision, path if path.is_absolute() else pytester.path / path)


def assert_verified(run: GateRun) -> None:
    """The run left a complete bundle that ``python -m mmgate verify`` accepts."""
    assert run.bundle is not None, run.output
    checked = verify_bundle(run.bundle)
    assert checked.ok, checked.problems
    zip_path = run.bundle.parent / f"{run.bundle.name}.zip"
    if zip_path.exists():  # written only under --mmgate-zip
        zipped = verify_bundle(zip_path)
        assert zipped.ok, zipped.problems
