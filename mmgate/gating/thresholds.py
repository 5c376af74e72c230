"""The gate threshold tables: which contract field limits which gate and in which direction, the
valid range of every numeric field, the gates that apply only to some subjects, and the default
perturbation lists. The default *values* are the fields of ``mmgate.gating.contract.Contract``."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from mmgate.gating.catalogue import GATES

GATE_NAMES = tuple(spec.name for spec in GATES)
# Gates that apply only when the subject supports them (labels, training data, perturbations).
CONDITIONAL_GATES = frozenset({
    "mi_probe", "cca_probe", "split_hygiene", "leakage_alarm", "noise_slope", "corruption_slope",
    "counterfactual_drop", "robustness_margin", "benign_perturbation", "noise_direction", "stress_retrieval",
    "pair_audit", "temperature_calibration", "input_drift", "drift_budget",
    "drift_diagnosis",
})
DEFAULT_REQUIRED = tuple(name for name in GATE_NAMES if name not in CONDITIONAL_GATES)
# Gates whose measurement carries a bootstrap interval, so a contract may gate on its bound.
GATES_WITH_INTERVALS = frozenset({"retrieval_top1", "retrieval_top5", "symmetry_gap"})
# gate name -> (comparison the measured statistic must satisfy, contract field holding the limit).
GATE_THRESHOLDS: Mapping[str, tuple[str, str]] = MappingProxyType({
    "retrieval_top1": (">=", "min_retrieval_top1"),
    "retrieval_top5": (">=", "min_retrieval_top5"),
    "symmetry_gap": ("<=", "max_symmetry_gap"),
    "mean_cosine": ("<=", "max_mean_cosine"),
    "variance_floor": (">=", "min_variance_floor"),
    "effective_rank": (">=", "min_effective_rank"),
    "rankme": (">=", "min_rankme_share"),
    "hubness": ("<=", "max_hubness_concentration"),
    "rank_divergence": ("<=", "max_rank_divergence"),
    "norm_divergence": ("<=", "max_norm_divergence"),
    "mi_probe": (">=", "min_mi_excess"),
    "cca_probe": (">=", "min_cca"),
    "noise_slope": ("<=", "max_noise_slope"),
    "corruption_slope": ("<=", "max_corruption_slope"),
    "counterfactual_drop": ("<=", "max_counterfactual_drop"),
    "leakage_alarm": ("<=", "max_leakage_correlation"),
    "pair_audit": ("<=", "max_suspect_pairs"),
    "temperature_calibration": ("<=", "max_temperature_log_ratio"),
    "input_drift": ("<=", "max_input_drift"),
    "benign_perturbation": ("<=", "max_benign_drop"),
    "stress_retrieval": ("<=", "max_stress_drop"),
})
CONTRACT_EXTENSIONS = (".toml", ".json")

# float field -> (low, high, low_open, high_open); None means unbounded on that side.
FLOAT_RANGES: Mapping[str, tuple[float | None, float | None, bool, bool]] = MappingProxyType({
    "min_retrieval_top1": (0.0, 1.0, False, False),
    "min_retrieval_top5": (0.0, 1.0, False, False),
    "max_symmetry_gap": (0.0, 1.0, False, False),
    "max_mean_cosine": (-1.0, 1.0, False, False),
    "min_variance_floor": (0.0, 1.0, False, False),
    "min_effective_rank": (0.0, None, True, False),
    "min_rankme_share": (0.0, 1.0, False, False),
    "max_suspect_pairs": (0.0, 1.0, False, False),
    "max_temperature_log_ratio": (0.0, None, True, False),
    "max_input_drift": (0.0, 1.0, False, False),
    "min_mi_excess": (0.0, None, False, False),
    "min_cca": (0.0, 1.0, False, False),
    "max_noise_slope": (0.0, None, False, False),
    "max_corruption_slope": (0.0, None, False, False),
    "max_counterfactual_drop": (0.0, 1.0, False, False),
    "max_hubness_concentration": (0.0, 1.0, False, False),
    "max_rank_divergence": (0.0, None, False, False),
    "max_norm_divergence": (0.0, None, False, False),
    "max_leakage_correlation": (0.0, 1.0, False, False),
    "max_benign_drop": (0.0, 1.0, False, False),
    "max_stress_drop": (0.0, 1.0, False, False),
    "min_margin_image_noise": (0.0, None, False, False),
    "min_margin_text_noise": (0.0, None, False, False),
    "min_margin_pair_corruption": (0.0, None, False, False),
    "min_margin_temperature_scale": (0.0, None, False, False),
    "min_margin_confounder_strength": (0.0, None, False, False),
    "min_margin_preprocessing_scale": (0.0, None, False, False),
    "bootstrap_alpha": (0.0, 0.5, True, True),
})
MIN_RESAMPLES = 100
# Benign perturbations the invariance gate applies when the contract declares none: a brightness
# shift either way (for subjects whose images are arrays; it does not apply to other data).
DEFAULT_BENIGN = (
    (("intensity", 0.05), ("name", "brightness"), ("seed", 0)),
    (("intensity", -0.05), ("name", "brightness"), ("seed", 0)),
)
# Operator -> largest intensity the stress property draws (photometric changes a deployed image
# pipeline meets; text and pairing operators are opt-in because they depend on the tokenizer).
DEFAULT_STRESS_BUDGETS = (("blur", 0.4), ("brightness", 0.1), ("contrast", 0.2),
                          ("gaussian_noise", 0.01))
