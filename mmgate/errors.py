"""Typed errors: every bad input mmgate rejects names the field and what was expected."""

from __future__ import annotations


class MmgateError(Exception):
    """Base class of every error mmgate raises on purpose."""


class InputError(MmgateError, ValueError):
    """Bad input data (embeddings, labels, arrays): the message names the problem."""


class ConfigError(MmgateError, ValueError):
    """Bad configuration (world, training, contract): the message names the key."""
