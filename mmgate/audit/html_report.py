"""Self-contained HTML5 release report: decision banner, run facts, gate table, not-applicable
reasons and inline PNG plots. No external resource of any kind; every string is HTML-escaped."""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Mapping, Sequence

from mmgate.audit.summary_md import STATUS_ORDER, STATUS_WORDS, GateRow, gate_rows
from mmgate.errors import InputError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
BANNER_COLOURS = {"APPROVE": "#1e7b34", "REJECT": "#b3261e", "INCOMPLETE": "#a15c00"}
STATUS_COLOURS = {
    "failed": "#b3261e", "error": "#b3261e", "missing": "#a15c00",
    "skipped": "#5f6368", "not_applicable": "#5f6368", "passed": "#1e7b34",
}
_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       color: #202124; background: #ffffff; }
main { max-width: 1200px; margin: 0 auto; padding: 0 1.5rem 3rem; }
.banner { color: #ffffff; padding: 1.2rem 1.5rem; }
.banner h1 { margin: 0; font-size: 2rem; }
.banner p { margin: 0.3rem 0 0; font-size: 1.1rem; }
h2 { border-bottom: 1px solid #dadce0; padding-bottom: 0.3rem; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { border: 1px solid #dadce0; padding: 0.35rem 0.5rem; text-align: left;
         vertical-align: top; }
th { background: #f1f3f4; }
td.id, code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
              word-break: break-all; }
td.status { font-weight: bold; white-space: nowrap; }
table.facts { width: auto; }
.reason { color: #5f6368; display: block; margin-top: 0.2rem; }
figure { display: inline-block; margin: 0.5rem; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #dadce0; }
figcaption { font-size: 0.85rem; color: #5f6368; }
"""
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def render_html(decision: Mapping[str, object], results: Sequence[Mapping[str, object]],
                plots: Mapping[str, bytes], title: str = "mmgate release report") -> str:
    """One self-contained HTML5 page for reviewers: decision banner, contract hash, subject, counts,
    gate table (non-passing first), not-applicable reasons, and ``plots`` inlined as data: URIs."""
    rows = gate_rows(decision, results)
    if not isinstance(title, str):
        raise InputError(f"title: expected a string, got {type(title).__name__}")
    figures = _figures(plots)
    verdict = str(decision["decision"])
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(title)} - {verdict}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f'<header class="banner decision-{verdict.lower()}" '
        f'style="background: {BANNER_COLOURS[verdict]}">',
        f"<h1>{_esc(title)}: {verdict}</h1>",
        f"<p>{STATUS_WORDS[verdict]}</p>",
        "</header>",
        "<main>",
        *_facts_section(decision),
        *_gate_section(rows),
        *_not_applicable_section(rows),
        '<section id="plots">',
        "<h2>Plots</h2>",
        *(figures or ["<p>No plots were provided.</p>"]),
        "</section>",
        "</main>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def _facts_section(decision: Mapping[str, object]) -> list[str]:
    subject = decision["subject"]
    identity = subject.get("identity") or {}
    if not isinstance(identity, Mapping):
        raise InputError("decision['subject']['identity']: expected a mapping")
    counts = decision["counts"]
    ordered = [key for key in STATUS_ORDER if key in counts]
    ordered += sorted(set(counts) - set(ordered))
    lines = [
        '<section id="facts">',
        "<h2>Run</h2>",
        '<table class="facts">',
        f"<tr><th>Decision</th><td>{_esc(str(decision['decision']))}</td></tr>",
        f"<tr><th>Exit code</th><td>{_esc(str(decision.get('exit_code', 'n/a')))}</td></tr>",
        f"<tr><th>Run id</th><td><code>{_esc(str(decision['run_id']))}</code></td></tr>",
        "<tr><th>Contract sha256</th>"
        f"<td><code>{_esc(str(decision['contract_sha256']))}</code></td></tr>",
        f"<tr><th>Subject</th><td>{_esc(str(subject['name']))}</td></tr>",
    ]
    lines += [f"<tr><th>Subject {_esc(str(key))}</th>"
              f"<td><code>{_esc(_json(identity[key]))}</code></td></tr>"
              for key in sorted(identity, key=str)]
    lines += ["</table>", "<h2>Counts</h2>", '<table class="facts">',
              "<tr>" + "".join(f"<th>{_esc(key)}</th>" for key in ordered) + "</tr>",
              "<tr>" + "".join(f"<td>{counts[key]}</td>" for key in ordered) + "</tr>",
              "</table>", "</section>"]
    return lines


def _gate_section(rows: Sequence[GateRow]) -> list[str]:
    lines = [
        '<section id="gates">',
        "<h2>Gates</h2>",
        "<table>",
        "<thead><tr><th>Gate</th><th>Status</th><th>Measured</th><th>Threshold</th>"
        "<th>Message</th></tr></thead>",
        "<tbody>",
    ]
    for row in rows:
        reason = f'<span class="reason">reason: {_esc(row.reason)}</span>' if row.reason else ""
        lines.append(
            f'<tr class="status-{row.status}"><td class="id">{_esc(row.gate_id)}</td>'
            f'<td class="status" style="color: {STATUS_COLOURS[row.status]}">{row.status}</td>'
            f"<td>{_esc(row.measured)}</td><td>{_esc(row.threshold)}</td>"
            f"<td>{_esc(row.message)}{reason}</td></tr>")
    if not rows:
        lines.append('<tr><td colspan="5">No gate results were recorded.</td></tr>')
    lines += ["</tbody>", "</table>", "</section>"]
    return lines


def _not_applicable_section(rows: Sequence[GateRow]) -> list[str]:
    waived = [row for row in rows if row.status in ("not_applicable", "skipped")]
    lines = ['<section id="not-applicable">', "<h2>Not applicable and skipped gates</h2>"]
    if not waived:
        return lines + ["<p>Every gate applied to this subject.</p>", "</section>"]
    lines.append("<ul>")
    for row in waived:
        why = row.reason or row.message or "no reason given"
        lines.append(f"<li><code>{_esc(row.gate_id)}</code> ({row.status}): {_esc(why)}</li>")
    return lines + ["</ul>", "</section>"]


def _figures(plots: Mapping[str, bytes]) -> list[str]:
    if not isinstance(plots, Mapping):
        raise InputError("plots: expected a mapping of file name -> PNG bytes, "
                         f"got {type(plots).__name__}")
    figures = []
    for name in sorted(plots, key=_natural_key):
        data = plots[name]
        if not isinstance(data, (bytes, bytearray)) or not bytes(data).startswith(PNG_SIGNATURE):
            raise InputError(f"plots[{name!r}]: expected PNG bytes")
        encoded = base64.b64encode(bytes(data)).decode("ascii")
        figures.append(f'<figure><img src="data:image/png;base64,{encoded}" alt="{_esc(name)}">'
                       f"<figcaption>{_esc(name)}</figcaption></figure>")
    return figures


def _natural_key(name: object) -> list[object]:
    """Sort key placing ``seed2`` before ``seed10``; rejects non-string plot names."""
    if not isinstance(name, str):
        raise InputError(f"plots: file names must be strings, got {name!r}")
    return [(0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in re.split(r"(\d+)", name)]


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _esc(text: str) -> str:
    return html.escape(text, quote=True)
