"""Token layout shared by the caption grammar and the config check that it fits the vocab."""

from __future__ import annotations

PAD = 0
SEP = 1
MARKER_BASE = 2
FACTOR_TOKEN_BASE = 10
