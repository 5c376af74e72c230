"""Fingerprint of the software a run used: package versions, platform and git commit."""

from __future__ import annotations

import platform
import re
import subprocess
from importlib import metadata
from pathlib import Path

NOT_INSTALLED = "not installed"
# manifest key -> distribution name
DISTRIBUTIONS = (
    ("numpy", "numpy"),
    ("pytest", "pytest"),
    ("hypothesis", "hypothesis"),
    ("jsonschema", "jsonschema"),
    ("pytest_xdist", "pytest-xdist"),
    ("matplotlib", "matplotlib"),
    ("mmgate", "mmgate"),
)
_COMMIT = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


def distribution_version(name: str) -> str:
    """Installed version of distribution ``name``, or ``"not installed"``."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return NOT_INSTALLED


def environment_fingerprint() -> dict[str, str]:
    """Python, numpy, pytest, hypothesis, jsonschema, pytest-xdist, matplotlib and mmgate versions + platform.

    Keys match the run manifest's ``environment`` object.
    """
    versions = {key: distribution_version(dist) for key, dist in DISTRIBUTIONS}
    return {"python": platform.python_version(), **versions, "platform": platform.platform()}


def git_commit(cwd: str | Path | None = None, timeout_s: float = 5.0) -> str | None:
    """``git rev-parse HEAD`` in ``cwd`` (default: current directory), or None outside a repository,
    before the first commit, without git, or when git does not answer within ``timeout_s``."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and _COMMIT.match(commit) else None
