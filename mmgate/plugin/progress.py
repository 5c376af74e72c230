"""Progress of long embedding passes on the terminal, from the controlling process and from xdist
workers alike.

A line is printed only once a pass has run for ``INTERVAL_S`` seconds, then at most every
``INTERVAL_S`` seconds, and once more when a pass that showed progress completes: a short pass
prints nothing. In the controlling process each line goes through pytest's terminal reporter as a
line of its own (the reporter first ends its own partly written progress line), never by rewriting
the current line, so it cannot overwrite or run into pytest's ``test_x.py ....`` progress. The
setup check's pass over the canary runs there before the session starts, before pytest's terminal
reporter exists: its lines go to standard output, labelled ``mmgate: setup check:``.

An xdist worker has no terminal: it sends each line to the controller on xdist's own report channel,
as a passed *setup* report of the gate it is running that carries the line in its user properties
(pytest prints nothing for a passed setup, and junit XML ignores one). The controller's session
prints it, prefixed with the worker id (``progress_line``), and never counts it as a gate result.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

INTERVAL_S = 5.0
PROGRESS_KEY = "mmgate_progress"


class Throttled:
    """Callable(done_rows, total_rows, modality), called after every batch of a pass; hands the
    lines worth showing to ``write``."""

    def __init__(self, write: Callable[[str], None], interval_s: float = INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic, prefix: str = "mmgate: ") -> None:
        self._write = write
        self._prefix = prefix
        self._interval = interval_s
        self._clock = clock
        self._passes: dict[str, dict[str, Any]] = {}

    def __call__(self, done: int, total: int, modality: str) -> None:
        now = self._clock()
        state = self._passes.get(modality)
        if state is None or done <= state["done"] or total != state["total"]:
            # a new pass; its first batch ran for an unknown time, so it counts from here
            state = self._passes[modality] = {"total": total, "done": done, "last": now, "shown": False}
        state["done"] = done
        if done >= total:
            if state["shown"]:
                self._write(f"{self._prefix}embedding {modality} rows {done}/{total} done")
            del self._passes[modality]
            return
        if now - state["last"] >= self._interval:
            state["last"], state["shown"] = now, True
            self._write(f"{self._prefix}embedding {modality} rows {done}/{total}")


def terminal_writer(config: pytest.Config) -> Callable[[str], None]:
    """Write a line on the controller's terminal, outside pytest's captured output. Before pytest's
    terminal reporter exists (the setup check's canary pass runs in ``pytest_configure``) the line
    goes to standard output directly."""

    def write(line: str) -> None:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        capture = config.pluginmanager.get_plugin("capturemanager")
        with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
            if reporter is None:
                print(line, file=sys.stdout, flush=True)
            else:
                reporter.write_line(line)  # write_line ends pytest's partly written line first

    return write


class WorkerSender:
    """In an xdist worker: sends each line to the controller as a passed setup report of the running
    gate (``pytest_runtest_logstart`` tells which), which xdist forwards as it comes."""

    def __init__(self, config: pytest.Config) -> None:
        self._config = config
        self._worker = str(config.workerinput.get("workerid", "worker"))
        self._running: tuple[str, tuple[str, int | None, str]] | None = None

    @pytest.hookimpl
    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        self._running = (nodeid, location)

    def __call__(self, line: str) -> None:
        if self._running is None:  # not inside a test: nothing to attach the line to
            return
        nodeid, location = self._running
        report = pytest.TestReport(nodeid=nodeid, location=location, keywords={}, outcome="passed", longrepr=None,
                                   when="setup", user_properties=[(PROGRESS_KEY, f"[{self._worker}] {line}")])
        self._config.hook.pytest_runtest_logreport(report=report)


def progress_line(report: Any) -> str | None:
    """The progress line a worker sent in ``report``, or None for an ordinary report."""
    for key, value in getattr(report, "user_properties", ()) or ():
        if key == PROGRESS_KEY:
            return str(value)
    return None


def setup_check_progress(config: pytest.Config) -> Throttled:
    """The progress callback of the setup check's pass over the canary (controller only), its lines
    labelled so that a pass before the session starts says what it is."""
    return Throttled(terminal_writer(config), prefix="mmgate: setup check: ")


def progress_for(config: pytest.Config, controller: bool) -> Throttled:
    """The progress callback of this process: the terminal in the controller, the controller's
    terminal through xdist in a worker."""
    if controller:
        return Throttled(terminal_writer(config))
    sender = WorkerSender(config)
    config.pluginmanager.register(sender, "mmgate-worker-progress")
    return Throttled(sender)
