"""A subject of your own with no contract is judged on whether it is broken: a healthy encoder
whose embeddings sit in a narrow cone with a dead coordinate (which the built-in subject's
calibrated contract rejects) is approved; independent random towers are rejected on pairing."""

from __future__ import annotations

import pytest

from tests.plugin_support import assert_verified, run_gates

pytestmark = pytest.mark.usefixtures("isolated_home")

# MODE "cone": both towers share an offset vector (mean off-diagonal cosine about 0.5), the signal
# lives in D-1 coordinates rotated at random, the last coordinate is 0 up to 1e-6 (its
# variance about 1e-12); texts are their images' signal plus noise. MODE "random": two independent
# random towers (a random-init model: no pairing signal).
CONE_MODULE = '''
import numpy as np
from mmgate import PairedSet, Subject

MODE = {mode!r}
N, D = 128, 48


class Encoder:
    def __init__(self):
        rng = np.random.default_rng(7)
        q, _ = np.linalg.qr(rng.standard_normal((D - 1, D - 1)))
        offset = rng.standard_normal(D - 1)
        offset *= np.sqrt(D - 1) / np.linalg.norm(offset)
        self.signal = rng.standard_normal((N, D - 1))
        self.noise = 0.4 * rng.standard_normal((N, D - 1))
        self.other = rng.standard_normal((N, D - 1))
        self.offset, self.q = offset, q
        self.dead = 1e-6 * rng.standard_normal((2, N, 1))

    def _rows(self, batch):
        return np.asarray(batch, dtype=np.int64).reshape(-1)

    def _embed(self, body, rows, side):
        return np.hstack([(body[rows] + self.offset) @ self.q, self.dead[side, rows]])

    def embed_images(self, batch):
        return self._embed(self.signal, self._rows(batch), 0)

    def embed_texts(self, batch):
        rows = np.array([int(t.split()[1]) for t in batch])
        body = self.other if MODE == "random" else self.signal + self.noise
        return self._embed(body, rows, 1)

    def identity(self):
        return {{"name": "cone-encoder", "version": MODE}}


def make():
    ids = np.arange(N)
    return Subject(name="cone-" + MODE, encoder=Encoder(), canary=PairedSet(ids, [f"item {{i}}" for i in ids]))
'''


@pytest.fixture
def isolated_home(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)


def _subject(pytester: pytest.Pytester, mode: str) -> str:
    pytester.makepyfile(**{f"cone_{mode}": CONE_MODULE.format(mode=mode)})
    return f"cone_{mode}:make"


def _by_gate(run):
    out: dict[str, list[dict]] = {}
    for gate in run.gates().values():
        out.setdefault(gate["gate"], []).append(gate)
    return out


def test_healthy_cone_subject_is_approved_without_a_contract(pytester):
    spec = _subject(pytester, "cone")
    run = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1")
    assert run.decision == "APPROVE", run.output
    assert_verified(run)
    decision = run.report("release_decision.json")["facts_provided"]
    assert decision["contract_profile"] == "user"
    assert run.report("run_manifest.json")["facts_provided"]["contract_profile"] == "user"
    gates = _by_gate(run)
    for name in ("variance_floor", "rankme"):
        assert {g["status"] for g in gates[name]} == {"not_applicable"}
        assert all(not g["required"] for g in gates[name])
    assert "basis" in gates["variance_floor"][0]["reason"]
    cosines = [g["measured"]["value"] for g in gates["mean_cosine"]]
    assert all(0.35 < c < 0.65 for c in cosines), cosines
    assert min(g["evidence"]["variance"]["min"] for g in gates["mean_cosine"]) < 1e-10
    assert {g["status"] for g in gates["pair_auc"] + gates["direction_energy"]} == {"passed"}
    rank = gates["effective_rank"][0]
    assert rank["threshold"]["value"] == 12.0 and rank["evidence"]["floor"]["room"] == 48


def test_the_builtin_contract_rejects_the_same_cone_subject(pytester):
    spec = _subject(pytester, "cone")
    pytester.makefile(".toml", calibrated='profile = "builtin"\n')
    run = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1",
                    "--mmgate-contract", "calibrated.toml")
    assert run.decision == "REJECT", run.output
    failed = {g["gate"] for g in run.gates().values() if g["status"] == "failed"}
    assert {"mean_cosine", "variance_floor"} <= failed
    assert run.report("release_decision.json")["facts_provided"]["contract_profile"] == "builtin"


def test_independent_random_towers_are_rejected_on_pairing(pytester):
    spec = _subject(pytester, "random")
    run = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1")
    assert run.decision == "REJECT", run.output
    gates = _by_gate(run)
    assert {g["status"] for g in gates["pair_auc"]} == {"failed"}
    assert {g["status"] for g in gates["retrieval_top1"]} == {"failed"}
    assert all(abs(g["measured"]["value"] - 0.5) < 0.15 for g in gates["pair_auc"])
    assert_verified(run)
