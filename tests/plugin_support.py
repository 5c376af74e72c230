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


# A subject whose canary is a manifest of PNG files (written by the test); FAULT breaks it. Image i
# is a solid colour of value i, which the encoder reads back as row i of its table. Every batch that
# is the whole clean canary of a modality is logged to passes.log, one line per pass.
MANIFEST_MODULE = '''
import os

import numpy as np
from mmgate import PairedSet, Subject

FAULT = {fault!r}
N, D = {n}, 32
HERE = os.path.dirname(os.path.abspath(__file__))
TABLE = np.random.default_rng(0).standard_normal((N, D))
TEXTS = [f"item {{i}}" for i in range(N)]


def log_clean_pass(modality, clean):
    if clean:
        with open(os.path.join(HERE, "passes.log"), "a") as log:
            log.write(f"{{modality}} {{os.getpid()}}\\n")


class Encoder:
    def embed_images(self, batch):
        if FAULT == "encoder_raises":
            raise ValueError("preprocess: expected 224x224 images, got 4x4\\nsee the model card")
        if FAULT == "interrupt" and len(batch) > 8:  # the canary pass, not the setup check's probe
            raise KeyboardInterrupt
        log_clean_pass("image", len(batch) == N and all((image == i).all() for i, image in enumerate(batch)))
        return TABLE[[int(image[0, 0, 0]) for image in batch]]

    def embed_texts(self, batch):
        log_clean_pass("text", list(batch) == TEXTS)
        rows = np.array([int(t.split()[1]) for t in batch])
        return TABLE[rows] + 0.05 * np.random.default_rng(rows).standard_normal((len(rows), D))


def preprocess_raises():
    import torch
    from mmgate.adapters import TorchEncoder

    def preprocess(image):
        raise ValueError("Resize: expected a PIL image, got ndarray")

    return TorchEncoder(lambda x: x.flatten(1), lambda texts: torch.ones(len(texts), D), preprocess, name="torch")


def make():
    canary = PairedSet.from_manifest(os.path.join(HERE, "canary", "canary.csv"))
    if FAULT == "missing":  # deleted after the manifest was read
        os.remove(os.path.join(HERE, "canary", "img017.png"))
    encoder = preprocess_raises() if FAULT == "preprocess_raises" else Encoder()
    return Subject(name="manifest-" + FAULT, encoder=encoder, canary=canary)
'''
BAD_FILE = "img017.png"  # manifest data row 18


def write_manifest_subject(pytester: pytest.Pytester, fault: str, n: int = 40, corrupt: int = 1) -> str:
    """Write ``n`` PNGs, their manifest and the subject module; ``corrupt`` overwrites ``BAD_FILE``
    and the ``corrupt - 1`` files after it."""
    image = pytest.importorskip("PIL.Image")
    folder = pytester.path / "canary"
    folder.mkdir()
    for i in range(n):
        image.new("RGB", (4, 4), (i, i, i)).save(folder / f"img{i:03d}.png")
    (folder / "canary.csv").write_text("image,caption\n" + "".join(f"img{i:03d}.png,item {i}\n" for i in range(n)))
    if fault == "corrupt":
        for i in range(17, 17 + corrupt):
            (folder / f"img{i:03d}.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    pytester.makepyfile(manifest_subject=MANIFEST_MODULE.format(fault=fault, n=n))
    return "manifest_subject:make"
