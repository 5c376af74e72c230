"""What one gated run was asked to do: settings, contract and the problems found reading them.

Reading never raises: a bad option, ``[tool.mmgate]`` table or contract file becomes a problem
that every gate reports as an error, so the run still ends in a REJECT with a complete bundle.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from mmgate.drift.baseline import Baseline, load_baseline
from mmgate.errors import MmgateError
from mmgate.gating.contract import Contract, load_contract
from mmgate.lab.conditions import HEALTHY, Condition, condition
from mmgate.plugin.settings import Settings, read_pyproject_table, resolve_settings
from mmgate.subjects.subject import load_subject_factory, takes_seed


@dataclass(frozen=True)
class RunSpec:
    """Settings and contract of a run, the configuration texts to log, and any setup problems."""

    settings: Settings
    contract: Contract
    problems: tuple[str, ...]
    config_texts: tuple[tuple[str, str], ...]
    condition: Condition = HEALTHY
    baseline: Baseline | None = None
    baseline_problem: str | None = None
    seeded_subject: bool = False

    @property
    def builtin(self) -> bool:
        """Whether the run gates the built-in reference aligner on the synthetic world."""
        return self.settings.subject is None

    @property
    def seeds(self) -> int:
        """How many seeds each gate is evaluated over: ``--mmgate-seeds`` for the built-in aligner
        (trained once per seed) and for a subject factory that takes a ``seed``; one for a fixed
        subject, since nothing it measures varies with the seed (its bootstrap intervals carry the
        sampling uncertainty)."""
        return self.settings.seeds if self.builtin or self.seeded_subject else 1

    @property
    def seeds_note(self) -> str | None:
        """Why fewer seeds are gated than were asked for, or None."""
        if self.seeds == self.settings.seeds:
            return None
        return (f"fixed subject: each gate is evaluated once, not over {self.settings.seeds} seeds (the factory "
                f"{self.settings.subject} takes no `seed` parameter, so every seed would measure the same model "
                f"on the same canary)")


def read_runspec(cli: Mapping[str, Any], rootdir: Path) -> RunSpec:
    """Resolve settings (command line over ``[tool.mmgate]``) and load the contract they name."""
    problems: list[str] = []
    texts: list[tuple[str, str]] = [("command line", _cli_text(cli))]
    pyproject = rootdir / "pyproject.toml"
    table: Mapping[str, Any] = {}
    try:
        table = read_pyproject_table(pyproject)
    except MmgateError as exc:
        problems.append(f"configuration: {exc}")
    if table:
        texts.append((str(pyproject), pyproject.read_text("utf-8")))
    try:
        settings = resolve_settings(cli, table, rootdir)
    except MmgateError as exc:
        problems.append(f"configuration: {exc}")
        settings = resolve_settings({}, {}, rootdir)
    # The built-in subject keeps its calibrated contract; a subject of your own starts from the
    # broken-model defaults (USER_SUBJECT_DEFAULTS), which a contract file overrides.
    builtin = settings.subject is None
    profile = "builtin" if builtin else "user"
    contract = Contract.for_subject(builtin)
    if settings.contract_path is not None:
        try:
            texts.append((str(settings.contract_path), settings.contract_path.read_text("utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            texts.append((str(settings.contract_path), f"<unreadable: {exc}>"))
        try:
            contract = load_contract(settings.contract_path, profile=profile)
        except MmgateError as exc:
            problems.append(f"contract: {exc}")
    chosen = HEALTHY
    try:
        chosen = condition(settings.builtin)
    except MmgateError as exc:
        problems.append(f"configuration: {exc}")
    baseline, baseline_problem = _baseline(settings, contract)
    return RunSpec(settings=settings, contract=contract, problems=tuple(problems),
                   config_texts=tuple(texts), condition=chosen, baseline=baseline,
                   baseline_problem=baseline_problem, seeded_subject=_seeded(settings.subject))


def _seeded(subject: str | None) -> bool:
    """Whether the named subject factory takes a seed; a factory that cannot be loaded counts as
    fixed (the setup check reports why it cannot be loaded)."""
    if subject is None:
        return False
    try:
        return takes_seed(load_subject_factory(subject))
    except MmgateError:
        return False


def _baseline(settings: Settings, contract: Contract) -> tuple[Baseline | None, str | None]:
    """The verified baseline the run compares against, or why it cannot be used (the drift gates
    report that problem; the other gates still run)."""
    if settings.baseline is None:
        return None, None
    try:
        baseline = load_baseline(settings.baseline)
    except MmgateError as exc:
        return None, str(exc)
    pinned = contract.baseline_sha256
    if pinned is not None and baseline.content_sha256 != pinned:
        return None, (f"baseline {settings.baseline}: content_sha256 {baseline.content_sha256[:12]}... is not the "
                      f"contract's baseline_sha256 {pinned[:12]}...")
    return baseline, None


def _cli_text(cli: Mapping[str, Any]) -> str:
    return " ".join(f"{key}={value}" for key, value in sorted(cli.items()) if value is not None)
