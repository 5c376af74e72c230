"""End to end: record a drift baseline from an APPROVEd run, compare later runs against it, and
refuse a baseline that was altered, belongs to another subject or is not a baseline at all."""

from __future__ import annotations

import json

import pytest

from mmgate.drift.budgets import METRICS
from mmgate.records.canonical import canonical_json
from mmgate.records.hashing import sha256_text
from tests.plugin_support import assert_verified, run_gates, write_subject

SEEDS = ("--mmgate-seeds", "1")


def _recorded(pytester, mode: str = "healthy"):
    spec = write_subject(pytester, mode)
    run = run_gates(pytester, "--mmgate-subject", spec, *SEEDS, "--mmgate-record-baseline", "base.json")
    return spec, run


def test_an_approved_run_records_a_baseline_named_in_its_manifest(pytester):
    _, run = _recorded(pytester)
    assert run.decision == "APPROVE", run.output
    written = json.loads((pytester.path / "base.json").read_text())
    sha = written["facts_provided"]["content_sha256"]
    assert f"mmgate: baseline recorded={pytester.path / 'base.json'} sha256={sha}" in run.output
    recorded = run.report("run_manifest.json")["facts_provided"]["baselines"]["recorded"]
    assert recorded == {"path": str(pytester.path / "base.json"), "content_sha256": sha}
    assert run.report("drift_baseline.json") == written  # the bundle keeps its own copy
    assert_verified(run)


def test_a_rejected_run_records_no_baseline(pytester):
    spec = write_subject(pytester, "healthy")
    pytester.makefile(".toml", strict="max_mean_cosine = -0.5\n")
    run = run_gates(pytester, "--mmgate-subject", spec, *SEEDS, "--mmgate-contract", "strict.toml",
                    "--mmgate-record-baseline", "base.json")
    assert run.decision == "REJECT"
    assert "baseline not recorded: the decision is REJECT" in run.output
    assert not (pytester.path / "base.json").exists()


def test_the_same_release_against_its_baseline_stays_within_every_budget(pytester):
    spec, _ = _recorded(pytester)
    run = run_gates(pytester, "--mmgate-subject", spec, *SEEDS, "--mmgate-baseline", "base.json")
    assert run.decision == "APPROVE", run.output
    drift = {gid.split("[")[1].rstrip("]"): g["status"] for gid, g in run.gates().items()
             if "test_drift_budget" in gid}
    assert len(drift) == len(METRICS)
    assert drift.pop("seed0-input_drift_image") == "not_applicable"  # its images are row ids
    assert set(drift.values()) == {"passed"}
    diagnosis = run.gates()["gates/test_baseline_drift.py::test_drift_diagnosis[seed0]"]
    assert diagnosis["status"] == "not_applicable" and "synthetic world" in diagnosis["reason"]
    compared = run.report("run_manifest.json")["facts_provided"]["baselines"]["compared"]
    assert compared["content_sha256"] == json.loads((pytester.path / "base.json").read_text())[
        "facts_provided"]["content_sha256"]


def test_an_altered_baseline_is_refused_and_never_approves(pytester):
    spec, _ = _recorded(pytester)
    path = pytester.path / "base.json"
    report = json.loads(path.read_text())
    report["facts_provided"]["baseline"]["seeds"][0]["metrics"]["symmetry_gap"]["value"] = 0.5
    path.write_text(json.dumps(report))
    run = run_gates(pytester, "--mmgate-subject", spec, *SEEDS, "--mmgate-baseline", "base.json")
    assert run.decision == "REJECT" and run.result.ret == 10, run.output
    assert "content_sha256 mismatch" in run.output


def test_a_baseline_of_another_subject_is_refused(pytester):
    _recorded(pytester, "healthy")
    other = write_subject(pytester, "renamed", module="other_subject")
    run = run_gates(pytester, "--mmgate-subject", other, *SEEDS, "--mmgate-baseline", "base.json")
    assert run.decision == "REJECT", run.output
    assert "recorded for subject 'fixture-healthy', not 'fixture-renamed'" in run.output


def test_a_report_that_is_not_a_baseline_is_refused(pytester):
    spec, run = _recorded(pytester)
    decision = run.bundle / "release_decision.json"
    again = run_gates(pytester, "--mmgate-subject", spec, *SEEDS, "--mmgate-baseline", str(decision))
    assert again.decision == "REJECT"
    assert "fails its schema" in again.output or "not a 'drift_baseline'" in again.output


def test_a_baseline_that_cannot_be_written_exits_12_and_stays_in_the_bundle(pytester):
    spec = write_subject(pytester, "healthy")
    (pytester.path / "taken").mkdir()
    run = run_gates(pytester, "--mmgate-subject", spec, *SEEDS, "--mmgate-record-baseline", "taken")
    assert run.decision == "APPROVE" and run.result.ret == 12, run.output
    assert "baseline could not be recorded at" in run.output
    assert run.report("drift_baseline.json")["facts_provided"]["report_kind"] == "drift_baseline"
    assert run.report("run_manifest.json")["facts_provided"]["baselines"]["recorded"] is None


def test_recording_twice_gives_the_same_content_hash(pytester):
    spec, first = _recorded(pytester)
    second = run_gates(pytester, "--mmgate-subject", spec, *SEEDS, "--mmgate-record-baseline", "again.json")
    hashes = [json.loads((pytester.path / name).read_text())["facts_provided"]["content_sha256"]
              for name in ("base.json", "again.json")]
    assert first.decision == second.decision == "APPROVE" and hashes[0] == hashes[1]


@pytest.mark.slow
def test_the_classifier_names_the_built_in_subjects_drift_against_the_healthy_baseline(pytester):
    recorded = run_gates(pytester, *SEEDS, "--mmgate-record-baseline", "base.json")
    assert recorded.decision == "APPROVE", recorded.output
    same = run_gates(pytester, *SEEDS, "--mmgate-baseline", "base.json")
    drifted = run_gates(pytester, *SEEDS, "--mmgate-baseline", "base.json",
                        "--mmgate-builtin", "scoring_drift_temperature")
    gate_id = "gates/test_baseline_drift.py::test_drift_diagnosis[seed0]"
    assert same.gates()[gate_id]["status"] == "passed", same.output
    diagnosis = drifted.gates()[gate_id]
    assert diagnosis["status"] == "failed" and drifted.decision == "REJECT"
    assert diagnosis["evidence"]["classification"]["label"] == "scoring_drift"
    assert "drift diagnosed as scoring_drift" in diagnosis["message"]


def _rehash(path, edit) -> None:
    report = json.loads(path.read_text())
    edit(report["facts_provided"]["baseline"])
    report["facts_provided"]["content_sha256"] = sha256_text(canonical_json(report["facts_provided"]["baseline"]))
    path.write_text(json.dumps(report))


def test_a_rehashed_edit_is_refused_by_the_contracts_pinned_hash(pytester):
    spec, _ = _recorded(pytester)
    path = pytester.path / "base.json"
    sha = json.loads(path.read_text())["facts_provided"]["content_sha256"]
    pytester.makefile(".toml", pinned=f'baseline_sha256 = "{sha}"\n')
    pinned = ("--mmgate-contract", "pinned.toml", "--mmgate-baseline", "base.json")
    assert run_gates(pytester, "--mmgate-subject", spec, *SEEDS, *pinned).decision == "APPROVE"
    _rehash(path, lambda b: b["seeds"][0]["metrics"]["retrieval_top1_i2t"].update(value=0.0))
    run = run_gates(pytester, "--mmgate-subject", spec, *SEEDS, *pinned)
    assert run.decision == "REJECT", run.output
    assert "is not the contract's baseline_sha256" in run.output


def test_a_gutted_baseline_is_refused_even_with_a_valid_hash(pytester):
    spec, _ = _recorded(pytester)
    _rehash(pytester.path / "base.json", lambda b: b["seeds"][0]["metrics"].clear())
    run = run_gates(pytester, "--mmgate-subject", spec, *SEEDS, "--mmgate-baseline", "base.json")
    assert run.decision == "REJECT", run.output
    assert "fails its schema" in run.output or "metrics: missing" in run.output
