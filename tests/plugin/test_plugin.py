"""``pytest --mmgate`` end to end (pytester, subprocesses): inert without the flag, a decision line
and a verifiable bundle with it, and fail-closed decisions on every kind of bad input (setup errors
in detail: test_setup_errors.py)."""

from __future__ import annotations

import json

import pytest

from tests.plugin_support import assert_verified, run_gates, write_subject

pytestmark = pytest.mark.usefixtures("isolated_home")


@pytest.fixture
def isolated_home(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)


def test_without_the_flag_the_plugin_changes_nothing(pytester):
    pytester.makepyfile(test_plain="def test_ok():\n    assert True\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "mmgate:" not in result.stdout.str()
    assert not (pytester.path / "mmgate-out").exists()


def test_healthy_user_subject_is_approved_with_a_verified_bundle(pytester):
    spec = write_subject(pytester, "healthy")
    run = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "2")
    assert run.decision == "APPROVE", run.output
    assert run.result.ret == 0
    mmgate_lines = [line for line in run.result.stdout.lines if line.startswith("mmgate:")]
    assert mmgate_lines[-1].startswith("mmgate: decision=APPROVE bundle=")
    assert_verified(run)
    decision = run.report("release_decision.json")["facts_provided"]
    assert decision["subject"]["name"] == "fixture-healthy"
    gates = run.gates()
    assert gates["gates/test_acceptance.py::test_retrieval_top1[seed0-text_to_image]"]["status"] == "passed"
    assert gates["gates/test_hygiene.py::test_split_hygiene[seed0]"]["status"] == "not_applicable"


def test_a_fixed_subject_is_gated_once_whatever_the_seed_count(pytester):
    spec = write_subject(pytester, "healthy")
    run = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "3")
    assert run.decision == "APPROVE", run.output
    assert not any("[seed1" in gate_id for gate_id in run.gates())
    assert run.report("run_manifest.json")["facts_provided"]["seeds_gated"] == 1
    assert "fixed subject: each gate is evaluated once, not over 3 seeds" in run.output


def test_a_factory_that_takes_a_seed_is_built_and_gated_per_seed(pytester):
    write_subject(pytester, "healthy")
    run = run_gates(pytester, "--mmgate-subject", "user_subject:make_per_seed", "--mmgate-seeds", "2")
    assert run.decision == "APPROVE", run.output
    gates = run.gates()
    assert gates["gates/test_acceptance.py::test_retrieval_top1[seed1-text_to_image]"]["status"] == "passed"
    assert run.report("run_manifest.json")["facts_provided"]["seeds_gated"] == 2
    identity = run.report("release_decision.json")["facts_provided"]["subject"]["identity"]
    assert identity["seed0"]["seed"] == 0 and identity["seed1"]["seed"] == 1
    assert "fixed subject" not in run.output


def test_failing_threshold_rejects_and_names_value_and_threshold(pytester):
    spec = write_subject(pytester, "healthy")
    pytester.makefile(".toml", strict="min_retrieval_top1 = 1.0\nmin_retrieval_top5 = 1.0\n"
                                      "max_mean_cosine = -0.5\n")
    run = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1",
                    "--mmgate-contract", "strict.toml")
    assert run.decision == "REJECT" and run.result.ret == 10, run.output
    assert "mean off-diagonal cosine" in run.output and "<= -0.5" in run.output
    assert_verified(run)


def test_contract_hash_in_the_decision_changes_with_a_threshold(pytester):
    spec = write_subject(pytester, "healthy")
    pytester.makefile(".json", loose=json.dumps({"min_retrieval_top1": 0.5}))
    first = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1")
    second = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1",
                       "--mmgate-contract", "loose.json")
    hashes = [run.report("release_decision.json")["facts_provided"]["contract_sha256"]
              for run in (first, second)]
    assert hashes[0] != hashes[1]
    manifest = second.report("run_manifest.json")["facts_provided"]
    assert manifest["contract_sha256"] == hashes[1]


def test_deselecting_a_required_gate_is_incomplete(pytester):
    spec = write_subject(pytester, "healthy")
    run = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1", "-k", "not determinism")
    assert run.decision == "INCOMPLETE" and run.result.ret == 11, run.output
    decision = run.report("release_decision.json")["facts_provided"]
    assert any("test_determinism" in gate for gate in decision["missing_gates"])
    assert_verified(run)


def test_serial_and_two_workers_agree_on_decision_and_evidence(pytester):
    spec = write_subject(pytester, "healthy")
    serial = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "2", "-n", "0")
    parallel = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "2", "-n", "2")
    assert serial.decision == parallel.decision == "APPROVE"
    assert serial.gates() == parallel.gates()


# An encoder that raises on the canary is a setup error (test_setup_errors.py); unusable output is the model's.
@pytest.mark.parametrize("mode, args, cause", [
    ("nan", (), "NaN"),
    ("inf", (), "Inf"),
    ("zero_rows", (), "zero"),
    ("one_d", (), "1-D"),
    ("wrong_rows", (), "rows"),
    ("dim_changes", ("--mmgate-batch-size", "16"), "dim"),
])
def test_bad_subject_is_rejected_with_the_cause_named(pytester, mode, args, cause):
    spec = write_subject(pytester, mode)
    run = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1", *args)
    assert run.decision == "REJECT", run.output
    assert cause in run.output
    assert_verified(run)
    decision = run.report("release_decision.json")["facts_provided"]
    assert decision["errored_gates"] or decision["failed_gates"]


def test_interrupted_session_is_incomplete_with_a_bundle(pytester):
    spec = write_subject(pytester, "interrupt")
    run = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1")
    assert run.decision == "INCOMPLETE" and run.result.ret == 11, run.output
    assert_verified(run)


def test_crashed_worker_never_approves(pytester):
    spec = write_subject(pytester, "worker_crash")
    run = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1", "-n", "2")
    assert run.decision in ("REJECT", "INCOMPLETE"), run.output
    assert "crashed" in run.output
    assert_verified(run)


@pytest.mark.parametrize("spec, cause", [
    ("no_such_module:make", "cannot import module 'no_such_module'"),
    ("user_subject:absent", "has no attribute 'absent'"),
    ("not a spec", "expected 'module:callable'"),
])
def test_unloadable_subject_factory_is_a_setup_error(pytester, spec, cause):
    write_subject(pytester, "healthy")
    run = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1")
    assert run.decision == "SETUP_ERROR" and run.result.ret == 13, run.output
    assert run.output.count(cause) == 1
    assert_verified(run)


@pytest.mark.parametrize("content, cause", [
    ("min_retrieval_top1 = 'high'\n", "min_retrieval_top1"),
    ("min_retrieval_topone = 0.5\n", "unknown contract key"),
    ("min_retrieval_top1 = 1.5\n", "min_retrieval_top1"),
    ("min_retrieval_top1 = \n", "malformed"),
])
def test_bad_contract_is_a_setup_error_naming_the_key(pytester, content, cause):
    spec = write_subject(pytester, "healthy")
    pytester.makefile(".toml", contract=content)
    run = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1",
                    "--mmgate-contract", "contract.toml")
    assert run.decision == "SETUP_ERROR" and run.result.ret == 13, run.output
    assert cause in run.output
    assert_verified(run)
