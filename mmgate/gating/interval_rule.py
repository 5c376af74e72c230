"""The interval rule's arithmetic: how many canary pairs would turn an inconclusive case into a
decision, from how a bootstrap interval narrows with the canary size (its width shrinks about as
1 / sqrt(N) for every statistic mmgate bootstraps: means over queries, and smooth functions of the
item covariance or of the occurrence counts)."""

from __future__ import annotations

import math

from mmgate.gating.results import Threshold


def pairs_to_decide(value: float, ci: tuple[float, float], threshold: Threshold, pairs: int) -> int | None:
    """About how many pairs (the canary has ``pairs``) would move the interval's side facing the
    limit off it, the point estimate staying where it is: N * (spread / distance to the limit)^2.
    None when the point sits on the limit (no canary size decides it) or nothing is known."""
    if pairs < 1 or not all(math.isfinite(v) for v in (value, *ci)):
        return None
    distance = abs(value - threshold.value)
    if distance == 0.0:
        return None
    above = value > threshold.value
    spread = value - ci[0] if above else ci[1] - value
    return max(pairs + 1, math.ceil(pairs * (spread / distance) ** 2))


def one_sided_level(alpha: float) -> float:
    """Each bound of a two-sided (1 - alpha) percentile interval is a one-sided (1 - alpha / 2)
    bound: a model exactly at the limit fails (or passes) with probability about alpha / 2."""
    return 1.0 - alpha / 2.0
