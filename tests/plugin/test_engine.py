"""``--mmgate-ray``: the canary embedded and its ranks swept on a Ray cluster give the local run's
decision and evidence; combinations that cannot work are setup errors, said once."""

from __future__ import annotations

import importlib.util

import pytest

from mmgate.plugin.engine import LOCAL, engine_for, ray_problems
from mmgate.plugin.settings import Settings
from tests.plugin_support import BAD_FILE, assert_verified, run_gates, write_manifest_subject, write_subject

needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="needs mmgate[ray]")


@pytest.fixture(autouse=True)
def isolated_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)


def test_without_the_option_the_run_stays_in_this_process() -> None:
    assert engine_for(Settings()) is LOCAL and LOCAL.sweep is None
    assert ray_problems(Settings(), distributed=True) == []


def test_ray_with_a_torch_device_is_refused() -> None:
    (problem,) = ray_problems(Settings(ray="local", device="cuda"), distributed=False)
    assert "--mmgate-ray local with --mmgate-device cuda" in problem


def test_a_local_cluster_per_xdist_worker_is_refused() -> None:
    (problem,) = ray_problems(Settings(ray="local"), distributed=True)
    assert "under xdist" in problem and "--mmgate-ray auto" in problem


@needs_ray
@pytest.mark.slow
def test_a_run_on_a_local_ray_cluster_gives_the_local_decision_and_evidence(pytester: pytest.Pytester) -> None:
    spec = write_subject(pytester, "healthy", n=96)
    common = ("--mmgate-subject", spec, "--mmgate-seeds", "1", "--mmgate-batch-size", "16", "-n", "0")
    here = run_gates(pytester, *common, "--mmgate-out", "here")
    on_ray = run_gates(pytester, *common, "--mmgate-ray", "local", "--mmgate-out", "ray")
    assert here.decision == on_ray.decision == "APPROVE", on_ray.output
    assert_verified(on_ray)
    evidence = {key: (gate["status"], gate["measured"]) for key, gate in here.gates().items()}
    assert evidence == {key: (gate["status"], gate["measured"]) for key, gate in on_ray.gates().items()}
    assert "ray=local" in (on_ray.bundle / "config_log.jsonl").read_text("utf-8")


@needs_ray
@pytest.mark.slow
def test_a_corrupt_image_embedded_on_ray_is_one_setup_error_naming_the_file(pytester: pytest.Pytester) -> None:
    spec = write_manifest_subject(pytester, "corrupt")
    run = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1", "--mmgate-batch-size", "8",
                    "--mmgate-ray", "local", "-n", "0")
    assert run.decision == "SETUP_ERROR" and run.result.ret == 13, run.output
    assert run.result.stdout.str().count(BAD_FILE) == 1, run.output
    assert "row 18, column 'image'" in run.output


@needs_ray
def test_a_local_cluster_under_xdist_is_a_setup_error(pytester: pytest.Pytester) -> None:
    spec = write_subject(pytester, "healthy")
    run = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1", "--mmgate-ray", "local", "-n", "2")
    assert run.decision == "SETUP_ERROR" and run.result.ret == 13, run.output
    assert run.output.count("--mmgate-ray local under xdist") == 1, run.output
