"""Specification of run settings: CLI over [tool.mmgate] over defaults, validated, paths rooted."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmgate.errors import ConfigError
from mmgate.plugin.settings import (
    SETTING_KEYS,
    Settings,
    read_pyproject_table,
    resolve_settings,
)

ROOT = Path("/project")
NOTHING = {key: None for key in SETTING_KEYS}


def test_with_nothing_given_the_defaults_apply_and_out_is_under_the_rootdir() -> None:
    s = resolve_settings(NOTHING, {}, ROOT)
    assert s == Settings(subject=None, out_dir=ROOT / "mmgate-out",
                         contract_path=None, seeds=4, batch_size=256)


def test_pyproject_values_apply_when_the_cli_gives_none() -> None:
    table = {"subject": "pkg.mod:make", "out": "reports", "contract": "c.toml",
             "seeds": 5, "batch_size": 64}
    s = resolve_settings(NOTHING, table, ROOT)
    assert s == Settings(subject="pkg.mod:make", out_dir=ROOT / "reports",
                         contract_path=ROOT / "c.toml", seeds=5, batch_size=64)


def test_the_command_line_wins_over_pyproject() -> None:
    table = {"subject": "a:b", "out": "from-toml", "seeds": 5, "batch_size": 64}
    cli = {**NOTHING, "subject": "c:d", "out": "from-cli", "seeds": 1}
    s = resolve_settings(cli, table, ROOT)
    assert (s.subject, s.out_dir, s.seeds) == ("c:d", ROOT / "from-cli", 1)
    assert s.batch_size == 64


def test_absolute_paths_are_kept_and_relative_ones_resolved_against_the_rootdir() -> None:
    s = resolve_settings({"out": "/abs/out", "contract": "rel/c.json"}, {}, ROOT)
    assert s.out_dir == Path("/abs/out")
    assert s.contract_path == ROOT / "rel" / "c.json"
    s2 = resolve_settings({}, {"contract": "/abs/c.toml"}, ROOT)
    assert s2.contract_path == Path("/abs/c.toml")


def test_unknown_pyproject_keys_are_rejected_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"\[tool.mmgate\].*'sedes'"):
        resolve_settings(NOTHING, {"sedes": 3}, ROOT)


def test_unknown_cli_keys_are_rejected_naming_the_key() -> None:
    with pytest.raises(ConfigError, match="'verbose'"):
        resolve_settings({"verbose": 1}, {}, ROOT)


@pytest.mark.parametrize("key, value", [
    ("seeds", 0), ("seeds", "3"), ("seeds", True), ("seeds", 2.0), ("batch_size", 0),
    ("subject", ""), ("subject", 3), ("out", 5), ("out", ""),
    ("contract", ["c.toml"]), ("stress", 0), ("stress", "10"),
])
def test_wrong_pyproject_values_are_rejected_naming_the_key(key: str, value: object) -> None:
    with pytest.raises(ConfigError, match=rf"\[tool.mmgate\] {key}"):
        resolve_settings(NOTHING, {key: value}, ROOT)


@pytest.mark.parametrize("key, flag", [("seeds", "--mmgate-seeds"),
                                       ("batch_size", "--mmgate-batch-size"),
                                       ("stress", "--mmgate-stress")])
def test_wrong_cli_values_are_rejected_naming_the_flag(key: str, flag: str) -> None:
    with pytest.raises(ConfigError, match=flag):
        resolve_settings({key: 0}, {key: 3}, ROOT)


def test_settings_are_validated_on_direct_construction() -> None:
    with pytest.raises(ConfigError, match="Settings.seeds"):
        Settings(seeds=0)


def test_to_dict_is_json_ready() -> None:
    s = resolve_settings({"contract": "c.toml"}, {}, ROOT)
    assert s.to_dict() == {"subject": None, "builtin": "healthy", "out_dir": "/project/mmgate-out",
                           "contract_path": "/project/c.toml", "seeds": 4, "batch_size": 256,
                           "stress": 10, "record_baseline": None, "baseline": None, "device": None,
                           "ray": None}


def test_the_device_comes_from_either_source_and_must_be_a_name() -> None:
    assert resolve_settings({"device": "cuda"}, {}, ROOT).device == "cuda"
    assert resolve_settings({}, {"device": "cpu"}, ROOT).device == "cpu"
    with pytest.raises(ConfigError, match="--mmgate-device: expected a non-empty name"):
        resolve_settings({"device": ""}, {}, ROOT)


def test_baseline_paths_resolve_against_the_root_and_come_from_either_source() -> None:
    s = resolve_settings({"record_baseline": "base/new.json"}, {"baseline": "/abs/old.json"}, ROOT)
    assert (s.record_baseline, s.baseline) == (ROOT / "base" / "new.json", Path("/abs/old.json"))
    with pytest.raises(ConfigError, match="--mmgate-baseline: expected a non-empty path"):
        resolve_settings({"baseline": ""}, {}, ROOT)


def test_read_pyproject_table_returns_the_tool_mmgate_table(tmp_path) -> None:
    p = tmp_path / "pyproject.toml"
    p.write_text('[project]\nname = "x"\n[tool.mmgate]\nseeds = 4\nout = "o"\n')
    assert read_pyproject_table(p) == {"seeds": 4, "out": "o"}


def test_read_pyproject_table_is_empty_without_the_file_or_the_table(tmp_path) -> None:
    assert read_pyproject_table(tmp_path / "pyproject.toml") == {}
    p = tmp_path / "pyproject.toml"
    p.write_text('[tool.other]\nx = 1\n')
    assert read_pyproject_table(p) == {}


def test_read_pyproject_table_rejects_malformed_toml_naming_the_file(tmp_path) -> None:
    p = tmp_path / "pyproject.toml"
    p.write_text('[tool.mmgate\nseeds = 4\n')
    with pytest.raises(ConfigError, match="pyproject.toml.*line 1"):
        read_pyproject_table(p)


def test_read_pyproject_table_rejects_a_non_table_tool_mmgate(tmp_path) -> None:
    p = tmp_path / "pyproject.toml"
    p.write_text('[tool]\nmmgate = 3\n')
    with pytest.raises(ConfigError, match=r"\[tool.mmgate\]"):
        read_pyproject_table(p)
