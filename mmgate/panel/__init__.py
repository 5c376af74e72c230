"""Monitoring panel: retrieval (row-paired, grouped or over unique items), zero-shot classification,
geometry, spectra, hubness, probes, health and bootstrap metrics of any dual encoder's raw
embeddings (pure numpy, blocked so N x N matrices are never materialised)."""

from mmgate.panel.bootstrap import bootstrap_ci, retrieval_cis
from mmgate.panel.geometry import (
                                   alignment,
                                   coordinate_variance,
                                   cross_mean_cosine,
                                   mean_cosine,
                                   modality_gap,
                                   norm_divergence,
                                   norm_stats,
                                   uniformity,
)
from mmgate.panel.groups import duplicate_groups, duplicate_rows
from mmgate.panel.health import numerical_health
from mmgate.panel.hubness import gini, hubness
from mmgate.panel.probes import MIProbe, cca_proxies, cca_proxy, mi_proxy
from mmgate.panel.retrieval import (
                                   RetrievalRanks,
                                   item_ranks,
                                   metrics_from_ranks,
                                   retrieval_metrics,
                                   retrieval_ranks,
)
from mmgate.panel.spectra import (
                                   covariance_spectrum,
                                   effective_rank,
                                   rank_divergence,
                                   rankme,
                                   top_eigen_share,
)
from mmgate.panel.zeroshot import (
                                   ZeroShotRanks,
                                   class_prototypes,
                                   zeroshot_metrics,
                                   zeroshot_metrics_from_ranks,
                                   zeroshot_ranks,
)

__all__ = [
    "MIProbe", "RetrievalRanks", "ZeroShotRanks", "alignment", "bootstrap_ci", "cca_proxies", "cca_proxy", "class_prototypes",
    "coordinate_variance", "covariance_spectrum", "cross_mean_cosine", "duplicate_groups", "duplicate_rows",
    "effective_rank", "gini", "hubness", "item_ranks", "mean_cosine", "metrics_from_ranks", "mi_proxy", "modality_gap",
    "norm_divergence", "norm_stats", "numerical_health", "rank_divergence", "rankme", "retrieval_cis",
    "retrieval_metrics", "retrieval_ranks", "top_eigen_share", "uniformity", "zeroshot_metrics",
    "zeroshot_metrics_from_ranks", "zeroshot_ranks",
]
