"""``pytest --mmgate`` end to end for the invariance and stress gates: a healthy user subject
passes the invariance gates; a text tower that ignores a template prefix passes the benign and
stress gates, one that breaks under it fails both with the shrunk perturbation in the evidence;
gate ids and evidence are the same with ``-n 2``."""

from __future__ import annotations

import pytest

from tests.plugin_support import assert_verified, run_gates, write_subject

pytestmark = pytest.mark.usefixtures("isolated_home")

# A user subject with (N, 4, 8) float images and "item <i>" captions; MODE says whether the text
# tower reads the id from the last word (ignoring any prefix) or collapses when a prefix is there.
PREFIX_SUBJECT = '''
import numpy as np
from mmgate import PairedSet, Subject

MODE = {mode!r}
N = 64


class Encoder:
    def __init__(self):
        self.table = np.random.default_rng(0).standard_normal((N, 32))

    def embed_images(self, batch):
        return np.asarray(batch, dtype=np.float64).reshape(len(batch), -1)

    def embed_texts(self, batch):
        words = [text.split() for text in batch]
        out = self.table[[int(w[-1]) for w in words]].copy()
        if MODE == "breaks":
            prefixed = np.array([w[0] != "item" for w in words])
            out[prefixed] = 1.0
        return out


def make():
    images = Encoder().table.reshape(N, 4, 8)
    texts = [f"item {{i}}" for i in range(N)]
    return Subject(name="prefix-" + MODE, encoder=Encoder(), canary=PairedSet(images, texts))
'''
PREFIX_CONTRACT = ('benign_perturbations = [{ name = "template_prefix", intensity = 1.0 }]\n'
                   'stress_budgets = { template_prefix = 1.0 }\n')


@pytest.fixture
def isolated_home(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)


def prefix_subject(pytester: pytest.Pytester, mode: str) -> str:
    pytester.makepyfile(prefix_subject=PREFIX_SUBJECT.format(mode=mode))
    pytester.makefile(".toml", prefix_contract=PREFIX_CONTRACT)
    return "prefix_subject:make"


def statuses(run, gate: str) -> set[str]:
    return {g["status"] for g in run.gates().values() if g["gate"] == gate}


def test_healthy_user_subject_passes_the_invariance_gates(pytester):
    spec = write_subject(pytester, "healthy")
    run = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1")
    assert run.decision == "APPROVE", run.output
    assert statuses(run, "permutation_invariance") == statuses(run, "role_swap") == {"passed"}
    gates = run.gates()
    benign = gates["gates/test_invariance.py::test_benign_perturbation[seed0]"]
    assert benign["status"] == "not_applicable" and "(N, H, W)" in benign["reason"]
    assert gates["gates/test_stress.py::test_stress_retrieval[seed0]"]["status"] == "not_applicable"
    assert_verified(run)


def test_text_tower_that_ignores_a_template_prefix_passes_benign_and_stress(pytester):
    spec = prefix_subject(pytester, "ignores")
    run = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1",
                    "--mmgate-contract", "prefix_contract.toml", "--mmgate-stress", "5")
    assert run.decision == "APPROVE", run.output
    gates = run.gates()
    benign = gates["gates/test_invariance.py::test_benign_perturbation[seed0]"]
    assert benign["status"] == "passed" and benign["measured"]["value"] == 0.0
    stress = gates["gates/test_stress.py::test_stress_retrieval[seed0]"]
    assert stress["status"] == "passed" and stress["evidence"]["examples"] == 5
    assert stress["evidence"]["counterexample"] is None


def test_text_tower_that_breaks_under_a_prefix_fails_with_the_shrunk_perturbation(pytester):
    spec = prefix_subject(pytester, "breaks")
    run = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1",
                    "--mmgate-contract", "prefix_contract.toml")
    assert run.decision == "REJECT" and run.result.ret == 10, run.output
    gates = run.gates()
    benign = gates["gates/test_invariance.py::test_benign_perturbation[seed0]"]
    assert benign["status"] == "failed" and benign["measured"]["value"] > 0.5
    stress = gates["gates/test_stress.py::test_stress_retrieval[seed0]"]
    assert stress["status"] == "failed", run.output
    found = stress["evidence"]["counterexample"]
    assert [step["name"] for step in found["perturbation"]["steps"]] == ["template_prefix"]
    step = found["perturbation"]["steps"][0]
    assert step["seed"] == 0 and 0.0 < step["intensity"] <= 1.0
    assert found["effect"]["drop"] > 0.10 == stress["threshold"]["value"]
    assert stress["measured"]["value"] == found["effect"]["drop"]
    assert "minimal failing" in stress["message"]
    assert_verified(run)


@pytest.mark.slow
def test_stress_gate_ids_and_evidence_are_identical_under_two_workers(pytester):
    spec = prefix_subject(pytester, "breaks")
    args = ("--mmgate-subject", spec, "--mmgate-seeds", "2", "--mmgate-contract",
            "prefix_contract.toml")
    serial = run_gates(pytester, *args, "-n", "0")
    parallel = run_gates(pytester, *args, "-n", "2")
    assert serial.decision == parallel.decision == "REJECT", parallel.output
    assert serial.gates() == parallel.gates()
    assert any("test_stress_retrieval[seed0]" in gate_id for gate_id in parallel.gates())


PROFILE_TEST = """
from hypothesis import settings


def test_profile():
    assert settings.default.derandomize and settings.default.database is None
"""


@pytest.mark.parametrize("extra, passed", [((), 1), (("--hypothesis-profile", "default"), 0)])
def test_gated_runs_default_to_the_derandomized_ci_profile(pytester, extra, passed):
    pytester.makepyfile(test_profile=PROFILE_TEST)
    result = pytester.runpytest_subprocess("--mmgate", "-p", "no:cacheprovider", "test_profile.py",
                                           *extra)
    assert result.parseoutcomes().get("passed", 0) == passed, result.stdout.str()
