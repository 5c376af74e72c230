"""mmgate's command-line options, and reading them back as the settings' command-line layer."""

from __future__ import annotations

from typing import Any

import pytest

from mmgate.plugin.settings import CLI_FLAGS

# setting key -> argparse keyword arguments; the flag itself is the settings' CLI_FLAGS[key].
_OPTIONS: dict[str, dict[str, Any]] = {
    "subject": {"metavar": "MODULE:CALLABLE", "default": None,
        "help": "zero-argument factory returning an mmgate.Subject "
                 "(default: the built-in reference aligner)"},
    "builtin": {"metavar": "NAME", "default": None,
        "help": "condition of the built-in subject (default: healthy; "
                 "python -m mmgate calibrate runs the others)"},
    "out": {"metavar": "DIR", "default": None,
        "help": "directory receiving the bundles (default: mmgate-out)"},
    "contract": {"metavar": "FILE", "default": None,
        "help": "TOML or JSON file overriding contract thresholds"},
    "seeds": {"metavar": "N", "type": int, "default": None,
        "help": "seeds each gate is evaluated over (default: 4)"},
    "batch_size": {"metavar": "N", "type": int, "default": None,
        "help": "rows per encoder call (default: 256)"},
    "stress": {"metavar": "N", "type": int, "default": None,
        "help": "Hypothesis examples per stress property (default: 10)"},
    "record_baseline": {"metavar": "PATH", "default": None,
        "help": "write this run's drift baseline to PATH if it is APPROVEd"},
    "baseline": {"metavar": "PATH", "default": None,
        "help": "compare this run against the drift baseline at PATH"},
    "zip": {"action": "store_true", "default": None,
        "help": "also write the bundle as <out>/<run id>.zip (default: directory only)"},
    "device": {"metavar": "DEVICE", "default": None,
        "help": "compute the retrieval ranks with torch on DEVICE, e.g. cuda (default: numpy)"},
    "ray": {"metavar": "CLUSTER", "default": None,
        "help": "embed the canary with Ray Data actors and sweep its ranks as Ray tasks on CLUSTER: "
                 "local (start one in this process), auto (the running cluster) or its address "
                 "(needs mmgate[ray]; default: this process only)"},
    "intervene": {"action": "store_true", "default": None,
        "help": "after the decision, apply the interventions that need no training (temperature "
                 "recalibration, input renormalisation, pairing sanitation) to a copy of the subject, "
                 "re-measure their gates and put the decision records in the bundle"},
}


def register(parser: pytest.Parser) -> None:
    """Add the ``--mmgate*`` options to pytest's parser."""
    group = parser.getgroup("mmgate", "multimodal release gates")
    group.addoption("--mmgate", dest="mmgate_enabled", action="store_true", default=False,
                    help="run mmgate's release gates; write the decision and audit bundle")
    for key, kwargs in _OPTIONS.items():
        group.addoption(CLI_FLAGS[key], dest=f"mmgate_{key}", **kwargs)


def enabled(config: pytest.Config) -> bool:
    """Whether ``--mmgate`` was given; without it the plugin changes nothing."""
    return bool(config.getoption("mmgate_enabled"))


def cli_values(config: pytest.Config) -> dict[str, Any]:
    """The options as given on the command line (None where not given)."""
    return {key: config.getoption(f"mmgate_{key}") for key in _OPTIONS}
