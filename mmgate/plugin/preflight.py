"""The setup check of a gated run: done once, in the controlling process, before any gate runs.

A run that cannot be set up says nothing about the model, so it must not look like a model
failure: the configuration or contract is invalid, the subject factory cannot be imported, raises
or returns something other than a ``Subject``, the encoder's identity is unusable, the two towers
embed into spaces of different dimensions, or the canary is too small for the gates' statistics.
Each cause is reported once, no gate runs, and the run ends with the decision ``SETUP_ERROR``
(exit status 13) and a bundle that records the causes.

The check builds the user's subject (the built-in one needs nothing: its configuration is checked,
its dimensions and canary are fixed), embeds a probe of a few canary pairs per modality to compare
the towers' dimensions and then, when every cheap check passed, embeds the whole clean canary: the
gates need that pass anyway (a serial run adopts its embeddings, so the canary is embedded once), and
it is where an input that cannot be read (a corrupt or deleted image file of a manifest canary) or an
encoder that raises on the canary shows itself. Either is a setup error named once here, not the
same traceback in every gate case: no gate can measure a model that cannot embed its own canary.
Output that comes back but is unusable (wrong shape, NaN, Inf, all-zero rows) stays the model's
own failure, which the gates report (REJECT) with the rows and problem named. Under xdist the check
runs here in the controller too, and the worker that gates seed 0 embeds the canary again.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmgate.errors import ConfigError, MmgateError
from mmgate.gating.decision import EXIT_CODES
from mmgate.panel.torch_backend import check_device
from mmgate.plugin.engine import LOCAL, Engine, engine_for, ray_problems
from mmgate.plugin.runspec import RunSpec
from mmgate.subjects.embedding import EncoderRaised, Embeddings, UnreadableRows
from mmgate.subjects.lazy_images import ImageFiles
from mmgate.subjects.paired import row_slice
from mmgate.subjects.subject import Subject, build_subject

SETUP_ERROR_EXIT = EXIT_CODES["SETUP_ERROR"]
"""13, the exit status of a run that could not be set up (not 0 APPROVE, 10 REJECT, 11 INCOMPLETE, 12 bundle)."""

MIN_CANARY_PAIRS = 32
"""The smallest canary the gates' statistics mean something on. With N pairs a recall is one of
N + 1 values and its bootstrap interval moves in steps of 1/N (1/32 = 0.03 stays below the 0.05
tolerances of the symmetry and drift gates); chance recall@5 is 5/N (1.0 at N <= 5, 0.16 at 32,
far below the 0.85 threshold), and a random encoder reaches recall@1 >= 0.55 on 3 pairs one time
in six; hubness looks at the 10 nearest neighbours and effective rank must reach 12, so N must
clearly exceed both."""

PROBE_PAIRS = 8
"""Canary pairs each tower embeds once in the setup check, to compare the towers' dimensions."""

NAMED_ROWS = 10
"""Unreadable canary inputs named one by one in the setup errors; the rest are counted in one more."""

Progress = Callable[[int, int, str], None]

_CANARY_WHY = ("below that the gates' statistics mean nothing: a recall takes only N + 1 values, its "
               "bootstrap interval collapses (a perfect score gives CI [1, 1]), recall@5 is at or near "
               "chance (5/N), hubness (k = 10) and effective rank (>= 12) have too few points")


@dataclass(frozen=True)
class SetupCheck:
    """What the setup check found: the causes (empty: the run can start), the user's subject when
    it was built, and whether the check was interrupted (Ctrl-C while building, probing or embedding
    the canary)."""

    errors: tuple[str, ...] = ()
    subject: Subject | None = None
    interrupted: bool = False
    canary: Embeddings | None = None
    """The subject's clean canary embeddings when the check embedded it without fault (a serial run's
    gates adopt them instead of embedding the canary again)."""

    @property
    def failed(self) -> bool:
        """Whether the run cannot start its gates."""
        return bool(self.errors) or self.interrupted


def check_setup(spec: RunSpec, progress: Progress | None = None, distributed: bool = False) -> SetupCheck:
    """Every setup problem of the run, each stated once with its cause; the canary pass, the one
    expensive step, only when the cheap checks found none (``progress`` follows that pass;
    ``distributed``: the gates run in xdist workers)."""
    errors = list(spec.problems) + device_problems(spec.settings.device)
    errors += ray_problems(spec.settings, distributed)
    if spec.settings.subject is None:
        return SetupCheck(tuple(errors))
    try:
        subject = build_subject(spec.settings.subject, seed=0)
    except MmgateError as exc:
        return SetupCheck((*errors, f"subject: {exc}"))
    except KeyboardInterrupt:
        return SetupCheck(tuple(errors), interrupted=True)
    errors.extend(subject_problems(subject))
    try:
        errors.extend(tower_problems(subject, spec.settings.batch_size))
        if errors:
            return SetupCheck(tuple(errors), subject)
        canary = canary_pass(subject, spec.settings.batch_size, progress, engine_for(spec.settings))
    except KeyboardInterrupt:
        return SetupCheck(tuple(errors), subject, interrupted=True)
    return SetupCheck(canary.problems, subject, canary=canary.embeddings)


def device_problems(device: str | None) -> list[str]:
    """The ``--mmgate-device`` problem, if torch is missing or cannot allocate on the device."""
    if device is None:
        return []
    try:
        check_device(device)
    except MmgateError as exc:
        return [f"--mmgate-device: {exc}"]
    return []


def subject_problems(subject: Subject) -> list[str]:
    """Problems of a built subject that need no embedding: its identity and its canary's size."""
    problems = []
    try:
        subject.identity()
    except MmgateError as exc:
        problems.append(f"subject: {exc}")
    n = len(subject.canary)
    if n < MIN_CANARY_PAIRS:
        problems.append(f"canary: {subject.canary.name!r} of subject {subject.name!r} has {n} pairs; mmgate "
                        f"needs at least {MIN_CANARY_PAIRS} (the minimum canary size): {_CANARY_WHY}")
    return problems


def tower_problems(subject: Subject, batch_size: int = 256) -> list[str]:
    """Whether the two towers embed into the same dimension, from one probe batch per modality."""
    k = max(1, min(PROBE_PAIRS, len(subject.canary), batch_size))
    dims = {modality: _probe_dimension(subject, method, field, k)
            for modality, method, field in (("image", "embed_images", "images"), ("text", "embed_texts", "texts"))}
    if None in dims.values() or dims["image"] == dims["text"]:
        return []
    return [f"towers: the image tower (encoder.embed_images) returns {dims['image']}-dimensional embeddings "
            f"and the text tower (encoder.embed_texts) {dims['text']}-dimensional ones (probe of {k} canary "
            f"pairs); a dual encoder must embed both modalities into one shared space"]


def _probe_dimension(subject: Subject, method: str, field: str, k: int) -> int | None:
    """The dimension of one probe batch, or None when the output is not a (k, d) real array (the
    gates then report what is wrong with it, as a model failure)."""
    try:
        out: Any = getattr(subject.encoder, method)(row_slice(getattr(subject.canary, field), 0, k))
        arr = np.asarray(out)
    except Exception:  # no dimension to compare: the canary pass names the exception or unreadable row
        return None
    if arr.ndim != 2 or arr.shape[0] != k or arr.dtype.kind not in "iuf" or arr.shape[1] == 0:
        return None
    return int(arr.shape[1])


@dataclass(frozen=True)
class CanaryPass:
    """The setup check's embedding of the whole clean canary: its embeddings when it went through,
    the setup problems when an input could not be read or the encoder raised, neither when the
    encoder returned unusable output (the model's failure: the gates report it)."""

    embeddings: Embeddings | None = None
    problems: tuple[str, ...] = ()


def canary_pass(subject: Subject, batch_size: int = 256, progress: Progress | None = None,
                engine: Engine = LOCAL) -> CanaryPass:
    """Embed the subject's clean canary as the gates would (on ``engine``), and turn the faults that
    are not the model's (unreadable rows, an encoder that raises) into setup problems."""
    try:
        return CanaryPass(engine.embed(subject.encoder, subject.canary, batch_size, progress))
    except UnreadableRows as exc:
        return CanaryPass(problems=unreadable_problems(subject, exc))
    except EncoderRaised as exc:
        return CanaryPass(problems=(encoder_problem(subject, exc),))
    except MmgateError:  # unusable output: the model's own failure, reported by the gates
        return CanaryPass()


def unreadable_problems(subject: Subject, failed: UnreadableRows) -> tuple[str, ...]:
    """One problem per unreadable input of the canary, from the batch that failed on (its rows and
    the ones after it are read one at a time; nothing is embedded): the first ``NAMED_ROWS`` named
    with their own error, the rest counted in one more."""
    canary, modality = subject.canary, failed.modality
    where = f"canary {canary.name!r} of subject {subject.name!r}"
    if isinstance(failed.__cause__, ConfigError):  # no row's fault (Pillow missing): it is said once
        return (f"{where}: {_one_line(failed.__cause__)}",)
    bad = _faults(canary.images if modality == "image" else canary.texts, failed.start, len(canary))
    problems = [f"{where}: {_fault_problem(modality, fault)}" for fault in bad[:NAMED_ROWS]]
    if len(bad) > NAMED_ROWS:
        rows = sum(fault.rows for fault in bad)
        problems.append(f"{where}: {len(bad) - NAMED_ROWS} more unreadable {modality} inputs, at canary rows "
                        f"{bad[NAMED_ROWS].row} to {bad[-1].row} ({rows} of {len(canary)} rows unreadable in all)")
    return tuple(problems) or (f"{where}: {_one_line(failed)} (each row reads on its own: an input that "
                               f"changed while it was read?)",)


@dataclass(frozen=True)
class _Fault:
    """One unreadable input: its first canary row, its error, and how many rows read it."""

    row: int
    error: Exception
    rows: int


def _faults(items: Any, start: int, stop: int) -> list[_Fault]:
    """The unreadable inputs among rows ``start:stop``, each read once: an image file that several
    rows name (a COCO image with five captions) is one input, one fault."""
    first: dict[Any, int] = {}
    rows: dict[Any, int] = {}
    for i in range(start, stop):
        source = items.path(i) if isinstance(items, ImageFiles) else i
        first.setdefault(source, i)
        rows[source] = rows.get(source, 0) + 1
    errors = ((source, _read_error(items, i)) for source, i in first.items())
    return [_Fault(first[source], error, rows[source]) for source, error in errors if error is not None]


def _read_error(items: Any, i: int) -> Exception | None:
    """Why row ``i`` of ``items`` cannot be read (decoded, for a lazy image file), or None."""
    try:
        row_slice(items, i, i + 1)
    except Exception as exc:
        return exc
    return None


def _fault_problem(modality: str, fault: _Fault) -> str:
    """One unreadable input: mmgate's own input errors name their file and table row already."""
    if isinstance(fault.error, MmgateError):
        problem = f"{modality} cannot be read: {_one_line(fault.error)}"
    else:
        problem = f"{modality} row {fault.row} cannot be read: {type(fault.error).__name__}: {_one_line(fault.error)}"
    return problem + (f" ({fault.rows - 1} more rows name the same file)" if fault.rows > 1 else "")


def encoder_problem(subject: Subject, raised: EncoderRaised) -> str:
    """The encoder's exception on the canary, in one line: type, message, the modality and batch
    rows it raised on, and the frame its innermost cause was raised at."""
    cause = raised.__cause__ if raised.__cause__ is not None else raised
    return (f"canary {subject.canary.name!r} of subject {subject.name!r}: the {raised.modality} encoder "
            f"({raised.method}) raised on canary rows {raised.start}:{raised.stop}: {type(cause).__name__}: "
            f"{_one_line(cause)}{_raised_at(cause)}; no gate can measure a model that cannot embed its canary")


def _raised_at(exc: BaseException) -> str:
    """`` (raised at FILE:LINE in FUNCTION)``, the innermost frame of the exception's innermost
    cause (a user's preprocess, not the adapter that wrapped its error), or "" without a traceback."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    frames = traceback.extract_tb(exc.__traceback__)
    return f" (raised at {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name})" if frames else ""


def _one_line(exc: BaseException) -> str:
    """The exception's message on one line: its first non-empty line, ``[...]`` when there is more."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return "(no message)"
    return lines[0] + (" [...]" if len(lines) > 1 else "")
