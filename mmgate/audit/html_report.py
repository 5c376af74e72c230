"""HTML5 release report: decision banner, run facts, headline metrics and one row per gate at the
top; every case behind a click (``<details>``); not-applicable reasons once per gate; plots grouped
by the gates they illustrate, seeds side by side. The PNGs are referenced by relative path
(``plots/<name>``, files of the same bundle) rather than inlined, so the page stays small and the
bundle stores each image once; the bundle directory (and its zip, which keeps the same layout) is
self-contained. No external resource of any kind; every string is HTML-escaped."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence

from mmgate.audit.summary_md import (
    STATUS_ORDER,
    STATUS_WORDS,
    GateGroup,
    format_measured,
    format_threshold,
    gate_groups,
    headline_metrics,
)
from mmgate.errors import InputError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PLOT_DIR = "plots"
BANNER_COLOURS = {"APPROVE": "#1e7b34", "REJECT": "#b3261e", "INCOMPLETE": "#a15c00",
                  "SETUP_ERROR": "#6a1b9a"}
STATUS_COLOURS = {
    "failed": "#b3261e", "error": "#b3261e", "inconclusive": "#a15c00", "missing": "#a15c00",
    "skipped": "#5f6368", "not_applicable": "#5f6368", "passed": "#1e7b34",
}
# Plot kind (file name without ``_seed<N>.png``; ``margin_*`` by prefix) -> the gates it shows.
PLOT_GATES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("retrieval", "Directional retrieval", ("retrieval_top1", "retrieval_top5", "symmetry_gap")),
    ("similarity", "Pair similarity", ("pair_auc",)),
    ("hubness", "Hubness", ("hubness",)),
    ("spectra", "Covariance spectra", ("effective_rank", "rankme")),
    ("pca", "Embeddings (PCA)", ("mean_cosine", "direction_energy")),
    ("margin", "Robustness margins", ("robustness_margin",)),
)
_PLOT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*\.png$")
_SEED_SUFFIX = re.compile(r"_seed\d+\.png$")
_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       color: #202124; background: #ffffff; }
main { max-width: 1280px; margin: 0 auto; padding: 0 1.5rem 3rem; }
.banner { color: #ffffff; padding: 1rem 1.5rem; }
.banner h1 { margin: 0; font-size: 1.8rem; }
.banner p { margin: 0.3rem 0 0; font-size: 1.05rem; }
h2 { border-bottom: 1px solid #dadce0; padding-bottom: 0.3rem; margin-top: 1.6rem; }
table { border-collapse: collapse; width: 100%; font-size: 0.88rem; }
th, td { border: 1px solid #dadce0; padding: 0.3rem 0.45rem; text-align: left; vertical-align: top; }
th { background: #f1f3f4; }
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
.gate { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; white-space: nowrap; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
code.long-id { overflow-wrap: anywhere; }
code.case { white-space: nowrap; }
td.status { font-weight: bold; white-space: nowrap; }
table.facts { width: auto; }
details { margin: 0.3rem 0; }
details > summary { cursor: pointer; padding: 0.2rem 0; }
details table { margin: 0.3rem 0 0.8rem; }
.reason { color: #5f6368; }
.multiples { display: grid; grid-template-columns: repeat(auto-fill, minmax(280px, 1fr)); gap: 0.6rem; }
figure { margin: 0; }
figure img { width: 100%; height: auto; border: 1px solid #dadce0; }
figcaption { font-size: 0.8rem; color: #5f6368; }
"""
_CSP = "default-src 'none'; img-src 'self' file: data:; style-src 'unsafe-inline'"


def render_html(decision: Mapping[str, object], results: Sequence[Mapping[str, object]],
                plots: Mapping[str, bytes], title: str = "mmgate release report") -> str:
    """One HTML5 page for reviewers. Top: decision banner, run facts, headline metrics, one row per
    gate (non-passing first, worst case shown). Below: each gate's cases in a ``<details>``
    (open for a gate that did not pass), not-applicable reasons once per gate, and ``plots``
    grouped by gate, seeds side by side, referenced as ``plots/<name>`` (the bundle's files)."""
    groups = gate_groups(decision, results)
    if not isinstance(title, str):
        raise InputError(f"title: expected a string, got {type(title).__name__}")
    figures = _plot_sections(plots, groups)
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
        *_headline_section(results),
        *_gate_section(groups),
        *_cases_section(groups),
        *_not_applicable_section(groups),
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
    counted = ", ".join(f"{counts[key]} {_esc(key)}" for key in ordered if counts[key]) or "none"
    lines = [
        '<section id="facts">',
        '<table class="facts">',
        f"<tr><th>Decision</th><td>{_esc(str(decision['decision']))} "
        f"(exit code {_esc(str(decision.get('exit_code', 'n/a')))})</td></tr>",
        f"<tr><th>Subject</th><td>{_esc(str(subject['name']))}</td></tr>",
        f"<tr><th>Cases</th><td>{counted}</td></tr>",
        f"<tr><th>Run id</th><td><code>{_esc(str(decision['run_id']))}</code></td></tr>",
        "<tr><th>Contract sha256</th>"
        f"<td><code>{_esc(str(decision['contract_sha256']))}</code></td></tr>",
        "</table>",
    ]
    setup_errors = decision.get("setup_errors") or []
    if setup_errors:
        lines += ["<h2>Setup errors</h2>", "<ul>",
                  *(f"<li>{_esc(str(error))}</li>" for error in setup_errors), "</ul>"]
    if identity:
        lines += ["<details><summary>Subject identity</summary>", '<table class="facts">']
        lines += [f"<tr><th>{_esc(str(key))}</th>"
                  f'<td><code class="long-id">{_esc(_json(identity[key]))}</code></td></tr>'
                  for key in sorted(identity, key=str)]
        lines += ["</table>", "</details>"]
    return lines + ["</section>"]


def _headline_section(results: Sequence[Mapping[str, object]]) -> list[str]:
    headline = headline_metrics(results)
    if not headline:
        return []
    lines = ['<section id="headline">', "<h2>Headline metrics</h2>", "<table>",
             "<thead><tr><th>Metric</th><th>Side</th><th>Mean</th><th>Range</th>"
             "<th>Worst case [95% interval]</th><th>Threshold</th></tr></thead>", "<tbody>"]
    for entry in headline:
        worst = entry["worst"]
        lines.append(
            f"<tr><td>{_esc(str(entry['metric']))}</td><td>{_esc(str(entry['side']))}</td>"
            f'<td class="num">{entry["mean"]:.4g}</td>'
            f'<td class="num">{entry["min"]:.4g} - {entry["max"]:.4g}</td>'
            f'<td class="num">{_esc(format_measured(worst["measured"]))} ({_esc(worst["case"])})</td>'
            f'<td class="num">{_esc(format_threshold(entry["threshold"]))}</td></tr>')
    return lines + ["</tbody>", "</table>", "</section>"]


def _status_cell(status: str) -> str:
    return f'<td class="status" style="color: {STATUS_COLOURS[status]}">{status}</td>'


def _gate_section(groups: Sequence[GateGroup]) -> list[str]:
    lines = [
        '<section id="gates">',
        "<h2>Gates</h2>",
        "<table>",
        "<thead><tr><th>Gate</th><th>Status</th><th>Cases</th><th>Worst case</th><th>Measured</th>"
        "<th>Threshold</th><th>Message</th></tr></thead>",
        "<tbody>",
    ]
    for group in groups:
        worst = group.worst
        message = worst.row.message if group.status != "passed" else ""
        if group.status == "not_applicable":
            message = group.reasons_text
        lines.append(
            f'<tr class="status-{group.status}"><td><a class="gate" href="#cases-{_esc(group.gate)}">'
            f"{_esc(group.gate)}</a></td>{_status_cell(group.status)}"
            f'<td>{_esc(group.counts_text)}</td><td><code class="case">{_esc(worst.case)}</code></td>'
            f'<td class="num">{_esc(worst.row.measured)}</td><td class="num">{_esc(worst.row.threshold)}</td>'
            f"<td>{_esc(message)}</td></tr>")
    if not groups:
        lines.append('<tr><td colspan="7">No gate results were recorded.</td></tr>')
    lines += ["</tbody>", "</table>", "</section>"]
    return lines


def _cases_section(groups: Sequence[GateGroup]) -> list[str]:
    lines = ['<section id="cases">', "<h2>Cases by gate</h2>"]
    for group in groups:
        opened = " open" if group.status not in ("passed", "not_applicable") else ""
        lines += [f'<details id="cases-{_esc(group.gate)}"{opened}>',
                  f'<summary><span class="gate">{_esc(group.gate)}</span>: {group.status} '
                  f"({_esc(group.counts_text)})</summary>",
                  "<table>",
                  "<thead><tr><th>Case</th><th>Status</th><th>Measured</th><th>Threshold</th>"
                  "<th>Message</th></tr></thead>", "<tbody>"]
        for case in group.cases:
            row = case.row
            reason = f' <span class="reason">reason: {_esc(row.reason)}</span>' \
                if row.reason and row.reason not in row.message else ""
            lines.append(
                f'<tr class="status-{row.status}"><td><code class="long-id">{_esc(row.gate_id)}</code></td>'
                f'{_status_cell(row.status)}<td class="num">{_esc(row.measured)}</td>'
                f'<td class="num">{_esc(row.threshold)}</td><td>{_esc(row.message)}{reason}</td></tr>')
        lines += ["</tbody>", "</table>", "</details>"]
    return lines + ["</section>"]


def _not_applicable_section(groups: Sequence[GateGroup]) -> list[str]:
    waived = [g for g in groups if g.counts.get("not_applicable") or g.counts.get("skipped")]
    lines = ['<section id="not-applicable">', "<h2>Not applicable and skipped gates</h2>"]
    if not waived:
        return lines + ["<p>Every gate applied to this subject.</p>", "</section>"]
    lines.append("<ul>")
    for group in waived:
        n = group.counts.get("not_applicable", 0) + group.counts.get("skipped", 0)
        lines.append(f'<li><span class="gate">{_esc(group.gate)}</span> ({n} of {len(group.cases)} '
                     f"cases): {_esc(group.reasons_text)}</li>")
    return lines + ["</ul>", "</section>"]


def _plot_kind(name: str) -> str:
    stem = _SEED_SUFFIX.sub("", name)
    stem = stem[:-4] if stem.endswith(".png") else stem
    return "margin" if stem.startswith("margin_") else stem


def _plot_sections(plots: Mapping[str, bytes], groups: Sequence[GateGroup]) -> list[str]:
    if not isinstance(plots, Mapping):
        raise InputError("plots: expected a mapping of file name -> PNG bytes, "
                         f"got {type(plots).__name__}")
    by_kind: dict[str, list[str]] = {}
    for name in sorted(plots, key=_natural_key):
        data = plots[name]
        if not _PLOT_NAME.match(name):
            raise InputError(f"plots[{name!r}]: expected a file name of [A-Za-z0-9._-] ending .png")
        if not isinstance(data, (bytes, bytearray)) or not bytes(data).startswith(PNG_SIGNATURE):
            raise InputError(f"plots[{name!r}]: expected PNG bytes")
        by_kind.setdefault(_plot_kind(name), []).append(name)
    status = {group.gate: group for group in groups}
    known = {kind: (label, gates) for kind, label, gates in PLOT_GATES}
    kinds = [kind for kind, _, _ in PLOT_GATES if kind in by_kind]
    kinds += sorted(set(by_kind) - set(kinds))
    # A REJECT's plots lead with the ones that show a failing gate's quantity.
    kinds.sort(key=lambda kind: not any(g in status and status[g].status in ("failed", "error")
                                        for g in known.get(kind, (kind, ()))[1]))
    sections = []
    for kind in kinds:
        label, gates = known.get(kind, (kind, ()))
        shown = [f'<span class="gate">{_esc(g)}</span> {status[g].status}' for g in gates if g in status]
        sections += [f'<section class="plot-group" id="plots-{_esc(kind)}">',
                     f"<h3>{_esc(label)}</h3>"]
        if shown:
            sections.append(f"<p>Gates: {', '.join(shown)}</p>")
        sections.append('<div class="multiples">')
        for name in by_kind[kind]:
            src = f"{PLOT_DIR}/{name}"
            sections.append(f'<figure><a href="{_esc(src)}"><img src="{_esc(src)}" alt="{_esc(name)}" '
                            f'loading="lazy"></a><figcaption>{_esc(name)}</figcaption></figure>')
        sections += ["</div>", "</section>"]
    return sections


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
