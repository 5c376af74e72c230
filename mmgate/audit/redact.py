"""Redact secret values from configuration text before it enters the audit log.

Handles the ``key = value`` / ``key: value`` / ``"key": "value"`` forms of TOML, JSON, INI, YAML
and env files: a key that looks like a secret (case-insensitive substring match, so
``DB_PASSWORD`` and ``authorization`` count) has its value — scalar, string, inline container or
indented block — replaced by ``[REDACTED]``; every value in a ``[section]`` whose name looks like a
secret is redacted too. The log keeps the sha256 of the full text, so nothing is lost for audit.
"""

from __future__ import annotations

import bisect
import re
from datetime import datetime, timezone

from mmgate.records.hashing import sha256_text

SECRET_MARKERS = (
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "auth",
    "credential",
    "private_key",
)
REDACTED = "[REDACTED]"

_SECTION = re.compile(r"^[ \t]*\[\[?[ \t]*(?P<name>[A-Za-z0-9_.\-\" ]+?)[ \t]*\]\]?[ \t]*(?:[#;].*)?$", re.M)
_PAIR = re.compile(
    r"""(?P<lead>^[ \t]*(?:[#;]+[ \t]*)?(?:export[ \t]+|-[ \t]+)?|[{,][ \t]*)
        (?P<key>"(?:[^"\\\n]|\\.)*"|'[^'\n]*'|[A-Za-z_][A-Za-z0-9_.\-]*)
        [ \t]*[:=][ \t]*""",
    re.M | re.X,
)
_INLINE_STOP = re.compile(r"[,}\]\n]")
_BLOCK_SCALAR = re.compile(r"[|>][-+0-9]*[ \t]*(?:#.*)?$", re.M)


def is_secret_key(key: str) -> bool:
    """True when a configuration key looks like it holds a secret (password, token, api key, ...)."""
    normal = key.strip("\"' ").lower().replace("-", "_")
    return any(marker in normal for marker in SECRET_MARKERS)


def _line_end(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end < 0 else end


def _through_line_end(text: str, pos: int) -> int:
    """``pos`` moved past the rest of its line, trailing whitespace excluded."""
    return pos + len(text[pos : _line_end(text, pos)].rstrip())


def _string_end(text: str, start: int) -> int:
    """End (exclusive) of the quoted string at ``start``; an unterminated one ends at its line end."""
    quote = text[start]
    for triple in ('"""', "'''"):
        if text.startswith(triple, start):
            close = text.find(triple, start + 3)
            return len(text) if close < 0 else close + 3
    pos = start + 1
    while pos < len(text) and text[pos] != "\n":
        if quote == '"' and text[pos] == "\\":
            pos += 2
            continue
        if text[pos] == quote:
            return pos + 1
        pos += 1
    return pos


def _container_end(text: str, start: int) -> int | None:
    """End (exclusive) of the bracketed ``{...}``/``[...]`` value at ``start`` (strings respected);
    None when it never closes."""
    depth = 0
    pos = start
    while pos < len(text):
        char = text[pos]
        if char == '"':
            pos = _string_end(text, pos)
            continue
        if char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                return pos + 1
        pos += 1
    return None


def _block_end(text: str, key_line_start: int, start: int) -> int:
    """End of a YAML-style block value: the following lines indented deeper than the key (or list items)."""
    key_line = text[key_line_start : _line_end(text, key_line_start)]
    indent = len(key_line) - len(key_line.lstrip(" \t"))
    end = start
    pos = start + 1
    while pos < len(text):
        line_end = _line_end(text, pos)
        line = text[pos:line_end]
        stripped = line.lstrip(" \t")
        depth = len(line) - len(stripped)
        if stripped and depth <= indent and not (depth == indent and stripped.startswith("- ")):
            break
        if stripped:
            end = line_end
        pos = line_end + 1
    return end


def _value_end(text: str, start: int, stop_inline: bool, key_line_start: int) -> int:
    """End (exclusive) of the value that starts at ``start``.

    Bare values stop at ``,``/``}``/``]`` in inline or JSON-style pairs and at the line end
    otherwise; an empty value or a YAML block-scalar indicator takes the indented block below.
    Outside inline/JSON pairs a quoted or bracketed value also takes the rest of its last line,
    so ``password="a"b`` leaks nothing; an unclosed bracket is read as a bare value.
    """
    if start >= len(text) or text[start] in "\r\n":
        return _block_end(text, key_line_start, start)
    end: int | None = None
    if text[start] in "\"'":
        end = _string_end(text, start)
    elif text[start] in "{[":
        end = _container_end(text, start)
    if end is not None:
        return end if stop_inline else _through_line_end(text, end)
    line_end = _line_end(text, start)
    if _BLOCK_SCALAR.match(text, start, line_end):
        return max(line_end, _block_end(text, key_line_start, line_end))
    stop = _INLINE_STOP.search(text, start) if stop_inline else None
    return _through_line_end(text, start) if stop is None else start + len(text[start : stop.start()].rstrip())


def _replacement(text: str, start: int, quoted_key: bool) -> str:
    """``[REDACTED]``, quoted where the value (or a JSON-style key) was, after a space for blocks."""
    if start >= len(text) or text[start] in "\r\n":
        return " " + REDACTED
    if text[start] in "\"'{[" or quoted_key:
        quote = "'" if text[start] == "'" else '"'
        return f"{quote}{REDACTED}{quote}"
    return REDACTED


def redact_config_text(text: str) -> str:
    """``text`` with the value of every secret-looking key replaced by ``[REDACTED]``; the rest kept."""
    headers = [(m.start(), is_secret_key(m["name"])) for m in _SECTION.finditer(text)]
    header_starts = [start for start, _ in headers]
    pieces: list[str] = []
    copied = 0
    search = 0
    while (match := _PAIR.search(text, search)) is not None:
        section = bisect.bisect_right(header_starts, match.start()) - 1
        in_secret_section = section >= 0 and headers[section][1]
        inline = match["lead"].startswith(("{", ","))
        key_line_start = text.rfind("\n", 0, match.start()) + 1
        value_start = match.end()
        quoted_key = match["key"][0] == '"'
        value_end = _value_end(text, value_start, inline or quoted_key, key_line_start)
        if (is_secret_key(match["key"]) or in_secret_section) and value_end > value_start:
            pieces.append(text[copied:value_start])
            pieces.append(_replacement(text, value_start, quoted_key))
            copied = search = value_end
        elif text[value_start : value_start + 1] in ("{", "[", "\r", "\n", ""):
            search = value_start
        else:
            search = value_end
    pieces.append(text[copied:])
    return "".join(pieces)


def config_log_record(source: str, text: str, *, recorded_utc: str | None = None) -> dict[str, str]:
    """One ``config_log.jsonl`` record: source, redacted text, sha256 of the full text, UTC time."""
    when = recorded_utc if recorded_utc is not None else datetime.now(timezone.utc).isoformat()
    return {
        "source": source,
        "redacted_text": redact_config_text(text),
        "sha256": sha256_text(text),
        "recorded_utc": when,
    }
