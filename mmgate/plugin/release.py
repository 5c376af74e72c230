"""Writing a decided run as its audit bundle: strict reports, plots, HTML, Markdown, manifest."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmgate.audit.bundle import Bundle, BundleWriter
from mmgate.audit.environment import environment_fingerprint, git_commit
from mmgate.audit.html_report import render_html
from mmgate.audit.redact import config_log_record
from mmgate.audit.risks import RISKS
from mmgate.audit.summary_md import headline_metrics, render_summary
from mmgate.gating.decision import Decision
from mmgate.plugin.runspec import RunSpec
from mmgate.records.canonical import canonical_json
from mmgate.records.reports import strict_report


@dataclass(frozen=True)
class RunRecord:
    """Everything about a finished run that the bundle states, besides the gate results."""

    run_id: str
    started_utc: str
    finished_utc: str
    spec: RunSpec
    subject: Mapping[str, Any]
    rootdir: Path
    plots: Mapping[str, bytes]
    baselines: Mapping[str, Any]
    baseline_report: Mapping[str, Any] | None = None
    setup_errors: Sequence[str] = ()
    interventions: Any = None  # mmgate.plugin.intervene.Interventions under --mmgate-intervene

    @property
    def problems(self) -> list[str]:
        """The run's configuration problems and setup errors, each once (the bundle's open items)."""
        return list(dict.fromkeys([*self.spec.problems, *self.setup_errors]))


def contract_sha256(spec: RunSpec) -> str:
    """The hash the decision cites: the loaded contract's, or the raw file's when it was rejected."""
    declared = [text for source, text in spec.config_texts
                if spec.settings.contract_path is not None and source == str(spec.settings.contract_path)]
    if any(problem.startswith("contract:") for problem in spec.problems) and declared:
        return hashlib.sha256(declared[0].encode("utf-8")).hexdigest()
    return spec.contract.sha256()


def pairs_to_decide_all(decision: Decision) -> int | None:
    """The largest pairs-needed estimate over the inconclusive cases: a canary that size would
    decide each of them (None when no case is inconclusive or none has an estimate)."""
    needed = [int(result.measured["pairs_needed"]) for result in decision.results
              if result.status == "inconclusive" and result.measured.get("pairs_needed") is not None]
    return max(needed) if needed else None


def decision_facts(record: RunRecord, decision: Decision) -> dict[str, Any]:
    """The facts of release_decision.json."""
    facts = {
        "run_id": record.run_id,
        "decision": decision.decision,
        "exit_code": decision.exit_code,
        "failed_gates": list(decision.failed),
        "inconclusive_gates": list(decision.inconclusive),
        "pairs_to_decide": pairs_to_decide_all(decision),
        "errored_gates": list(decision.errored),
        "missing_gates": list(decision.missing),
        "not_applicable_gates": list(decision.not_applicable),
        "passed_gates": list(decision.passed),
        "contract_sha256": contract_sha256(record.spec),
        "contract_profile": record.spec.contract.profile,
        "subject": dict(record.subject),
        "counts": decision.counts(),
        "headline": headline_metrics([result.to_json() for result in decision.results]),
    }
    if decision.decision == "SETUP_ERROR":
        facts["setup_errors"] = list(record.setup_errors)
    return facts


def write_bundle(record: RunRecord, decision: Decision) -> Bundle:
    """Write every artifact of the run, then the manifest and ledger; return the final bundle.

    Each gate case's result and evidence is stored once, in ``acceptance.json``; each plot once,
    in ``plots/`` (``report.html`` references it there). The zip is written only when the
    settings ask for it (``--mmgate-zip``)."""
    writer = BundleWriter(record.spec.settings.out_dir, record.run_id, zip=record.spec.settings.zip)
    results = [result.to_json() for result in decision.results]
    facts = decision_facts(record, decision)
    writer.write_report("acceptance.json", _acceptance_report(record, results))
    writer.write_report("release_decision.json", _decision_report(record, decision, facts))
    writer.write_report("risk_log.json", _risk_report(record, decision))
    writer.write_records("config_log.jsonl", "config_log_record",
                         [config_log_record(source, text, recorded_utc=record.started_utc)
                          for source, text in record.spec.config_texts])
    if record.baseline_report is not None:
        writer.write_report("drift_baseline.json", record.baseline_report)
    extra = record.interventions
    for path, report in (extra.reports.items() if extra is not None else ()):
        writer.write_report(path, report)  # validated against its schema, hashed in the ledger
    for name, png in record.plots.items():
        writer.write_bytes(f"plots/{name}", png)
    writer.write_text("report.html", render_html(facts, results, record.plots))
    writer.write_text("summary.md", render_summary(facts, results) + (extra.markdown if extra is not None else ""))
    return writer.finalize(
        _manifest_facts(record),
        assumptions={"environment": "Versions are read from the installed distributions of this process."},
        open_items=record.problems,
        analysis=f"Run {record.run_id} gated subject {record.subject.get('name')!r}: {decision.decision}.",
        draft_output={"decision": decision.decision},
        questions_to_verify=["Does the contract hash match the contract approved for this release?"],
    )


def _manifest_facts(record: RunRecord) -> dict[str, Any]:
    config_json = canonical_json(_location_free(record.spec.settings.to_dict(), record.rootdir))
    return {
        "run_id": record.run_id,
        "started_utc": record.started_utc,
        "finished_utc": record.finished_utc,
        "contract_sha256": contract_sha256(record.spec),
        "contract_profile": record.spec.contract.profile,
        "seeds_gated": record.spec.seeds,
        "config_sha256": hashlib.sha256(config_json.encode("utf-8")).hexdigest(),
        "subject": dict(record.subject),
        "environment": environment_fingerprint(),
        "git_commit": git_commit(record.rootdir),
        "baselines": dict(record.baselines),
    }


def _location_free(settings: dict[str, Any], rootdir: Path) -> dict[str, Any]:
    """Settings with paths relative to the project root, so the config hash does not depend on
    where the project is checked out."""
    paths = ("out_dir", "contract_path", "record_baseline", "baseline")
    return {key: os.path.relpath(value, rootdir) if key in paths and value is not None else value
            for key, value in settings.items()}


def _acceptance_report(record: RunRecord, results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    failing = [r["gate_id"] for r in results if r["status"] in ("failed", "error")]
    return strict_report(
        "acceptance",
        {"run_id": record.run_id, "contract_sha256": contract_sha256(record.spec), "gates": list(results)},
        assumptions={"contract": "Thresholds were fixed before the run and are identified by their hash."},
        open_items=failing,
        analysis=f"{len(results)} gate cases evaluated; {len(failing)} failed or errored.",
        draft_output={"failing_gates": failing},
        questions_to_verify=["Do the acceptance gates reflect the operational risk tolerance?"],
    )


def _decision_report(record: RunRecord, decision: Decision, facts: Mapping[str, Any]) -> dict[str, Any]:
    reasons = {
        "APPROVE": "every required gate ran and every gate that ran passed",
        "REJECT": "at least one gate failed or errored",
        "INCOMPLETE": "no gate failed, but required gates produced no evidence or the canary is too "
                      "small to decide some (their intervals straddle the limit)",
        "SETUP_ERROR": "the run could not be set up, so no gate ran: " + "; ".join(record.setup_errors),
    }
    return strict_report(
        "release_decision",
        facts,
        assumptions={"rule": "APPROVE iff every required gate ran and passed; missing evidence is never a pass."},
        open_items=[*record.problems, *decision.missing_required],
        analysis=f"{decision.decision}: {reasons[decision.decision]}.",
        draft_output={"decision": decision.decision, "exit_code": decision.exit_code},
        questions_to_verify=["Has a reviewer read the failing and missing gates before acting on this decision?"],
    )


def _risk_report(record: RunRecord, decision: Decision) -> dict[str, Any]:
    status_by_gate: dict[str, set[str]] = {}
    for result in decision.results:
        status_by_gate.setdefault(result.gate, set()).add(result.status)
    uncovered = sorted({gate for risk in RISKS for control in risk["controls"] for gate in control["gates"]
                        if status_by_gate.get(gate, {"missing"}) <= {"missing", "skipped", "not_applicable"}})
    return strict_report(
        "risk_log",
        {"run_id": record.run_id, "risks": [dict(risk) for risk in RISKS]},
        assumptions={"taxonomy": "Risks follow the multimodal drift taxonomy of the seed book, chapter 3."},
        open_items=[f"no evidence this run for gate {gate}" for gate in uncovered],
        analysis=f"{len(RISKS)} risks, each mapped to controls and the gates implementing them.",
        draft_output={"gates_without_evidence": uncovered},
        questions_to_verify=["Are there risks specific to this model's deployment that the taxonomy misses?"],
    )


def add_junit_suite_properties(config: Any, decision: Decision, bundle: Bundle | None) -> None:
    """Put the decision, exit code, bundle path and headline numbers on the JUnit XML report's
    test suite (``--junitxml``). Only the controller writes the XML (xdist workers have no
    report, so ``record_testsuite_property`` in a gate would be lost); its file is already written
    when the decision is made, so the properties are added to the file and to the reporter."""
    from _pytest.junitxml import xml_key

    xml = config.stash.get(xml_key, None)
    if xml is None:
        return
    properties = [("mmgate_decision", decision.decision), ("mmgate_exit_code", str(decision.exit_code)),
                  ("mmgate_bundle", str(bundle.directory) if bundle is not None else "<not written>")]
    for entry in headline_metrics([result.to_json() for result in decision.results]):
        worst = entry["worst"]["measured"]
        interval = f" [{worst['ci_low']:.4g}, {worst['ci_high']:.4g}]" if "ci_low" in worst else ""
        properties.append((f"mmgate_{entry['gate']}_{entry['side']}",
                           f"mean {entry['mean']:.4g}, worst {worst.get('value', float('nan')):.4g}{interval}"))
    for name, value in properties:
        xml.add_global_property(name, value)
    _add_suite_properties_to_file(Path(xml.logfile), properties)


def _add_suite_properties_to_file(path: Path, properties: Sequence[tuple[str, str]]) -> None:
    import xml.etree.ElementTree as ET

    try:
        tree = ET.parse(path)
    except (OSError, ET.ParseError):  # no report, or not pytest's: leave it alone
        return
    root = tree.getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    if suite is None:
        return
    node = suite.find("properties")
    if node is None:
        node = ET.Element("properties")
        suite.insert(0, node)
    present = {child.get("name") for child in node.findall("property")}
    for name, value in properties:
        if name not in present:
            ET.SubElement(node, "property", name=name, value=value)
    path.write_text('<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(root, encoding="unicode"),
                    encoding="utf-8")
