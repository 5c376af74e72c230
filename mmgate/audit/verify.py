"""Re-check an audit bundle (directory or zip): hashes, sizes, completeness and every report's schema.

Zip members with absolute paths, ``..`` segments, backslashes or symlink modes are refused before
anything is read; nothing is ever extracted.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmgate.audit.bundle import LEDGER_NAME, MANIFEST_NAME
from mmgate.records.canonical import parse_json_strict
from mmgate.records.hashing import sha256_bytes
from mmgate.records.reports import ReportSchemaError, validate_record, validate_report
from mmgate.records.schema_registry import SchemaSet, load_schemas

MAX_BUNDLE_BYTES = 1 << 30
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of verifying a bundle: ok, each problem found, files seen, reports validated, run id."""

    ok: bool
    problems: tuple[str, ...]
    n_files: int
    n_reports: int = 0
    run_id: str | None = None


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a zip member is refused (absolute, '..', backslash, empty segment, symlink, device), or None."""
    name = info.filename
    mode = info.external_attr >> 16
    segments = name.rstrip("/").split("/")
    if name.startswith("/") or _DRIVE.match(name):
        reason = "absolute path"
    elif "\\" in name:
        reason = "backslash in path"
    elif ".." in segments:
        reason = "'..' segment"
    elif any(segment in ("", ".") for segment in segments):
        reason = "empty or '.' segment"
    elif stat.S_ISLNK(mode):
        reason = "symbolic link"
    elif mode and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        reason = "not a regular file"
    else:
        return None
    return f"zip member {name!r} refused: {reason}"


def _read_zip(path: Path) -> tuple[dict[str, bytes], list[str]]:
    """Files of a bundle zip by path below its single top-level directory, or the refusals."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        return {}, [f"{path}: not a readable zip file ({exc})"]
    with archive:
        infos = archive.infolist()
        problems = [problem for problem in map(_member_problem, infos) if problem is not None]
        names = [info.filename for info in infos]
        repeated = sorted(name for name in set(names) if names.count(name) > 1)
        problems += [f"zip member {name!r} appears more than once" for name in repeated]
        if sum(info.file_size for info in infos) > MAX_BUNDLE_BYTES:
            problems.append(f"{path}: members expand past {MAX_BUNDLE_BYTES} bytes")
        members = [info for info in infos if not info.is_dir()]
        if len({info.filename.split("/", 1)[0] for info in members}) > 1 or any("/" not in m.filename for m in members):
            problems.append(f"{path}: a bundle zip holds exactly one top-level directory (the run id)")
        if problems:
            return {}, problems
        files: dict[str, bytes] = {}
        for info in members:
            try:
                files[info.filename.split("/", 1)[1]] = archive.read(info)
            except (zipfile.BadZipFile, zlib.error, OSError) as exc:
                problems.append(f"zip member {info.filename!r} unreadable ({exc})")
        return files, problems


def _read_directory(root: Path) -> tuple[dict[str, bytes], list[str]]:
    """Files of a bundle directory by relative POSIX path; symlinks and special files are refused."""
    files: dict[str, bytes] = {}
    problems: list[str] = []
    total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        for name in sorted(dirnames + filenames):
            entry = base / name
            relative = entry.relative_to(root).as_posix()
            if entry.is_symlink():
                problems.append(f"{relative}: symbolic link refused")
            elif name in filenames and not entry.is_file():
                problems.append(f"{relative}: not a regular file")
            elif name in filenames:
                total += entry.stat().st_size
                if total > MAX_BUNDLE_BYTES:
                    return files, [f"{root}: files exceed {MAX_BUNDLE_BYTES} bytes"]
                files[relative] = entry.read_bytes()
    return files, problems


def _parse_report(path: str, data: bytes, schemas: SchemaSet) -> tuple[Any, str | None, str | None]:
    """(report, kind, None) for a valid report file, else (None, None, problem)."""
    try:
        report = parse_json_strict(data.decode("utf-8"))
    except ValueError as exc:
        return None, None, f"{path}: not valid UTF-8 JSON ({exc})"
    try:
        return report, validate_report(report, schemas), None
    except ReportSchemaError as exc:
        return None, None, f"{path}: {exc}"


def _ledger_problems(files: Mapping[str, bytes], entries: list[dict[str, Any]]) -> list[str]:
    """Missing, resized, altered, duplicated and unlisted files against the ledger's entries."""
    paths = [entry["path"] for entry in entries]
    problems = []
    if paths != sorted(paths):
        problems.append(f"{LEDGER_NAME}: entries are not sorted by path")
    problems += [f"{LEDGER_NAME}: {p} listed more than once" for p in sorted(set(paths)) if paths.count(p) > 1]
    if LEDGER_NAME in paths:
        problems.append(f"{LEDGER_NAME}: lists itself")
    for entry in entries:
        path, data = entry["path"], files.get(entry["path"])
        if data is None:
            problems.append(f"{path}: listed in the hash ledger but missing")
        elif len(data) != entry["bytes"]:
            problems.append(f"{path}: size mismatch (ledger {entry['bytes']} bytes, file {len(data)} bytes)")
        elif sha256_bytes(data) != entry["sha256"]:
            problems.append(f"{path}: sha256 mismatch (ledger {entry['sha256']}, file {sha256_bytes(data)})")
    unlisted = sorted(set(files) - set(paths) - {LEDGER_NAME})
    problems += [f"{path}: extra file not listed in the hash ledger" for path in unlisted]
    return problems


def _records_problems(path: str, data: bytes, schema_name: str, schemas: SchemaSet) -> list[str]:
    """Each JSON Lines record of ``path`` against ``schema_name``."""
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        return [f"{path}: not valid UTF-8 ({exc})"]
    problems = []
    for number, line in enumerate(lines, start=1):
        try:
            validate_record(schema_name, parse_json_strict(line), schemas)
        except ValueError as exc:
            problems.append(f"{path} line {number}: not valid JSON ({exc})")
        except ReportSchemaError as exc:
            problems.append(f"{path} line {number}: {exc}")
    return problems


def _manifest_problems(
    files: Mapping[str, bytes],
    ledger: Mapping[str, Any],
    reports: Mapping[str, tuple[Any, str]],
    schemas: SchemaSet,
) -> list[str]:
    """The manifest's run id, artifact hashes and schema ids against the ledger and the files."""
    if MANIFEST_NAME not in files:
        return [f"{MANIFEST_NAME}: missing"]
    if MANIFEST_NAME not in reports:
        return []
    manifest, kind = reports[MANIFEST_NAME]
    if kind != "run_manifest":
        return [f"{MANIFEST_NAME}: report_kind is {kind!r}, expected 'run_manifest'"]
    facts = manifest["facts_provided"]
    problems = []
    if facts["run_id"] != ledger["run_id"]:
        problems.append(f"{MANIFEST_NAME}: run_id {facts['run_id']!r} differs from the ledger's {ledger['run_id']!r}")
    listed = {entry["path"]: entry for entry in ledger["files"] if entry["path"] != MANIFEST_NAME}
    artifacts = {artifact["path"]: artifact for artifact in facts["artifacts"]}
    for path in sorted(set(listed) - set(artifacts)):
        problems.append(f"{path}: in the hash ledger but not in the manifest's artifacts")
    for path in sorted(set(artifacts) - set(listed)):
        problems.append(f"{path}: in the manifest's artifacts but not in the hash ledger")
    schema_names = {schema_id: name for name, schema_id in schemas.ids.items()}
    for path in sorted(set(artifacts) & set(listed)):
        artifact = artifacts[path]
        if (artifact["sha256"], artifact["bytes"]) != (listed[path]["sha256"], listed[path]["bytes"]):
            problems.append(f"{path}: manifest and hash ledger disagree on sha256 or size")
        if path in reports and artifact["schema_id"] != schemas.ids[reports[path][1]]:
            problems.append(f"{path}: manifest schema_id {artifact['schema_id']!r} is not its kind's schema")
        elif path.endswith(".jsonl"):
            if artifact["schema_id"] not in schema_names:
                problems.append(f"{path}: manifest gives no known schema_id for its records")
            elif path in files:
                problems += _records_problems(path, files[path], schema_names[artifact["schema_id"]], schemas)
        elif not path.endswith(".json") and artifact["schema_id"] is not None:
            problems.append(f"{path}: manifest gives a schema_id to a file that is not JSON")
    return problems


# Files every release bundle holds besides the ledger. Each gate case's result and evidence lives
# in acceptance.json; bundles written before that also hold evidence/<gate>.json files, which are
# still checked like every other report (hash, manifest, schema) but no longer required.
RELEASE_FILES = (MANIFEST_NAME, "release_decision.json", "acceptance.json", "risk_log.json",
                 "config_log.jsonl", "report.html", "summary.md")
_PLOT_REFERENCE = re.compile(r'src="(plots/[A-Za-z0-9_][A-Za-z0-9._-]*)"')


def _completeness_problems(files: Mapping[str, bytes], reports: Mapping[str, tuple[Any, str]]) -> list[str]:
    """A release bundle must hold its fixed files, and every plot its report.html shows."""
    problems = [f"{name}: missing; every release bundle holds it" for name in RELEASE_FILES if name not in files]
    if "report.html" in files:
        page = files["report.html"].decode("utf-8", errors="replace")
        for path in sorted(set(_PLOT_REFERENCE.findall(page))):
            if path not in files:
                problems.append(f"{path}: missing; report.html shows it")
    return problems


def _verify_files(files: Mapping[str, bytes], schemas: SchemaSet) -> VerifyResult:
    """Verify a bundle's files (path -> bytes) against its ledger, manifest and schemas."""
    if LEDGER_NAME not in files:
        return VerifyResult(ok=False, problems=(f"{LEDGER_NAME}: missing; no hash ledger",), n_files=len(files))
    ledger_report, kind, problem = _parse_report(LEDGER_NAME, files[LEDGER_NAME], schemas)
    if problem is None and kind != "hash_ledger":
        problem = f"{LEDGER_NAME}: report_kind is {kind!r}, expected 'hash_ledger'"
    if problem is not None:
        return VerifyResult(ok=False, problems=(problem,), n_files=len(files))
    ledger = ledger_report["facts_provided"]
    problems = _ledger_problems(files, ledger["files"])
    reports: dict[str, tuple[Any, str]] = {LEDGER_NAME: (ledger_report, "hash_ledger")}
    for path in sorted(p for p in files if p.endswith(".json") and p != LEDGER_NAME):
        report, kind, problem = _parse_report(path, files[path], schemas)
        if problem is not None:
            problems.append(problem)
        else:
            reports[path] = (report, kind)
    problems += _manifest_problems(files, ledger, reports, schemas)
    problems += _completeness_problems(files, reports)
    return VerifyResult(
        ok=not problems, problems=tuple(problems), n_files=len(files), n_reports=len(reports), run_id=ledger["run_id"]
    )


def verify_bundle(path: str | Path, schemas: SchemaSet | None = None) -> VerifyResult:
    """Verify the bundle at ``path`` (its directory or its zip); never raises for a bad bundle."""
    root = Path(path)
    if root.is_dir():
        files, problems = _read_directory(root)
    elif root.is_file():
        files, problems = _read_zip(root)
    else:
        return VerifyResult(ok=False, problems=(f"{root}: no such bundle directory or zip file",), n_files=0)
    if problems:
        return VerifyResult(ok=False, problems=tuple(problems), n_files=len(files))
    return _verify_files(files, schemas if schemas is not None else load_schemas())
