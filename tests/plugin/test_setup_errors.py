"""A run that cannot be set up is not a model failure: the setup check (``mmgate.plugin.preflight``)
finds it once, before any gate runs, reports each cause once in a few lines, exits 13 with decision
SETUP_ERROR, and still leaves a bundle that ``python -m mmgate verify`` accepts."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from mmgate.plugin.preflight import MIN_CANARY_PAIRS, subject_problems, tower_problems
from mmgate.records.reports import ReportSchemaError, validate_report
from mmgate.records.schema_registry import load_schemas
from mmgate.subjects.paired import PairedSet
from mmgate.subjects.subject import Subject
from tests.plugin_support import assert_verified, run_gates, write_subject
from tests.report_samples import sample_report

pytestmark = pytest.mark.usefixtures("isolated_home")

MAX_LINES = 60  # a setup error is a few lines, not one traceback per gate case

# Subjects that cannot be gated, by MODE: towers of different dimensions, a factory returning None.
BROKEN_MODULE = '''
import numpy as np
from mmgate import PairedSet, Subject

MODE = {mode!r}
N = 64


class Encoder:
    def embed_images(self, batch):
        return np.random.default_rng(0).standard_normal((len(batch), 32))

    def embed_texts(self, batch):
        return np.random.default_rng(1).standard_normal((len(batch), 64))


def make():
    if MODE == "returns_none":
        return None
    ids = np.arange(N)
    return Subject(name="broken-" + MODE, encoder=Encoder(), canary=PairedSet(ids, [f"item {{i}}" for i in ids]))
'''


@pytest.fixture
def isolated_home(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)


def _broken(pytester: pytest.Pytester, mode: str) -> str:
    pytester.makepyfile(broken=BROKEN_MODULE.format(mode=mode))
    return "broken:make"


def assert_setup_error(run, cause: str) -> dict:
    """Exit 13, the cause printed once, a short output, no gate ran, a verified bundle that records
    the cause; returns the decision's facts."""
    assert run.decision == "SETUP_ERROR" and run.result.ret == 13, run.output
    assert run.output.count(cause) == 1, run.output
    assert len(run.output.splitlines()) < MAX_LINES, run.output
    assert "Traceback" not in run.output and "gate errored" not in run.output
    assert_verified(run)
    facts = run.report("release_decision.json")["facts_provided"]
    assert facts["decision"] == "SETUP_ERROR" and facts["exit_code"] == 13
    assert any(cause in error for error in facts["setup_errors"]), facts["setup_errors"]
    counts = facts["counts"]
    assert counts["missing"] == sum(counts.values()) > 0  # every gate case recorded, none ran
    assert not facts["passed_gates"] and not facts["failed_gates"] and not facts["errored_gates"]
    return facts


@pytest.mark.parametrize("workers", ["0", "2"])
def test_unimportable_subject_is_one_setup_error(pytester, workers):
    run = run_gates(pytester, "--mmgate-subject", "nosuchmod:make_subject", "--mmgate-seeds", "2",
                    "-n", workers)
    assert_setup_error(run, "cannot import module 'nosuchmod'")
    assert "created: " not in run.output  # no xdist worker was started for a run that cannot start


def test_factory_that_raises_is_a_setup_error(pytester):
    spec = write_subject(pytester, "factory_raises")
    run = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1")
    assert_setup_error(run, "ValueError: no weights at /models/clip.bin")


def test_factory_returning_none_is_a_setup_error(pytester):
    run = run_gates(pytester, "--mmgate-subject", _broken(pytester, "returns_none"), "--mmgate-seeds", "1")
    assert_setup_error(run, "returned NoneType; expected mmgate.Subject")


def test_invalid_contract_is_a_setup_error(pytester):
    spec = write_subject(pytester, "healthy")
    pytester.makefile(".toml", contract="min_retrieval_topone = 0.5\n")
    run = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1", "--mmgate-contract", "contract.toml")
    assert_setup_error(run, "unknown contract key")


def test_a_device_torch_cannot_use_is_a_setup_error(pytester):
    if importlib.util.find_spec("torch") is None:  # looked up, not imported: the run is a subprocess
        pytest.skip("--mmgate-device needs torch (pip install 'mmgate[torch]')")
    spec = write_subject(pytester, "healthy")
    run = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1", "--mmgate-device", "nosuchdevice")
    assert_setup_error(run, "--mmgate-device: device 'nosuchdevice' is not usable by torch")


def test_ranks_on_the_cpu_torch_device_give_the_same_decision_and_evidence(pytester):
    if importlib.util.find_spec("torch") is None:  # looked up, not imported: the run is a subprocess
        pytest.skip("--mmgate-device needs torch (pip install 'mmgate[torch]')")
    spec = write_subject(pytester, "healthy")
    plain = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1", "--mmgate-out", "plain")
    on_torch = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1", "--mmgate-device", "cpu",
                         "--mmgate-out", "torch")
    assert plain.decision == on_torch.decision == "APPROVE", on_torch.output
    retrieval = {key: gate["measured"] for key, gate in plain.gates().items() if gate["gate"].startswith("retrieval")}
    assert retrieval and retrieval == {key: on_torch.gates()[key]["measured"] for key in retrieval}


def test_towers_of_different_dimensions_name_both(pytester):
    run = run_gates(pytester, "--mmgate-subject", _broken(pytester, "towers"), "--mmgate-seeds", "2", "-n", "2")
    facts = assert_setup_error(run, "the image tower (encoder.embed_images) returns 32-dimensional embeddings "
                                    "and the text tower (encoder.embed_texts) 64-dimensional ones")
    assert facts["subject"]["name"] == "broken-towers"
    assert "differs from earlier batches" not in run.output


def test_a_three_pair_canary_is_a_setup_error_naming_the_minimum(pytester):
    spec = write_subject(pytester, "healthy", n=3)
    run = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1")
    assert_setup_error(run, f"has 3 pairs; mmgate needs at least {MIN_CANARY_PAIRS}")
    assert "CI [1, 1]" in run.output and "recall@5" in run.output  # why the minimum exists


def test_every_cause_is_reported_once_each(pytester):
    spec = write_subject(pytester, "healthy", n=3)
    pytester.makefile(".toml", contract="min_retrieval_topone = 0.5\n")
    run = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1", "--mmgate-contract", "contract.toml")
    facts = assert_setup_error(run, "unknown contract key")
    assert run.output.count("mmgate: setup error:") == 2 == len(facts["setup_errors"])
    assert run.output.count(f"mmgate needs at least {MIN_CANARY_PAIRS}") == 1


def test_a_healthy_subject_passes_the_check_and_is_approved(pytester):
    spec = write_subject(pytester, "healthy", n=MIN_CANARY_PAIRS)
    run = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1", "-n", "2")
    assert run.decision == "APPROVE" and run.result.ret == 0, run.output
    assert "setup error" not in run.output
    assert_verified(run)


def test_no_baseline_asked_for_is_one_not_applicable_reason_even_when_embeddings_are_unusable(pytester):
    spec = write_subject(pytester, "nan")
    run = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1", "-k", "drift_budget or health")
    assert run.decision == "REJECT" and run.result.ret == 10, run.output
    gates = run.gates().values()
    budgets = {g["status"] for g in gates if g["gate"] == "drift_budget"}
    assert budgets == {"not_applicable"}
    reasons = {g["reason"] for g in gates if g["gate"] == "drift_budget"}
    assert reasons == {"no baseline to compare against (--mmgate-baseline PATH)"}
    row = [line for line in run.result.stdout.lines if line.startswith("drift_budget ")]
    assert len(row) == 1 and "no baseline to compare against" in row[0], run.output
    health = {g["status"] for g in gates if g["gate"] == "numerical_health"}
    assert health == {"error"}  # cannot run on unusable embeddings: an error, like every other gate
    assert "NaN" in run.output
    assert_verified(run)


# The check itself, without a pytest run.

class _Towers:
    def __init__(self, d_img: int, d_txt: int, raises: bool = False) -> None:
        self.d_img, self.d_txt, self.raises = d_img, d_txt, raises

    def embed_images(self, batch):
        return np.ones((len(batch), self.d_img))

    def embed_texts(self, batch):
        if self.raises:
            raise RuntimeError("tokenizer exploded")
        return np.ones((len(batch), self.d_txt))


def _subject(encoder, n: int = 40) -> Subject:
    ids = np.arange(n)
    return Subject("probe", encoder, PairedSet(ids, [f"item {i}" for i in ids]))


def test_the_probe_compares_the_towers_dimensions():
    assert tower_problems(_subject(_Towers(16, 16))) == []
    (problem,) = tower_problems(_subject(_Towers(16, 24)))
    assert "16-dimensional" in problem and "24-dimensional" in problem


def test_an_encoder_failing_on_the_probe_is_left_to_the_gates():
    # a model that raises or returns malformed output is the model's failure (REJECT), not setup's
    assert tower_problems(_subject(_Towers(16, 24, raises=True))) == []


def test_the_minimum_canary_size_is_inclusive():
    assert subject_problems(_subject(_Towers(8, 8), n=MIN_CANARY_PAIRS)) == []
    (problem,) = subject_problems(_subject(_Towers(8, 8), n=MIN_CANARY_PAIRS - 1))
    assert f"at least {MIN_CANARY_PAIRS}" in problem


@pytest.mark.parametrize("facts", [
    {"decision": "SETUP_ERROR", "exit_code": 13},                                   # no cause
    {"decision": "SETUP_ERROR", "exit_code": 10, "setup_errors": ["subject: x"]},  # wrong exit code
    {"decision": "REJECT", "exit_code": 10, "setup_errors": ["subject: x"]},       # causes, no setup error
], ids=["no_cause", "wrong_exit", "not_a_setup_error"])
def test_the_schema_ties_setup_errors_to_their_decision_and_exit_code(facts):
    report = sample_report("release_decision")
    report["facts_provided"].update(facts)
    with pytest.raises(ReportSchemaError):
        validate_report(report, load_schemas())
    report["facts_provided"].update(decision="SETUP_ERROR", exit_code=13, setup_errors=["subject: x"],
                                    passed_gates=[], failed_gates=[], errored_gates=[])
    assert validate_report(report, load_schemas()) == "release_decision"
