"""Keys under which an ``--mmgate`` run keeps its objects on the pytest config."""

from __future__ import annotations

import pytest

from mmgate.plugin.context import RunContext

CONTEXT_KEY = pytest.StashKey[RunContext]()
