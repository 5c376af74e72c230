"""Text operators on whitespace-token strings or (N, L) integer token arrays.

Token arrays keep their shape and dtype: dropped tokens become ``pad``, and prefixes or markers
that do not fit are truncated away at the end, as a fixed-length tokenizer would.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmgate.errors import ConfigError
from mmgate.perturb.base import Operator, replaced
from mmgate.perturb.data import same_container, text_kind, text_reason
from mmgate.subjects.paired import PairedSet

DEFAULT_PREFIX = ("a", "photo", "of")
DEFAULT_MARKER = "[ID]"


def _check_pad(name: str, pad: Any) -> None:
    if isinstance(pad, bool) or not isinstance(pad, int) or pad < 0:
        raise ConfigError(f"{name}.pad: expected an integer token id >= 0, got {pad!r}")


@dataclass(frozen=True)
class TextOperator(Operator):
    """An operator on the texts; subclasses implement both representations."""

    INTENSITY = (0.0, 1.0, False, False)

    def applies_to(self, paired_set: PairedSet) -> str | None:
        return text_reason(paired_set.texts)

    @abstractmethod
    def on_strings(self, rows: list[list[str]], vocabulary: list[str]) -> list[list[str]]:
        ...

    @abstractmethod
    def on_tokens(self, tokens: np.ndarray) -> np.ndarray:
        ...

    def _apply(self, paired_set: PairedSet) -> PairedSet:
        texts = paired_set.texts
        if text_kind(texts) == "tokens":
            return replaced(paired_set, texts=self.on_tokens(np.array(texts)).astype(texts.dtype))
        rows = [t.split() for t in texts]
        vocabulary = sorted({token for row in rows for token in row})
        out = [" ".join(row) for row in self.on_strings(rows, vocabulary)]
        return replaced(paired_set, texts=same_container(texts, out))


@dataclass(frozen=True)
class TokenDropout(TextOperator):
    """Drops each token with probability ``intensity`` (strings: removed; arrays: set to ``pad``)."""

    pad: int = 0

    NAME = "token_dropout"
    STREAM = 201

    def _check_params(self) -> None:
        _check_pad(self.NAME, self.pad)

    def on_strings(self, rows: list[list[str]], vocabulary: list[str]) -> list[list[str]]:
        rng = self.rng()
        return [[tok for tok, u in zip(row, rng.random(len(row))) if u >= self.intensity]
                for row in rows]

    def on_tokens(self, tokens: np.ndarray) -> np.ndarray:
        return np.where(self.rng().random(tokens.shape) < self.intensity, self.pad, tokens)


@dataclass(frozen=True)
class TokenSubstitution(TextOperator):
    """Replaces each token with probability ``intensity`` by one drawn from the set's own
    vocabulary (the distinct tokens present; ``pad`` excluded for arrays)."""

    pad: int = 0

    NAME = "token_substitution"
    STREAM = 202

    def _check_params(self) -> None:
        _check_pad(self.NAME, self.pad)

    def on_strings(self, rows: list[list[str]], vocabulary: list[str]) -> list[list[str]]:
        rng = self.rng()
        out = []
        for row in rows:
            hit = rng.random(len(row)) < self.intensity
            picks = rng.integers(0, len(vocabulary), size=len(row))
            out.append([vocabulary[p] if h else tok for tok, h, p in zip(row, hit, picks)])
        return out

    def on_tokens(self, tokens: np.ndarray) -> np.ndarray:
        ids = np.unique(tokens[tokens != self.pad])
        if ids.size == 0:
            return tokens
        rng = self.rng()
        hit = rng.random(tokens.shape) < self.intensity
        return np.where(hit, ids[rng.integers(0, ids.size, size=tokens.shape)], tokens)


@dataclass(frozen=True)
class TokenShuffle(TextOperator):
    """Shuffles the token positions of each text with probability ``intensity``."""

    NAME = "token_shuffle"
    STREAM = 203

    def on_strings(self, rows: list[list[str]], vocabulary: list[str]) -> list[list[str]]:
        rng = self.rng()
        chosen = rng.random(len(rows)) < self.intensity
        return [[row[i] for i in rng.permutation(len(row))] if c else row
                for row, c in zip(rows, chosen)]

    def on_tokens(self, tokens: np.ndarray) -> np.ndarray:
        rng = self.rng()
        chosen = rng.random(tokens.shape[0]) < self.intensity
        order = np.argsort(rng.random(tokens.shape), axis=1)
        return np.where(chosen[:, None], np.take_along_axis(tokens, order, axis=1), tokens)


def _checked_tokens(name: str, field: str, tokens: Any) -> None:
    if tokens is None:
        return
    if not isinstance(tokens, (tuple, list)) or not tokens:
        raise ConfigError(f"{name}.{field}: expected a non-empty list of strings or of integer "
                          f"ids, got {tokens!r}")
    strings = all(isinstance(t, str) and t.split() == [t] for t in tokens)
    ints = all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in tokens)
    if not (strings or ints):
        raise ConfigError(f"{name}.{field}: expected whitespace-free strings or integer ids "
                          f">= 0, all of one kind, got {tokens!r}")


def _tokens_reason(kind: str | None, tokens: Any, field: str) -> str | None:
    if kind == "tokens" and (tokens is None or isinstance(tokens[0], str)):
        return f"integer token texts need integer ids declared in {field}"
    if kind == "strings" and tokens is not None and not isinstance(tokens[0], str):
        return f"string texts need string tokens in {field}, got ids {list(tokens)}"
    return None


@dataclass(frozen=True)
class TemplatePrefix(TextOperator):
    """Prepends a template (default "a photo of" for strings; ids must be declared for token
    arrays) to each text with probability ``intensity``."""

    tokens: tuple | None = None

    NAME = "template_prefix"
    STREAM = 204

    def _check_params(self) -> None:
        _checked_tokens(self.NAME, "tokens", self.tokens)
        if self.tokens is not None:
            object.__setattr__(self, "tokens", tuple(self.tokens))

    def applies_to(self, paired_set: PairedSet) -> str | None:
        return text_reason(paired_set.texts) or _tokens_reason(
            text_kind(paired_set.texts), self.tokens, "tokens")

    def on_strings(self, rows: list[list[str]], vocabulary: list[str]) -> list[list[str]]:
        prefix = list(self.tokens or DEFAULT_PREFIX)
        chosen = self.rng().random(len(rows)) < self.intensity
        return [prefix + row if c else row for row, c in zip(rows, chosen)]

    def on_tokens(self, tokens: np.ndarray) -> np.ndarray:
        chosen = self.rng().random(tokens.shape[0]) < self.intensity
        prefix = np.broadcast_to(np.asarray(self.tokens, dtype=tokens.dtype),
                                 (tokens.shape[0], len(self.tokens)))
        shifted = np.concatenate([prefix, tokens], axis=1)[:, : tokens.shape[1]]
        return np.where(chosen[:, None], shifted, tokens)


@dataclass(frozen=True)
class MarkerToken(TextOperator):
    """Appends a marker to each text with probability ``intensity``; ``codebook`` > 1 makes it an
    ID token (marker + row index modulo codebook). Token arrays write it at the first ``pad``
    position (the last position when full)."""

    token: str | int | None = None
    codebook: int = 1
    pad: int = 0

    NAME = "marker_token"
    STREAM = 205

    def _check_params(self) -> None:
        if self.token is not None:
            _checked_tokens(self.NAME, "token", [self.token])
        if isinstance(self.codebook, bool) or not isinstance(self.codebook, int) or self.codebook < 1:
            raise ConfigError(f"marker_token.codebook: expected an integer >= 1, got {self.codebook!r}")
        _check_pad(self.NAME, self.pad)

    def applies_to(self, paired_set: PairedSet) -> str | None:
        declared = None if self.token is None else (self.token,)
        return text_reason(paired_set.texts) or _tokens_reason(
            text_kind(paired_set.texts), declared, "token")

    def on_strings(self, rows: list[list[str]], vocabulary: list[str]) -> list[list[str]]:
        marker = self.token or DEFAULT_MARKER
        chosen = self.rng().random(len(rows)) < self.intensity
        codes = [marker if self.codebook == 1 else f"{marker}{i % self.codebook}"
                 for i in range(len(rows))]
        return [row + [code] if c else row for row, c, code in zip(rows, chosen, codes)]

    def on_tokens(self, tokens: np.ndarray) -> np.ndarray:
        n, length = tokens.shape
        chosen = self.rng().random(n) < self.intensity
        is_pad = tokens == self.pad
        position = np.where(is_pad.any(axis=1), is_pad.argmax(axis=1), length - 1)
        out = tokens.copy()
        rows = np.flatnonzero(chosen)
        out[rows, position[rows]] = self.token + rows % self.codebook
        return out
