"""A subject of your own gets the robustness gates evaluated at evaluation time (its canary perturbed
and re-embedded): the noise slope, the acceptance margins of the knobs an operator can apply, and the
confounder counterfactual over a confounder its canary declares; the training-pair corruption slope
stays not applicable and names the training hook. A subject whose retrieval collapses under a little
image noise fails the image-noise margin."""

from __future__ import annotations

import pytest

from tests.plugin_support import run_gates

pytestmark = pytest.mark.usefixtures("isolated_home")

# MODE "healthy": the image tower projects all pixels, the text tower returns the projection of the
# clean image its caption names. MODE "fragile": the image tower hashes the exact pixels, so any
# noise gives an unrelated embedding (a model keyed on a pixel fingerprint, not on content).
PIXEL_MODULE = '''
import hashlib

import numpy as np
from mmgate import PairedSet, Subject

MODE = {mode!r}
N, SIDE = 96, 8


class Encoder:
    def __init__(self, images):
        self.proj = np.random.default_rng(1).standard_normal((SIDE * SIDE, 24))
        self.clean = self.embed_images(images)

    def embed_images(self, batch):
        x = np.asarray(batch, dtype=np.float64).reshape(len(batch), -1)
        if MODE == "fragile":
            seeds = [int(hashlib.sha256(row.tobytes()).hexdigest()[:8], 16) for row in x]
            return np.stack([np.random.default_rng(s).standard_normal(24) for s in seeds])
        return x @ self.proj

    def embed_texts(self, batch):
        return self.clean[[int(t.split()[1]) for t in batch]]


def make():
    images = np.random.default_rng(0).uniform(0.0, 1.0, size=(N, SIDE, SIDE))
    parity = np.arange(N) % 2
    canary = PairedSet(images, [f"item {{i}}" for i in range(N)], confounders={{"parity": parity}})
    return Subject(name="pixels-" + MODE, encoder=Encoder(images), canary=canary)
'''
SELECTED = "noise_slope or corruption_slope or counterfactual_drop or robustness_margin"


@pytest.fixture
def isolated_home(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)


def _statuses(pytester: pytest.Pytester, mode: str) -> dict[str, dict]:
    pytester.makepyfile(**{f"pixels_{mode}": PIXEL_MODULE.format(mode=mode)})
    run = run_gates(pytester, "--mmgate-subject", f"pixels_{mode}:make", "--mmgate-seeds", "1",
                    "-k", SELECTED)
    assert run.bundle is not None, run.output
    return {gate_id: gate for gate_id, gate in run.gates().items()
            if gate["status"] not in ("missing", "skipped")}


def _one(gates: dict[str, dict], name: str, *parts: str) -> dict:
    found = [g for gid, g in gates.items() if g["gate"] == name and all(p in gid for p in parts)]
    assert len(found) == 1, sorted(gates)
    return found[0]


def test_a_user_subject_gets_the_robustness_gates_evaluated_at_evaluation_time(pytester):
    gates = _statuses(pytester, "healthy")
    assert _one(gates, "noise_slope")["status"] == "passed"
    for knob in ("image_noise", "pair_corruption", "temperature_scale", "preprocessing_scale"):
        assert _one(gates, "robustness_margin", knob)["status"] == "passed", knob
    assert "opt-in" in _one(gates, "robustness_margin", "text_noise")["reason"]
    assert "counterfactual_drop" in _one(gates, "robustness_margin", "confounder_strength")["reason"]
    assert _one(gates, "counterfactual_drop", "parity")["status"] == "passed"
    assert not [g for g in gates if "counterfactual_drop" in g and "bucket" in g]  # the canary's own cues only
    corruption = _one(gates, "corruption_slope")
    assert corruption["status"] == "not_applicable" and "training hook" in corruption["reason"]


def test_a_subject_whose_retrieval_collapses_under_small_noise_fails_the_image_noise_margin(pytester):
    gates = _statuses(pytester, "fragile")
    assert _one(gates, "robustness_margin", "image_noise")["status"] == "failed"
    assert _one(gates, "robustness_margin", "pair_corruption")["status"] == "passed"
