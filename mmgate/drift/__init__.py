"""Drift: input and embedding profiles, their comparison, outlier-aware aggregation, baselines,
budgets and the drift classifier (the lifecycle half of a release gate)."""

from mmgate.drift.aggregate import (
                                          AGGREGATES,
                                          DEFAULT_AGGREGATE,
                                          aggregate,
                                          aggregate_all,
)
from mmgate.drift.domain_classifier import domain_classifier_auc
from mmgate.drift.embedding_drift import (
                                          centroid_shift,
                                          embedding_drift,
                                          joint_pair_drift,
                                          ks_per_dimension,
)
from mmgate.drift.mmd import mmd2_test
from mmgate.drift.profiles import (
                                          DEFAULT_THRESHOLDS,
                                          DriftThresholds,
                                          compare_profiles,
                                          compute_dataset_profile,
)

__all__ = [
    "AGGREGATES", "DEFAULT_AGGREGATE", "DEFAULT_THRESHOLDS", "DriftThresholds", "aggregate", "aggregate_all",
    "centroid_shift", "compare_profiles", "compute_dataset_profile", "domain_classifier_auc", "embedding_drift",
    "joint_pair_drift", "ks_per_dimension", "mmd2_test",
]
