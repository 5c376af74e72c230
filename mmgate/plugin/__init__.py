"""The pytest integration, and the ``pytest11`` entry point itself: this module registers mmgate's
options and stays inert unless ``--mmgate`` is given. Its modules hold the options and settings, the
run spec, activation, fixtures, the session that collects results and decides, the intake of worker
reports, the recorder, scheduling, progress, the terminal table, the release writer and baselines.
The top layer of the library: it may import every other package of mmgate."""

from __future__ import annotations

import pytest

from mmgate.plugin import options


def pytest_addoption(parser: pytest.Parser) -> None:
    options.register(parser)


def pytest_configure(config: pytest.Config) -> None:
    if options.enabled(config):
        from mmgate.plugin.activation import activate

        activate(config)
