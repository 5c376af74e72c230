"""The acceptance measurements count unique items per side, as the field does: a canary that repeats
an image (COCO layout) or a caption (class level) is ranked, hubness-counted and rank-compared over
its unique images and texts, and the evidence says how many rows and items each side has."""

from __future__ import annotations

import numpy as np
import pytest

from mmgate.gating.contract import Contract
from mmgate.gating.measurements import MIN_RELEVANT_SETS, Measurements
from mmgate.subjects.embedding import Embeddings
from mmgate.subjects.paired import PairedSet


def _coco(n_images: int = 60, captions: int = 5, d: int = 32, noise: float = 0.6, seed: int = 0):
    """COCO layout: every image row repeated once per caption, groups = the image."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n_images, d))
    groups = np.repeat(np.arange(n_images), captions)
    z_txt = z[groups] + noise * rng.standard_normal((groups.size, d))
    canary = PairedSet(groups[:, None], [f"caption {i}" for i in range(groups.size)], groups=groups)
    return Measurements(Embeddings(z[groups], z_txt), canary, Contract(), 0)


def _class_level(classes: int = 10, per_class: int = 30, d: int = 16, seed: int = 5):
    """Class level: one caption per class on every row of the class, groups = the class."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, d))
    labels = np.repeat(np.arange(classes), per_class)
    z_img = centres[labels] + 0.3 * rng.normal(size=(labels.size, d))
    canary = PairedSet(np.arange(labels.size)[:, None], [f"a photo of class {c}" for c in labels], groups=labels)
    return Measurements(Embeddings(z_img, centres[labels]), canary, Contract(), 0)


def test_a_coco_canary_ranks_its_unique_images_and_says_so():
    measured = _coco()
    evidence = measured.retrieval_evidence("text_to_image")
    assert measured.ranks.n_images == 60 and measured.ranks.n_texts == 300
    assert evidence["n_queries"] == 300 and evidence["n_candidates"] == 60
    assert evidence["items"] == {"rows": 300, "unique_images": 60, "unique_texts": 300, "relevant_sets": 60}
    assert measured.retrieval_evidence("image_to_text")["n_candidates"] == 300


def test_an_image_query_hits_when_any_of_its_captions_ranks_within_k():
    measured = _coco(noise=2.0)
    best = measured.ranks.i2t  # rank of the best-ranked relevant caption among the 300 texts
    assert measured.recall("image_to_text", 5)[0] == pytest.approx(np.mean(best + measured.ranks.i2t_ties < 5))
    assert measured.recall("image_to_text", 5)[0] > measured.recall("text_to_image", 5)[0] * 0.5


def test_recall_at_k_beyond_the_unique_candidates_is_refused():
    from mmgate.errors import InputError

    measured = _class_level()
    with pytest.raises(InputError, match="10 unique texts, fewer than k=20"):
        measured.recall("image_to_text", 20)
    assert "recall@5" in measured.retrieval_evidence("image_to_text")
    assert measured.recall("text_to_image", 20)[0] > 0.0  # 300 unique images to rank


def test_a_class_level_canary_is_not_a_hub_when_each_class_has_its_own_answer():
    hub = _class_level().hubness("image_to_text")
    assert hub["items"]["unique_texts"] == 10 and hub["concentration"] < 0.05


def test_a_real_hub_still_shows_on_unique_items():
    rng = np.random.default_rng(6)
    z_txt = rng.normal(size=(40, 16))
    z_img = np.repeat(z_txt[:1], 40, axis=0) + 1e-3 * rng.normal(size=(40, 16))
    canary = PairedSet(np.arange(40)[:, None], [f"t{i}" for i in range(40)])
    assert Measurements(Embeddings(z_img, z_txt), canary, Contract(), 0).hubness("image_to_text")["concentration"] > 0.9


def test_geometry_reads_each_sides_unique_items():
    measured = _class_level()
    text, image = measured.geometry("text"), measured.geometry("image")
    assert (text["n_rows"], text["n_items"], text["relevant_sets"]) == (300, 10, 10)
    assert image["n_items"] == 300
    assert text["effective_rank"] <= 9.0 + 1e-9  # ten prompts span at most nine centred directions


def test_ten_class_prompts_are_not_read_as_a_dominant_image_tower():
    divergence = _class_level().divergence()
    assert divergence["rank_divergence"] is None
    assert "bounded by its cap 9" in divergence["not_comparable"]
    assert f"< {MIN_RELEVANT_SETS}" in divergence["not_comparable"]


def test_towers_below_their_caps_are_compared_over_every_unique_item():
    divergence = _coco(n_images=200, captions=2, d=8).divergence()
    assert divergence["rank_divergence_basis"] == "every unique item of each side"
    assert divergence["rank_divergence"] < 0.1


def test_a_cap_limited_side_is_compared_over_the_relevant_sets():
    divergence = _coco(n_images=60, captions=5, d=128).divergence()
    assert divergence["rank_caps"] == {"image": 59, "text": 128}
    assert divergence["relevant_sets"] == 60 and "relevant sets" in divergence["rank_divergence_basis"]
    assert divergence["rank_divergence"] < 0.1


def test_a_collapsed_text_tower_still_diverges_over_unique_items():
    rng = np.random.default_rng(2)
    z_img = rng.standard_normal((300, 16))
    z_txt = z_img[:, :2] @ rng.standard_normal((2, 16))  # the text tower keeps two directions
    canary = PairedSet(np.arange(300)[:, None], [f"t{i}" for i in range(300)])
    assert Measurements(Embeddings(z_img, z_txt), canary, Contract(), 0).divergence()["rank_divergence"] > 0.5
