"""Progress of long embedding passes on the terminal (in the controlling process only: xdist
workers have no terminal, so a distributed run shows no embedding progress).

A line is printed only once a pass has run for ``INTERVAL_S`` seconds, then at most every
``INTERVAL_S`` seconds, and once more when a pass that showed progress completes: a short pass
prints nothing. Each line goes through pytest's terminal reporter as a line of its own (the
reporter first ends its own partly written progress line), never by rewriting the current line,
so it cannot overwrite or run into pytest's ``test_x.py ....`` progress."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

INTERVAL_S = 5.0


class TerminalProgress:
    """Callable(done_rows, total_rows, modality), called after every batch of a pass."""

    def __init__(self, config: pytest.Config, interval_s: float = INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._config = config
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
                self._write(f"mmgate: embedding {modality} rows {done}/{total} done")
            del self._passes[modality]
            return
        if now - state["last"] >= self._interval:
            state["last"], state["shown"] = now, True
            self._write(f"mmgate: embedding {modality} rows {done}/{total}")

    def _write(self, line: str) -> None:
        reporter = self._config.pluginmanager.get_plugin("terminalreporter")
        capture = self._config.pluginmanager.get_plugin("capturemanager")
        if reporter is None:
            return
        if capture is None:
            reporter.write_line(line)  # write_line ends pytest's partly written line first
            return
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)
