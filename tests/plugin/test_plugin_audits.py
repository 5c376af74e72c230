"""End to end: the audit gates of a user subject that declares its training pairs and scoring
temperature. Each mode breaks one thing; only the gate watching it fails, with its evidence."""

from __future__ import annotations

import pytest

from tests.plugin_support import run_gates

AUDITED = "pair_audit or temperature_calibration or input_drift"
SUBJECT = '''
import numpy as np
from mmgate import PairedSet, Subject

MODE = {mode!r}
N_CANARY, N_TRAIN, SIDE, D = 128, 512, 8, 24
rng = np.random.default_rng(7)
IMAGES = rng.standard_normal((N_CANARY + N_TRAIN, SIDE, SIDE))
PROJECTION = rng.standard_normal((SIDE * SIDE, D)) / SIDE


class Encoder:
    temperature = 0.5 if MODE == "hot_temperature" else 0.05

    def embed_images(self, batch):
        return np.asarray(batch).reshape(len(batch), -1) @ PROJECTION

    def embed_texts(self, batch):
        rows = np.array([int(t.split()[1]) for t in batch])
        noise = np.random.default_rng(rows).standard_normal((len(rows), D))
        return self.embed_images(IMAGES[rows]) + (0.0 if MODE == "separated" else 1.2) * noise


def make():
    canary_ids = np.arange(N_CANARY)
    train_ids = np.arange(N_CANARY, N_CANARY + N_TRAIN)
    captions = train_ids.copy()
    if MODE == "mispaired_training":
        captions[: N_TRAIN // 3] = np.roll(captions[: N_TRAIN // 3], 1)
    canary_images = IMAGES[canary_ids] + (1.0 if MODE == "drifted_inputs" else 0.0)
    return Subject(name="audit-" + MODE, encoder=Encoder(),
                   canary=PairedSet(canary_images, [f"item {{i}}" for i in canary_ids]),
                   training=PairedSet(IMAGES[train_ids], [f"item {{i}}" for i in captions], name="train"))
'''
GATES = {
    "pair_audit": "gates/test_hygiene.py::test_pair_audit[seed0]",
    "temperature_calibration": "gates/test_drift.py::test_temperature_calibration[seed0]",
    "input_drift": "gates/test_drift.py::test_input_drift[seed0-image]",
}


def _statuses(pytester, mode: str) -> dict[str, dict]:
    pytester.makepyfile(audit_subject=SUBJECT.format(mode=mode))
    run = run_gates(pytester, "--mmgate-subject", "audit_subject:make", "--mmgate-seeds", "1",
                    "-k", AUDITED)
    assert run.decision is not None, run.output
    gates = run.gates()
    return {name: gates[gate_id] for name, gate_id in GATES.items()}


def test_a_clean_subject_passes_every_audit(pytester):
    results = _statuses(pytester, "healthy")
    assert {name: r["status"] for name, r in results.items()} == dict.fromkeys(GATES, "passed")


@pytest.mark.parametrize("mode, gate, statistic", [
    ("mispaired_training", "pair_audit", (0.2, 0.4)),
    ("hot_temperature", "temperature_calibration", (2.0, 3.0)),
    ("drifted_inputs", "input_drift", (0.9, 1.0)),
])
def test_each_breakage_fails_only_its_own_gate(pytester, mode, gate, statistic):
    results = _statuses(pytester, mode)
    failed = {name for name, r in results.items() if r["status"] == "failed"}
    assert failed == {gate}, results
    low, high = statistic
    assert low <= results[gate]["measured"]["value"] <= high


def test_a_canary_that_does_not_pin_down_a_temperature_is_not_applicable(pytester):
    result = _statuses(pytester, "separated")["temperature_calibration"]
    assert result["status"] == "not_applicable", result
    assert "does not pin down a scoring temperature" in result["reason"]
