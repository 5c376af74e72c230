"""mmgate's command-line options, and reading them back as the settings' command-line layer."""

from __future__ import annotations

from typing import Any

import pytest

# setting key -> (flag, argparse keyword arguments)
_OPTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "subject": ("--mmgate-subject", dict(metavar="MODULE:CALLABLE", default=None,
                                         help="zero-argument factory returning an mmgate.Subject "
                                              "(default: the built-in reference aligner)")),
    "builtin": ("--mmgate-builtin", dict(metavar="NAME", default=None,
                                         help="condition of the built-in subject (default: healthy; "
                                              "python -m mmgate calibrate runs the others)")),
    "out": ("--mmgate-out", dict(metavar="DIR", default=None,
                                 help="directory receiving the bundles (default: mmgate-out)")),
    "contract": ("--mmgate-contract", dict(metavar="FILE", default=None,
                                           help="TOML or JSON file overriding contract thresholds")),
    "seeds": ("--mmgate-seeds", dict(metavar="N", type=int, default=None,
                                     help="seeds each gate is evaluated over (default: 4)")),
    "batch_size": ("--mmgate-batch-size", dict(metavar="N", type=int, default=None,
                                               help="rows per encoder call (default: 256)")),
    "stress": ("--mmgate-stress", dict(metavar="N", type=int, default=None,
                                       help="Hypothesis examples per stress property (default: 10)")),
}


def register(parser: pytest.Parser) -> None:
    """Add the ``--mmgate*`` options to pytest's parser."""
    group = parser.getgroup("mmgate", "multimodal release gates")
    group.addoption("--mmgate", dest="mmgate_enabled", action="store_true", default=False,
                    help="run mmgate's release gates; write the decision and audit bundle")
    for key, (flag, kwargs) in _OPTIONS.items():
        group.addoption(flag, dest=f"mmgate_{key}", **kwargs)


def enabled(config: pytest.Config) -> bool:
    """Whether ``--mmgate`` was given; without it the plugin changes nothing."""
    return bool(config.getoption("mmgate_enabled"))


def cli_values(config: pytest.Config) -> dict[str, Any]:
    """The options as given on the command line (None where not given)."""
    return {key: config.getoption(f"mmgate_{key}") for key in _OPTIONS}
