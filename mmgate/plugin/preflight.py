"""The setup check of a gated run: done once, in the controlling process, before any gate runs.

A run that cannot be set up says nothing about the model, so it must not look like a model
failure: the configuration or contract is invalid, the subject factory cannot be imported, raises
or returns something other than a ``Subject``, the encoder's identity is unusable, the two towers
embed into spaces of different dimensions, or the canary is too small for the gates' statistics.
Each cause is reported once, no gate runs, and the run ends with the decision ``SETUP_ERROR``
(exit status 13) and a bundle that records the causes.

The check builds the user's subject (the built-in one needs nothing: its configuration is checked,
its dimensions and canary are fixed) and embeds a probe of a few canary pairs per modality. A probe
that raises or returns malformed output is not a setup error: that is the model's own failure,
and the gates report it (REJECT) with the rows and problem named.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mmgate.errors import MmgateError
from mmgate.gating.decision import EXIT_CODES
from mmgate.panel.torch_backend import check_device
from mmgate.plugin.runspec import RunSpec
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

_CANARY_WHY = ("below that the gates' statistics mean nothing: a recall takes only N + 1 values, its "
               "bootstrap interval collapses (a perfect score gives CI [1, 1]), recall@5 is at or near "
               "chance (5/N), hubness (k = 10) and effective rank (>= 12) have too few points")


@dataclass(frozen=True)
class SetupCheck:
    """What the setup check found: the causes (empty: the run can start), the user's subject when
    it was built, and whether the check was interrupted (Ctrl-C while building or probing)."""

    errors: tuple[str, ...] = ()
    subject: Subject | None = None
    interrupted: bool = False

    @property
    def failed(self) -> bool:
        """Whether the run cannot start its gates."""
        return bool(self.errors) or self.interrupted


def check_setup(spec: RunSpec) -> SetupCheck:
    """Every setup problem of the run, each stated once with its cause."""
    errors = list(spec.problems) + device_problems(spec.settings.device)
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
    except KeyboardInterrupt:
        return SetupCheck(tuple(errors), subject, interrupted=True)
    return SetupCheck(tuple(errors), subject)


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
    except Exception:  # the encoder's own failure: the gates report it with its rows
        return None
    if arr.ndim != 2 or arr.shape[0] != k or arr.dtype.kind not in "iuf" or arr.shape[1] == 0:
        return None
    return int(arr.shape[1])
