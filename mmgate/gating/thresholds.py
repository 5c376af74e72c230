"""The gate threshold tables: which contract field limits which gate and in which direction, the
valid range of every numeric field, the gates that apply only to some subjects, and the default
perturbation lists. The default *values* are the fields of ``mmgate.gating.contract.Contract``."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from mmgate.gating.catalogue import GATES

GATE_NAMES = tuple(spec.name for spec in GATES)
# Gates that apply only when the subject supports them (labels, training data, perturbations) or its
# canary does (rank_divergence: towers whose effective ranks are not bounded by unequal caps).
CONDITIONAL_GATES = frozenset({
    "mi_probe", "cca_probe", "split_hygiene", "leakage_alarm", "noise_slope", "corruption_slope",
    "counterfactual_drop", "robustness_margin", "benign_perturbation", "noise_direction", "stress_retrieval",
    "pair_audit", "temperature_calibration", "input_drift", "drift_budget",
    "drift_diagnosis", "zero_shot", "rank_divergence",
})
DEFAULT_REQUIRED = tuple(name for name in GATE_NAMES if name not in CONDITIONAL_GATES)
# (Gates whose contract threshold is unset, see NULLABLE_FIELDS, are dropped from it per contract.)
# Gates whose measurement carries a bootstrap interval: decided on it by default (``decide_on``),
# and a contract may gate on its stricter bound instead. The others decide on the point estimate.
GATES_WITH_INTERVALS = frozenset({"retrieval_top1", "retrieval_top5", "pair_auc", "symmetry_gap", "zero_shot",
                                  "mean_cosine", "variance_floor", "effective_rank", "rankme",
                                  "direction_energy", "hubness", "rank_divergence", "norm_divergence",
                                  "cca_probe"})
# gate name -> (comparison the measured statistic must satisfy, contract field holding the limit).
GATE_THRESHOLDS: Mapping[str, tuple[str, str]] = MappingProxyType({
    "retrieval_top1": (">=", "min_retrieval_top1"),
    "retrieval_top5": (">=", "min_retrieval_top5"),
    "pair_auc": (">=", "min_pair_auc"),
    "symmetry_gap": ("<=", "max_symmetry_gap"),
    "zero_shot": (">=", "min_zero_shot_top1"),
    "mean_cosine": ("<=", "max_mean_cosine"),
    "variance_floor": (">=", "min_variance_floor"),
    "effective_rank": (">=", "min_effective_rank"),
    "rankme": (">=", "min_rankme_share"),
    "direction_energy": ("<=", "max_direction_energy"),
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
DECIDE_ON = ("interval", "point")

# float field -> (low, high, low_open, high_open); None means unbounded on that side.
FLOAT_RANGES: Mapping[str, tuple[float | None, float | None, bool, bool]] = MappingProxyType({
    "min_retrieval_top1": (0.0, 1.0, False, False),
    "min_retrieval_top5": (0.0, 1.0, False, False),
    "min_pair_auc": (0.0, 1.0, False, False),
    "max_symmetry_gap": (0.0, 1.0, False, False),
    "min_zero_shot_top1": (0.0, 1.0, False, False),
    "zero_shot_chance_multiple": (1.0, None, False, False),
    "max_mean_cosine": (-1.0, 1.0, False, False),
    "min_variance_floor": (0.0, 1.0, False, False),
    "min_effective_rank": (0.0, None, True, False),
    "min_rankme_share": (0.0, 1.0, False, False),
    "effective_rank_room_share": (0.0, 1.0, True, False),
    "max_direction_energy": (0.0, 1.0, False, False),
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
# Fields that may be left unset (None): an unset gate threshold makes its gate not_applicable with
# the reason below and drops the gate from the default required list; an unset
# effective_rank_room_share leaves the effective-rank floor uncapped, an unset
# zero_shot_chance_multiple the zero-shot floor uncapped by chance.
NULLABLE_FIELDS = frozenset({name for _, name in GATE_THRESHOLDS.values()}
                            | {"effective_rank_room_share", "zero_shot_chance_multiple"})
UNSET_REASONS: Mapping[str, str] = MappingProxyType({
    "min_variance_floor": "coordinate variances depend on the basis (a rotation of a healthy space can make "
                          "a coordinate constant); set min_variance_floor in the contract to gate them",
    "min_rankme_share": "RankMe as a share of the dimension depends on the canary size and the model; "
                        "set min_rankme_share in the contract to gate it",
})
PROFILES = ("builtin", "user")
# Overrides of the ``Contract`` field defaults (the built-in subject's calibrated contract) for a
# subject given with --mmgate-subject and no contract, or under a contract file that does not say
# otherwise: these gates judge whether a model is *broken*, not whether it is good enough for a
# product. Measured in /tmp/realmodels (REPORT.md): all-MiniLM-L6-v2 (d=384) on a 512-item text
# canary at N = 64..512, random-init BERT towers, random tiny CLIP (d=64), rank-r collapsed towers,
# mispaired canaries and the built-in aligner (d=48, N = 64..256). All of them are functions of the
# Gram matrices of the unit rows, so they do not change under a rotation of the space.
USER_SUBJECT_DEFAULTS: Mapping[str, object] = MappingProxyType({
    # Raw mean off-diagonal cosine (the cone), worse modality. Trained: MiniLM 0.30-0.31 (N=64-512),
    # pretrained CLIP 0.47-0.53, built-in aligner 0.00-0.05 (N=64-256, d=48), its low-temperature
    # condition 0.73-0.77. Broken: random-init MiniLM 0.96, random tiny CLIP 0.97-0.98, untrained
    # aligner 0.93, rank-1 collapse 0.99-1.00. (The built-in 0.22 rejects every real encoder.)
    "max_mean_cosine": 0.90,
    # Recall@1 / @5 as broken-model floors, not product bars: MiniLM 0.63-0.88 at N=64-512 (recall@5
    # above 0.85); random, untrained and off-by-one joined subjects 0.00-0.02 at N=256 (chance 1/N,
    # 5/N). A product bar belongs in the subject's contract.
    "min_retrieval_top1": 0.05,
    "min_retrieval_top5": 0.20,
    # Training-pair audit: share of declared training pairs scored at most the 95th percentile of
    # unrelated pairs. Healthy real pairs include hard ones: all-MiniLM-L6-v2 on 256 caption <->
    # paraphrase training pairs measures 0.031, 0.039, 0.051, 0.031 over the null draws of seeds 0-3
    # (examples/minilm_paraphrase, 2026-11-30), so the built-in 0.05 rejected it at seed 1. A join
    # bug at rate r measures about 0.95 r + 0.04 (1 - r) (0.13 at r = 10 %); random-init MiniLM
    # 0.957, its rank-2 collapsed text tower 0.871. 0.10: twice the healthy maximum.
    "max_suspect_pairs": 0.10,
    # Minimum coordinate variance: basis-dependent (MiniLM 6.8e-67; a random rotation changes it by
    # a factor 1e63 while every rotation-invariant statistic moves < 5e-10 relative). Not gated.
    "min_variance_floor": None,
    # RankMe / d grows with N for a healthy model (MiniLM 0.12 at N=64 -> 0.30 at N=512, d=384) and
    # is model-specific; the built-in 0.48 rejects MiniLM at every N. Not gated; the drift budgets
    # compare RankMe with the subject's own baseline.
    "min_rankme_share": None,
    # Effective-rank floor capped by the room the canary leaves: min(12, 0.25 * min(N-1, d)).
    # Centred effective rank saturates for a healthy model (MiniLM 30.4-43.0 at N=64-512, aligner
    # 13.6-16.8) while collapses stay low (rank-2/4/8: 1.2 / 2.9-3.4 / 6.5-8.0, capacity skew 3.8-4.1).
    "effective_rank_room_share": 0.25,
    # Evaluation-time robustness (mmgate.lab.eval_robustness: the canary perturbed and re-embedded,
    # nothing retrained); measured by benchmarks/eval_robustness_study.py, seed 0.
    # Noise slope: least-squares recall@1 (mean of both directions) lost per unit of Gaussian image
    # noise std (units of the full pixel range) over the levels 0, 0.01, 0.02, 0.03, 0.05 (the
    # built-in 0.18 is per unit of noise on unit-variance images, another scale). Healthy: grid
    # example 6.76 (0.79 -> 0.46 at 0.05: one bright cell among 256 noisy pixels), LiT digits
    # 0.08 (0.992 -> 0.987 at 0.05). Broken: a tower keyed on 8 background pixels 15.6 (1.0 -> 0.27), a tower keyed on a
    # hash of the exact pixels about 15 (1.0 -> chance at 0.01; the largest a 1 -> 0 curve can give
    # on these levels is 14.9 for a step at the first level).
    "max_noise_slope": 10.0,
    # Margins: the largest knob intensity at which recall@1/@5 floors, pair AUC and the symmetry gap
    # (point estimates, both directions) all still hold, bisected on the knob's grid.
    # image_noise (Gaussian std, units of the full range; grid 0..0.5): healthy grid example 0.117,
    # LiT digits 0.148 (ended by the symmetry gap); broken: 8-background-pixel tower 0.0625, exact-pixel-hash tower 0.0
    # (the pytester subject of tests/plugin/test_plugin_eval_robustness.py). 0.02 is about 5/255, the
    # noise of an ordinary 8-bit capture.
    "min_margin_image_noise": 0.02,
    # text_noise (share of caption tokens substituted from the canary's own vocabulary; string texts
    # only when the contract names token_substitution, since an encoder may parse fixed strings):
    # all-MiniLM-L6-v2 on both sides of the 256-pair caption <-> paraphrase canary (d = 384,
    # benchmarks/eval_robustness_study.py minilm, seed 0) 0.336 (ended by the pair AUC floor); the
    # same architecture with random weights 0.0 (it fails the floors unperturbed).
    "min_margin_text_noise": 0.05,
    # pair_corruption (share of canary pairs swapped round a cycle; a perfect model's pair AUC is
    # about 1 - rate / 2, so the 0.90 AUC floor ends it near 0.2): cone subject 0.219, grid 0.188,
    # synthetic towers with a shared cue 0.16-0.20; broken: random towers 0.0 (they fail the
    # floors unperturbed). Not applicable on grouped canaries (LiT digits: 0.008, a moved class caption
    # ties exactly with its class's captions). Same value as the built-in profile.
    "min_margin_pair_corruption": 0.05,
    # preprocessing_scale (decades of image scale reduction, grid 0..2): grid example 2.0 (a linear
    # tower is scale-free after normalisation), LiT digits 0.375 (images x 0.42; ended by the symmetry
    # gap). 0.2 decades is a pipeline that scales pixels by 0.63 instead of 1.
    "min_margin_preprocessing_scale": 0.2,
    # Counterfactual drop: recall@1 in random pools of 16 minus in pools sharing the query's value of
    # a declared confounder (worse direction). Synthetic towers (4 cue values, d=32) with no cue 0.00,
    # cue weight 1-3 beside a strong signal 0.00, cue 3-6 beside a weak signal 0.08; towers matching mostly
    # on the cue (cue 3-6, signal 0.2-0.6; tests/lab/test_eval_robustness.py) 0.19-0.27;
    # LiT digits with an image-brightness tertile as confounder 0.00 (0.985 in both pools).
    "max_counterfactual_drop": 0.10,
    # Decided on the interval (``decide_on``), a broken-model limit must clear a healthy model's
    # interval at the canary sizes teams use. Symmetry gap |i2t - t2i| recall@1: all-MiniLM-L6-v2 on
    # the 256-pair paraphrase canary 0.043 (CI 0-0.109), a healthy synthetic COCO-layout canary
    # (100 x 5, tests/plugin/test_field_layouts.py) 0.088 (0.024-0.142), VideoCLIP on 100 pairs
    # 0.13 (0.03-0.25, reported with the issue: INCOMPLETE, more pairs decide it); the built-in 0.10
    # made the first two INCOMPLETE. Broken towers fail retrieval outright (chance both ways).
    "max_symmetry_gap": 0.20,
    # Effective-rank divergence between the towers: LiT digits (539 scans, 60 captions) 0.098
    # (CI 0.067-0.159), all-MiniLM-L6-v2 0.038 (0.023-0.052); its text tower collapsed to rank 2
    # 0.972 (0.971-0.973). The built-in 0.10 left LiT INCOMPLETE; 0.25 keeps a collapse far beyond.
    "max_rank_divergence": 0.25,
    # MI excess over the label-permutation null (weaker modality, mean over factors): all-MiniLM-L6-v2
    # on the paraphrase canary 0.056 at N = 256 and 0.045-0.057 on seeded half canaries (N = 128,
    # python -m mmgate power), so the built-in 0.05 rejected it on 9 of 20 halves; its text tower
    # collapsed to rank 2 0.004-0.005, the off-by-one join 0.000-0.001 (random-init MiniLM 0.049-0.055:
    # its word pieces still carry the factors; retrieval rejects it).
    "min_mi_excess": 0.02,
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
