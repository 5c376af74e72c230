"""Specification of summary.md (the pull-request comment): decision heading, counts, non-passing
gates in a table before the passed count, contract hash prefix and run id, table-safe cells."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmgate.audit.summary_md import gate_rows, render_summary
from mmgate.errors import InputError

SHA = "fedcba9876543210" * 4
PASSED_IDS = [f"gates/test_acceptance.py::test_retrieval_top1[seed{s}-image_to_text]"
              for s in range(3)]
FAILED_ID = "gates/test_geometry.py::test_effective_rank[seed0-image]"
NA_ID = "gates/test_probe.py::test_factor_probe[seed0-shape]"
MISSING_ID = "gates/test_drift.py::test_drift_budget[seed1]"
PIPE_OR_ESCAPE = re.compile(r"\\.|\|")
CODE_SPAN = re.compile(r"`[^`]*`")


def result(gate_id: str, status: str, message: str = "", reason: str | None = None,
           measured: dict | None = None, threshold: dict | None = None, params: dict | None = None) -> dict:
    gate = gate_id.split("::")[1].split("[")[0].removeprefix("test_")
    return {"gate_id": gate_id, "gate": gate, "family": "acceptance", "params": params or {}, "status": status,
            "required": True, "measured": measured, "threshold": threshold, "message": message,
            "reason": reason, "evidence": {}}


def make_results(failed_message: str = "effective rank 3.2 < 12 | collapsed") -> list[dict]:
    return [
        *(result(gate_id, "passed", "ok", measured={"value": 0.7}) for gate_id in PASSED_IDS),
        result(FAILED_ID, "failed", failed_message,
               measured={"value": 3.2, "ci_low": 2.9, "ci_high": 3.5},
               threshold={"op": ">=", "value": 12.0, "basis": "lower_bound"}),
        result(NA_ID, "not_applicable", reason="no factor labels"),
    ]


def make_decision(verdict: str = "REJECT", missing: tuple[str, ...] = (MISSING_ID,)) -> dict:
    return {
        "report_kind": "release_decision", "schema_version": "1.0.0", "run_id": "run-42",
        "decision": verdict, "exit_code": 1, "failed_gates": [FAILED_ID], "errored_gates": [],
        "inconclusive_gates": [], "pairs_to_decide": None,
        "missing_gates": list(missing), "not_applicable_gates": [NA_ID], "passed_gates": PASSED_IDS,
        "contract_sha256": SHA, "subject": {"name": "reference aligner", "identity": {}},
        "counts": {"passed": 3, "failed": 1, "missing": len(missing), "not_applicable": 1},
    }


def cell_separators(row: str) -> int:
    """Pipes that split a GFM table row: those not consumed by a backslash escape."""
    return PIPE_OR_ESCAPE.findall(row).count("|")


def table_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("|")]


def test_heading_states_the_decision_with_a_plain_status_word():
    first = render_summary(make_decision(), make_results()).splitlines()[0]
    assert first == "## mmgate release decision: REJECT (release blocked)"
    approve = render_summary(make_decision("APPROVE", missing=()), make_results()).splitlines()[0]
    assert approve == "## mmgate release decision: APPROVE (release cleared)"


def test_summary_is_plain_ascii_without_emoji():
    assert render_summary(make_decision("INCOMPLETE"), make_results()).isascii()


def test_counts_are_listed_in_severity_order():
    text = render_summary(make_decision(), make_results())
    assert "Cases: 1 failed, 1 missing, 1 not_applicable, 3 passed (6 in 4 gates)." in text


def gate_table(text: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index("| Gate | Status | Cases | Worst case | Measured [interval] | Threshold |")
    return [line for line in lines[start + 2:] if line.startswith("|")][:50]


def test_one_row_per_gate_non_passing_first_not_applicable_listed_once_below():
    text = render_summary(make_decision(), make_results())
    rows = gate_table(text)
    assert [row.split("|")[1].strip() for row in rows] == ["`effective_rank`", "`drift_budget`",
                                                           "`retrieval_top1`"]
    assert rows[2].split("|")[3].strip() == "3 passed"
    na = text[text.index("**Not applicable**"):]
    assert "- `factor_probe` (1 case): no factor labels" in na
    assert text.count("no factor labels") == 1


def test_a_gate_row_shows_its_worst_case_with_value_interval_and_threshold():
    results = [result(f"gates/test_acceptance.py::test_retrieval_top1[seed{s}-image_to_text]", "passed",
                      measured={"value": v, "ci_low": v - 0.1, "ci_high": v + 0.1},
                      threshold={"op": ">=", "value": 0.55, "basis": "point"})
               for s, v in enumerate((0.8, 0.62, 0.9))]
    decision = {**make_decision("APPROVE", missing=()), "failed_gates": [], "not_applicable_gates": [],
                "passed_gates": [r["gate_id"] for r in results], "counts": {"passed": 3}}
    row = gate_table(render_summary(decision, results))[0]
    assert "| seed1-image_to_text | 0.62 [0.52, 0.72] | >= 0.55 (point) |" in row


def test_failed_gate_shows_measured_interval_threshold_and_why():
    text = render_summary(make_decision(), make_results())
    row = next(line for line in gate_table(text) if "effective_rank" in line)
    assert "3.2 [2.9, 3.5]" in row and ">= 12 (lower_bound)" in row and "seed0-image" in row
    assert "- `effective_rank` seed0-image: effective rank 3.2 &lt; 12 \\| collapsed" in text


def test_contract_hash_is_shortened_to_twelve_hex_digits_next_to_the_run_id():
    text = render_summary(make_decision(), make_results())
    assert f"contract sha256 `{SHA[:12]}`, run `run-42`" in text
    assert SHA[:13] not in text


def test_table_rows_keep_their_columns():
    rows = gate_table(render_summary(make_decision(), make_results()))
    assert all(cell_separators(row) == 7 for row in rows)


def test_a_script_in_a_gate_message_is_neutralised():
    text = render_summary(make_decision(), make_results("<script>alert(1)</script>"))
    assert "<script>" not in text and "&lt;script>alert(1)&lt;/script>" in text


def test_summary_has_no_links():
    text = render_summary(make_decision(), make_results())
    assert "](" not in text and "http" not in text and "<a " not in text


def test_headline_metrics_per_direction_with_the_worst_interval():
    results = [result(f"gates/test_acceptance.py::test_retrieval_top1[seed{s}-{d}]", "passed",
                      measured={"value": v, "ci_low": v - 0.1, "ci_high": v + 0.1},
                      threshold={"op": ">=", "value": 0.55, "basis": "point"}, params={"seed": s, "direction": d})
               for s, (d, v) in enumerate([("image_to_text", 0.8), ("image_to_text", 0.7),
                                           ("text_to_image", 0.75)])]
    decision = {**make_decision("APPROVE", missing=()), "failed_gates": [], "not_applicable_gates": [],
                "passed_gates": [r["gate_id"] for r in results], "counts": {"passed": 3}}
    text = render_summary(decision, results)
    assert "| recall@1 | image->text | 0.75 | 0.7 [0.6, 0.8] (seed1-image_to_text) | >= 0.55 (point) |" in text
    assert "| recall@1 | text->image | 0.75 | 0.75 [0.65, 0.85] (seed2-text_to_image) |" in text


def test_all_passing_run_has_no_why_and_no_not_applicable_section():
    results = [result(gate_id, "passed", "ok") for gate_id in PASSED_IDS]
    decision = {**make_decision("APPROVE", missing=()), "failed_gates": [],
                "not_applicable_gates": [], "counts": {"passed": 3}}
    text = render_summary(decision, results)
    assert len(gate_table(text)) == 1 and "**Why**" not in text and "Not applicable" not in text


def test_gate_rows_sort_by_severity_then_gate_id():
    rows = gate_rows(make_decision(), list(reversed(make_results())))
    assert [row.status for row in rows] == [
        "failed", "missing", "not_applicable", "passed", "passed", "passed"]
    assert [row.gate_id for row in rows[3:]] == sorted(PASSED_IDS)


@settings(max_examples=60, deadline=None)
@given(message=st.text(max_size=80), gate_suffix=st.text(max_size=20))
def test_any_message_or_gate_id_keeps_one_line_per_row_and_no_raw_html(message, gate_suffix):
    results = make_results(message)
    results[3]["gate_id"] = FAILED_ID + gate_suffix
    decision = {**make_decision(missing=()), "failed_gates": [FAILED_ID + gate_suffix]}
    text = render_summary(decision, results)
    rows = gate_table(text)
    assert len(rows) == 2
    assert all(cell_separators(row) == 7 for row in rows)
    why = [line for line in text.splitlines() if line.startswith("- `effective_rank`")]
    assert len(why) == 1
    assert all("<" not in CODE_SPAN.sub("", line) for line in [*rows, *why])


@pytest.mark.parametrize(("decision_change", "named"), [
    ({"decision": "approve"}, "decision"),
    ({"contract_sha256": SHA.upper()}, "contract_sha256"),
    ({"run_id": None}, "run_id"),
    ({"counts": {"passed": "3"}}, "counts"),
    ({"missing_gates": "gates/x.py::y"}, "missing_gates"),
])
def test_malformed_decision_raises_input_error_naming_the_field(decision_change, named):
    with pytest.raises(InputError, match=named):
        render_summary({**make_decision(), **decision_change}, make_results())


def test_a_missing_decision_key_raises_input_error_naming_it():
    decision = make_decision()
    del decision["passed_gates"]
    with pytest.raises(InputError, match="passed_gates"):
        render_summary(decision, make_results())


def test_an_unknown_gate_status_raises_input_error():
    results = make_results()
    results[0]["status"] = "ok"
    with pytest.raises(InputError, match=r"results\[0\]\['status'\]"):
        render_summary(make_decision(), results)
