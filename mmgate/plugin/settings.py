"""Run settings: command-line options over ``[tool.mmgate]`` over defaults, validated and frozen."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from mmgate.errors import ConfigError
from mmgate.records import tomlcompat

# setting key (also its [tool.mmgate] key) -> the command-line flag that sets it.
CLI_FLAGS: Mapping[str, str] = MappingProxyType({
    "subject": "--mmgate-subject",
    "builtin": "--mmgate-builtin",
    "out": "--mmgate-out",
    "contract": "--mmgate-contract",
    "seeds": "--mmgate-seeds",
    "batch_size": "--mmgate-batch-size",
    "stress": "--mmgate-stress",
    "record_baseline": "--mmgate-record-baseline",
    "baseline": "--mmgate-baseline",
    "zip": "--mmgate-zip",
    "device": "--mmgate-device",
    "ray": "--mmgate-ray",
    "intervene": "--mmgate-intervene",
})
SETTING_KEYS = tuple(CLI_FLAGS)
# setting key -> Settings field name.
_FIELDS: Mapping[str, str] = MappingProxyType({
    "subject": "subject",
    "builtin": "builtin",
    "out": "out_dir",
    "contract": "contract_path",
    "seeds": "seeds",
    "batch_size": "batch_size",
    "stress": "stress",
    "record_baseline": "record_baseline",
    "baseline": "baseline",
    "zip": "zip",
    "device": "device",
    "ray": "ray",
    "intervene": "intervene",
})
DEFAULT_OUT = "mmgate-out"


def _spec(where: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: expected a non-empty 'module:callable' string, got {value!r} "
                          f"({type(value).__name__})")
    return value


def _name(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: expected a non-empty name, got {value!r} ({type(value).__name__})")
    return value


def _path(where: str, value: Any) -> Path:
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
        raise ConfigError(f"{where}: expected a non-empty path string, got {value!r} "
                          f"({type(value).__name__})")
    return Path(value)


def _flag(where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true or false, got {value!r} ({type(value).__name__})")
    return value


def _optional_name(where: str, value: Any) -> str | None:
    return None if value is None else _name(where, value)


def _optional_path(where: str, value: Any) -> Path | None:
    return None if value is None else _path(where, value)


def _positive_int(where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where}: expected an integer >= 1, got {value!r} "
                          f"({type(value).__name__})")
    return value


_CHECKS: Mapping[str, Callable[[str, Any], Any]] = MappingProxyType({
    "subject": _spec,
    "builtin": _name,
    "out": _path,
    "contract": _optional_path,
    "seeds": _positive_int,
    "batch_size": _positive_int,
    "stress": _positive_int,
    "record_baseline": _optional_path,
    "baseline": _optional_path,
    "zip": _flag,
    "device": _optional_name,
    "ray": _optional_name,
    "intervene": _flag,
})


@dataclass(frozen=True)
class Settings:
    """How a gated run is driven: which subject, where reports go, which contract, how many seeds.

    ``subject`` None means the built-in reference aligner on the synthetic world; ``contract_path``
    None means the default contract; ``stress`` is the number of Hypothesis examples each stress
    property runs; ``record_baseline`` is where an APPROVEd run writes its drift baseline and
    ``baseline`` the baseline a run is compared against (None: no drift comparison).
    """

    subject: str | None = None
    builtin: str = "healthy"
    out_dir: Path = Path(DEFAULT_OUT)
    contract_path: Path | None = None
    seeds: int = 4  # an even count splits evenly over two xdist workers (one seed's gates per worker)
    batch_size: int = 256
    stress: int = 10
    record_baseline: Path | None = None
    baseline: Path | None = None
    zip: bool = False  # also write <out>/<run id>.zip next to the bundle directory
    device: str | None = None  # torch device for the retrieval ranks (None: numpy on the host)
    ray: str | None = None  # Ray cluster that embeds the canary and sweeps its ranks: local, auto or an address
    intervene: bool = False  # after the decision, propose and apply the training-free interventions

    def __post_init__(self) -> None:
        object.__setattr__(self, "subject", _spec("Settings.subject", self.subject))
        object.__setattr__(self, "builtin", _name("Settings.builtin", self.builtin))
        object.__setattr__(self, "out_dir", _path("Settings.out_dir", self.out_dir))
        object.__setattr__(self, "contract_path",
                           _optional_path("Settings.contract_path", self.contract_path))
        object.__setattr__(self, "seeds", _positive_int("Settings.seeds", self.seeds))
        object.__setattr__(self, "batch_size", _positive_int("Settings.batch_size",
                                                             self.batch_size))
        object.__setattr__(self, "stress", _positive_int("Settings.stress", self.stress))
        for name in ("record_baseline", "baseline"):
            object.__setattr__(self, name, _optional_path(f"Settings.{name}", getattr(self, name)))
        object.__setattr__(self, "zip", _flag("Settings.zip", self.zip))
        object.__setattr__(self, "device", _optional_name("Settings.device", self.device))
        object.__setattr__(self, "ray", _optional_name("Settings.ray", self.ray))
        object.__setattr__(self, "intervene", _flag("Settings.intervene", self.intervene))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (paths as strings), for the run manifest and the config hash."""
        return {
            "subject": self.subject,
            "builtin": self.builtin,
            "out_dir": str(self.out_dir),
            "contract_path": None if self.contract_path is None else str(self.contract_path),
            "seeds": self.seeds,
            "batch_size": self.batch_size,
            "stress": self.stress,
            "record_baseline": None if self.record_baseline is None else str(self.record_baseline),
            "baseline": None if self.baseline is None else str(self.baseline),
            "device": self.device,
            "ray": self.ray,
        }


def _chosen(key: str, cli: Mapping[str, Any], table: Mapping[str, Any]) -> tuple[bool, Any]:
    if cli.get(key) is not None:
        return True, _CHECKS[key](CLI_FLAGS[key], cli[key])
    if key in table:
        return True, _CHECKS[key](f"[tool.mmgate] {key}", table[key])
    return False, None


def _unknown(where: str, keys: Any) -> None:
    unknown = sorted(str(key) for key in keys if key not in CLI_FLAGS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; expected a subset of "
                          f"{list(SETTING_KEYS)}")


def resolve_settings(cli: Mapping[str, Any], pyproject_table: Mapping[str, Any],
                     rootdir: Path) -> Settings:
    """Settings from CLI values (None = not given, so ``[tool.mmgate]`` or the default applies).

    Keys of both mappings are ``SETTING_KEYS``; relative paths are taken against ``rootdir``.
    """
    _unknown("command-line settings", cli)
    if not isinstance(pyproject_table, Mapping):
        raise ConfigError(f"[tool.mmgate]: expected a table, got {type(pyproject_table).__name__}")
    _unknown("[tool.mmgate]", pyproject_table)
    root = Path(rootdir)
    fields: dict[str, Any] = {}
    for key in SETTING_KEYS:
        given, value = _chosen(key, cli, pyproject_table)
        if not given:
            continue
        if isinstance(value, Path) and not value.is_absolute():
            value = root / value
        fields[_FIELDS[key]] = value
    fields.setdefault("out_dir", root / DEFAULT_OUT)
    return Settings(**fields)


def read_pyproject_table(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``[tool.mmgate]`` table of a pyproject.toml; {} when the file or the table is absent."""
    p = Path(path)
    if not p.is_file():
        return {}
    try:
        data = tomlcompat.loads(p.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"{str(p)!r} is not valid TOML: {exc}") from exc
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(f"{str(p)!r}: tool: expected a table, got {type(tool).__name__}")
    table = tool.get("mmgate", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{str(p)!r}: [tool.mmgate]: expected a table, got "
                          f"{type(table).__name__}")
    return table
