"""Detection-power calibration: the matrix built from gated runs' outcomes, its strict schema, the
``calibrate`` command's last line, and (slow) a real end-to-end calibration of a small subset."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mmgate import cli
from mmgate.errors import InputError
from mmgate.gating.catalogue import expected_gates
from mmgate.lab import calibration
from mmgate.lab.calibration import GateCase, RunOutcome
from mmgate.lab.conditions import CONDITIONS, FAILURE_FAMILIES
from mmgate.records.reports import ReportSchemaError, validate_report

LINE = re.compile(r"^CALIBRATE detected=(\d+)/(\d+) healthy_approved=(\d+)/(\d+)$")
ID_OF = {key: gate_id for key, (_, _, gate_id) in expected_gates(2).items()}


def _cases(seeds: int, fired: dict[str, str] | None = None) -> tuple[GateCase, ...]:
    """Every gate case of a complete run, passed unless named in ``fired`` (gate name -> status)."""
    fired = fired or {}
    return tuple(GateCase(gate_id, fired.get(spec.name, "passed"), True)
                 for spec, _, gate_id in expected_gates(seeds).values())


def _outcome(name: str, fired: dict[str, str] | None = None, seeds: int = 2) -> RunOutcome:
    cases = _cases(seeds, fired)
    return RunOutcome(name, seeds, calibration.verdict(cases), 0, cases, f"/runs/{name}", None, 1.5)


def _facts(*outcomes: RunOutcome) -> dict:
    return calibration.detection_facts(outcomes, CONDITIONS, "calibrate-20261126T150000Z-0123abcd",
                                       "2026-11-26T15:00:00+00:00")


def _row(facts: dict, name: str) -> dict:
    return next(row for row in facts["rows"] if row["condition"] == name)


def test_gate_names_and_seeds_come_from_gate_ids():
    gate_id = "gates/test_acceptance.py::test_retrieval_top1[seed3-image_to_text]"
    assert calibration.gate_name(gate_id) == "retrieval_top1"
    assert calibration.case_seed(gate_id) == 3
    assert calibration.case_seed("gates/test_health.py::test_split_hygiene[seed12]") == 12
    with pytest.raises(InputError, match="not a gate"):
        calibration.gate_name("gates/test_x.py::test_nothing[seed0]")


def test_family_gates_follow_the_risk_controls_and_leave_drift_families_to_drift_gates():
    gates = calibration.family_gates()
    assert set(gates) == set(FAILURE_FAMILIES)
    assert "symmetry_gap" in gates["dominance"] and "counterfactual_drop" in gates["spurious_alignment"]
    assert "rankme" in gates["collapse"] and gates["pairing_corruption"] == ("pair_auc", "pair_audit", "corruption_slope")
    assert "direction_energy" in gates["collapse"]
    assert gates["scoring_drift"] == ("temperature_calibration",) and gates["preprocessing_drift"] == ("input_drift", "drift_budget", "drift_diagnosis")


def test_a_failure_caught_by_its_own_family_is_detected():
    facts = _facts(_outcome("collapse_low_temperature", {"mean_cosine": "failed"}))
    row = _row(facts, "collapse_low_temperature")
    assert row["decision"] == "REJECT" and row["injected"]
    assert row["gates_fired"] == ["mean_cosine"] and row["fired_families"] == ["collapse"]
    assert row["detected_by_own_family"] is True
    assert row["fired_fraction"]["mean_cosine"] == 1.0 and row["fired_fraction"]["hubness"] == 0.0


def test_a_failure_rejected_only_by_another_family_is_not_detected_by_its_own():
    row = _row(_facts(_outcome("pairing_offset", {"retrieval_top1": "failed"})), "pairing_offset")
    assert row["decision"] == "REJECT" and row["fired_families"] == ["dominance"]
    assert row["detected_by_own_family"] is False


def test_an_errored_gate_counts_as_fired():
    row = _row(_facts(_outcome("pairing_random_30", {"corruption_slope": "error"})), "pairing_random_30")
    assert row["gates_fired"] == ["corruption_slope"] and row["detected_by_own_family"] is True


def test_an_approved_injected_condition_is_neither_rejected_nor_detected():
    facts = _facts(_outcome("collapse_high_lr"))
    row = _row(facts, "collapse_high_lr")
    assert row["decision"] == "APPROVE" and row["gates_fired"] == [] and not row["detected_by_own_family"]
    assert facts["summary"]["rejected_injected"] == 0 and facts["summary"]["injected"] == 1


def test_each_healthy_seed_is_one_sample_decided_on_its_own_cases():
    cases = list(_cases(3))
    failing = ID_OF["test_hubness[seed1-image_to_text]"]
    cases = [GateCase(c.gate_id, "failed" if c.gate_id == failing else c.status, True) for c in cases]
    outcome = RunOutcome("healthy", 3, "REJECT", 10, tuple(cases), "/runs/healthy", None, 2.0)
    facts = _facts(outcome)
    assert [(s["seed"], s["decision"]) for s in facts["healthy_seeds"]] == [
        (0, "APPROVE"), (1, "REJECT"), (2, "APPROVE")]
    assert facts["healthy_seeds"][1]["gates_fired"] == ["hubness"]
    assert facts["summary"]["healthy_approved"] == 2 and facts["summary"]["healthy_seeds"] == 3
    assert not _row(facts, "healthy")["injected"]


def test_a_seed_with_a_case_that_never_ran_is_incomplete():
    cases = [GateCase(c.gate_id, "missing" if "seed0" in c.gate_id and "hubness" in c.gate_id else c.status,
                      True) for c in _cases(2)]
    assert calibration.verdict(cases) == "INCOMPLETE"
    rows = calibration.seed_rows(RunOutcome("healthy", 2, "INCOMPLETE", 11, tuple(cases), None, None, 1.0))
    assert [row["decision"] for row in rows] == ["INCOMPLETE", "APPROVE"]


def test_a_run_without_a_bundle_gives_no_evidence_and_is_never_approved():
    failed = calibration.failed_outcome("healthy", 2, 1, "no bundle line in the output (exit 1)", 3.0)
    facts = _facts(failed, _outcome("collapse_high_lr"))
    assert _row(facts, "healthy")["decision"] == "INCOMPLETE"
    assert _row(facts, "healthy")["run_error"].startswith("no bundle line")
    assert facts["summary"]["healthy_approved"] == 0 and facts["summary"]["healthy_seeds"] == 2


def test_the_calibrate_line_counts_rejected_injected_and_approved_healthy_seeds():
    facts = _facts(_outcome("healthy"), _outcome("collapse_low_temperature", {"mean_cosine": "failed"}),
                   _outcome("pairing_offset", {"retrieval_top1": "failed"}), _outcome("collapse_high_lr"))
    assert calibration.calibrate_line(facts["summary"]) == "CALIBRATE detected=2/3 healthy_approved=2/2"
    assert facts["summary"]["detected_by_own_family"] == 1


def _report() -> dict:
    facts = _facts(_outcome("healthy"), _outcome("collapse_low_temperature", {"mean_cosine": "failed"}),
                   _outcome("scoring_drift_temperature"))
    return calibration.detection_report(facts)


def test_the_schema_accepts_a_real_matrix_and_the_report_lists_what_was_missed():
    report = _report()
    assert validate_report(report) == "detection_matrix"
    assert report["draft_output"]["not_rejected"] == ["scoring_drift_temperature"]
    assert report["open_items"] == ["scoring_drift_temperature: not rejected by a gate of its own family"]


MUTATIONS = {
    "detected_but_approved": (lambda f: f["rows"][2].update(detected_by_own_family=True),
                              "$.facts_provided.rows[2].gates_fired"),
    "unknown_family": (lambda f: f["rows"][1].update(family="gremlins"), "$.facts_provided.rows[1].family"),
    "healthy_marked_injected": (lambda f: f["rows"][0].update(injected=True), "$.facts_provided.rows[0].injected"),
    "rejected_without_gates": (lambda f: f["rows"][1].update(gates_fired=[]),
                               "$.facts_provided.rows[1].gates_fired"),
    "fraction_above_one": (lambda f: f["rows"][1]["fired_fraction"].update(mean_cosine=1.5),
                           "$.facts_provided.rows[1].fired_fraction.mean_cosine"),
    "extra_row_key": (lambda f: f["rows"][0].update(note="x"), "$.facts_provided.rows[0]"),
    "negative_count": (lambda f: f["summary"].update(injected=-1), "$.facts_provided.summary.injected"),
    "bad_decision": (lambda f: f["healthy_seeds"][0].update(decision="MAYBE"),
                     "$.facts_provided.healthy_seeds[0].decision"),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_the_schema_rejects_a_mutated_matrix(mutation):
    report = copy.deepcopy(_report())
    mutate, path = MUTATIONS[mutation]
    mutate(report["facts_provided"])
    with pytest.raises(ReportSchemaError) as caught:
        validate_report(report)
    assert caught.value.kind == "detection_matrix" and caught.value.json_path == path


def test_the_heatmap_is_a_png_of_the_matrix():
    assert calibration.heatmap_png(_report()["facts_provided"]).startswith(b"\x89PNG\r\n\x1a\n")


def test_calibrate_command_prints_the_calibrate_line_last(monkeypatch, capsys, tmp_path):
    facts = _facts(_outcome("healthy"), _outcome("collapse_low_temperature", {"mean_cosine": "failed"}))
    seen = {}

    def fake(out, names, seeds, healthy_seeds, jobs):
        seen.update(out=out, names=names, seeds=seeds, healthy_seeds=healthy_seeds, jobs=jobs)
        return calibration.Calibration(out / "m.json", out / "m.png", facts,
                                       calibration.calibrate_line(facts["summary"]))

    monkeypatch.setattr(calibration, "calibrate", fake)
    code = cli.main(["calibrate", "--out", str(tmp_path), "--conditions", "healthy,collapse_low_temperature",
                     "--seeds", "1", "--healthy-seeds", "2", "--jobs", "1"])
    lines = capsys.readouterr().out.splitlines()
    assert code == cli.EXIT_OK
    assert lines[-1] == "CALIBRATE detected=1/1 healthy_approved=2/2"
    assert seen == {"out": tmp_path, "names": ["healthy", "collapse_low_temperature"], "seeds": 1,
                    "healthy_seeds": 2, "jobs": 1}


@pytest.mark.parametrize("args, message", [
    (["--conditions", "healthy,nope"], "unknown condition"),
    (["--seeds", "0"], "--seeds"),
    (["--jobs", "0"], "--jobs"),
])
def test_calibrate_rejects_bad_arguments_before_running_anything(tmp_path, capsys, args, message):
    assert cli.main(["calibrate", "--out", str(tmp_path), *args]) == cli.EXIT_USAGE
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_calibrate_end_to_end_on_a_fast_subset(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "mmgate", "calibrate", "--out", str(tmp_path / "cal"),
         "--conditions", "healthy,pairing_random_30", "--seeds", "1", "--healthy-seeds", "1"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    last = done.stdout.splitlines()[-1]
    match = LINE.match(last)
    assert match is not None, last
    assert (match[2], match[4]) == ("1", "1")
    [matrix_path] = (tmp_path / "cal").glob("calibrate-*/detection_matrix.json")
    report = json.loads(matrix_path.read_text("utf-8"))
    assert validate_report(report) == "detection_matrix"
    rows = {row["condition"]: row for row in report["facts_provided"]["rows"]}
    assert set(rows) == {"healthy", "pairing_random_30"}
    assert rows["healthy"]["decision"] == "APPROVE" and rows["healthy"]["bundle"]
    assert Path(rows["pairing_random_30"]["bundle"], "release_decision.json").is_file()
    assert (matrix_path.parent / "detection_matrix.png").read_bytes().startswith(b"\x89PNG")
    # the healthy run recorded the baseline the injected run was then compared against
    assert (matrix_path.parent / calibration.BASELINE_FILE).is_file()
    pairing = rows["pairing_random_30"]
    assert pairing["detected_by_own_family"] and "pair_audit" in pairing["gates_fired"]
    assert "drift_budget" in pairing["fired_fraction"]


def test_the_fired_share_counts_only_cases_that_ran():
    cases = [GateCase(ID_OF["test_counterfactual_drop[seed0-parity]"], "failed", True),
             GateCase(ID_OF["test_counterfactual_drop[seed0-bucket]"], "not_applicable", False),
             GateCase(ID_OF["test_counterfactual_drop[seed1-parity]"], "passed", True),
             GateCase(ID_OF["test_hubness[seed0-image_to_text]"], "missing", True)]
    assert calibration.fired_fraction(cases) == {"counterfactual_drop": 0.5}
