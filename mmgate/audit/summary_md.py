"""Markdown summary of a release decision for a pull-request comment, and the validated, sorted
gate rows that every human-facing rendering (markdown, HTML) shows."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mmgate.errors import InputError

DECISIONS = ("APPROVE", "REJECT", "INCOMPLETE")
STATUS_WORDS = {
    "APPROVE": "release cleared", "REJECT": "release blocked", "INCOMPLETE": "evidence incomplete",
}
STATUS_ORDER = ("failed", "error", "missing", "skipped", "not_applicable", "passed")
DECISION_LISTS = (
    ("failed_gates", "failed"),
    ("errored_gates", "error"),
    ("missing_gates", "missing"),
    ("not_applicable_gates", "not_applicable"),
    ("passed_gates", "passed"),
)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class GateRow:
    """One gate as shown to a reviewer: id, status and display strings for value and threshold."""

    gate_id: str
    status: str
    measured: str
    threshold: str
    message: str
    reason: str


def check_decision(decision: Mapping[str, object]) -> None:
    """Raise InputError unless ``decision`` has the release-decision facts the renderings show."""
    if not isinstance(decision, Mapping):
        raise InputError(f"decision: expected a mapping, got {type(decision).__name__}")
    for key in ("decision", "run_id", "contract_sha256", "subject", "counts",
                *(name for name, _ in DECISION_LISTS)):
        if key not in decision:
            raise InputError(f"decision: missing key {key!r}")
    if decision["decision"] not in DECISIONS:
        raise InputError(f"decision['decision']: expected one of {DECISIONS}, "
                         f"got {decision['decision']!r}")
    if not isinstance(decision["run_id"], str):
        raise InputError("decision['run_id']: expected a string")
    sha = decision["contract_sha256"]
    if not isinstance(sha, str) or not _SHA256.match(sha):
        raise InputError(f"decision['contract_sha256']: expected 64 lowercase hex digits, "
                         f"got {sha!r}")
    subject = decision["subject"]
    if not isinstance(subject, Mapping) or not isinstance(subject.get("name"), str):
        raise InputError("decision['subject']: expected a mapping with a string 'name'")
    counts = decision["counts"]
    if not isinstance(counts, Mapping) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
            for k, v in counts.items()):
        raise InputError("decision['counts']: expected a mapping of status -> integer count")
    for name, _ in DECISION_LISTS:
        ids = decision[name]
        if (isinstance(ids, str) or not isinstance(ids, Sequence)
                or not all(isinstance(i, str) for i in ids)):
            raise InputError(f"decision[{name!r}]: expected a list of gate id strings")


def gate_rows(decision: Mapping[str, object],
              results: Sequence[Mapping[str, object]]) -> tuple[GateRow, ...]:
    """Rows for every gate result plus every gate the decision lists without a result (so a gate
    missing from ``results`` is never hidden), sorted failed, error, missing, skipped,
    not_applicable, passed, then by gate id."""
    check_decision(decision)
    if isinstance(results, (str, bytes)) or not isinstance(results, Sequence):
        raise InputError("results: expected a list of gate result mappings")
    rows = [_row(result, index) for index, result in enumerate(results)]
    seen = {row.gate_id for row in rows}
    for name, status in DECISION_LISTS:
        for gate_id in decision[name]:
            if gate_id not in seen:
                seen.add(gate_id)
                message = f"listed in the release decision as {status}; no gate result recorded"
                rows.append(GateRow(gate_id, status, "n/a", "n/a", message, ""))
    return tuple(sorted(rows, key=lambda row: (STATUS_ORDER.index(row.status), row.gate_id)))


def format_measured(measured: Mapping[str, object] | None) -> str:
    """``value [ci_low, ci_high]`` plus any further measured numbers as ``name=value``; ``n/a``
    when nothing was measured."""
    if not measured:
        return "n/a"
    parts = []
    if "value" in measured:
        text = _number(measured["value"])
        if measured.get("ci_low") is not None and measured.get("ci_high") is not None:
            text += f" [{_number(measured['ci_low'])}, {_number(measured['ci_high'])}]"
        parts.append(text)
    parts.extend(f"{key}={_number(measured[key])}" for key in sorted(measured)
                 if key not in ("value", "ci_low", "ci_high"))
    return ", ".join(parts) if parts else "n/a"


def format_threshold(threshold: Mapping[str, object] | None) -> str:
    """``op value (basis)``, e.g. ``>= 0.55 (lower_bound)``; ``n/a`` for a gate without one."""
    if threshold is None:
        return "n/a"
    return f"{threshold['op']} {_number(threshold['value'])} ({threshold['basis']})"


def render_summary(decision: Mapping[str, object], results: Sequence[Mapping[str, object]]) -> str:
    """GitHub-flavoured markdown for a pull-request comment: decision heading, counts, a table of
    every non-passing gate, the number of passing gates, contract hash prefix and run id."""
    rows = gate_rows(decision, results)
    verdict = str(decision["decision"])
    lines = [f"## mmgate release decision: {verdict} ({STATUS_WORDS[verdict]})", ""]
    lines.append(f"Subject: {_cell(str(decision['subject']['name']))}")
    lines.append("")
    counts = ", ".join(f"{_cell(key)} {value}" for key, value in _ordered_counts(decision))
    lines.append(f"Counts: {counts}")
    lines.append("")
    open_rows = [row for row in rows if row.status != "passed"]
    if open_rows:
        lines.append("| Gate | Status | Measured | Threshold | Message |")
        lines.append("| --- | --- | --- | --- | --- |")
        for row in open_rows:
            reason = f"reason: {row.reason}" if row.reason else ""
            message = "; ".join(part for part in (row.message, reason) if part)
            lines.append(f"| {_code(row.gate_id)} | {row.status} | {_cell(row.measured)} | "
                         f"{_cell(row.threshold)} | {_cell(message)} |")
    else:
        lines.append("No gate failed, errored, went missing, was skipped or was not applicable.")
    lines.append("")
    passed = sum(1 for row in rows if row.status == "passed")
    lines.append(f"{passed} gate{'' if passed == 1 else 's'} passed.")
    lines.append("")
    lines.append(f"Contract sha256: {_code(str(decision['contract_sha256'])[:12])}, "
                 f"run id: {_code(str(decision['run_id']))}")
    return "\n".join(lines) + "\n"


def _ordered_counts(decision: Mapping[str, object]) -> list[tuple[str, int]]:
    counts = decision["counts"]
    known = [status for status in STATUS_ORDER if status in counts]
    return [(key, counts[key]) for key in known + sorted(set(counts) - set(known))]


def _row(result: object, index: int) -> GateRow:
    where = f"results[{index}]"
    if not isinstance(result, Mapping):
        raise InputError(f"{where}: expected a gate result mapping, got {type(result).__name__}")
    for key in ("gate_id", "status"):
        if key not in result:
            raise InputError(f"{where}: missing key {key!r}")
    gate_id, status = result["gate_id"], result["status"]
    if not isinstance(gate_id, str) or not gate_id:
        raise InputError(f"{where}['gate_id']: expected a non-empty string")
    if status not in STATUS_ORDER:
        raise InputError(f"{where}['status']: expected one of {STATUS_ORDER}, got {status!r}")
    measured = result.get("measured")
    if measured is not None and not isinstance(measured, Mapping):
        raise InputError(f"{where}['measured']: expected a mapping of numbers or null")
    threshold = result.get("threshold")
    if threshold is not None:
        if not isinstance(threshold, Mapping):
            raise InputError(f"{where}['threshold']: expected a mapping or null")
        for key in ("op", "value", "basis"):
            if key not in threshold:
                raise InputError(f"{where}['threshold']: missing key {key!r}")
    texts = {}
    for key in ("message", "reason"):
        value = result.get(key)
        if value is not None and not isinstance(value, str):
            raise InputError(f"{where}[{key!r}]: expected a string or null")
        texts[key] = value or ""
    return GateRow(gate_id, status, format_measured(measured), format_threshold(threshold),
                   texts["message"], texts["reason"])


def _number(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value)


def _cell(text: str) -> str:
    """``text`` safe inside a markdown table cell: one line, no raw HTML tags (``&`` and ``<`` as
    entities), backslashes and pipes escaped."""
    one_line = " ".join(text.split()).replace("&", "&amp;").replace("<", "&lt;")
    return one_line.replace("\\", "\\\\").replace("|", "\\|")


def _code(text: str) -> str:
    """``text`` as an inline code span inside a table cell (pipes escaped); text holding a
    backslash or backtick, which a code span cannot escape, falls back to an escaped plain cell."""
    if "\\" in text or "`" in text:
        return _cell(text)
    return "`" + " ".join(text.split()).replace("|", "\\|") + "`"
