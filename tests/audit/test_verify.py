"""Verifying a bundle: any changed, missing, extra or invalid file is reported; unsafe zips are refused."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from mmgate.audit.bundle import LEDGER_NAME, MANIFEST_NAME, Bundle
from mmgate.audit.verify import VerifyResult, verify_bundle
from mmgate.records.canonical import canonical_json
from mmgate.records.hashing import sha256_bytes
from mmgate.records.schema_registry import SchemaSet, load_schemas
from tests.report_samples import RUN_ID, build_bundle

Verify = Callable[[Path], VerifyResult]


@pytest.fixture(scope="module")
def schemas() -> SchemaSet:
    return load_schemas()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory, schemas: SchemaSet) -> Bundle:
    return build_bundle(tmp_path_factory.mktemp("pristine"), schemas)


@pytest.fixture
def bundle(pristine: Bundle, tmp_path: Path) -> Bundle:
    """A private copy of a freshly built bundle, free to tamper with."""
    directory = shutil.copytree(pristine.directory, tmp_path / RUN_ID)
    zip_path = Path(shutil.copy2(pristine.zip_path, tmp_path / pristine.zip_path.name))
    return replace(pristine, directory=directory, zip_path=zip_path)


@pytest.fixture
def verify(schemas: SchemaSet) -> Verify:
    return lambda path: verify_bundle(path, schemas)


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _reseal(directory: Path) -> None:
    """Recompute the manifest's and the ledger's hashes from disk, as a careless forger would."""
    manifest_path = directory / MANIFEST_NAME
    manifest = _load(manifest_path)
    for artifact in manifest["facts_provided"]["artifacts"]:
        data = (directory / artifact["path"]).read_bytes()
        artifact.update(sha256=sha256_bytes(data), bytes=len(data))
    manifest_path.write_text(canonical_json(manifest), encoding="utf-8")
    ledger_path = directory / LEDGER_NAME
    ledger = _load(ledger_path)
    for entry in ledger["facts_provided"]["files"]:
        data = (directory / entry["path"]).read_bytes()
        entry.update(sha256=sha256_bytes(data), bytes=len(data))
    ledger_path.write_text(canonical_json(ledger), encoding="utf-8")


def _zip(path: Path, members: dict[str, bytes], modes: dict[str, int] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (modes or {}).get(name, 0o100644) << 16
            archive.writestr(info, data)
    return path


def _members(bundle: Bundle) -> dict[str, bytes]:
    return {
        f"{RUN_ID}/{p.relative_to(bundle.directory).as_posix()}": p.read_bytes()
        for p in sorted(bundle.directory.rglob("*"))
        if p.is_file()
    }


def _failed(result: VerifyResult, *fragments: str) -> str:
    assert not result.ok
    text = "\n".join(result.problems)
    for fragment in fragments:
        assert fragment in text, text
    return text


def test_a_fresh_bundle_verifies_as_directory_and_as_zip(bundle: Bundle, verify: Verify) -> None:
    for path in (bundle.directory, bundle.zip_path):
        result = verify(path)
        assert result == VerifyResult(ok=True, problems=(), n_files=11, n_reports=7, run_id=RUN_ID)


def test_a_modified_byte_is_a_sha256_mismatch(bundle: Bundle, verify: Verify) -> None:
    target = bundle.directory / "plots" / "retrieval.png"
    data = bytearray(target.read_bytes())
    data[5] ^= 0x01
    target.write_bytes(bytes(data))
    _failed(verify(bundle.directory), "plots/retrieval.png: sha256 mismatch")


def test_a_resized_file_is_a_size_mismatch(bundle: Bundle, verify: Verify) -> None:
    with open(bundle.directory / "summary.md", "a", encoding="utf-8") as handle:
        handle.write("REJECT\n")
    _failed(verify(bundle.directory), "summary.md: size mismatch (ledger 17 bytes, file 24 bytes)")


def test_a_modified_byte_inside_the_zip_is_a_sha256_mismatch(bundle: Bundle, tmp_path: Path, verify: Verify) -> None:
    members = _members(bundle)
    members[f"{RUN_ID}/release_decision.json"] = members[f"{RUN_ID}/release_decision.json"].replace(
        b"APPROVE", b"APPROVe"
    )
    _failed(verify(_zip(tmp_path / "t.zip", members)), "release_decision.json: sha256 mismatch")


def test_a_deleted_file_is_reported_missing(bundle: Bundle, verify: Verify) -> None:
    (bundle.directory / "risk_log.json").unlink()
    _failed(verify(bundle.directory), "risk_log.json: listed in the hash ledger but missing")


def test_an_added_file_is_reported_as_unlisted(bundle: Bundle, tmp_path: Path, verify: Verify) -> None:
    (bundle.directory / "evidence" / "extra.txt").write_text("x")
    _failed(verify(bundle.directory), "evidence/extra.txt: extra file not listed in the hash ledger")
    members = {**_members(bundle), f"{RUN_ID}/notes.md": b"x"}
    _failed(verify(_zip(tmp_path / "t.zip", members)), "notes.md: extra file not listed")


def test_a_tampered_ledger_hash_is_a_mismatch(bundle: Bundle, verify: Verify) -> None:
    path = bundle.directory / LEDGER_NAME
    ledger = _load(path)
    ledger["facts_provided"]["files"][0]["sha256"] = "0" * 64
    path.write_text(canonical_json(ledger), encoding="utf-8")
    _failed(
        verify(bundle.directory), "acceptance.json: sha256 mismatch (ledger 0000", "manifest and hash ledger disagree"
    )


def test_a_ledger_that_drops_a_file_leaves_it_unlisted_and_out_of_step_with_the_manifest(
    bundle: Bundle, verify: Verify
) -> None:
    path = bundle.directory / LEDGER_NAME
    ledger = _load(path)
    ledger["facts_provided"]["files"] = [e for e in ledger["facts_provided"]["files"] if e["path"] != "summary.md"]
    path.write_text(canonical_json(ledger), encoding="utf-8")
    _failed(
        verify(bundle.directory),
        "summary.md: extra file not listed in the hash ledger",
        "summary.md: in the manifest's artifacts but not in the hash ledger",
    )


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"{not json", "not valid UTF-8 JSON"),
        (b'{"facts_provided": {"report_kind": "risk_log"}}', "risk_log report invalid"),
    ],
)
def test_a_corrupt_or_wrong_kind_ledger_fails_verification(
    bundle: Bundle, content: bytes, fragment: str, verify: Verify
) -> None:
    (bundle.directory / LEDGER_NAME).write_bytes(content)
    _failed(verify(bundle.directory), f"{LEDGER_NAME}: ", fragment)


def test_a_missing_ledger_fails_verification(bundle: Bundle, verify: Verify) -> None:
    (bundle.directory / LEDGER_NAME).unlink()
    _failed(verify(bundle.directory), f"{LEDGER_NAME}: missing")


def test_an_invalid_report_fails_even_when_every_hash_is_resealed(bundle: Bundle, verify: Verify) -> None:
    path = bundle.directory / "release_decision.json"
    report = _load(path)
    report["facts_provided"]["failed_gates"] = ["gates/test_acceptance.py::test_retrieval_top1[seed0]"]
    path.write_text(canonical_json(report), encoding="utf-8")
    _reseal(bundle.directory)
    text = _failed(
        verify(bundle.directory),
        "release_decision.json: release_decision report invalid at $.facts_provided.failed_gates",
    )
    assert "sha256" not in text


def test_an_invalid_config_log_line_fails_verification(bundle: Bundle, verify: Verify) -> None:
    path = bundle.directory / "config_log.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text(
        lines[0] + "\n" + lines[1].replace('"source":"pyproject.toml"', '"source":""') + "\n", encoding="utf-8"
    )
    _reseal(bundle.directory)
    _failed(verify(bundle.directory), "config_log.jsonl line 2: config_log_record report invalid at $.source")


def test_a_missing_manifest_fails_verification(bundle: Bundle, verify: Verify) -> None:
    path = bundle.directory / LEDGER_NAME
    ledger = _load(path)
    ledger["facts_provided"]["files"] = [e for e in ledger["facts_provided"]["files"] if e["path"] != MANIFEST_NAME]
    path.write_text(canonical_json(ledger), encoding="utf-8")
    (bundle.directory / MANIFEST_NAME).unlink()
    _failed(verify(bundle.directory), f"{MANIFEST_NAME}: missing")


def test_a_manifest_schema_id_that_does_not_match_the_report_kind_fails(bundle: Bundle, verify: Verify) -> None:
    path = bundle.directory / MANIFEST_NAME
    manifest = _load(path)
    for artifact in manifest["facts_provided"]["artifacts"]:
        if artifact["path"] == "risk_log.json":
            artifact["schema_id"] = "urn:mmgate:schema:acceptance:1.0.0"
        if artifact["path"] == "summary.md":
            artifact["schema_id"] = "urn:mmgate:schema:acceptance:1.0.0"
    path.write_text(canonical_json(manifest), encoding="utf-8")
    _reseal(bundle.directory)
    _failed(
        verify(bundle.directory),
        "risk_log.json: manifest schema_id 'urn:mmgate:schema:acceptance:1.0.0' is not its kind's schema",
        "summary.md: manifest gives a schema_id to a file that is not JSON",
    )


def test_a_manifest_with_another_run_id_fails(bundle: Bundle, verify: Verify) -> None:
    path = bundle.directory / MANIFEST_NAME
    manifest = _load(path)
    manifest["facts_provided"]["run_id"] = "someone-else"
    path.write_text(canonical_json(manifest), encoding="utf-8")
    _reseal(bundle.directory)
    _failed(verify(bundle.directory), "run_id 'someone-else' differs from the ledger's")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../evil", "'..' segment"),
        (f"{RUN_ID}/../../evil", "'..' segment"),
        ("/etc/evil", "absolute path"),
        ("C:/evil", "absolute path"),
        (f"{RUN_ID}\\evil", "backslash"),
        (f"{RUN_ID}//evil", "empty or '.' segment"),
    ],
)
def test_zip_members_with_unsafe_names_are_refused(
    bundle: Bundle, tmp_path: Path, name: str, reason: str, verify: Verify
) -> None:
    path = _zip(tmp_path / "evil.zip", {**_members(bundle), name: b"pwned"})
    result = verify(path)
    _failed(result, f"zip member {name!r} refused: {reason}")
    assert not (tmp_path / "evil").exists() and not Path("/etc/evil").exists()


def test_zip_symlink_members_are_refused(bundle: Bundle, tmp_path: Path, verify: Verify) -> None:
    name = f"{RUN_ID}/link"
    path = _zip(tmp_path / "link.zip", {**_members(bundle), name: b"/etc/passwd"}, {name: 0o120777})
    _failed(verify(path), f"zip member {name!r} refused: symbolic link")


def test_a_zip_must_hold_one_top_level_directory(bundle: Bundle, tmp_path: Path, verify: Verify) -> None:
    members = {name.split("/", 1)[1]: data for name, data in _members(bundle).items()}
    _failed(verify(_zip(tmp_path / "flat.zip", members)), "exactly one top-level directory")


def test_symlinks_inside_a_bundle_directory_are_refused(bundle: Bundle, verify: Verify) -> None:
    os.symlink("/etc/hostname", bundle.directory / "host")
    _failed(verify(bundle.directory), "host: symbolic link refused")


def test_a_path_that_is_neither_directory_nor_zip_fails_with_a_message(tmp_path: Path, verify: Verify) -> None:
    _failed(verify(tmp_path / "nope"), "no such bundle directory or zip file")
    (tmp_path / "plain.txt").write_text("hello")
    _failed(verify(tmp_path / "plain.txt"), "not a readable zip file")


def _drop(bundle: Bundle, dropped: str) -> None:
    """Remove a file and its manifest and ledger entries, so that only completeness can catch it."""
    (bundle.directory / dropped).unlink()
    for name, key in ((MANIFEST_NAME, "artifacts"), (LEDGER_NAME, "files")):
        report = _load(bundle.directory / name)
        report["facts_provided"][key] = [e for e in report["facts_provided"][key] if e["path"] != dropped]
        (bundle.directory / name).write_text(canonical_json(report), encoding="utf-8")
    _reseal(bundle.directory)


@pytest.mark.parametrize("dropped", ["release_decision.json", "summary.md", "acceptance.json"])
def test_a_bundle_missing_a_release_file_fails_even_when_manifest_and_ledger_agree(
        bundle: Bundle, verify: Verify, dropped: str) -> None:
    _drop(bundle, dropped)
    _failed(verify(bundle.directory), f"{dropped}: missing")


def test_per_gate_evidence_files_are_optional_since_acceptance_json_holds_the_evidence(
        bundle: Bundle, verify: Verify) -> None:
    for path in sorted((bundle.directory / "evidence").glob("*.json")):
        _drop(bundle, f"evidence/{path.name}")
    assert verify(bundle.directory).ok


def test_a_plot_report_html_shows_must_be_in_the_bundle(bundle: Bundle, verify: Verify) -> None:
    page = bundle.directory / "report.html"
    page.write_text('<img src="plots/retrieval.png"><img src="plots/gone_seed0.png">', encoding="utf-8")
    _reseal(bundle.directory)
    text = _failed(verify(bundle.directory), "plots/gone_seed0.png: missing; report.html shows it")
    assert "plots/retrieval.png: missing" not in text
