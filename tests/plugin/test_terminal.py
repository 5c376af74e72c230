"""The terminal output of a gated run: the gate table (aligned columns, one line per gate, a footer
relating mmgate's statuses to pytest's counts), the decision line as the very last line, and
embedding progress lines that are throttled by time and always on a line of their own."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from mmgate.plugin import progress, terminal
from tests.plugin_support import run_gates, write_subject

pytestmark = pytest.mark.usefixtures("isolated_home")

STATS_LINE = re.compile(r"^=+ .*\b(passed|failed|skipped)\b.* in [0-9.]+s.* =+$")


@pytest.fixture
def isolated_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)


def _decision(*results: tuple[str, str, str]) -> SimpleNamespace:
    return SimpleNamespace(results=tuple(SimpleNamespace(gate=g, status=s, message=m) for g, s, m in results))


def _columns(line: str) -> tuple[int, int]:
    """Where the status and the cases columns start in a table row."""
    status = re.search(r"  (\S)", line)
    cases = re.search(r"  (\d+ \w|cases)", line[status.start(1):])
    return status.start(1), status.start(1) + cases.start(1)


# the table ----------------------------------------------------------------------------------

def test_the_status_column_is_wide_enough_for_every_status() -> None:
    decision = _decision(("retrieval_top1", "passed", "ok"),
                         ("drift_budget", "not_applicable", "no baseline"),
                         *[("drift_budget", "not_applicable", "no baseline")] * 75,
                         ("mean_cosine", "failed", "cosine too high"))
    lines = terminal.gate_table(decision)
    rows = lines[:-1]
    assert {_columns(row) for row in rows} == {_columns(rows[0])}, "\n".join(rows)
    assert rows[2].split()[:3] == ["drift_budget", "not_applicable", "76"]
    assert rows[2].endswith("| no baseline") and "not_applicable 76" not in rows[2]


def test_long_messages_stay_on_one_line_and_are_cut_visibly_past_the_limit() -> None:
    long = "word " * 150
    decision = _decision(("a", "failed", "first line\nsecond line " + "x" * 200), ("b", "error", long))
    rows = terminal.gate_table(decision)[1:-1]
    assert len(rows) == 2
    assert rows[0].endswith("| first line second line " + "x" * 200)  # 224 characters, kept whole
    message = rows[1].split("| ", 1)[1]
    assert len(message) == terminal.MESSAGE_LIMIT and message.endswith(" [...]")


def test_the_footer_counts_the_cases_and_says_how_pytest_counts_them() -> None:
    decision = _decision(("a", "passed", ""), ("b", "not_applicable", "n/a"), ("b", "not_applicable", "n/a"),
                         ("c", "error", "boom"), ("d", "missing", "did not run"))
    footer = terminal.gate_table(decision)[-1]
    assert footer == ("mmgate: 5 gate cases: 1 error, 1 missing, 2 not_applicable, 1 passed; pytest counts "
                      "error as failed or error, missing not at all (not run), not_applicable as skipped")
    only_passed = terminal.gate_table(_decision(("a", "passed", "")))[-1]
    assert only_passed == "mmgate: 1 gate cases: 1 passed"


# progress -----------------------------------------------------------------------------------

class _Reporter:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write_line(self, line: str) -> None:
        self.lines.append(line)


def _progress(clock: list[float]) -> tuple[progress.Throttled, _Reporter]:
    reporter = _Reporter()
    plugins = {"terminalreporter": reporter, "capturemanager": None}
    config = SimpleNamespace(pluginmanager=SimpleNamespace(get_plugin=plugins.get))
    return progress.Throttled(progress.terminal_writer(config), interval_s=5.0, clock=lambda: clock[0]), reporter


def test_a_short_pass_prints_no_progress_however_many_rows_it_has() -> None:
    clock = [0.0]
    show, reporter = _progress(clock)
    for done in range(1000, 100_001, 1000):
        clock[0] += 0.01
        show(done, 100_000, "image")
    assert reporter.lines == []


def test_a_slow_pass_prints_at_most_once_per_interval_and_when_done() -> None:
    clock = [0.0]
    show, reporter = _progress(clock)
    for done in range(100, 2001, 100):  # 20 batches, 2 s each: 38 s after the first batch
        show(done, 2000, "text")
        clock[0] += 2.0
    assert reporter.lines == [f"mmgate: embedding text rows {done}/2000" for done in (400, 700, 1000, 1300,
                                                                                    1600, 1900)] + [
        "mmgate: embedding text rows 2000/2000 done"]
    show(100, 2000, "text")  # a new pass starts its own clock
    assert len(reporter.lines) == 7


# end to end ---------------------------------------------------------------------------------

def _assert_decision_is_last(stdout: list[str], decision: str) -> None:
    lines = [line for line in stdout if line.strip()]
    assert lines[-1].startswith(f"mmgate: decision={decision} bundle="), "\n".join(lines[-5:])
    assert STATS_LINE.match(lines[-2]), "\n".join(lines[-5:])
    assert sum(line.startswith("mmgate: decision=") for line in stdout) == 1


def test_on_approve_the_decision_line_is_the_last_line(pytester) -> None:
    run = run_gates(pytester, "--mmgate-subject", write_subject(pytester), "--mmgate-seeds", "1")
    assert run.decision == "APPROVE", run.output
    _assert_decision_is_last(run.result.stdout.lines, "APPROVE")


def test_on_reject_the_decision_line_comes_after_the_short_summary_and_the_counts(pytester) -> None:
    pytester.makefile(".toml", strict="max_mean_cosine = -0.5\n")
    run = run_gates(pytester, "--mmgate-subject", write_subject(pytester), "--mmgate-seeds", "1",
                    "--mmgate-contract", "strict.toml")
    assert run.decision == "REJECT", run.output
    stdout = run.result.stdout.lines
    _assert_decision_is_last(stdout, "REJECT")
    short = next(i for i, line in enumerate(stdout) if "short test summary info" in line)
    table = next(i for i, line in enumerate(stdout) if re.match(r"^=+ mmgate =+$", line))
    assert short < table  # the gate table follows pytest's summary, just before the counts
    footer = next(line for line in stdout if line.startswith("mmgate: ") and "gate cases" in line)
    not_applicable = int(re.search(r"(\d+) not_applicable", footer).group(1))
    stats = next(line for line in stdout if STATS_LINE.match(line))
    skipped = int(re.search(r"(\d+) skipped", stats).group(1))
    assert "pytest counts not_applicable as skipped" in footer and not_applicable == skipped


SLOW_SUBJECT = '''
import time

import numpy as np
from mmgate import PairedSet, Subject


class Slow:
    def embed_images(self, batch):
        time.sleep(0.45)
        return np.eye(64)[np.asarray(batch)]

    def embed_texts(self, batch):
        time.sleep(0.45)
        return np.eye(64)[[int(t.split()[1]) for t in batch]]


def make():
    return Subject(name="slow", encoder=Slow(), canary=PairedSet(np.arange(64), [f"item {i}" for i in range(64)]))
'''


def test_a_worker_s_slow_pass_is_shown_by_the_controller_with_the_worker_id(pytester) -> None:
    pytester.makepyfile(slow_subject=SLOW_SUBJECT)
    run = run_gates(pytester, "--mmgate-subject", "slow_subject:make", "--mmgate-batch-size", "4", "-n", "2",
                    "-k", "numerical_health", "--junitxml", "junit.xml")
    assert run.decision == "INCOMPLETE", run.output  # the other gates were deselected
    shown = [line for line in run.result.stdout.lines if "mmgate: embedding" in line]
    assert shown and all(line.startswith("[gw") for line in shown), run.output
    assert any(line.endswith("rows 64/64 done") for line in shown), shown
    # the controller's setup check embedded the canary first, and says so
    assert "mmgate: setup check: embedding text rows 64/64 done" in run.result.stdout.lines, run.output
    counts = run.report("release_decision.json")["facts_provided"]["counts"]
    assert counts["passed"] == 2 and counts["error"] == counts["failed"] == 0  # progress is not a gate result
    assert (pytester.path / "junit.xml").read_text("utf-8").count("<testcase ") == 2
