"""The README's quick start is what CI runs: its test command is the one in .ci/run."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def quick_start_commands() -> list[str]:
    text = (ROOT / "README.md").read_text("utf-8")
    section = text.split("## Quick start", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def test_quick_start_is_exactly_two_commands_install_and_gate_then_test():
    install_and_gate, test = quick_start_commands()
    assert "pip install" in install_and_gate and install_and_gate.endswith("pytest --mmgate")
    assert test.startswith("python -m pytest")


def test_ci_runs_the_readme_test_command():
    _, test = quick_start_commands()
    ci_lines = (ROOT / ".ci" / "run").read_text("utf-8").splitlines()
    assert test in ci_lines
