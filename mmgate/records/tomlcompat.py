"""TOML parsing on every supported Python: the standard library's tomllib from 3.11, tomli before."""

from __future__ import annotations

import sys

if sys.version_info >= (3, 11):
    from tomllib import loads
else:
    from tomli import loads

__all__ = ["loads"]
