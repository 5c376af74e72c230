"""Zero-shot classification: prototypes and metrics checked by hand, against a full-matrix brute
force (argsort position of the true class, per-class loop for the balanced accuracy), tie cases,
block size, bootstrap use and errors naming the field."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmgate.errors import ConfigError, InputError
from mmgate.panel import (
    ZeroShotRanks,
    bootstrap_ci,
    class_prototypes,
    zeroshot_metrics,
    zeroshot_metrics_from_ranks,
    zeroshot_ranks,
)


def _canary(seed: int, n: int, classes: int, d: int, templates: int = 3,
            noise: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images near their class centre; template text embeddings near it too."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((classes, d))
    labels = rng.integers(0, classes, n)
    z_img = centres[labels] + noise * rng.standard_normal((n, d))
    z_templates = centres[:, None, :] + 0.5 * rng.standard_normal((classes, templates, d))
    return z_img, z_templates, labels


def _brute_force(z_img: np.ndarray, prototypes: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Position of the true class in a stable argsort of each image's cosines, and the argmax."""
    ui = z_img / np.linalg.norm(z_img, axis=1, keepdims=True)
    up = prototypes / np.linalg.norm(prototypes, axis=1, keepdims=True)
    scores = ui @ up.T
    order = np.argsort(-scores, axis=1, kind="stable")
    rank = np.array([int(np.flatnonzero(order[i] == labels[i])[0]) for i in range(labels.shape[0])])
    return {"rank": rank, "argmax": scores.argmax(axis=1)}


def _balanced_accuracy(labels: np.ndarray, predicted: np.ndarray) -> float:
    """Top-1 recall of each class present in the labels, averaged (sklearn's balanced accuracy)."""
    return float(np.mean([np.mean(predicted[labels == c] == c) for c in np.unique(labels)]))


def test_prototypes_are_the_renormalised_mean_of_unit_templates_by_hand():
    templates = np.array([[[1.0, 0.0], [0.0, 2.0]], [[3.0, 0.0], [5.0, 0.0]]])
    np.testing.assert_allclose(class_prototypes(templates), [[np.sqrt(0.5), np.sqrt(0.5)], [1.0, 0.0]])


def test_prototypes_accept_a_list_with_per_class_template_counts_and_ignore_template_norms():
    rng = np.random.default_rng(0)
    ragged = [rng.standard_normal((t, 5)) for t in (1, 4, 2)]
    expected = np.stack([np.mean(t / np.linalg.norm(t, axis=1, keepdims=True), axis=0) for t in ragged])
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(class_prototypes(ragged), expected, atol=1e-15)
    scaled = [t * rng.uniform(0.1, 10.0, (t.shape[0], 1)) for t in ragged]
    np.testing.assert_allclose(class_prototypes(scaled), expected, atol=1e-15)


def test_prototypes_keep_the_compute_dtype():
    _, templates, _ = _canary(0, 10, 3, 4)
    assert class_prototypes(templates).dtype == np.float64
    assert class_prototypes(templates.astype(np.float16)).dtype == np.float32


def test_metrics_by_hand_on_four_images_and_three_classes():
    prototypes = np.eye(3)
    z_img = np.array([[0.9, 0.1, 0.0],    # class 0, predicted 0
                      [0.2, 0.7, 0.5],    # class 1, predicted 1
                      [0.6, 0.3, 0.1],    # class 1, true class second
                      [0.5, 0.4, 0.1]])   # class 2, true class third
    labels = np.array([0, 1, 1, 2])
    m = zeroshot_metrics(z_img, prototypes, labels, ks=(1, 2, 3))
    assert m["acc1"] == 0.5 and m["acc2"] == 0.75 and m["acc3"] == 1.0
    assert m["mean_per_class_recall"] == pytest.approx((1.0 + 0.5 + 0.0) / 3)
    assert m["tie_share"] == 0.0
    ranks = zeroshot_ranks(z_img, prototypes, labels)
    np.testing.assert_array_equal(ranks.rank, [0, 0, 1, 2])
    np.testing.assert_array_equal(ranks.predicted, [0, 1, 0, 0])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 80), classes=st.integers(2, 12), d=st.integers(2, 8),
       noise=st.sampled_from([0.3, 1.0, 4.0]), block=st.sampled_from([1, 7, None]))
def test_ranks_predictions_and_metrics_match_the_brute_force(seed, n, classes, d, noise, block):
    z_img, templates, labels = _canary(seed, n, classes, d, noise=noise)
    prototypes = class_prototypes(templates)
    ranks = zeroshot_ranks(z_img, prototypes, labels, block_size=block)
    ref = _brute_force(z_img, prototypes, labels)
    np.testing.assert_array_equal(ranks.rank, ref["rank"])
    np.testing.assert_array_equal(ranks.predicted, ref["argmax"])
    assert not ranks.ties.any()
    ks = tuple(k for k in (1, 2, 5) if k <= classes)
    m = zeroshot_metrics(z_img, prototypes, labels, ks=ks, block_size=block)
    for k in ks:
        assert m[f"acc{k}"] == pytest.approx(np.mean(ref["rank"] < k))
    assert m["mean_per_class_recall"] == pytest.approx(_balanced_accuracy(labels, ref["argmax"]))
    assert set(m) == {f"acc{k}" for k in ks} | {"mean_per_class_recall", "tie_share"}


def test_classes_absent_from_the_labels_do_not_enter_the_mean_per_class_recall():
    prototypes = np.eye(4)
    z_img = np.array([[1.0, 0.0, 0.0, 0.2], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 1.0, 0.0]])
    m = zeroshot_metrics(z_img, prototypes, [0, 1, 1], ks=1)
    assert m["acc1"] == pytest.approx(1 / 3) and m["mean_per_class_recall"] == pytest.approx(0.5)


def test_classes_tied_with_the_true_class_are_ties_not_misses():
    prototypes = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    z_img = np.array([[1.0, 0.1], [1.0, 0.2], [0.1, 1.0]])
    ranks = zeroshot_ranks(z_img, prototypes, [0, 1, 2])
    np.testing.assert_array_equal(ranks.rank, [0, 0, 0])
    np.testing.assert_array_equal(ranks.ties, [1, 1, 0])
    np.testing.assert_array_equal(ranks.predicted, [0, 1, 2])
    assert zeroshot_metrics_from_ranks(ranks, ks=1)["tie_share"] == pytest.approx(2 / 3)


def test_collapsed_prototypes_show_as_ties_on_every_image():
    z_img, _, labels = _canary(3, 40, 5, 6)
    m = zeroshot_metrics(z_img, np.tile([0.3, -1.0, 2.0, 0.0, 1.0, 0.5], (5, 1)), labels, ks=1)
    assert m["acc1"] == 1.0 and m["tie_share"] == 1.0


def test_block_size_does_not_change_the_ranks():
    z_img, templates, labels = _canary(5, 301, 9, 6, noise=2.0)
    prototypes = class_prototypes(templates)
    reference = zeroshot_ranks(z_img, prototypes, labels, block_size=301)
    for block in (1, 4, 64, None):
        got = zeroshot_ranks(z_img, prototypes, labels, block_size=block)
        for name in ("rank", "ties", "predicted", "labels"):
            np.testing.assert_array_equal(getattr(got, name), getattr(reference, name), err_msg=name)


def test_ranks_are_read_only_and_their_hits_feed_the_bootstrap():
    z_img, templates, labels = _canary(6, 200, 6, 5, noise=2.0)
    ranks = zeroshot_ranks(z_img, class_prototypes(templates), labels)
    assert isinstance(ranks, ZeroShotRanks) and ranks.n == 200 and ranks.n_classes == 6
    with pytest.raises(ValueError):
        ranks.rank[0] = 1
    acc1 = zeroshot_metrics_from_ranks(ranks, ks=1)["acc1"]
    lo, hi = bootstrap_ci(ranks.rank < 1, n_boot=300)
    assert lo <= acc1 <= hi


@pytest.mark.parametrize(("kwargs", "error", "words"), [
    ({"ks": (6,)}, InputError, r"k=6 exceeds the number of classes C=5; need k <= C"),
    ({"ks": (1, 5, 10)}, InputError, "k=10 exceeds the number of classes C=5"),
    ({"ks": (0,)}, ConfigError, "k must be an integer >= 1"),
    ({"ks": (1.5,)}, ConfigError, "k must be an integer"),
    ({"ks": ()}, ConfigError, "ks must name at least one"),
    ({"block_size": 0}, ConfigError, "block_size"),
])
def test_bad_cut_offs_raise_naming_k_and_c(kwargs, error, words):
    z_img, templates, labels = _canary(0, 12, 5, 4)
    with pytest.raises(error, match=words):
        zeroshot_metrics(z_img, class_prototypes(templates), labels, **kwargs)


@pytest.mark.parametrize(("labels", "words"), [
    (np.array([0, 1, 2, 5]), r"labels must be class indices in \[0, C=3\); row 3 holds 5"),
    (np.array([0, -1, 2, 1]), r"row 1 holds -1"),
    (np.array([0, 1, 2]), r"labels must be 1-D with one integer label per row \(N=4\)"),
    (np.array([0.0, 1.5, 2.0, 1.0]), "labels must hold integer labels; row 1 holds 1.5"),
    (np.array([0.0, np.nan, 2.0, 1.0]), "labels contains non-finite values"),
    (np.array([True, False, True, False]), "labels must hold real numbers.*bool"),
])
def test_bad_labels_raise_input_error_naming_the_field(labels, words):
    z_img = np.random.default_rng(0).standard_normal((4, 3))
    with pytest.raises(InputError, match=words):
        zeroshot_metrics(z_img, np.eye(3), labels, ks=1)


@pytest.mark.parametrize(("z_img", "prototypes", "words"), [
    (np.ones((4, 2)), np.eye(3), "shape mismatch: z_img has d=2 columns but prototypes has d=3"),
    (np.ones((4, 3)), np.eye(3)[:1], r"prototypes needs at least 2 rows"),
    (np.ones((4, 3)), np.zeros((3, 3)), "prototypes has 3 zero-norm rows"),
    (np.full((4, 3), np.nan), np.eye(3), "z_img contains non-finite values"),
])
def test_bad_embeddings_raise_input_error_naming_the_field(z_img, prototypes, words):
    with pytest.raises(InputError, match=words):
        zeroshot_ranks(z_img, prototypes, [0, 1, 2, 0])


@pytest.mark.parametrize(("templates", "words"), [
    (np.ones((3, 4)), r"templates must be a \(C, T, d\) array or a list of C \(T_c, d\) arrays; got a 2-D"),
    (np.ones((1, 2, 4)), r"templates must hold at least 2 classes \(C >= 2\); got C=1"),
    ([np.ones((2, 4)), np.ones((2, 3))], r"templates\[1\] must be a \(T, d\) array .* d=4 as templates\[0\]"),
    ([np.ones((0, 4)), np.ones((2, 4))], r"templates\[0\] must be a \(T, d\) array .*T >= 1"),
    ([np.ones((2, 4)), np.array([[1.0, 0, 0, 0], [-1.0, 0, 0, 0]])], r"templates\[1\] average to the zero vector"),
    ([np.ones((2, 4)), np.zeros((2, 4))], r"templates\[1\] has 2 zero-norm rows"),
    ([np.ones((2, 4)), np.full((2, 4), np.inf)], r"templates\[1\] contains non-finite values"),
    ([np.ones((2, 4)), np.ones((2, 4)) + 1j], r"templates\[1\] must hold real numbers.*complex"),
])
def test_bad_templates_raise_input_error_naming_the_class(templates, words):
    with pytest.raises(InputError, match=words):
        class_prototypes(templates)
