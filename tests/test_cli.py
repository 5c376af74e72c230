"""``python -m mmgate verify``: exit 0 with a one-line OK summary, non-zero with every problem."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mmgate.audit.bundle import Bundle
from mmgate.cli import COMMANDS, EXIT_FAILED, EXIT_OK, EXIT_USAGE, Command, main
from mmgate.records.hashing import sha256_bytes
from tests.report_samples import RUN_ID, build_bundle


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    return build_bundle(tmp_path_factory.mktemp("cli"))


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mmgate", *args], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("which", ["directory", "zip_path"])
def test_main_verify_prints_one_ok_line_and_returns_zero(
    bundle: Bundle, which: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = getattr(bundle, which)
    assert main(["verify", str(path)]) == EXIT_OK
    out, err = capsys.readouterr()
    assert out == f"OK {path}: run {RUN_ID}, 11 files match the sha256 ledger, 7 reports valid\n"
    assert err == ""


def test_main_verify_lists_every_problem_and_returns_one(
    bundle: Bundle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = Path(shutil.copytree(bundle.directory, tmp_path / RUN_ID))
    (copy / "summary.md").write_text("# mmgate\nREJECT!\n", encoding="utf-8")
    (copy / "unlisted.txt").write_text("x", encoding="utf-8")
    assert main(["verify", str(copy)]) == EXIT_FAILED
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"FAILED {copy}: 2 problem(s)",
        "  - summary.md: sha256 mismatch (ledger {}, file {})".format(
            *(
                sha256_bytes(data)
                for data in ((bundle.directory / "summary.md").read_bytes(), (copy / "summary.md").read_bytes())
            )
        ),
        "  - unlisted.txt: extra file not listed in the hash ledger",
    ]


def test_main_without_a_command_or_with_bad_arguments_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == EXIT_USAGE
    assert main(["verify"]) == EXIT_USAGE
    assert main(["no-such-command"]) == EXIT_USAGE
    assert "usage: mmgate" in capsys.readouterr().err


def test_main_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == EXIT_OK
    assert "verify" in capsys.readouterr().out


def test_adding_a_subcommand_is_one_command_entry(capsys: pytest.CaptureFixture[str]) -> None:
    def configure(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("name")

    def run(args: argparse.Namespace) -> int:
        print(f"hello {args.name}")
        return 7

    commands = (*COMMANDS, Command("hello", "greet", configure, run))
    assert main(["hello", "world"], commands) == 7
    assert capsys.readouterr().out == "hello world\n"


def test_python_m_mmgate_verify_exits_zero_on_a_good_bundle(bundle: Bundle, tmp_path: Path) -> None:
    done = _run(tmp_path, "verify", str(bundle.zip_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"OK {bundle.zip_path}: run {RUN_ID}") and done.stdout.count("\n") == 1


def test_python_m_mmgate_verify_exits_non_zero_naming_the_changed_file(bundle: Bundle, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(bundle.directory, tmp_path / RUN_ID))
    (copy / "summary.md").write_text("# mmgate\nREJECT!\n", encoding="utf-8")
    (copy / "risk_log.json").unlink()
    done = _run(tmp_path, "verify", str(copy))
    assert done.returncode == 1
    assert "summary.md: sha256 mismatch" in done.stderr
    assert "risk_log.json: listed in the hash ledger but missing" in done.stderr


def test_python_m_mmgate_verify_of_a_missing_path_exits_one_with_a_message(tmp_path: Path) -> None:
    done = _run(tmp_path, "verify", "missing.zip")
    assert done.returncode == 1
    assert "missing.zip: no such bundle directory or zip file" in done.stderr


def test_timeline_runs_the_given_seeds_and_returns_its_status(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from mmgate.lab import timeline, timeline_report

    calls = []
    monkeypatch.setattr(timeline_report, "timeline_main", lambda out, seeds: calls.append((out, seeds)) or 0)
    assert main(["timeline", "--out", str(tmp_path), "--seeds", "3,7"]) == 0
    assert main(["timeline", "--out", str(tmp_path)]) == 0
    assert calls == [(tmp_path, (3, 7)), (tmp_path, timeline.EVALUATION_SEEDS)]


@pytest.mark.parametrize("seeds", ["", "a,b", "-1"])
def test_timeline_seeds_must_be_non_negative_integers(seeds: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["timeline", "--out", str(tmp_path), "--seeds", seeds]) == EXIT_USAGE
    assert "expected comma-separated integers" in capsys.readouterr().err
