"""Retrieval effects of perturbations: recall drops, joint-permutation and role-swap checks, and
the noise-direction gains with their paired bootstrap bounds."""

from __future__ import annotations

import numpy as np

from mmgate.panel import item_ranks, retrieval_ranks
from mmgate.perturb import Brightness, SwapPairs
from mmgate.perturb.effects import (
    joint_permutation,
    noise_gains,
    permutation_report,
    perturbation_key,
    perturbed_embeddings,
    perturbed_ranks,
    recall_drop,
    role_swap_report,
)
from mmgate.subjects.embedding import Embeddings
from mmgate.subjects.items import canary_items
from mmgate.subjects.paired import PairedSet

RNG = np.random.default_rng(0)
Z_IMG = RNG.standard_normal((40, 8))
Z_TXT = Z_IMG + 0.6 * RNG.standard_normal((40, 8))
ONE_TO_ONE = canary_items(PairedSet(np.arange(40)[:, None], [f"caption {i}" for i in range(40)]))


def test_recall_drop_reports_both_directions_and_the_larger_loss():
    clean = retrieval_ranks(Z_IMG, Z_IMG)
    worse = retrieval_ranks(Z_IMG, Z_TXT)
    effect = recall_drop(clean, worse)
    assert effect["image_to_text"]["clean"] == 1.0
    assert effect["drop"] == max(effect["image_to_text"]["drop"], effect["text_to_image"]["drop"]) > 0


def test_ranks_of_per_item_embeddings_follow_a_joint_permutation():
    order = joint_permutation(40, seed=3)
    report = permutation_report(retrieval_ranks(Z_IMG, Z_TXT), ONE_TO_ONE,
                                retrieval_ranks(Z_IMG[order], Z_TXT[order]), ONE_TO_ONE, order)
    assert report["mismatched_queries"] == 0
    assert report["image_to_text"]["recall@1_clean"] == report["image_to_text"]["recall@1_permuted"]


def test_a_batch_dependent_encoder_breaks_the_permutation_check():
    order = joint_permutation(40, seed=3)
    drifting = Z_TXT[order] + np.linspace(0, 3, 40)[:, None]  # output depends on batch position
    report = permutation_report(retrieval_ranks(Z_IMG, Z_TXT), ONE_TO_ONE,
                                retrieval_ranks(Z_IMG[order], drifting), ONE_TO_ONE, order)
    assert report["mismatched_queries"] > 0 and report["image_to_text"]["first_mismatches"]


def test_swapping_roles_swaps_the_directions():
    ranks = retrieval_ranks(Z_IMG, Z_TXT)
    assert role_swap_report(ranks, retrieval_ranks(Z_TXT, Z_IMG))["mismatched_queries"] == 0
    assert role_swap_report(ranks, ranks)["mismatched_queries"] > 0


def test_noise_gains_flag_only_a_significant_improvement():
    clean = retrieval_ranks(Z_IMG, Z_TXT)
    perfect = retrieval_ranks(Z_IMG, Z_IMG)
    helped = noise_gains((0.0, 0.1), [clean, perfect], n_boot=200, alpha=0.05, seed=0)
    assert helped["largest_gain_lower_bound"] > 0
    hurt = noise_gains((0.0, 0.1), [perfect, clean], n_boot=200, alpha=0.05, seed=0)
    assert hurt["largest_gain_lower_bound"] < 0 and len(hurt["steps"]) == 2


def test_perturbed_ranks_embed_the_perturbed_set_under_its_json_key():
    seen = []
    canary = PairedSet(Z_IMG.reshape(40, 2, 4), [f"t {i}" for i in range(40)])

    def embed(paired_set, key):
        seen.append(key)
        return Embeddings(paired_set.images.reshape(40, -1), Z_TXT)

    operator = Brightness(0.1)
    perturbed_ranks(operator, canary, embed)
    assert seen == [perturbation_key(operator)] and '"name":"brightness"' in seen[0]


def test_a_pairing_operator_moves_the_clean_text_embeddings_without_calling_the_encoder():
    canary = PairedSet(np.arange(40), [f"t {i}" for i in range(40)])
    keys = []

    def embed(paired_set, key):
        keys.append(key)
        return Embeddings(Z_IMG, Z_TXT)

    operator = SwapPairs(0.3, seed=2)
    embeddings, perturbed = perturbed_embeddings(operator, canary, embed)
    order = operator.permutation(40)
    assert keys == ["clean"]
    np.testing.assert_array_equal(embeddings.z_txt, Z_TXT[order])
    assert list(perturbed.texts) == [f"t {i}" for i in order]


def test_a_joint_permutation_of_a_coco_layout_canary_moves_each_rows_item_ranks():
    groups = np.repeat(np.arange(10), 4)  # ten images, four caption rows each
    canary = PairedSet(groups[:, None], [f"caption {i}" for i in range(40)], groups=groups)
    z_img, order = Z_IMG[groups], joint_permutation(40, seed=3)
    permuted = canary.take(order)
    clean_items, permuted_items = canary_items(canary), canary_items(permuted)
    report = permutation_report(item_ranks(z_img, Z_TXT, clean_items), clean_items,
                                item_ranks(z_img[order], Z_TXT[order], permuted_items), permuted_items, order)
    assert clean_items.images.count == 10 and report["mismatched_queries"] == 0
