"""pytest entry point (``pytest11``): registers mmgate's options; inert unless ``--mmgate`` is given."""

from __future__ import annotations

import pytest

from mmgate import options


def pytest_addoption(parser: pytest.Parser) -> None:
    options.register(parser)


def pytest_configure(config: pytest.Config) -> None:
    if options.enabled(config):
        from mmgate.activation import activate

        activate(config)
