"""A real wheel, installed into a fresh virtual environment in an empty directory, gates the
embedded default: APPROVE, and the bundle verifies with the installed ``python -m mmgate``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.plugin_support import DECISION_LINE

ROOT = Path(__file__).resolve().parent.parent


def run(args: list, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHONPATH"))}
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=1500)


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_approves_the_embedded_default(tmp_path):
    built = run([sys.executable, "-m", "build", "--wheel", "--outdir", tmp_path / "dist", ROOT], ROOT)
    assert built.returncode == 0, built.stdout + built.stderr
    wheel = next((tmp_path / "dist").glob("mmgate-*.whl"))
    venv = tmp_path / "venv"
    assert run([sys.executable, "-m", "venv", venv], tmp_path).returncode == 0
    python = venv / "bin" / "python"
    installed = run([python, "-m", "pip", "install", "--quiet", wheel], tmp_path)
    assert installed.returncode == 0, installed.stdout + installed.stderr

    project = tmp_path / "project"
    project.mkdir()
    gated = run([python, "-m", "pytest", "--mmgate", "-p", "no:cacheprovider"], project)
    found = DECISION_LINE.findall(gated.stdout)
    assert found and found[-1][0] == "APPROVE", gated.stdout + gated.stderr
    assert gated.returncode == 0
    bundle = Path(found[-1][1].strip())
    assert bundle.parent == project / "mmgate-out"
    verified = run([python, "-m", "mmgate", "verify", bundle], project)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_every_package_of_the_source_tree_is_listed_for_the_wheel():
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]["packages"])
    found = {".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "mmgate").rglob("__init__.py")}
    assert found - listed == set()
