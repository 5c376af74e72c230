"""The environment fingerprint names every version the manifest needs; git commit or null."""

from __future__ import annotations

import json
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import pytest

from mmgate.audit.environment import (
    NOT_INSTALLED,
    distribution_version,
    environment_fingerprint,
    git_commit,
)
from mmgate.records.resources import schemas_dir


def test_fingerprint_has_exactly_the_keys_the_run_manifest_requires() -> None:
    schema = json.loads((schemas_dir() / "run_manifest.schema.json").read_text(encoding="utf-8"))
    facts = schema["allOf"][1]["properties"]["facts_provided"]
    assert set(environment_fingerprint()) == set(facts["properties"]["environment"]["required"])


def test_fingerprint_reports_installed_distribution_versions() -> None:
    fingerprint = environment_fingerprint()
    assert fingerprint["pytest_xdist"] == metadata.version("pytest-xdist")
    assert fingerprint["jsonschema"] == metadata.version("jsonschema")
    assert fingerprint["python"].count(".") == 2


def test_a_missing_distribution_reads_not_installed() -> None:
    assert distribution_version("mmgate-no-such-distribution") == NOT_INSTALLED


def test_git_commit_is_none_outside_a_repository(tmp_path: Path) -> None:
    assert git_commit(tmp_path) is None


def test_git_commit_is_none_when_git_is_not_on_the_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert git_commit(tmp_path) is None


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_commit_is_head_inside_a_repository(tmp_path: Path) -> None:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=tmp_path, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    git("init", "-q")
    assert git_commit(tmp_path) is None
    (tmp_path / "f.txt").write_text("x")
    git("add", "f.txt")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "init")
    assert git_commit(tmp_path) == git("rev-parse", "HEAD")
