"""The intervention configuration (book §3.7.1): the bounds of the policy, fixed and hashed before a
run. Every decision record carries its sha256, so a record names exactly the K, stop rules, evidence
levels and tolerances it was decided under.

The contract (``mmgate.gating.contract.Contract``) keeps the acceptance thresholds the interventions
are judged by; this configuration keeps what the contract does not know about: the intensity bound
K, the fine-tuning regime, the stop rules' margins, the minimum evidence of each action and the
tolerance within which a measure counts as "not worse".
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from dataclasses import dataclass
from typing import Any

from mmgate.errors import ConfigError
from mmgate.gating.contract import Contract
from mmgate.records.canonical import canonical_json_line

ACTIONS: tuple[str, ...] = ("temperature_recalibration", "input_renormalisation", "gradient_rebalancing",
                            "pairing_sanitation", "confounder_ablation", "limited_fine_tune")
# What the policy may never do automatically (book §3.7.1); listed in every record.
PROHIBITED: tuple[str, ...] = ("full_retraining", "unconstrained_hyperparameter_search",
                               "threshold_change_after_results", "silent_pipeline_change")

# The built-in contract's default thresholds, by field name (no Contract is built at import).
_CONTRACT_DEFAULTS: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(Contract)}


@dataclass(frozen=True)
class InterventionConfig:
    """Bounds of the intervention policy. ``max_steps`` is K: no parameter-changing action may take
    more optimiser steps; ``fine_tune_steps`` is what the actions request (<= K)."""

    max_steps: int = 150
    fine_tune_steps: int = 120
    lr: float = 1e-3
    batch_size: int = 128
    temperature: float = 0.1
    grad_clip: float = 5.0
    weight_decay: float = 1e-2
    checkpoint_every: int = 10
    destabilise_lr_factor: float = 100.0
    monitor_items: int = 256
    # stop rules: ceilings/floors (the built-in Contract's health bounds, read from its defaults)
    # relaxed to start + margin when the model starts beyond them (a fine-tune may not make a
    # violated measure worse)
    max_mean_cosine: float = _CONTRACT_DEFAULTS["max_mean_cosine"]
    min_variance_floor: float = _CONTRACT_DEFAULTS["min_variance_floor"]
    min_effective_rank: float = _CONTRACT_DEFAULTS["min_effective_rank"]
    max_hubness: float = _CONTRACT_DEFAULTS["max_hubness_concentration"]
    max_sensitivity: float = 0.15
    sensitivity_lr: float = 0.01
    # Margins checked against (not set from) the largest worse-direction excursion of the monitor
    # reading over the 120 steps of a benign fine-tune of the healthy model on its clean training data,
    # tuning seeds 100-104 x 3 batch orders (15 runs, 256 monitor items): mean cosine max 0.019
    # (median 0.012); effective rank never fell (max 0.007); hubness max 0.006; variance floor max
    # 8.0e-4 (median 4.1e-4), i.e. above stop_margin_variance at healthy levels (p5 variance about
    # 0.013; the margin applies only to a start below the 2e-3 floor, where it is unmeasured).
    stop_margin_cosine: float = 0.02
    stop_margin_rank: float = 0.5
    stop_margin_hubness: float = 0.02
    stop_margin_variance: float = 2e-4
    # evidence
    min_marker_effect: float = 0.05
    max_renorm_shape_jsd: float = 0.02
    renorm_bins: int = 20
    sanitation_percentile: float = 0.98
    min_keep_fraction: float = 0.5
    min_grad_imbalance: float = 1.5
    max_balance_factor: float = 4.0
    # "not worse" tolerances (absolute), per health/symmetry measure. Checked against (not set from)
    # tuning seeds 100-104 only: "not worse" compares one model before and after an action on the same
    # seed's same canary and current sets (256 items each), so the matching noise is the change a benign
    # K-step fine-tune (120 steps, clean training data) makes to the healthy model on those same sets,
    # 3 batch orders x 5 seeds x 2 sets = 30 readings: sd of the change, largest worse-direction change.
    # The seed-to-seed sd of the healthy model (retrained per seed, other items) is given for scale.
    # With these values a benign fine-tune of the healthy model is reported worse in 4 of the 15 runs
    # (t2i top-1, symmetry gap, rank divergence, variance floor): top-1, gap, variance and rank
    # divergence sit at about 1.5-1.8 sd of the benign change.
    # retrieval recall@1 (each direction): benign change sd 0.013; worst fall i2t 0.016, t2i 0.023
    # (3/30 over 0.02); seed sd 0.010-0.023. 0.02 is 5 of 256 items.
    tol_top1: float = 0.02
    # |symmetry gap@1|: benign change sd 0.017, worst rise 0.039 (2/30 over 0.02); seed sd 0.010-0.019.
    tol_gap: float = 0.02
    # mean cosine: benign change sd 0.0035, worst rise 0.006; seed sd 0.003-0.004.
    tol_cosine: float = 0.02
    # p5 coordinate-variance floor (healthy level about 0.013): benign change sd 2.4e-4, worst fall
    # 6.1e-4 (1/30 over 5e-4); seed sd 4.3e-4-5.2e-4.
    tol_variance: float = 5e-4
    # effective rank (healthy 15.5-17.6): a benign fine-tune always raised it (+0.17 to +0.92, change
    # sd 0.19); seed sd 0.64-0.78.
    tol_rank: float = 0.5
    # hubness (top-1 concentration, k=10): benign change sd 0.0028, worst rise 0.003; seed sd 0.003-0.007.
    tol_hubness: float = 0.02
    # rank divergence: benign change sd 0.013, worst rise 0.020 (1/30 over 0.02); seed sd 0.009-0.011.
    tol_rank_divergence: float = 0.02
    # norm divergence |cv_image - cv_text|: benign change sd 0.007, worst rise 0.026; seed sd 0.006-0.008.
    tol_norm_divergence: float = 0.05

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type in ("int", int):
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise ConfigError(f"InterventionConfig.{f.name}: expected an integer >= 1, got {value!r}")
            elif isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or value <= 0:
                raise ConfigError(f"InterventionConfig.{f.name}: expected a finite number > 0, got {value!r}")
        if self.fine_tune_steps > self.max_steps:
            raise ConfigError(f"InterventionConfig.fine_tune_steps: {self.fine_tune_steps} exceeds the intensity "
                              f"bound K = max_steps = {self.max_steps}")
        if not 0.5 <= self.sanitation_percentile < 1.0 or not 0.0 < self.min_keep_fraction < 1.0:
            raise ConfigError("InterventionConfig.sanitation_percentile / min_keep_fraction: expected in (0.5, 1) "
                              "and (0, 1)")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy of every bound."""
        return dataclasses.asdict(self)

    def sha256(self) -> str:
        """sha256 of the canonical JSON: the policy config hash every record carries."""
        return hashlib.sha256(canonical_json_line(self.to_dict()).encode("utf-8")).hexdigest()

    def replace(self, **changes: Any) -> InterventionConfig:
        """A validated copy with ``changes``."""
        return dataclasses.replace(self, **changes)


DEFAULT_INTERVENTION = InterventionConfig()
