"""The compact gate table and the final ``mmgate: decision=... bundle=...`` line."""

from __future__ import annotations

from collections import defaultdict

from mmgate.audit.bundle import Bundle
from mmgate.gating.decision import Decision

_ORDER = ("failed", "error", "missing", "skipped", "not_applicable", "passed")


def gate_table(decision: Decision) -> list[str]:
    """One row per gate name: cases per status, and the first message of its worst status (why it
    failed, errored, went missing or could not apply), stated once for all its cases."""
    by_gate: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    first_message: dict[tuple[str, str], str] = {}
    for result in decision.results:
        by_gate[result.gate][result.status] += 1
        first_message.setdefault((result.gate, result.status), result.message)
    width = max(len(name) for name in by_gate)
    lines = [f"{'gate'.ljust(width)}  {'status':<10} cases"]
    for name, counts in by_gate.items():
        worst = next(status for status in _ORDER if counts.get(status))
        cases = ", ".join(f"{counts[s]} {s}" for s in _ORDER if counts.get(s))
        line = f"{name.ljust(width)}  {worst:<10} {cases}"
        if worst != "passed":
            line += f"  | {first_message[name, worst][:160]}"
        lines.append(line)
    return lines


def decision_line(decision: Decision, bundle: Bundle | None) -> str:
    """The last mmgate line of the terminal output."""
    where = bundle.directory if bundle is not None else "<not written>"
    return f"mmgate: decision={decision.decision} bundle={where}"
