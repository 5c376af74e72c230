"""The adapters' optional dependencies, imported on first use: a missing one names the extra."""

from __future__ import annotations

import importlib
from types import ModuleType

from mmgate.errors import ConfigError


class MissingExtraError(ConfigError, ImportError):
    """An adapter's optional dependency cannot be imported: the message says what to install."""


def require(module: str, extra: str, feature: str) -> ModuleType:
    """Import ``module`` for ``feature``, or raise MissingExtraError naming ``mmgate[extra]``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(f"{feature} needs the module {module!r}, which cannot be imported "
                                f"({exc}): pip install 'mmgate[{extra}]'") from exc
