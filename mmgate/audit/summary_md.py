"""Markdown summary of a release decision for a pull-request comment, and the validated, sorted
gate rows that every human-facing rendering (markdown, HTML) shows."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mmgate.errors import InputError

DECISIONS = ("APPROVE", "REJECT", "INCOMPLETE", "SETUP_ERROR")
STATUS_WORDS = {
    "APPROVE": "release cleared", "REJECT": "release blocked", "INCOMPLETE": "evidence incomplete",
    "SETUP_ERROR": "run could not be set up, no gate ran",
}
STATUS_ORDER = ("failed", "error", "inconclusive", "missing", "skipped", "not_applicable", "passed")
DECISION_LISTS = (
    ("failed_gates", "failed"),
    ("inconclusive_gates", "inconclusive"),
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
    missing from ``results`` is never hidden), sorted failed, error, inconclusive, missing, skipped,
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
    """Markdown for a pull-request comment (GitHub and GitLab, no links, plain ASCII): decision
    heading, subject and contract, headline metrics, then one row per gate aggregated over its
    cases (non-passing gates first; each row shows its worst case's measured value, interval and
    threshold), the messages of failing gates, and not-applicable gates counted and explained once
    each."""
    groups = gate_groups(decision, results)
    verdict = str(decision["decision"])
    cases = sum(len(group.cases) for group in groups)
    lines = [f"## mmgate release decision: {verdict} ({STATUS_WORDS[verdict]})", ""]
    lines.append(f"Subject {_code(str(decision['subject']['name']))}, contract sha256 "
                 f"{_code(str(decision['contract_sha256'])[:12])}, run {_code(str(decision['run_id']))}.")
    counts = ", ".join(f"{value} {_cell(key)}" for key, value in _ordered_counts(decision) if value)
    lines.append(f"Cases: {counts or 'none'} ({cases} in {len(groups)} gates).")
    setup_errors = decision.get("setup_errors") or []
    if setup_errors:
        lines += ["", "**Setup errors**", ""]
        lines += [f"- {_cell(_clip(str(error)))}" for error in setup_errors]
    headline = headline_metrics(results)
    if headline:
        seeds = max(int(entry["cases"]) for entry in headline)
        lines += ["", f"**Headline** (mean and worst case over {seeds} seeds; interval: 95% bootstrap)", "",
                  "| Metric | Side | Mean | Worst [interval] | Threshold |", "| --- | --- | --- | --- | --- |"]
        for entry in headline:
            worst = entry["worst"]
            lines.append(f"| {entry['metric']} | {entry['side'].replace('_to_', '->')} | "
                         f"{_number(entry['mean'])} | {_cell(format_measured(worst['measured']))} "
                         f"({_cell(worst['case'])}) | {_cell(format_threshold(entry['threshold']))} |")
    shown = [group for group in groups if group.status != "not_applicable"]
    lines += ["", "**Gates** (one row per gate; the worst case is shown)", ""]
    if shown:
        lines += ["| Gate | Status | Cases | Worst case | Measured [interval] | Threshold |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for group in shown:
            worst = group.worst
            lines.append(f"| {_code(group.gate)} | {group.status} | {_cell(group.counts_text)} | "
                         f"{_cell(worst.case)} | {_cell(worst.row.measured)} | {_cell(worst.row.threshold)} |")
    else:
        lines.append("No gate applied to this subject.")
    problems = [group for group in shown if group.status in ("failed", "error", "inconclusive", "missing", "skipped")]
    if problems:
        lines += ["", "**Why**", ""]
        for group in problems:
            message = group.worst.row.message or group.worst.row.reason or "no message"
            lines.append(f"- {_code(group.gate)} {_cell(group.worst.case)}: {_cell(_clip(message))}")
    waived = [group for group in groups if group.counts.get("not_applicable")]
    if waived:
        total = sum(group.counts["not_applicable"] for group in waived)
        lines += ["", f"**Not applicable** ({total} cases in {len(waived)} gates)", ""]
        for group in waived:
            n = group.counts["not_applicable"]
            of = "" if n == len(group.cases) else f" of {len(group.cases)}"
            lines.append(f"- {_code(group.gate)} ({n}{of} case{'' if n == 1 else 's'}): "
                         f"{_cell(_clip(group.reasons_text))}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class GateCase:
    """One case of a gate: its row, the short case label and its margin to the threshold
    (positive: holds with room; negative: violated; None: nothing to compare)."""

    row: GateRow
    case: str
    margin: float | None


@dataclass(frozen=True)
class GateGroup:
    """All cases of one gate, worst first; ``status`` is the worst applicable status (a gate with
    only not-applicable cases is ``not_applicable``)."""

    gate: str
    status: str
    cases: tuple[GateCase, ...]
    counts: Mapping[str, int]
    reasons: tuple[str, ...]

    @property
    def worst(self) -> GateCase:
        """The case shown for the gate: the worst applicable one (else the first)."""
        applicable = [case for case in self.cases if case.row.status != "not_applicable"]
        return (applicable or list(self.cases))[0]

    @property
    def counts_text(self) -> str:
        """``1 failed, 7 passed``: cases per status in severity order."""
        return ", ".join(f"{self.counts[s]} {s}" for s in STATUS_ORDER if self.counts.get(s))

    @property
    def reasons_text(self) -> str:
        """The distinct not-applicable or skip reasons, at most two, then how many more."""
        shown = "; ".join(self.reasons[:2]) or "no reason given"
        more = len(self.reasons) - 2
        return shown + (f" (and {more} other reason{'' if more == 1 else 's'})" if more > 0 else "")


def gate_groups(decision: Mapping[str, object],
                results: Sequence[Mapping[str, object]]) -> tuple[GateGroup, ...]:
    """The rows of ``gate_rows`` grouped by gate name: groups in severity order of their worst
    status (then in the order the gates first appear), cases worst first (severity, then the
    smallest margin to the threshold)."""
    rows = gate_rows(decision, results)
    by_id = {str(result["gate_id"]): result for result in results}
    order: dict[str, int] = {}
    for result in results:
        order.setdefault(_gate_name(result, str(result["gate_id"])), len(order))
    grouped: dict[str, list[GateCase]] = {}
    for row in rows:
        result = by_id.get(row.gate_id, {})
        name = _gate_name(result, row.gate_id)
        order.setdefault(name, len(order))
        margin = _margin(result.get("measured"), result.get("threshold"))
        grouped.setdefault(name, []).append(GateCase(row, _case_label(row.gate_id), margin))
    groups = []
    for name, cases in grouped.items():
        cases.sort(key=lambda c: (STATUS_ORDER.index(c.row.status),
                                  math.inf if c.margin is None else c.margin, _natural(c.row.gate_id)))
        counts: dict[str, int] = {}
        for case in cases:
            counts[case.row.status] = counts.get(case.row.status, 0) + 1
        applicable = [c.row.status for c in cases if c.row.status != "not_applicable"]
        status = applicable[0] if applicable else "not_applicable"
        reasons = tuple(dict.fromkeys(c.row.reason or c.row.message for c in cases
                                      if c.row.status in ("not_applicable", "skipped")))
        groups.append(GateGroup(name, status, tuple(cases), counts, reasons))
    return tuple(sorted(groups, key=lambda g: (STATUS_ORDER.index(g.status), order[g.gate])))


# Headline metrics: (label, gate, parameter, side, better) - the worst case is the lowest value
# where higher is better and the highest where lower is better.
HEADLINE = (
    ("recall@1", "retrieval_top1", "direction", "image_to_text", "higher"),
    ("recall@1", "retrieval_top1", "direction", "text_to_image", "higher"),
    ("recall@5", "retrieval_top5", "direction", "image_to_text", "higher"),
    ("recall@5", "retrieval_top5", "direction", "text_to_image", "higher"),
    ("effective rank", "effective_rank", "modality", "image", "higher"),
    ("effective rank", "effective_rank", "modality", "text", "higher"),
    ("mean cosine", "mean_cosine", "modality", "image", "lower"),
    ("mean cosine", "mean_cosine", "modality", "text", "lower"),
)


def headline_metrics(results: Sequence[Mapping[str, object]]) -> list[dict[str, object]]:
    """JSON-ready headline numbers from the gate results: per metric and side, the number of
    measured cases, their mean, min and max, the worst case (label, status, measured value and
    interval) and the threshold. Metrics with no measured case are left out."""
    out: list[dict[str, object]] = []
    for label, gate, axis, side, better in HEADLINE:
        measured = []
        for result in results:
            if not isinstance(result, Mapping) or result.get("gate") != gate:
                continue
            params = result.get("params")
            values = result.get("measured")
            if (not isinstance(params, Mapping) or params.get(axis) != side
                    or not isinstance(values, Mapping) or not _finite(values.get("value"))):
                continue
            measured.append(result)
        if not measured:
            continue
        values = [float(r["measured"]["value"]) for r in measured]
        pick = min if better == "higher" else max
        worst = pick(measured, key=lambda r: float(r["measured"]["value"]))
        out.append({
            "metric": label, "gate": gate, "side": side, "better": better, "cases": len(values),
            "mean": sum(values) / len(values), "min": min(values), "max": max(values),
            "worst": {"case": _case_label(str(worst["gate_id"])), "status": worst["status"],
                      "measured": {k: float(v) for k, v in worst["measured"].items() if _finite(v)}},
            "threshold": dict(worst["threshold"]) if isinstance(worst.get("threshold"), Mapping) else None,
        })
    return out


_GATE_FROM_ID = re.compile(r"::test_([A-Za-z0-9_]+)")
_CASE_FROM_ID = re.compile(r"\[(.*)\]$")


def _gate_name(result: Mapping[str, object], gate_id: str) -> str:
    name = result.get("gate") if isinstance(result, Mapping) else None
    if isinstance(name, str) and name:
        return name
    match = _GATE_FROM_ID.search(gate_id)
    return match.group(1) if match else gate_id


def _case_label(gate_id: str) -> str:
    """``seed0-image_to_text`` for ``...::test_x[seed0-image_to_text]``; the id itself otherwise."""
    match = _CASE_FROM_ID.search(gate_id)
    return match.group(1) if match else gate_id


def _margin(measured: object, threshold: object) -> float | None:
    if not isinstance(measured, Mapping) or not isinstance(threshold, Mapping):
        return None
    key = {"lower_bound": "ci_low", "upper_bound": "ci_high"}.get(str(threshold.get("basis")), "value")
    stat, limit = measured.get(key), threshold.get("value")
    if not _finite(stat) or not _finite(limit):
        return None
    op = threshold.get("op")
    if op in (">=", ">"):
        return float(stat) - float(limit)
    if op in ("<=", "<"):
        return float(limit) - float(stat)
    return -abs(float(stat) - float(limit))


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _natural(text: str) -> list[object]:
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text)]


def _clip(text: str, limit: int = 240) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[:limit - 3] + "..."


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
