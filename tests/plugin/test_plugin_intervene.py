"""End to end: ``pytest --mmgate --mmgate-intervene`` on user subjects. Training-free actions are
taken only on their failing gate's evidence, re-gated with the run's contract, recorded in the bundle
(hashed, schema-valid, verified) and never change the release decision."""

from __future__ import annotations

import json

import pytest

from mmgate.audit.verify import verify_bundle
from mmgate.records.reports import validate_report
from tests.plugin.test_plugin_audits import AUDITED, SUBJECT
from tests.plugin_support import assert_verified, run_gates, write_subject

IMAGE_DRIFT = "pair_audit or temperature_calibration or test_input_drift and image"


def _run(pytester, mode: str, selection: str = AUDITED):
    pytester.makepyfile(audit_subject=SUBJECT.format(mode=mode))
    run = run_gates(pytester, "--mmgate-subject", "audit_subject:make", "--mmgate-seeds", "1", "-k", selection,
                    "--mmgate-intervene")
    assert run.decision is not None, run.output
    assert_verified(run)
    return run


def _records(run) -> dict[str, dict]:
    """Every decision record of the bundle by gate (each validated against its schema)."""
    summary = run.report("interventions/intervention_summary.json")
    assert validate_report(summary) == "intervention_summary"
    out = {}
    for row in summary["facts_provided"]["rows"]:
        record = run.report(row["record"])
        assert validate_report(record) == "decision_record"
        out[row["gate"]] = record["facts_provided"]
    return out


def test_a_miscalibrated_temperature_is_recalibrated_and_re_gated_without_changing_the_decision(pytester):
    run = _run(pytester, "hot_temperature", IMAGE_DRIFT)
    assert run.decision == "REJECT"
    record = _records(run)["temperature_calibration"]
    assert (record["outcome"], record["acted"], record["restored"]) == ("restored", True, True)
    assert record["action"]["name"] == "temperature_recalibration"
    case = record["cases"][0]
    details = case["action_details"]
    assert details["temperature_before"] == 0.5 and details["temperature_after"] < 0.1
    assert details["embeddings_unchanged"] is True
    (before,), (after,) = case["before"].values(), case["after"].values()
    assert not before["passed"] and after["passed"] and after["threshold"] == before["threshold"]
    assert record["contract_sha256"] == record["contract_sha256_after"] == run.report(
        "release_decision.json")["facts_provided"]["contract_sha256"]
    assert record["release_decision"] == "REJECT"
    assert "mmgate: intervene: RESTORED temperature_calibration (seed 0)" in run.output
    assert "the release decision stays REJECT" in run.output
    assert "## Interventions" in (run.bundle / "summary.md").read_text("utf-8")


def test_drifted_image_constants_are_restored_and_mispaired_training_pairs_are_flagged(pytester):
    run = _run(pytester, "drifted_inputs", IMAGE_DRIFT)
    record = _records(run)["input_drift"]
    assert record["outcome"] == "restored", record
    assert record["cases"][0]["guard"]["after"]["i2t_top1"] >= record["cases"][0]["guard"]["before"]["i2t_top1"] - 0.02
    run = _run(pytester, "mispaired_training", IMAGE_DRIFT)
    record = _records(run)["pair_audit"]
    details = record["cases"][0]["action_details"]
    assert record["action"]["name"] == "pairing_sanitation" and record["acted"]
    assert details["kept"] + details["flagged"] == 512 and details["flagged"] > 0
    assert details["model_changed"] is False


def test_a_healthy_subject_gets_nothing_to_do(pytester):
    run = _run(pytester, "healthy", IMAGE_DRIFT)
    summary = run.report("interventions/intervention_summary.json")["facts_provided"]
    assert summary["nothing_to_do"] is True and summary["rows"] == []
    assert not list((run.bundle / "interventions").glob("decision_record_*.json"))
    assert "mmgate: intervene: nothing to do" in run.output


def test_a_failure_without_a_permitted_action_escalates_and_never_acts(pytester):
    spec = write_subject(pytester, "nan")
    run = run_gates(pytester, "--mmgate-subject", spec, "-k", "retrieval_top1", "--mmgate-intervene")
    assert run.decision == "REJECT", run.output
    assert_verified(run)
    records = _records(run)
    assert records, run.output
    for record in records.values():
        assert (record["label"], record["outcome"], record["acted"], record["action"]) == (
            "unknown", "escalated", False, None)
        assert record["cases"] == []
    assert "mmgate: intervene: ESCALATED retrieval_top1" in run.output


def test_without_the_option_the_bundle_has_no_interventions(pytester):
    pytester.makepyfile(audit_subject=SUBJECT.format(mode="hot_temperature"))
    run = run_gates(pytester, "--mmgate-subject", "audit_subject:make", "--mmgate-seeds", "1", "-k",
                    "temperature_calibration")
    assert run.decision == "REJECT" and not (run.bundle / "interventions").exists()
    assert "intervene" not in run.output


@pytest.mark.parametrize("tamper", ["edit", "delete"])
def test_tampering_with_a_decision_record_fails_verify(pytester, tamper):
    run = _run(pytester, "hot_temperature", "temperature_calibration")
    path = run.bundle / "interventions" / "decision_record_1.json"
    if tamper == "edit":
        report = json.loads(path.read_text("utf-8"))
        report["facts_provided"]["outcome"] = "not_restored"
        path.write_text(json.dumps(report), "utf-8")
    else:
        path.unlink()
    checked = verify_bundle(run.bundle)
    assert not checked.ok
    assert any("interventions/decision_record_1.json" in problem for problem in checked.problems)


TRAINABLE = '''
import numpy as np
from mmgate import PairedSet, Subject

D = 16


class Spreading:
    """A text tower collapsed onto two directions; each fine-tune step moves it a share lr * 10 of
    the way back to the identity (a learning rate above 0.05 diverges to NaN)."""

    def __init__(self, w):
        self.w = w

    def embed_images(self, batch):
        return np.asarray(batch, dtype=np.float64)

    def embed_texts(self, batch):
        return np.asarray(batch, dtype=np.float64) @ self.w

    def fine_tune(self, pairs, steps, lr, seed):
        w = self.w.copy()
        for _ in range(steps):
            w = w * np.nan if lr > 0.05 else w + lr * 10 * (np.eye(D) - w)
        return Spreading(w)

    def state_dict(self):
        return np.ascontiguousarray(self.w).tobytes()

    def load(self, state):
        return Spreading(np.frombuffer(state).reshape(D, D).copy())

    def identity(self):
        return {{"name": "spreading", "w_sha": str(hash(self.w.tobytes()))}}


def make():
    x = np.random.default_rng(0).standard_normal((320, D))
    w = np.zeros((D, D))
    w[0, 0] = w[1, 1] = 1.0
    return Subject(name="collapsed-text", encoder=Spreading(w), canary=PairedSet(x[:256], x[:256]),
                   training=PairedSet(x[256:], x[256:]))
'''


def test_a_collapsed_tower_with_a_training_hook_is_fine_tuned_within_k_steps_and_re_gated(pytester):
    pytester.makepyfile(trainable_subject=TRAINABLE.format())
    run = run_gates(pytester, "--mmgate-subject", "trainable_subject:make", "-k", "effective_rank",
                    "--mmgate-intervene")
    assert run.decision == "REJECT", run.output
    assert_verified(run)
    record = _records(run)["effective_rank"]
    assert (record["label"], record["outcome"], record["training_hook"]) == ("collapse", "restored", True), record
    details = record["cases"][0]["action_details"]
    assert details["fine_tune"]["steps_taken"] == record["policy_config"]["fine_tune_steps"]
    twin = details["destabilised_twin"]
    assert twin["stopped"] and twin["fired"] == ["nan"] and twin["rolled_back"] and twin["byte_identical"]
    (after,) = [c for gid, c in record["cases"][0]["after"].items() if "text" in gid]
    assert after["passed"]
    assert "mmgate: intervene: RESTORED effective_rank (seed 0): limited_fine_tune" in run.output


def test_a_collapse_without_a_training_hook_is_refused_naming_the_hook(pytester):
    pytester.makepyfile(trainable_subject=TRAINABLE.format().replace(
        "    def fine_tune(", "    def _no_fine_tune("))
    run = run_gates(pytester, "--mmgate-subject", "trainable_subject:make", "-k", "effective_rank",
                    "--mmgate-intervene")
    record = _records(run)["effective_rank"]
    assert (record["outcome"], record["acted"]) == ("refused", False)
    assert "training_hook" in record["decision"]["evidence_required"][0]
    assert "training_hook" not in record["decision"]["evidence_met"]
