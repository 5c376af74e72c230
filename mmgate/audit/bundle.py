"""The audit bundle: files written into ``<out>/<run_id>.partial/``, then a run manifest and a
sha256 hash ledger, an atomic rename to ``<out>/<run_id>/`` and, when asked, a deterministic
``<out>/<run_id>.zip`` holding the same files under ``<run_id>/``.

A half-written bundle never appears under its final name: until ``finalize`` succeeds only the
``.partial`` directory exists.
"""

from __future__ import annotations

import io
import json
import os
import re
import stat
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mmgate.errors import InputError, MmgateError
from mmgate.records.atomic import write_bytes_atomic
from mmgate.records.canonical import JsonValueError, canonical_json_line
from mmgate.records.hashing import sha256_bytes, sha256_text
from mmgate.records.reports import (
    ReportSchemaError,
    report_bytes,
    strict_report,
    validate_record,
)
from mmgate.records.schema_registry import SchemaSet, load_schemas

LEDGER_NAME = "hash_ledger.json"
MANIFEST_NAME = "run_manifest.json"
PARTIAL_SUFFIX = ".partial"
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
ZIP_FILE_MODE = stat.S_IFREG | 0o644
RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
BUNDLE_PATH_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*$")
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_PATH = 255


class BundleError(MmgateError):
    """The bundle cannot be written as asked (bad path, duplicate file, existing bundle, stray file)."""


@dataclass(frozen=True)
class Artifact:
    """One file of the bundle: relative path, sha256, size and the schema its content follows."""

    path: str
    sha256: str
    bytes: int
    schema_id: str | None


@dataclass(frozen=True)
class Bundle:
    """A finalised bundle: its directory, its zip (None when none was asked for), and the
    ledger's sha256 to record elsewhere."""

    run_id: str
    directory: Path
    zip_path: Path | None
    n_files: int
    ledger_sha256: str


def safe_file_stem(text: str, max_len: int = 80) -> str:
    """File-name-safe, collision-resistant stem for ``text`` (e.g. a pytest node id): cleaned
    characters plus the first 10 hex digits of the text's sha256."""
    cleaned = _UNSAFE_CHARS.sub("_", text).strip("._-")[:max_len] or "item"
    return f"{cleaned}-{sha256_text(text)[:10]}"


def check_run_id(run_id: str) -> str:
    """Return ``run_id`` if it is file-name safe (1-128 of ``A-Za-z0-9._-``, alphanumeric first)."""
    if not isinstance(run_id, str) or not RUN_ID_PATTERN.match(run_id):
        raise InputError(f"run_id {run_id!r}: expected 1-128 characters of A-Za-z0-9._- starting alphanumeric")
    return run_id


def check_bundle_path(path: str) -> str:
    """Return ``path`` if it is a relative POSIX path of safe segments (no '..', no hidden names)."""
    if not isinstance(path, str) or len(path) > _MAX_PATH or not BUNDLE_PATH_PATTERN.match(path):
        raise BundleError(
            f"bundle path {path!r}: expected a relative POSIX path of segments [A-Za-z0-9_][A-Za-z0-9._-]*"
        )
    return path


def deterministic_zip(files: Mapping[str, bytes], root: str) -> bytes:
    """Zip ``files`` under ``root/``: sorted members, 1980-01-01 timestamps, mode 0644, deflated.

    The same files give the same bytes on every run.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(files):
            info = zipfile.ZipInfo(f"{root}/{path}", date_time=ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = ZIP_FILE_MODE << 16
            archive.writestr(info, files[path])
    return buffer.getvalue()


def _files_on_disk(directory: Path) -> dict[str, Path]:
    """Every file (or symlink) under ``directory`` by relative POSIX path."""
    return {
        path.relative_to(directory).as_posix(): path
        for path in sorted(directory.rglob("*"))
        if path.is_file() or path.is_symlink()
    }


class BundleWriter:
    """Writes one run's bundle: validated reports, JSON Lines records and opaque files, each once.

    Files land in ``<out>/<run_id>.partial/``; ``finalize`` adds the manifest and the hash
    ledger, renames the directory to ``<out>/<run_id>/`` and, if ``zip``, writes
    ``<out>/<run_id>.zip`` (same files, same relative paths, so ``report.html`` still finds its
    ``plots/`` once extracted).
    """

    def __init__(self, out_dir: str | Path, run_id: str, *, schemas: SchemaSet | None = None,
                 zip: bool = True) -> None:
        self.run_id = check_run_id(run_id)
        out = Path(out_dir)
        self.final_dir = out / run_id
        self.zip_path = out / f"{run_id}.zip"
        self.write_zip = bool(zip)
        self.partial_dir = out / f"{run_id}{PARTIAL_SUFFIX}"
        for existing in (self.final_dir, self.zip_path):
            if existing.exists():
                raise BundleError(f"bundle {existing} already exists; run ids must be unique")
        self._schemas = schemas if schemas is not None else load_schemas()
        self._artifacts: dict[str, Artifact] = {}
        self._finalized = False
        out.mkdir(parents=True, exist_ok=True)
        try:
            self.partial_dir.mkdir()
        except FileExistsError as exc:
            raise BundleError(f"{self.partial_dir} already exists (an interrupted run with the same run id?)") from exc

    @property
    def artifacts(self) -> tuple[Artifact, ...]:
        """The files written so far, sorted by path."""
        return tuple(self._artifacts[path] for path in sorted(self._artifacts))

    def _store(self, path: str, data: bytes, schema_id: str | None, reserved_ok: bool = False) -> Artifact:
        """Write ``data`` atomically at ``path`` inside the partial directory and record it."""
        if self._finalized:
            raise BundleError(f"bundle {self.run_id} is finalised; cannot add {path!r}")
        check_bundle_path(path)
        if not reserved_ok and path in (LEDGER_NAME, MANIFEST_NAME):
            raise BundleError(f"bundle path {path!r} is reserved for the writer's own {path}")
        if path in self._artifacts:
            raise BundleError(f"bundle path {path!r} written twice")
        target = self.partial_dir / path
        if target.parent.exists() and not target.parent.is_dir():
            raise BundleError(f"bundle path {path!r}: {target.parent.name!r} is a file, not a directory")
        digest = write_bytes_atomic(target, data)
        artifact = Artifact(path=path, sha256=digest, bytes=len(data), schema_id=schema_id)
        self._artifacts[path] = artifact
        return artifact

    def _report(self, path: str, report: Mapping[str, Any], reserved_ok: bool = False) -> Artifact:
        if not path.endswith(".json"):
            raise BundleError(f"bundle path {path!r}: reports are .json files")
        kind, data = report_bytes(report, self._schemas)
        return self._store(path, data, self._schemas.ids[kind], reserved_ok)

    def write_report(self, path: str, report: Mapping[str, Any]) -> Artifact:
        """Validate a strict report against its kind's schema and write it as canonical JSON."""
        return self._report(path, report)

    def write_records(self, path: str, schema_name: str, records: Iterable[Mapping[str, Any]]) -> Artifact:
        """Validate each record against ``schema_name`` and write them as JSON Lines (one per line)."""
        if not path.endswith(".jsonl"):
            raise BundleError(f"bundle path {path!r}: record files are .jsonl files")
        lines = []
        for index, record in enumerate(records):
            try:
                line = canonical_json_line(record)
            except JsonValueError as exc:
                raise ReportSchemaError(schema_name, f"line {index + 1} {exc.json_path}", exc.reason) from exc
            try:
                validate_record(schema_name, json.loads(line), self._schemas)
            except ReportSchemaError as exc:
                raise ReportSchemaError(schema_name, f"line {index + 1} {exc.json_path}", exc.message) from exc
            lines.append(line + "\n")
        return self._store(path, "".join(lines).encode("utf-8"), self._schemas.ids[schema_name])

    def write_bytes(self, path: str, data: bytes) -> Artifact:
        """Write an opaque file (PNG, HTML, Markdown); JSON must go through write_report/write_records."""
        if path.endswith((".json", ".jsonl")):
            raise BundleError(f"bundle path {path!r}: JSON files must be written with write_report or write_records")
        return self._store(path, bytes(data), None)

    def write_text(self, path: str, text: str) -> Artifact:
        """Write a UTF-8 text file (HTML, Markdown)."""
        return self.write_bytes(path, text.encode("utf-8"))

    def _check_disk(self) -> None:
        """Fail if the partial directory holds files the writer did not write or that changed since."""
        on_disk = _files_on_disk(self.partial_dir)
        stray = sorted(set(on_disk) - set(self._artifacts))
        if stray:
            raise BundleError(f"bundle {self.run_id}: files not written through the writer: {', '.join(stray)}")
        for path, artifact in self._artifacts.items():
            if path not in on_disk or sha256_bytes(on_disk[path].read_bytes()) != artifact.sha256:
                raise BundleError(f"bundle {self.run_id}: {path} changed or vanished after it was written")

    def _ledger_report(self) -> dict[str, Any]:
        files = [{"path": a.path, "sha256": a.sha256, "bytes": a.bytes} for a in self.artifacts]
        return strict_report(
            "hash_ledger",
            {"run_id": self.run_id, "algorithm": "sha256", "files": files},
            assumptions={"scope": "Every file of the bundle except this ledger, hashed over its exact bytes."},
            open_items=[],
            analysis=f"{len(files)} files hashed with sha256; `python -m mmgate verify` recomputes them.",
            draft_output={},
            questions_to_verify=["Does this ledger's sha256 match the copy recorded outside the bundle?"],
        )

    def finalize(
        self,
        manifest_facts: Mapping[str, Any],
        *,
        assumptions: Mapping[str, str],
        open_items: Sequence[str],
        analysis: str,
        draft_output: Mapping[str, Any],
        questions_to_verify: Sequence[str],
    ) -> Bundle:
        """Write the run manifest (its artifact list built from what was written) and the hash
        ledger, rename the directory to its final name and write the deterministic zip (if asked)."""
        if "artifacts" in manifest_facts:
            raise BundleError("manifest_facts must not hold 'artifacts'; the writer lists what it wrote")
        if manifest_facts.get("run_id", self.run_id) != self.run_id:
            raise BundleError(f"manifest run_id {manifest_facts['run_id']!r} differs from the bundle's {self.run_id!r}")
        self._check_disk()
        manifest = strict_report(
            "run_manifest",
            {**manifest_facts, "run_id": self.run_id, "artifacts": [asdict(a) for a in self.artifacts]},
            assumptions=assumptions,
            open_items=open_items,
            analysis=analysis,
            draft_output=draft_output,
            questions_to_verify=questions_to_verify,
        )
        self._report(MANIFEST_NAME, manifest, reserved_ok=True)
        ledger = self._report(LEDGER_NAME, self._ledger_report(), reserved_ok=True)
        self._check_disk()
        self._finalized = True
        if self.final_dir.exists():
            raise BundleError(f"bundle {self.final_dir} appeared during the run; left {self.partial_dir} in place")
        os.rename(self.partial_dir, self.final_dir)
        if self.write_zip:
            contents = {path: (self.final_dir / path).read_bytes() for path in self._artifacts}
            write_bytes_atomic(self.zip_path, deterministic_zip(contents, self.run_id))
        return Bundle(
            run_id=self.run_id,
            directory=self.final_dir,
            zip_path=self.zip_path if self.write_zip else None,
            n_files=len(self._artifacts),
            ledger_sha256=ledger.sha256,
        )
