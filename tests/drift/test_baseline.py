"""Drift baselines: written strict and hashed, read back only when JSON, schema, hash and subject
check out; every refusal names the problem."""

from __future__ import annotations

import copy
import json

import pytest

from mmgate.drift.baseline import (
    BaselineError,
    baseline_report,
    load_baseline,
    write_baseline,
)
from mmgate.records.canonical import canonical_json
from mmgate.records.hashing import sha256_text
from tests.drift.profiles_support import grid_profile
from tests.report_samples import CONTRACT_SHA

PROFILES = {seed: json.loads(json.dumps(grid_profile(seed=seed))) for seed in (0, 1)}
PROFILE = PROFILES[0]


def _written(tmp_path, seeds=(0, 1)):
    profiles = {seed: copy.deepcopy(PROFILES[seed]) for seed in seeds}
    report = baseline_report(profiles, run_id="mmgate-20260217T134016Z-19b2e27a",
                             created_utc="2026-02-17T13:40:16Z", contract_sha256=CONTRACT_SHA)
    path = tmp_path / "baseline.json"
    sha = write_baseline(path, report)
    return path, sha


def test_a_written_baseline_reads_back_with_its_profiles_and_hash(tmp_path):
    path, sha = _written(tmp_path)
    baseline = load_baseline(path)
    assert baseline.content_sha256 == sha and len(sha) == 64
    assert (baseline.subject_name, baseline.dimension) == ("grid", 16)
    assert baseline.profile(1)["seed"] == 1
    assert json.loads(path.read_text())["facts_provided"]["content_sha256"] == sha


def test_an_altered_number_is_caught_by_the_content_hash(tmp_path):
    path, _ = _written(tmp_path)
    report = json.loads(path.read_text())
    report["facts_provided"]["baseline"]["seeds"][0]["metrics"]["retrieval_top1_i2t"]["value"] = 0.99
    path.write_text(json.dumps(report))
    with pytest.raises(BaselineError, match="content_sha256 mismatch.*altered"):
        load_baseline(path)


def _rehashed(text: str, edit) -> str:
    """A deliberate edit that also rewrites the content hash: only the content checks can catch it."""
    report = json.loads(text)
    edit(report["facts_provided"]["baseline"])
    report["facts_provided"]["content_sha256"] = sha256_text(canonical_json(report["facts_provided"]["baseline"]))
    return json.dumps(report)


def _edited(text: str, edit) -> str:
    report = json.loads(text)
    edit(report["facts_provided"])
    return json.dumps(report)


@pytest.mark.parametrize("damage, problem", [
    (lambda text: text[: len(text) // 2], "not valid JSON"),
    (lambda text: _edited(text, lambda f: f["baseline"].update(dimension="two")), "fails its schema"),
    (lambda text: _rehashed(text, lambda b: b["seeds"][0]["metrics"].pop("symmetry_gap")), "metrics: missing"),
    (lambda text: _rehashed(text, lambda b: b["seeds"].append(b["seeds"][0])), "recorded twice"),
    (lambda text: _edited(text, lambda f: f.update(report_kind="risk_log")), "fails its schema"),
    (lambda text: _edited(text, lambda f: f.update(report_kind="acceptance")), "fails its schema"),
])
def test_a_damaged_file_is_refused_naming_the_problem(tmp_path, damage, problem):
    path, _ = _written(tmp_path)
    path.write_text(damage(path.read_text()))
    with pytest.raises(BaselineError, match=problem):
        load_baseline(path)


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(BaselineError, match="cannot be read"):
        load_baseline(tmp_path / "absent.json")


def test_another_subject_dimension_or_seed_is_refused(tmp_path):
    baseline = load_baseline(_written(tmp_path, seeds=(0,))[0])
    baseline.check_subject("grid", 16)
    with pytest.raises(BaselineError, match="recorded for subject 'grid', not 'clip'"):
        baseline.check_subject("clip", 16)
    with pytest.raises(BaselineError, match="embedding dimension 16.*dimension 512"):
        baseline.check_subject("grid", 512)
    with pytest.raises(BaselineError, match="no profile for seed 3"):
        baseline.profile(3)


def test_profiles_of_different_subjects_make_no_baseline():
    other = {**copy.deepcopy(PROFILE), "seed": 1, "subject": {"name": "clip", "identity": {}}}
    with pytest.raises(BaselineError, match="disagree"):
        baseline_report({0: PROFILE, 1: other}, run_id="r", created_utc="t", contract_sha256=CONTRACT_SHA)
    with pytest.raises(BaselineError, match="at least one seed"):
        baseline_report({}, run_id="r", created_utc="t", contract_sha256=CONTRACT_SHA)
