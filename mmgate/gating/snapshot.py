"""Plot data of one seed's embeddings: 2-D PCA per modality, covariance spectra, a block of the
similarity matrix, recall bars and k-occurrence counts, small enough to travel as gate evidence."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mmgate.panel import RetrievalRanks, covariance_spectrum, metrics_from_ranks
from mmgate.panel.hubness import occurrence_counts
from mmgate.panel.spectra import principal_scores
from mmgate.panel.validate import unit_pair

PREFERRED_FACTOR = "shape"


def snapshot(z_img: np.ndarray, z_txt: np.ndarray, factors: Mapping[str, np.ndarray],
             ranks: RetrievalRanks, *, seed: int, points: int = 512, subset: int = 32,
             k: int = 10, occurrences: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None) -> dict[str, Any]:
    """JSON-ready snapshot consumed by :func:`mmgate.audit.plots.render_snapshot_plots`. The
    k-occurrence counts come from ``occurrences`` (``i2t``/``t2i`` -> ``occurrence_counts`` output of
    these embeddings at this ``k``, e.g. the hubness gate's) or from two blocked passes."""
    ui, ut = unit_pair(z_img, z_txt)
    n = ui.shape[0]
    shown = min(points, n)
    factor = PREFERRED_FACTOR if PREFERRED_FACTOR in factors else (sorted(factors) or [""])[0]
    m = min(subset, n)
    if occurrences is None:
        occurrences = {"i2t": occurrence_counts(ui, ut, k, n), "t2i": occurrence_counts(ut, ui, k, n)}
    k_occ_txt, k_occ_img = occurrences["i2t"][1], occurrences["t2i"][1]
    ks = [cut for cut in (1, 5, 10) if cut <= n]
    return {
        "seed": seed,
        "factor": factor,
        "pca_img": _pca2(z_img)[:shown].tolist(),
        "pca_txt": _pca2(z_txt)[:shown].tolist(),
        "labels": np.asarray(factors[factor])[:shown].tolist() if factor else None,
        "spectrum_img": covariance_spectrum(z_img).tolist(),
        "spectrum_txt": covariance_spectrum(z_txt).tolist(),
        "similarity": (ui[:m].astype(np.float64) @ ut[:m].astype(np.float64).T).clip(-1.0, 1.0).tolist(),
        "retrieval": {key: value for key, value in metrics_from_ranks(ranks, ks).items()
                      if "recall" in key},
        "k_occurrence_i2t": k_occ_txt.tolist(),
        "k_occurrence_t2i": k_occ_img.tolist(),
        "k": k,
    }


def _pca2(z: np.ndarray) -> np.ndarray:
    scores = principal_scores(z, min(2, *np.shape(z)))
    if scores.shape[1] < 2:
        scores = np.pad(scores, ((0, 0), (0, 2 - scores.shape[1])))
    return scores
