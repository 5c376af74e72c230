"""The error of a baseline that cannot be used, shared by the baseline reader and the comparisons."""

from __future__ import annotations

from mmgate.errors import ConfigError


class BaselineError(ConfigError):
    """A baseline cannot be used: unreadable, invalid, tampered with, or another subject's."""
