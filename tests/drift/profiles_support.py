"""Real monitoring profiles for the drift tests: the example grid subject, embedded and measured."""

from __future__ import annotations

from examples.grid_subject import GridEncoder, make_canary
from mmgate.drift.monitor import monitoring_profile
from mmgate.gating.contract import Contract
from mmgate.gating.measurements import Measurements
from mmgate.subjects.embedding import embed_set
from mmgate.subjects.paired import PairedSet
from mmgate.subjects.subject import Subject


def grid_profile(canary: PairedSet | None = None, seed: int = 0, name: str = "grid") -> dict:
    """The monitoring profile of the grid subject on ``canary`` (default: its own) at ``seed``."""
    canary = make_canary() if canary is None else canary
    subject = Subject(name, GridEncoder(), canary)
    measured = Measurements(embed_set(subject.encoder, canary), canary, Contract(), seed)
    return monitoring_profile(subject, measured, seed)
