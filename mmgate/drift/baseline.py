"""Drift baselines: the monitoring profiles of an approved release, written as one strict,
schema-validated JSON report whose content hash is recorded in it (and in the run's manifest), and
read back only after the hash, the schema and the subject check out. JSON only, never pickle."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmgate.drift.errors import BaselineError
from mmgate.drift.monitor import check_profile
from mmgate.errors import InputError
from mmgate.records.canonical import canonical_json, parse_json_strict
from mmgate.records.hashing import sha256_text
from mmgate.records.reports import (
    ReportSchemaError,
    strict_report,
    validate_report,
    write_report,
)

BASELINE_KIND = "drift_baseline"


@dataclass(frozen=True)
class Baseline:
    """A verified baseline: its per-seed profiles and what it was recorded for."""

    path: str
    content_sha256: str
    subject_name: str
    dimension: int
    contract_sha256: str
    profiles: Mapping[int, Mapping[str, Any]]

    def profile(self, seed: int) -> Mapping[str, Any]:
        """The profile recorded for ``seed``; a seed the baseline lacks is an error naming both."""
        if seed not in self.profiles:
            raise BaselineError(f"baseline {self.path}: has no profile for seed {seed}; it holds seeds "
                                f"{sorted(self.profiles)} (run with at most as many seeds as were recorded)")
        return self.profiles[seed]

    def check_subject(self, name: str, dimension: int) -> None:
        """Raise unless the baseline was recorded for this subject and embedding dimension."""
        if name != self.subject_name:
            raise BaselineError(f"baseline {self.path}: recorded for subject {self.subject_name!r}, "
                                f"not {name!r}")
        if dimension != self.dimension:
            raise BaselineError(f"baseline {self.path}: recorded for embedding dimension {self.dimension}, "
                                f"but the subject now embeds in dimension {dimension}")


def _content(profiles: Mapping[int, Mapping[str, Any]], contract_sha256: str) -> dict[str, Any]:
    ordered = [profiles[seed] for seed in sorted(profiles)]
    names = {profile["subject"]["name"] for profile in ordered}
    dimensions = {profile["dimension"] for profile in ordered}
    if len(names) != 1 or len(dimensions) != 1:
        raise BaselineError(f"the seeds' profiles disagree on the subject {sorted(names)} or the "
                            f"dimension {sorted(dimensions)}; a baseline holds one subject")
    return {"subject_name": names.pop(), "dimension": dimensions.pop(), "contract_sha256": contract_sha256,
            "seeds": ordered}


def baseline_report(profiles: Mapping[int, Mapping[str, Any]], *, run_id: str, created_utc: str,
                    contract_sha256: str) -> dict[str, Any]:
    """The strict baseline report of an approved run's per-seed monitoring profiles."""
    if not profiles:
        raise BaselineError("no monitoring profiles were collected; a baseline needs at least one seed")
    content = json.loads(canonical_json(_content(profiles, contract_sha256)))
    return strict_report(
        BASELINE_KIND,
        {"run_id": run_id, "created_utc": created_utc, "baseline": content,
         "content_sha256": sha256_text(canonical_json(content))},
        assumptions={"source": "recorded from an APPROVEd run; every number was computed in that run"},
        open_items=[],
        analysis=f"Baseline of {content['subject_name']} over {len(content['seeds'])} seed(s), "
                 f"dimension {content['dimension']}.",
        draft_output={"seeds": [profile["seed"] for profile in content["seeds"]]},
        questions_to_verify=["Was the run this baseline was recorded from the release now deployed?"],
    )


def write_baseline(path: str | Path, report: Mapping[str, Any]) -> str:
    """Validate and atomically write the baseline report; return its content sha256."""
    write_report(path, report)
    return str(report["facts_provided"]["content_sha256"])


def load_baseline(path: str | Path) -> Baseline:
    """Read a baseline, verifying JSON, schema and content hash; BaselineError names the problem."""
    where = str(path)
    try:
        text = Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(f"baseline {where}: cannot be read: {exc}") from exc
    try:
        report = parse_json_strict(text)
    except ValueError as exc:
        raise BaselineError(f"baseline {where}: not valid JSON: {exc}") from exc
    try:
        kind = validate_report(report)
    except ReportSchemaError as exc:
        raise BaselineError(f"baseline {where}: fails its schema: {exc}") from exc
    if kind != BASELINE_KIND:
        raise BaselineError(f"baseline {where}: is a {kind!r} report, not a {BASELINE_KIND!r}")
    facts = report["facts_provided"]
    content = facts["baseline"]
    actual = sha256_text(canonical_json(content))
    if actual != facts["content_sha256"]:
        raise BaselineError(f"baseline {where}: content_sha256 mismatch (recorded {facts['content_sha256'][:12]}..., "
                            f"content hashes to {actual[:12]}...): the baseline was altered after it was written")
    seeds = [int(profile["seed"]) for profile in content["seeds"]]
    if len(set(seeds)) != len(seeds):
        raise BaselineError(f"baseline {where}: seed(s) {sorted({s for s in seeds if seeds.count(s) > 1})} "
                            f"recorded twice")
    for profile in content["seeds"]:
        try:
            check_profile(profile, content["dimension"])
        except InputError as exc:
            raise BaselineError(f"baseline {where}: seed {profile['seed']}: {exc}") from exc
    profiles = {int(profile["seed"]): profile for profile in content["seeds"]}
    return Baseline(path=where, content_sha256=actual, subject_name=content["subject_name"],
                    dimension=int(content["dimension"]), contract_sha256=content["contract_sha256"],
                    profiles=profiles)
