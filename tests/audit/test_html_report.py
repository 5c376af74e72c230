"""Specification of report.html: one page with no external resource, decision banner, headline
metrics and one row per gate (non-passing first) at the top, cases behind a click, plots grouped by
gate and referenced from the bundle's plots/ directory, and every user string escaped."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from mmgate.audit.charts import render_curve_plot
from mmgate.audit.html_report import BANNER_COLOURS, PNG_SIGNATURE, render_html
from mmgate.errors import InputError

PASSED_ID = "gates/test_acceptance.py::test_retrieval_top1[seed0-image_to_text]"
FAILED_ID = "gates/test_geometry.py::test_effective_rank[seed0-image]"
NA_ID = "gates/test_probe.py::test_factor_probe[seed0-shape]"
ERROR_ID = "gates/test_health.py::test_finite_embeddings[seed0]"
MISSING_ID = "gates/test_drift.py::test_drift_budget[seed1]"


def result(gate_id: str, status: str, message: str = "", reason: str | None = None,
           measured: dict | None = None, threshold: dict | None = None) -> dict:
    return {"gate_id": gate_id, "gate": gate_id.split("::")[1].split("[")[0],
            "family": "acceptance",
            "params": {"seed": 0}, "status": status, "required": True, "measured": measured,
            "threshold": threshold, "message": message, "reason": reason, "evidence": {}}


def make_results() -> list[dict]:
    return [
        result(PASSED_ID, "passed", "i2t top-1 0.71 >= 0.55",
               measured={"value": 0.71, "ci_low": 0.66, "ci_high": 0.76},
               threshold={"op": ">=", "value": 0.55, "basis": "lower_bound"}),
        result(FAILED_ID, "failed", "effective rank 3.2 < 12: collapsed",
               measured={"value": 3.2}, threshold={"op": ">=", "value": 12.0, "basis": "point"}),
        result(NA_ID, "not_applicable", reason="the subject has no factor labels"),
        result(ERROR_ID, "error", "encoder raised", reason="ValueError: NaN in image embeddings"),
    ]


def make_decision(verdict: str = "REJECT", results: list[dict] | None = None) -> dict:
    results = make_results() if results is None else results
    by_status = {status: [r["gate_id"] for r in results if r["status"] == status]
                 for status in ("passed", "failed", "error", "not_applicable")}
    return {
        "report_kind": "release_decision", "schema_version": "1.0.0", "run_id": "run-7f3a",
        "decision": verdict, "exit_code": 0 if verdict == "APPROVE" else 1,
        "failed_gates": by_status["failed"], "errored_gates": by_status["error"],
        "inconclusive_gates": [], "pairs_to_decide": None,
        "missing_gates": [MISSING_ID] if verdict != "APPROVE" else [],
        "not_applicable_gates": by_status["not_applicable"], "passed_gates": by_status["passed"],
        "contract_sha256": "0123456789abcdef" * 4,
        "subject": {"name": "reference aligner", "identity": {"kind": "reference", "seed": 0}},
        "counts": {"passed": 1, "failed": 1, "error": 1, "missing": 1, "not_applicable": 1},
    }


class Resources(HTMLParser):
    """Collects every tag name and every attribute that can load a resource."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.sources: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.sources += [value or "" for name, value in attrs
                         if name in ("src", "href", "srcset", "action", "poster", "data")]


@pytest.fixture(scope="module")
def plots() -> dict[str, bytes]:
    png = render_curve_plot("top-1 vs noise", "noise", {"i2t": ([0.0, 0.2], [0.8, 0.6])}, "top-1")
    return {"pca_seed10.png": png, "pca_seed2.png": png}


@pytest.fixture(scope="module")
def page(plots) -> str:
    return render_html(make_decision(), make_results(), plots)


def parse(page: str) -> Resources:
    parser = Resources()
    parser.feed(page)
    parser.close()
    return parser


def test_page_is_an_html5_document_showing_the_decision_and_contract_hash(page):
    assert page.startswith("<!DOCTYPE html>")
    assert "REJECT" in page and "release blocked" in page
    assert "0123456789abcdef" * 4 in page
    assert "reference aligner" in page and "run-7f3a" in page


def test_every_gate_appears_including_one_listed_only_in_the_decision(page):
    for gate_id in (PASSED_ID, FAILED_ID, NA_ID, ERROR_ID, MISSING_ID):
        assert gate_id in page


def test_failures_errors_and_missing_gates_come_before_not_applicable_and_passed(page):
    table = page[page.index('<section id="gates">'):page.index('<section id="not-applicable">')]
    order = [table.index(gate_id)
             for gate_id in (FAILED_ID, ERROR_ID, MISSING_ID, NA_ID, PASSED_ID)]
    assert order == sorted(order)


def test_gate_rows_show_measured_value_interval_and_threshold_with_basis(page):
    assert "0.71 [0.66, 0.76]" in page
    assert "&gt;= 0.55 (lower_bound)" in page
    assert "ValueError: NaN in image embeddings" in page


def test_not_applicable_reasons_have_their_own_section_once_per_gate(page):
    section = page[page.index('<section id="not-applicable">'):page.index('<section id="plots">')]
    assert "test_factor_probe" in section and section.count("the subject has no factor labels") == 1
    assert "retrieval_top1" not in section


def test_the_gate_table_has_one_row_per_gate_before_the_cases(page):
    gates = page[page.index('<section id="gates">'):page.index('<section id="cases">')]
    assert gates.count("<tr class=") == 5
    assert page.index('<section id="gates">') < page.index('<section id="cases">') \
        < page.index('<section id="plots">')


def test_cases_sit_behind_a_click_open_for_gates_that_did_not_pass(page):
    assert '<details id="cases-test_effective_rank" open>' in page
    assert '<details id="cases-test_retrieval_top1">' in page  # passed: closed


def test_headline_metrics_come_before_the_gate_table():
    results = [result(f"gates/test_acceptance.py::test_retrieval_top1[seed{s}-image_to_text]", "passed",
                      measured={"value": v, "ci_low": v - 0.05, "ci_high": v + 0.05},
                      threshold={"op": ">=", "value": 0.55, "basis": "point"})
               for s, v in enumerate((0.8, 0.7))]
    for r, s in zip(results, range(2)):
        r.update(gate="retrieval_top1", params={"seed": s, "direction": "image_to_text"})
    page = render_html(make_decision(results=results), results, {})
    headline = page[page.index('<section id="headline">'):page.index('<section id="gates">')]
    assert "recall@1" in headline and "0.75" in headline and "0.7 [0.65, 0.75] (seed1-image_to_text)" in headline


def test_plots_are_referenced_from_the_bundle_in_natural_order_grouped_by_kind(page, plots):
    sources = [s for s in parse(page).sources if s.endswith(".png")]
    assert sources == ["plots/pca_seed2.png", "plots/pca_seed2.png",
                       "plots/pca_seed10.png", "plots/pca_seed10.png"]  # link and image
    assert "base64" not in page
    assert page.count('<section class="plot-group"') == 1


def test_gate_ids_never_break_mid_word_except_long_case_ids(page):
    assert "break-all" not in page and "word-break" not in page
    assert ".gate { font-family: ui-monospace" in page and "white-space: nowrap" in page
    assert re.search(r"code\.long-id \{ overflow-wrap: anywhere; \}", page)


def test_page_references_no_external_resource(page):
    parsed = parse(page)
    assert "http://" not in page and "https://" not in page
    assert all(source.startswith(("plots/", "#")) for source in parsed.sources)
    assert not {"script", "link", "iframe", "object", "embed"} & set(parsed.tags)


def test_user_strings_are_escaped_so_a_script_in_a_gate_message_stays_text(plots):
    evil = '<script>alert("x")</script>'
    results = make_results()
    results[1]["message"] = f"rank low {evil}"
    results[2]["reason"] = f"<img src=x onerror=alert(1)> {evil}"
    results.append(result(f"gates/test_x.py::test_y[{evil}]", "failed", evil))
    decision = make_decision(results=results)
    decision["subject"]["name"] = evil
    page = render_html(decision, results, plots, title=evil)
    assert "<script" not in page.lower() and "<img src=x" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "script" not in parse(page).tags


@pytest.mark.parametrize("verdict", ["APPROVE", "REJECT", "INCOMPLETE"])
def test_banner_colour_follows_the_decision(verdict):
    page = render_html(make_decision(verdict), make_results(), {})
    banner = f'class="banner decision-{verdict.lower()}" style="background: {BANNER_COLOURS[verdict]}"'
    assert banner in page


def test_equal_inputs_render_identical_pages(page, plots):
    assert render_html(make_decision(), make_results(), plots) == page


def test_a_page_without_plots_says_so():
    assert "No plots were provided." in render_html(make_decision(), make_results(), {})


@pytest.mark.parametrize(("mutate", "named"), [
    (lambda d, r, p: d.pop("contract_sha256"), "contract_sha256"),
    (lambda d, r, p: d.update(decision="MAYBE"), "decision"),
    (lambda d, r, p: d.update(contract_sha256="abc"), "contract_sha256"),
    (lambda d, r, p: r[0].update(status="green"), "status"),
    (lambda d, r, p: r[1].pop("gate_id"), "gate_id"),
    (lambda d, r, p: r[1].update(threshold={"op": ">="}), "threshold"),
    (lambda d, r, p: p.update({"x.png": b"GIF89a"}), "x.png"),
])
def test_malformed_input_raises_input_error_naming_the_field(mutate, named, plots):
    decision, results, plot_map = make_decision(), make_results(), dict(plots)
    mutate(decision, results, plot_map)
    with pytest.raises(InputError, match=named):
        render_html(decision, results, plot_map)


def test_a_rejects_plots_lead_with_the_failing_quantity():
    png = PNG_SIGNATURE + b"\x00" * 16
    plots = {"retrieval_seed0.png": png, "spectra_seed0.png": png}
    results = [{**r, "gate": r["gate"].removeprefix("test_")} for r in make_results()]
    page = render_html(make_decision(results=results), results, plots)  # effective_rank failed
    assert page.index('id="plots-spectra"') < page.index('id="plots-retrieval"')
    approved = [r for r in results if r["status"] == "passed"]
    calm = render_html(make_decision("APPROVE", approved), approved, plots)
    assert calm.index('id="plots-retrieval"') < calm.index('id="plots-spectra"')
