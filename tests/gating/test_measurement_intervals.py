"""Every gated panel value carries a seeded interval that contains it, narrows as the canary grows,
and is the same in every process for the same seed."""

from __future__ import annotations

import numpy as np

from mmgate.gating.contract import Contract
from mmgate.gating.measurements import Measurements
from mmgate.subjects.embedding import Embeddings
from mmgate.subjects.paired import PairedSet


def measured(n: int, seed: int = 0) -> Measurements:
    rng = np.random.default_rng(1)
    z_img = rng.standard_normal((n, 24))
    z_txt = z_img + 0.8 * rng.standard_normal((n, 24))
    rows = np.arange(n)
    return Measurements(Embeddings(z_img, z_txt), PairedSet(rows, rows.copy(), name="intervals"),
                        Contract(bootstrap_resamples=100), seed=seed)


def intervals(m: Measurements) -> dict[str, tuple[float, list[float]]]:
    geometry = m.geometry("image")
    divergence = m.divergence()
    hubness = m.hubness("image_to_text")
    out = {key: (geometry[name]["min"] if key == "variance_min" else geometry[name], geometry["intervals"][key])
           for key, name in (("mean_cosine", "mean_cosine"), ("variance_min", "variance"),
                             ("effective_rank", "effective_rank"), ("direction_energy", "direction_energy"),
                             ("rankme_share", "rankme_share"))}
    out["rank_divergence"] = (divergence["rank_divergence"], divergence["rank_divergence_ci"])
    out["norm_divergence"] = (divergence["norm_divergence"], divergence["norm_divergence_ci"])
    out["hubness"] = (hubness["concentration"], hubness["concentration_ci"])
    out["cca"] = (m.cca()["cca"], m.cca()["cca_ci"])
    return out


def test_each_interval_contains_its_estimate():
    for name, (value, (low, high)) in intervals(measured(120)).items():
        assert low <= value <= high, name


def test_intervals_narrow_as_the_canary_grows():
    small, large = intervals(measured(80)), intervals(measured(640))
    for name in ("mean_cosine", "effective_rank", "hubness", "cca"):
        width = {size: ci[1] - ci[0] for size, (_, ci) in (("small", small[name]), ("large", large[name]))}
        assert width["large"] < width["small"], name


def test_the_same_seed_gives_the_same_intervals():
    assert intervals(measured(100, seed=3)) == intervals(measured(100, seed=3))
