"""The gate measurements of a user's canary never build an N x N array: on a mid-size canary
(N = 7000, where one float32 score matrix is 196 MB and a float64 one 392 MB) every measurement a
gate reads, the plot snapshot, the invariance re-rankings, the training-pair audit and the
temperature fit each peak below half a float32 score matrix under tracemalloc; and sharing the
hubness counts with the snapshot changes no number."""

from __future__ import annotations

import numpy as np
import pytest

from mmgate import panel
from mmgate.gating.contract import Contract
from mmgate.gating.measurements import Measurements
from mmgate.gating.snapshot import snapshot
from mmgate.panel.pair_audit import audit_pairs
from mmgate.panel.temperature import fit_temperature
from mmgate.subjects.embedding import Embeddings
from mmgate.subjects.paired import PairedSet
from tests.panel.memory import half_a_score_matrix, peak_traced_bytes

N_CANARY = 7000


def _measurements(n: int, d: int = 16, seed: int = 0, bootstrap: int = 200) -> Measurements:
    """Text = image + noise over ten clusters (a factor); rows are their own indices."""
    rng = np.random.default_rng(seed)
    cluster = rng.integers(0, 10, n)
    z_img = (rng.standard_normal((n, d)) + rng.standard_normal((10, d))[cluster]).astype(np.float32)
    z_txt = (z_img + 0.6 * rng.standard_normal((n, d))).astype(np.float32)
    rows = np.arange(n)
    canary = PairedSet(rows, rows.copy(), factors={"cluster": cluster}, name="memory-canary")
    return Measurements(Embeddings(z_img, z_txt), canary, Contract(bootstrap_resamples=bootstrap), seed=seed)


def _passes(m: Measurements) -> dict[str, object]:
    z_img, z_txt = m.embeddings.z_img, m.embeddings.z_txt
    return {
        "ranks": lambda: m.ranks,
        "retrieval_evidence": lambda: [m.retrieval_evidence(d) for d in ("image_to_text", "text_to_image")],
        "pair_auc": lambda: [m.pair_auc(d) for d in ("image_to_text", "text_to_image")],
        "symmetry_gap": m.symmetry_gap,
        "geometry": lambda: [m.geometry(modality) for modality in ("image", "text")],
        "hubness": lambda: [m.hubness(d) for d in ("image_to_text", "text_to_image")],
        "divergence": m.divergence,
        "mi_probe": m.mi_probe,
        "cca": m.cca,
        "snapshot": m.snapshot,
        "role_swap": lambda: panel.retrieval_ranks(z_txt, z_img),
        "pair_audit": lambda: audit_pairs(z_img, z_txt, seed=0),
        "temperature": lambda: fit_temperature(z_img, z_txt, 0.07, seed=0),
    }


def test_no_gate_measurement_builds_an_n_by_n_array():
    m = _measurements(N_CANARY)
    bound = half_a_score_matrix(N_CANARY)
    peaks = {name: peak_traced_bytes(fn) for name, fn in _passes(m).items()}
    assert {name: peak for name, peak in peaks.items() if peak >= bound} == {}


@pytest.mark.parametrize("n", [40, 300])
def test_the_snapshot_reads_the_hubness_counts_and_gives_the_standalone_numbers(n):
    m = _measurements(n, seed=n)
    shared = m.snapshot()
    alone = snapshot(m.embeddings.z_img, m.embeddings.z_txt, m.canary.factors, m.ranks, seed=m.seed,
                     k=m.hubness_k)
    assert shared["k_occurrence_i2t"] == alone["k_occurrence_i2t"]
    assert shared["k_occurrence_t2i"] == alone["k_occurrence_t2i"]
    expected = panel.hubness(m.embeddings.z_img, m.embeddings.z_txt, k=m.hubness_k)
    for direction, prefix in (("image_to_text", "i2t_"), ("text_to_image", "t2i_")):
        stats = m.hubness(direction)
        assert stats["concentration"] == expected[prefix + "top1_concentration"]
        assert {key: stats[key[len(prefix):]] for key in expected if key.startswith(prefix)} == \
            {key: value for key, value in expected.items() if key.startswith(prefix)}


def test_pair_auc_read_off_the_ranks_matches_the_blocked_passes_and_the_sample_is_the_canary() -> None:
    """Without groups the pair AUC comes from the ranks pass with the same numbers as the two blocked
    passes; a canary within the sample cap is its own perturbation sample (clean baseline = ranks)."""
    from mmgate.panel.partner_auc import partner_auc_per_query
    m = _measurements(600)
    expected = partner_auc_per_query(m.embeddings.z_img, m.embeddings.z_txt)
    for direction, key in (("image_to_text", "i2t"), ("text_to_image", "t2i")):
        assert m.pair_auc(direction)[0] == float(expected[key].mean())
    assert m.sample.canary is m.canary and m.sample_ranks is m.ranks and m.sample.evidence() == {}
