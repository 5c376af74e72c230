"""Canaries from files: a CSV (header row) or JSONL table with an image path and a caption per row,
optional group, factor and confounder columns, read into a ``PairedSet`` whose images stay on disk
(``ImageFiles``) until a batch is sliced. Everything cheap is checked up front (columns, values,
duplicates, paths escaping the table's folder, missing files); decoding is lazy, ``validate()`` eager.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mmgate.errors import ConfigError, InputError
from mmgate.subjects.lazy_images import ImageFiles, raise_all, relative_image_path

FORMATS = (".csv", ".jsonl", ".ndjson")
_INTEGER = re.compile(r"[+-]?\d+")


@dataclass(frozen=True)
class Row:
    """One data row of the table: its 1-based number, where it is in the file, and its values."""

    number: int
    origin: str
    values: Mapping[str, Any]


def manifest_fields(path: str | os.PathLike, image_column: str = "image", text_column: str = "caption",
                    group_column: str | None = None, factor_columns: Sequence[str] = (),
                    confounder_columns: Sequence[str] = (), name: str | None = None) -> dict[str, Any]:
    """The ``PairedSet`` fields the table at ``path`` describes (see the module docstring), for
    ``PairedSet.from_manifest`` (this module does not import the class it feeds)."""
    table = Path(path)
    columns = _columns(image_column, text_column, group_column, factor_columns, confounder_columns)
    rows = list(_table_rows(table, columns))
    if len(rows) < 2:
        raise InputError(f"{table}: expected at least 2 data rows, got {len(rows)}")
    root = os.path.dirname(os.path.abspath(table))
    files = tuple(_image_file(table, row, image_column) for row in rows)
    texts = [_caption(table, row, text_column) for row in rows]
    _check_duplicates(table, rows, files, texts)
    images = ImageFiles(root, files, tuple(row.number for row in rows), str(table), image_column)
    _check_files_exist(images)
    return {
        "images": images,
        "texts": texts,
        "factors": {c: _integers(table, rows, c) for c in factor_columns},
        "confounders": {c: _integers(table, rows, c) for c in confounder_columns},
        "name": name or table.stem,
        "groups": None if group_column is None else _group_labels(table, rows, group_column),
    }


def _columns(image_column: str, text_column: str, group_column: str | None,
             factor_columns: Sequence[str], confounder_columns: Sequence[str]) -> tuple[str, ...]:
    """Every column the table must have, in order; ConfigError on a bad or repeated name."""
    if isinstance(factor_columns, str) or isinstance(confounder_columns, str):
        raise ConfigError("factor_columns / confounder_columns: expected a sequence of column names, "
                          "got a string")
    named = [image_column, text_column, *([] if group_column is None else [group_column]),
             *factor_columns, *confounder_columns]
    for column in named:
        if not isinstance(column, str) or not column:
            raise ConfigError(f"manifest columns: expected non-empty strings, got {column!r}")
    repeated = sorted({c for c in named if named.count(c) > 1})
    if repeated:
        raise ConfigError(f"manifest columns: each column may play one role, {repeated} repeat")
    return tuple(named)


def _table_rows(table: Path, columns: tuple[str, ...]) -> Iterator[Row]:
    """The data rows of a CSV or JSONL table, each checked to have every column in ``columns``."""
    suffix = table.suffix.lower()
    if suffix not in FORMATS:
        raise ConfigError(f"{table}: unsupported manifest format {table.suffix!r}; expected one of "
                          f"{', '.join(FORMATS)}")
    if not table.is_file():
        raise InputError(f"{table}: manifest not found (no such file)")
    reader = _csv_rows if suffix == ".csv" else _jsonl_rows
    try:
        yield from reader(table, columns)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{table}: cannot read the table as UTF-8 {suffix[1:].upper()} ({exc})") from exc


def _csv_rows(table: Path, columns: tuple[str, ...]) -> Iterator[Row]:
    with open(table, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [c for c in columns if c not in header]
        if missing:
            raise ConfigError(f"{table}: missing column(s) {missing}; the header has {header}")
        for number, values in enumerate(reader, start=1):
            origin = f"row {number} (line {reader.line_num})"
            if None in values or None in values.values():
                raise InputError(f"{table}: {origin}: expected {len(header)} fields like the header "
                                 f"{header}, got a different count")
            yield Row(number, origin, values)


def _jsonl_rows(table: Path, columns: tuple[str, ...]) -> Iterator[Row]:
    with open(table, encoding="utf-8-sig") as handle:
        number = 0
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            number += 1
            origin = f"row {number} (line {line_number})"
            try:
                values = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{table}: {origin}: invalid JSON ({exc})") from exc
            if not isinstance(values, dict):
                raise InputError(f"{table}: {origin}: expected a JSON object, got "
                                 f"{type(values).__name__}")
            missing = [c for c in columns if c not in values]
            if missing:
                raise ConfigError(f"{table}: {origin}: missing column(s) {missing}; the row has "
                                  f"{sorted(values)}")
            yield Row(number, origin, values)


def _at(table: Path, row: Row, column: str) -> str:
    return f"{table}: {row.origin}, column {column!r}"


def _image_file(table: Path, row: Row, column: str) -> str:
    """The row's image path, normalised, relative to the table's folder; refuses escapes."""
    value = row.values[column]
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{_at(table, row, column)}: expected a non-empty image path, got {value!r}")
    return relative_image_path(value, _at(table, row, column), "the table's folder")


def _caption(table: Path, row: Row, column: str) -> str:
    value = row.values[column]
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{_at(table, row, column)}: expected a non-empty caption, got {value!r}")
    return value


def _check_duplicates(table: Path, rows: list[Row], files: tuple[str, ...], texts: list[str]) -> None:
    """Refuse rows repeating an earlier row's (image path, caption): listed all at once."""
    first: dict[tuple[str, str], Row] = {}
    problems = []
    for row, pair in zip(rows, zip(files, texts)):
        if pair in first:
            problems.append(f"{row.origin} repeats {first[pair].origin}: image {pair[0]!r}, "
                            f"caption {pair[1]!r}")
        else:
            first[pair] = row
    raise_all(problems, f"{table}: {len(problems)} duplicate row(s) (same image and caption)")


def _check_files_exist(images: ImageFiles) -> None:
    """``os.stat`` each distinct image once; one InputError lists every missing or non-file row."""
    present: dict[str, bool] = {}
    problems = []
    for i, name in enumerate(images.files):
        if name not in present:
            present[name] = os.path.isfile(images.path(i))
        if not present[name]:
            problems.append(f"{images.where(i)}: no such image file (or not a regular file)")
    raise_all(problems, f"{images.table}: {len(problems)} of {len(images)} rows name a missing image file")


def _integer(row: Row, column: str) -> int | None:
    """The value as an int (JSON integer or an integer string), None when it is not one."""
    value = row.values[column]
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value.strip())
    return None


def _integers(table: Path, rows: list[Row], column: str) -> np.ndarray:
    """A factor or confounder column as int64 labels; InputError names the first bad row."""
    out = []
    for row in rows:
        value = _integer(row, column)
        if value is None or not -2 ** 63 <= value < 2 ** 63:
            raise InputError(f"{_at(table, row, column)}: expected an integer label, got "
                             f"{row.values[column]!r}")
        out.append(value)
    return np.asarray(out, dtype=np.int64)


def _group_labels(table: Path, rows: list[Row], column: str) -> np.ndarray:
    """Integer group labels as they are, or any other labels (e.g. COCO image ids as strings)
    numbered 0, 1, ... by first appearance; empty or non-scalar labels are refused."""
    for row in rows:
        value = row.values[column]
        if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value).strip() == "":
            raise InputError(f"{_at(table, row, column)}: expected an integer or a non-empty string "
                             f"group label, got {value!r}")
    as_ints = [_integer(row, column) for row in rows]
    if all(v is not None and -2 ** 63 <= v < 2 ** 63 for v in as_ints):
        return np.asarray(as_ints, dtype=np.int64)
    numbering: dict[str, int] = {}
    keys = [str(row.values[column]).strip() for row in rows]
    return np.asarray([numbering.setdefault(k, len(numbering)) for k in keys], dtype=np.int64)
