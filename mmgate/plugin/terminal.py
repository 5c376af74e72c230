"""The compact gate table, its footer (how mmgate's statuses show in pytest's counts) and the final
``mmgate: decision=... bundle=...`` line."""

from __future__ import annotations

from collections import Counter, defaultdict

from mmgate.audit.bundle import Bundle
from mmgate.gating.decision import Decision

_ORDER = ("failed", "error", "inconclusive", "missing", "skipped", "not_applicable", "passed")
MESSAGE_LIMIT = 400  # characters of a gate's message on the terminal; the bundle has it in full
_CUT = " [...]"

# How the mmgate statuses that pytest names differently show in its counts ("N failed, M skipped").
_PYTEST_COUNTS = {
    "error": "error as failed or error",
    "inconclusive": "inconclusive as skipped",
    "not_applicable": "not_applicable as skipped",
    "missing": "missing not at all (not run)",
}


def one_line(message: str, limit: int = MESSAGE_LIMIT) -> str:
    """``message`` on a single line (whitespace runs collapsed), cut to ``limit`` characters with a
    visible mark when longer."""
    flat = " ".join(str(message).split())
    if len(flat) <= limit:
        return flat
    return flat[: max(limit - len(_CUT), 0)].rstrip() + _CUT


def gate_table(decision: Decision) -> list[str]:
    """One row per gate name: cases per status, and the first message of its worst status (why it
    failed, errored, went missing or could not apply), stated once for all its cases; then a footer
    with the totals and how they show in pytest's counts."""
    by_gate: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    first_message: dict[tuple[str, str], str] = {}
    for result in decision.results:
        by_gate[result.gate][result.status] += 1
        first_message.setdefault((result.gate, result.status), result.message)
    if not by_gate:
        return []
    worst = {name: next(s for s in _ORDER if counts.get(s)) for name, counts in by_gate.items()}
    cases = {name: ", ".join(f"{counts[s]} {s}" for s in _ORDER if counts.get(s))
             for name, counts in by_gate.items()}
    name_w = max(len("gate"), *(len(name) for name in by_gate))
    status_w = max(len("status"), *(len(status) for status in worst.values()))
    cases_w = max(len("cases"), *(len(text) for text in cases.values()))
    lines = [f"{'gate'.ljust(name_w)}  {'status'.ljust(status_w)}  cases"]
    for name in by_gate:
        line = f"{name.ljust(name_w)}  {worst[name].ljust(status_w)}  {cases[name]}"
        if worst[name] != "passed":
            line = f"{line.ljust(name_w + status_w + cases_w + 4)}  | {one_line(first_message[name, worst[name]])}"
        lines.append(line)
    lines.append(table_footer(decision))
    return lines


def table_footer(decision: Decision) -> str:
    """One line: the gate cases per status, and how those statuses appear in pytest's counts."""
    totals = Counter(result.status for result in decision.results)
    counts = ", ".join(f"{totals[s]} {s}" for s in _ORDER if totals.get(s))
    line = f"mmgate: {sum(totals.values())} gate cases: {counts}"
    shown = [_PYTEST_COUNTS[s] for s in _ORDER if totals.get(s) and s in _PYTEST_COUNTS]
    return f"{line}; pytest counts {', '.join(shown)}" if shown else line


def decision_line(decision: Decision, bundle: Bundle | None) -> str:
    """The last line of the terminal output."""
    where = bundle.directory if bundle is not None else "<not written>"
    return f"mmgate: decision={decision.decision} bundle={where}"
