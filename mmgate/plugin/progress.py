"""Progress of long embedding passes on the terminal (in the controlling process only: xdist
workers have no terminal, and their gates report through the controller)."""

from __future__ import annotations

import pytest

LONG_PASS_ROWS = 4096
STEPS = 10


class TerminalProgress:
    """Callable(done_rows, total_rows, modality) that prints about every tenth of a long pass."""

    def __init__(self, config: pytest.Config, long_pass_rows: int = LONG_PASS_ROWS) -> None:
        self._config = config
        self._long = long_pass_rows
        self._shown: dict[str, int] = {}

    def __call__(self, done: int, total: int, modality: str) -> None:
        if total < self._long:
            return
        step = done * STEPS // total
        if self._shown.get(modality, -1) >= step and done < total:
            return
        self._shown[modality] = step
        reporter = self._config.pluginmanager.get_plugin("terminalreporter")
        capture = self._config.pluginmanager.get_plugin("capturemanager")
        if reporter is None or capture is None:
            return
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"mmgate: embedding {modality} rows {done}/{total}")
