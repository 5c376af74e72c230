"""The controller side of a gated run: collect gate results from the reports (local or from xdist
workers), decide at session end, write the bundle, print the table and the decision line. A run
whose setup check failed (``preflight``) runs no gate: its gates are deselected, and its decision is
SETUP_ERROR with the causes, printed once."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Generator
from datetime import datetime, timezone
from typing import Any

import pytest

from mmgate.audit.bundle import Bundle
from mmgate.gating.catalogue import confounder_axis, expected_gates, gate_key
from mmgate.gating.decision import EXIT_CODES, Decision, decide
from mmgate.gating.results import GateResult
from mmgate.plugin import baselines, intervene
from mmgate.plugin.intake import attached_plots, attached_profiles, merge, subject_notes
from mmgate.plugin.preflight import SetupCheck
from mmgate.plugin.progress import progress_line, terminal_writer
from mmgate.plugin.recorder import junit_properties
from mmgate.plugin.release import RunRecord, add_junit_suite_properties, write_bundle
from mmgate.plugin.runspec import RunSpec
from mmgate.plugin.terminal import decision_line, gate_table

BUNDLE_FAILED_EXIT = 12  # the decision was made but its bundle (or asked-for baseline) could not be written
MISSING_REASON = ("the gate did not run: deselected (-k/-m), skipped, interrupted, or lost with a "
                  "crashed worker")
SETUP_ERROR_REASON = "the gate did not run: the run could not be set up (setup error; the causes are in the decision)"


def utc_now() -> str:
    """Current UTC time, ISO 8601 to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def new_run_id() -> str:
    """A unique run id: UTC timestamp plus 8 random hex digits."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"mmgate-{stamp}-{uuid.uuid4().hex[:8]}"


class GateSession:
    """Registered as a plugin in the controlling process only; its hooks delegate to the modules."""

    def __init__(self, config: pytest.Config, spec: RunSpec, setup: SetupCheck | None = None) -> None:
        self.config = config
        self.spec = spec
        self.setup = setup or SetupCheck(spec.problems)
        self.run_id = new_run_id()
        self.started_utc = utc_now()
        declared = self.setup.subject.canary.confounders if self.setup.subject is not None else None
        self.expected = expected_gates(spec.seeds, confounder_axis(declared))
        self.observed: dict[str, GateResult] = {}
        self.subjects: dict[int, dict[str, Any]] = {}
        self.plots: dict[str, bytes] = {}
        self.profiles: dict[int, dict[str, Any]] = {}
        self.baseline_line: str | None = None
        self.decision: Decision | None = None
        self.bundle: Bundle | None = None
        self.bundle_error: str | None = None
        self.interventions: intervene.Interventions | None = None
        self._section_written = False
        self._progress_writer = terminal_writer(config)
        if self.setup.errors and self.setup.subject is not None:
            try:  # a subject that was built but cannot be gated is still named in the bundle
                self.subjects[0] = {"seed": 0, "name": self.setup.subject.name,
                                    "identity": self.setup.subject.identity()}
            except Exception:  # its identity is one of the setup errors
                pass

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        """Schedule by seed under xdist's default distribution; other modes stay as asked."""
        if config.getvalue("dist") != "load":
            return None
        from mmgate.plugin.scheduling import SeedScheduling

        return SeedScheduling(config, log)

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection(self, session: pytest.Session) -> None:
        """A Ctrl-C during the setup check ends the session here, where pytest still finishes it
        (an INCOMPLETE decision with its bundle), rather than inside pytest_configure."""
        if self.setup.interrupted:
            raise KeyboardInterrupt

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        """Deselect every gate of a run that could not be set up: no gate can say anything about
        the model then, and deselected gates print nothing per case (skips would, under -v)."""
        if not self.setup.errors:
            return
        gates = [item for item in items if gate_key(item.nodeid) in self.expected]
        if gates:
            config.hook.pytest_deselected(items=gates)
            items[:] = [item for item in items if gate_key(item.nodeid) not in self.expected]

    @pytest.hookimpl(tryfirst=True)  # before --junitxml reads the report's properties
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        line = progress_line(report)
        if line is not None:  # a worker's embedding progress, not a gate result
            self._progress_writer(line)
            return
        key = gate_key(report.nodeid)
        if key not in self.expected:
            return
        spec, params, gate_id = self.expected[key]
        merged = merge(self.observed.get(key), report, spec, params, gate_id,
                       self.spec.contract.is_required(spec.name))
        if merged is not None:
            self.observed[key] = merged
        for note in subject_notes(report):
            self.subjects.setdefault(int(note["seed"]), note)
        self.plots.update(attached_plots(report))
        self.profiles.update(attached_profiles(report))
        report.user_properties = junit_properties(self.observed.get(key), report.user_properties)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.setup.errors:
            self.decision = dataclasses.replace(
                decide({}, self.expected, self.spec.contract.is_required, SETUP_ERROR_REASON),
                decision="SETUP_ERROR", exit_code=EXIT_CODES["SETUP_ERROR"])
        else:
            self.decision = decide(self.observed, self.expected, self.spec.contract.is_required, MISSING_REASON)
        finished = utc_now()
        recording = baselines.record(self.spec, self.decision, self.profiles, self.run_id, finished)
        self.baseline_line = recording.line
        self.interventions = intervene.run(self.config, self.spec, self.setup, self.decision, self.run_id)
        record = RunRecord(self.run_id, self.started_utc, finished, self.spec,
                           subject_summary(self.spec, self.subjects), self.config.rootpath,
                           dict(sorted(self.plots.items())),
                           {"compared": baselines.compared(self.spec), "recorded": recording.written},
                           recording.report, self.setup.errors, self.interventions)
        try:
            self.bundle = write_bundle(record, self.decision)
        except Exception as exc:  # the decision must still be reported, and never as APPROVE
            self.bundle_error = f"{type(exc).__name__}: {exc}"
        add_junit_suite_properties(self.config, self.decision, self.bundle)
        session.exitstatus = self.decision.exit_code if self.bundle and not recording.failed else BUNDLE_FAILED_EXIT

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> Generator[None]:
        """The mmgate section, after pytest's own summary (its short test summary included): this
        wrapper is outside the terminal reporter's, which prints that summary after its yield."""
        try:
            return (yield)
        finally:
            self._write_section(terminalreporter)

    @pytest.hookimpl(wrapper=True, tryfirst=True, specname="pytest_sessionfinish")
    def pytest_sessionfinish_last(self, session: pytest.Session, exitstatus: int) -> Generator[None]:
        """The decision line, last of all: after the terminal reporter's final "N failed, M passed"
        line, which it prints after its own sessionfinish yield (this wrapper is outside it). When
        pytest printed no terminal summary (an internal error), the mmgate section comes here."""
        try:
            return (yield)
        finally:
            reporter = self.config.pluginmanager.get_plugin("terminalreporter")
            if self.decision is not None and reporter is not None:
                self._write_section(reporter)
                reporter.ensure_newline()
                reporter.write_line(decision_line(self.decision, self.bundle))

    def _write_section(self, terminalreporter: Any) -> None:
        """The gate table and notes (once): everything but the decision line."""
        if self.decision is None or terminalreporter is None or self._section_written:
            return
        self._section_written = True
        terminalreporter.section("mmgate")
        if self.setup.errors:  # the causes, once each; no gate table: no gate ran
            for cause in self.setup.errors:
                terminalreporter.write_line(f"mmgate: setup error: {cause}")
            terminalreporter.write_line(f"mmgate: no gate ran ({len(self.expected)} deselected): the run could "
                                        f"not be set up, which says nothing about the model; fix the above")
        else:
            for line in gate_table(self.decision):
                terminalreporter.write_line(line)
            if self.spec.seeds_note is not None:
                terminalreporter.write_line(f"mmgate: {self.spec.seeds_note}")
        if self.setup.interrupted:
            terminalreporter.write_line("mmgate: interrupted during the setup check; no gate ran")
        if self.bundle_error is not None:
            terminalreporter.write_line(f"mmgate: bundle could not be written: {self.bundle_error}")
        for line in self.interventions.lines if self.interventions is not None else ():
            terminalreporter.write_line(line)
        if self.baseline_line is not None:
            terminalreporter.write_line(f"mmgate: {self.baseline_line}")


def subject_summary(spec: RunSpec, notes: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """The subject's name and identity; seed-dependent identities (built-in) are listed by seed."""
    default_name = spec.settings.subject or "mmgate-reference"
    if not notes:
        return {"name": default_name, "identity": {}}
    ordered = [notes[seed] for seed in sorted(notes)]
    identities = [note["identity"] for note in ordered]
    if all(identity == identities[0] for identity in identities):
        return {"name": ordered[0]["name"], "identity": identities[0]}
    return {"name": ordered[0]["name"],
            "identity": {f"seed{seed}": notes[seed]["identity"] for seed in sorted(notes)}}
