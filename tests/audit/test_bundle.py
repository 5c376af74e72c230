"""Writing the bundle: validated files, manifest + ledger, atomic finalisation, deterministic zip."""

from __future__ import annotations

import json
import os
import re
import zipfile
from pathlib import Path

import pytest

from mmgate.audit import bundle as bundle_module
from mmgate.audit.bundle import (
    LEDGER_NAME,
    MANIFEST_NAME,
    BundleError,
    BundleWriter,
    check_bundle_path,
    deterministic_zip,
    safe_file_stem,
)
from mmgate.audit.verify import verify_bundle
from mmgate.errors import InputError
from mmgate.records.hashing import sha256_bytes
from mmgate.records.reports import ReportSchemaError
from mmgate.records.schema_registry import SchemaSet, load_schemas
from tests.report_samples import ENVELOPE, FACTS, RUN_ID, build_bundle, sample_report

MANIFEST_FACTS = {key: value for key, value in FACTS["run_manifest"].items() if key != "artifacts"}


@pytest.fixture(scope="module")
def schemas() -> SchemaSet:
    return load_schemas()


@pytest.fixture
def writer(tmp_path: Path, schemas: SchemaSet) -> BundleWriter:
    return BundleWriter(tmp_path, RUN_ID, schemas=schemas)


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_finalize_writes_the_directory_and_zip_and_removes_the_partial_name(tmp_path: Path, schemas: SchemaSet) -> None:
    bundle = build_bundle(tmp_path, schemas)
    assert bundle.directory == tmp_path / RUN_ID and bundle.directory.is_dir()
    assert bundle.zip_path == tmp_path / f"{RUN_ID}.zip" and bundle.zip_path.is_file()
    assert sorted(os.listdir(tmp_path)) == [RUN_ID, f"{RUN_ID}.zip"]
    assert verify_bundle(bundle.directory, schemas).ok and verify_bundle(bundle.zip_path, schemas).ok


def test_the_ledger_lists_every_file_but_itself_sorted_with_sha256_and_size(tmp_path: Path, schemas: SchemaSet) -> None:
    bundle = build_bundle(tmp_path, schemas)
    facts = _load(bundle.directory / LEDGER_NAME)["facts_provided"]
    on_disk = sorted(p.relative_to(bundle.directory).as_posix() for p in bundle.directory.rglob("*") if p.is_file())
    assert [entry["path"] for entry in facts["files"]] == [p for p in on_disk if p != LEDGER_NAME]
    for entry in facts["files"]:
        data = (bundle.directory / entry["path"]).read_bytes()
        assert (entry["sha256"], entry["bytes"]) == (sha256_bytes(data), len(data))
    assert (facts["run_id"], facts["algorithm"]) == (RUN_ID, "sha256")
    assert bundle.ledger_sha256 == sha256_bytes((bundle.directory / LEDGER_NAME).read_bytes())
    assert bundle.n_files == len(on_disk)


def test_the_manifest_lists_every_other_artifact_with_its_schema_id(tmp_path: Path, schemas: SchemaSet) -> None:
    bundle = build_bundle(tmp_path, schemas)
    manifest = _load(bundle.directory / MANIFEST_NAME)
    artifacts = {a["path"]: a["schema_id"] for a in manifest["facts_provided"]["artifacts"]}
    assert artifacts == {
        "acceptance.json": "urn:mmgate:schema:acceptance:1.0.0",
        "config_log.jsonl": "urn:mmgate:schema:config_log_record:1.0.0",
        "evidence/gates_test_acceptance.py_test_retrieval_top1_seed0-image_to_text-ded4b21fc6.json":
            "urn:mmgate:schema:gate_evidence:1.0.0",
        "evidence/gates_test_drift.py_test_drift_budget_noise-1e74d18bb4.json":
            "urn:mmgate:schema:gate_evidence:1.0.0",
        "plots/retrieval.png": None,
        "release_decision.json": "urn:mmgate:schema:release_decision:1.0.0",
        "report.html": None,
        "risk_log.json": "urn:mmgate:schema:risk_log:1.0.0",
        "summary.md": None,
    }


def test_two_builds_of_the_same_files_give_identical_zip_bytes(tmp_path: Path, schemas: SchemaSet) -> None:
    first = build_bundle(tmp_path / "one", schemas)
    second = build_bundle(tmp_path / "two", schemas)
    assert first.zip_path.read_bytes() == second.zip_path.read_bytes()


def test_zip_members_are_sorted_deflated_dated_1980_and_mode_0644(tmp_path: Path, schemas: SchemaSet) -> None:
    bundle = build_bundle(tmp_path, schemas)
    with zipfile.ZipFile(bundle.zip_path) as archive:
        infos = archive.infolist()
        names = [info.filename for info in infos]
        assert names == sorted(names) and all(name.startswith(f"{RUN_ID}/") for name in names)
        for info in infos:
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.compress_type == zipfile.ZIP_DEFLATED
            assert info.external_attr >> 16 == 0o100644
            assert archive.read(info) == (bundle.directory / info.filename.split("/", 1)[1]).read_bytes()


def test_deterministic_zip_ignores_insertion_order() -> None:
    assert deterministic_zip({"b": b"2", "a": b"1"}, "r") == deterministic_zip({"a": b"1", "b": b"2"}, "r")


def test_a_failure_during_finalize_never_leaves_a_bundle_under_its_final_name(
    writer: BundleWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer.write_report("risk_log.json", sample_report("risk_log"))
    real_write = bundle_module.write_bytes_atomic

    def fail_on_ledger(path: Path, data: bytes) -> str:
        if Path(path).name == LEDGER_NAME:
            raise OSError("disk full")
        return real_write(path, data)

    monkeypatch.setattr(bundle_module, "write_bytes_atomic", fail_on_ledger)
    with pytest.raises(OSError, match="disk full"):
        writer.finalize(MANIFEST_FACTS, **ENVELOPE)
    assert os.listdir(writer.partial_dir.parent) == [f"{RUN_ID}.partial"]


def test_an_invalid_report_raises_and_is_not_written(writer: BundleWriter) -> None:
    report = sample_report("acceptance")
    report["facts_provided"]["gates"][0]["status"] = "ok"
    with pytest.raises(ReportSchemaError, match=r"acceptance report invalid at \$\.facts_provided\.gates\[0\]\.status"):
        writer.write_report("acceptance.json", report)
    assert list(writer.partial_dir.iterdir()) == [] and writer.artifacts == ()


def test_an_invalid_record_raises_naming_its_line(writer: BundleWriter) -> None:
    good = {"source": "a", "redacted_text": "", "sha256": "0" * 64, "recorded_utc": "2026-02-17T13:40:16Z"}
    with pytest.raises(ReportSchemaError, match=r"line 2 \$\.sha256"):
        writer.write_records("config_log.jsonl", "config_log_record", [good, {**good, "sha256": "x"}])
    with pytest.raises(ReportSchemaError, match=r"line 1 \$\.n"):
        writer.write_records("config_log.jsonl", "config_log_record", [{**good, "n": float("nan")}])
    assert writer.artifacts == ()


@pytest.mark.parametrize("path", ["../evil.md", "/abs.md", ".hidden.md", "a//b.md", "a/./b.md", "a\\b.md", "", "é.md"])
def test_unsafe_bundle_paths_are_refused(writer: BundleWriter, path: str) -> None:
    with pytest.raises(BundleError, match="bundle path"):
        writer.write_text(path, "x")


def test_check_bundle_path_accepts_nested_relative_paths() -> None:
    assert check_bundle_path("evidence/gate_1-abc.json") == "evidence/gate_1-abc.json"


@pytest.mark.parametrize("path", [LEDGER_NAME, MANIFEST_NAME])
def test_the_ledger_and_manifest_names_are_reserved_for_the_writer(writer: BundleWriter, path: str) -> None:
    with pytest.raises(BundleError, match="reserved"):
        writer.write_report(path, sample_report("hash_ledger" if path == LEDGER_NAME else "run_manifest"))


def test_a_path_written_twice_is_refused(writer: BundleWriter) -> None:
    writer.write_text("summary.md", "a")
    with pytest.raises(BundleError, match="written twice"):
        writer.write_text("summary.md", "b")
    assert (writer.partial_dir / "summary.md").read_text() == "a"


@pytest.mark.parametrize(
    ("method", "path"), [("write_bytes", "x.json"), ("write_bytes", "x.jsonl"), ("write_report", "x.txt")]
)
def test_json_goes_through_validation_and_reports_are_json(writer: BundleWriter, method: str, path: str) -> None:
    payload = sample_report("risk_log") if method == "write_report" else b"{}"
    with pytest.raises(BundleError, match=re.escape(repr(path))):
        getattr(writer, method)(path, payload)


def test_records_must_go_to_a_jsonl_file(writer: BundleWriter) -> None:
    with pytest.raises(BundleError, match="jsonl"):
        writer.write_records("log.json", "config_log_record", [])


@pytest.mark.parametrize("existing", [RUN_ID, f"{RUN_ID}.zip", f"{RUN_ID}.partial"])
def test_an_existing_bundle_or_partial_with_the_same_run_id_is_never_overwritten(tmp_path: Path, existing: str) -> None:
    (tmp_path / existing).mkdir()
    with pytest.raises(BundleError, match="already exists"):
        BundleWriter(tmp_path, RUN_ID)


@pytest.mark.parametrize("run_id", ["", "a/b", "../x", ".hidden", "x" * 129, "run id"])
def test_unsafe_run_ids_are_refused(tmp_path: Path, run_id: str) -> None:
    with pytest.raises(InputError, match="run_id"):
        BundleWriter(tmp_path, run_id)


def test_finalize_refuses_stray_files_not_written_through_the_writer(writer: BundleWriter) -> None:
    (writer.partial_dir / "stray.txt").write_text("x")
    with pytest.raises(BundleError, match="stray.txt"):
        writer.finalize(MANIFEST_FACTS, **ENVELOPE)


def test_finalize_refuses_a_file_changed_after_it_was_written(writer: BundleWriter) -> None:
    writer.write_text("summary.md", "a")
    (writer.partial_dir / "summary.md").write_text("b")
    with pytest.raises(BundleError, match="summary.md changed"):
        writer.finalize(MANIFEST_FACTS, **ENVELOPE)


@pytest.mark.parametrize("facts", [{**MANIFEST_FACTS, "artifacts": []}, {**MANIFEST_FACTS, "run_id": "other-run"}])
def test_finalize_refuses_manifest_facts_with_artifacts_or_another_run_id(writer: BundleWriter, facts: dict) -> None:
    with pytest.raises(BundleError, match="manifest"):
        writer.finalize(facts, **ENVELOPE)


def test_an_invalid_manifest_fails_finalize_and_leaves_only_the_partial(writer: BundleWriter) -> None:
    with pytest.raises(ReportSchemaError, match=r"run_manifest report invalid at \$\.facts_provided"):
        writer.finalize({**MANIFEST_FACTS, "config_sha256": "nope"}, **ENVELOPE)
    assert os.listdir(writer.partial_dir.parent) == [f"{RUN_ID}.partial"]


def test_nothing_can_be_written_after_finalize(writer: BundleWriter) -> None:
    writer.finalize(MANIFEST_FACTS, **ENVELOPE)
    with pytest.raises(BundleError, match="finalised"):
        writer.write_text("late.md", "x")


def test_safe_file_stem_is_path_safe_and_distinct_for_distinct_gate_ids() -> None:
    ids = [
        "gates/test_acceptance.py::test_retrieval_top1[seed0-image_to_text]",
        "gates/test_acceptance.py::test_retrieval_top1[seed0-image/to/text]",
        "..::[]",
    ]
    stems = [safe_file_stem(gate_id) for gate_id in ids]
    assert len(set(stems)) == len(stems)
    for stem in stems:
        check_bundle_path(f"evidence/{stem}.json")
    assert stems[0].startswith("gates_test_acceptance.py_test_retrieval_top1_seed0-image_to_text-")


def test_the_zip_is_optional_and_the_directory_stays_complete(tmp_path: Path, schemas: SchemaSet) -> None:
    writer = BundleWriter(tmp_path, RUN_ID, schemas=schemas, zip=False)
    writer.write_text("summary.md", "# mmgate\n")
    bundle = writer.finalize(MANIFEST_FACTS, **ENVELOPE)
    assert bundle.zip_path is None and sorted(os.listdir(tmp_path)) == [RUN_ID]
    assert sorted(p.name for p in bundle.directory.iterdir()) == ["hash_ledger.json", "run_manifest.json", "summary.md"]
