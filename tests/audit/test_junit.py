"""JUnit XML output of a gated run: gate cases carry ``status``, ``measured`` and ``threshold``
properties and none of the internal payloads (results, plots, profiles); the suite carries the
decision, the bundle path and the headline numbers."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

from mmgate.gating.decision import Decision
from mmgate.gating.results import GateResult, Threshold
from mmgate.plugin.recorder import (
    INTERNAL_PROPERTIES,
    PLOTS_PROPERTY,
    RESULT_PROPERTY,
    junit_properties,
)
from mmgate.plugin.release import add_junit_suite_properties

GATE_ID = "gates/test_acceptance.py::test_retrieval_top1[seed0-image_to_text]"


def make_result(value: float = 0.74) -> GateResult:
    return GateResult(gate_id=GATE_ID, gate="retrieval_top1", family="acceptance",
                      params={"seed": 0, "direction": "image_to_text"}, status="passed", required=True,
                      measured={"value": value, "ci_low": value - 0.05, "ci_high": value + 0.05},
                      threshold=Threshold(op=">=", value=0.55, basis="point"), message="ok",
                      reason=None, evidence={"snapshot": {"big": [0.0] * 1000}})


def test_case_properties_drop_internal_payloads_and_state_the_verdict():
    result = make_result()
    given = [(RESULT_PROPERTY, result.dumps()), (PLOTS_PROPERTY, {"a.png": "iVBORw0KGgo" * 1000}),
             ("owner", "team-a")]
    shown = junit_properties(result, given)
    assert not {name for name, _ in shown} & set(INTERNAL_PROPERTIES)
    assert shown == [("owner", "team-a"), ("status", "passed"), ("measured", "0.74 [0.69, 0.79]"),
                     ("threshold", ">= 0.55 (point)")]
    assert junit_properties(None, given) == [("owner", "team-a")]


class FakeLogXML:
    def __init__(self, logfile: Path) -> None:
        self.logfile = str(logfile)
        self.global_properties: list[tuple[str, str]] = []

    def add_global_property(self, name: str, value: str) -> None:
        self.global_properties.append((name, value))


def test_suite_properties_are_added_to_the_written_report_and_the_reporter(tmp_path: Path):
    from _pytest.junitxml import xml_key

    logfile = tmp_path / "junit.xml"
    logfile.write_text('<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests">'
                       '<testsuite name="pytest" tests="1"><testcase classname="c" name="t" />'
                       "</testsuite></testsuites>", encoding="utf-8")
    fake = FakeLogXML(logfile)
    config = SimpleNamespace(stash={xml_key: fake})
    decision = Decision(decision="APPROVE", exit_code=0, results=(make_result(),), passed=(GATE_ID,),
                        failed=(), inconclusive=(), errored=(), missing=(), not_applicable=(), missing_required=())
    bundle = SimpleNamespace(directory=tmp_path / "run-1")
    add_junit_suite_properties(config, decision, bundle)
    add_junit_suite_properties(config, decision, bundle)  # idempotent on the file
    suite = ET.parse(logfile).getroot().find("testsuite")
    assert list(suite)[0].tag == "properties"
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert len(suite.find("properties")) == len(props)
    assert props["mmgate_decision"] == "APPROVE" and props["mmgate_exit_code"] == "0"
    assert props["mmgate_bundle"] == str(tmp_path / "run-1")
    assert props["mmgate_retrieval_top1_image_to_text"] == "mean 0.74, worst 0.74 [0.69, 0.79]"
    assert ("mmgate_decision", "APPROVE") in fake.global_properties


def test_without_junitxml_nothing_happens():
    from _pytest.junitxml import xml_key

    config = SimpleNamespace(stash={})
    assert xml_key not in config.stash
    add_junit_suite_properties(config, None, None)  # type: ignore[arg-type]
