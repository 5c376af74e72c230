"""Robustness margins: knob worlds render exactly as the regenerated world, the fast acceptance check
agrees with the acceptance gates' statistics, and bisection finds the last passing intensity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmgate.errors import ConfigError
from mmgate.gating.contract import Contract
from mmgate.gating.measurements import Measurements
from mmgate.lab import margins
from mmgate.lab.builtin import ReferenceTrainer
from mmgate.lab.conditions import Condition
from mmgate.reference import DEFAULT_TRAINING
from mmgate.subjects.embedding import Embeddings
from mmgate.subjects.paired import PairedSet
from mmgate.world import WorldConfig, make_world, pairing_permutation

SMALL = WorldConfig(n_train=512, n_val=32, n_test=64)
DATA_KNOBS = [k for k in margins.KNOBS.values() if not k.scores_scaled]


def _embeddings(n: int = 64, d: int = 8, seed: int = 0, noise: float = 0.5) -> Embeddings:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, d))
    return Embeddings(z + noise * rng.normal(size=(n, d)), z + noise * rng.normal(size=(n, d)))


@pytest.mark.parametrize("knob", DATA_KNOBS, ids=lambda k: k.name)
def test_knob_inputs_equal_the_regenerated_worlds_test_split(knob):
    base = make_world(SMALL, 3).test
    config = knob.world(SMALL, knob.grid[2])
    expected = make_world(config, 3).test
    assert config != SMALL
    if "images" in knob.changes:
        assert np.array_equal(margins.split_images(base, config, 3), expected.images)
    if "captions" in knob.changes:
        assert np.array_equal(margins.split_tokens(base, config, 3), expected.tokens)


@pytest.mark.parametrize("share", [0.0, 0.25, 0.5, 1.0])
def test_pair_corruption_mispairs_the_share_of_test_rows_it_names(share):
    base = make_world(SMALL, 1).test
    n = len(base)
    config = margins.knob_named("pair_corruption").world(SMALL, share)
    tokens = margins.split_tokens(base, config, 1)
    perm = pairing_permutation(config, "test", n, 1)
    moved = perm != np.arange(n)
    # exactly round(share * n) rows take another row's caption; every other row keeps its own
    assert np.count_nonzero(moved) == int(np.floor(share * n + 0.5))
    assert np.array_equal(tokens, base.tokens[perm])
    assert np.array_equal(tokens[~moved], base.tokens[~moved])
    # the moved rows trade captions among themselves (a cycle), so no caption is lost or doubled
    assert sorted(perm[moved]) == sorted(np.flatnonzero(moved))
    assert np.array_equal(tokens, make_world(config, 1).test.tokens)


@pytest.mark.parametrize("seed", [0, 1])
def test_fast_recall_and_gap_equal_the_acceptance_gates_statistics(seed):
    emb = _embeddings(seed=seed)
    canary = PairedSet(np.arange(64)[:, None], np.arange(64)[:, None])  # one-to-one: every row its own item
    measured = Measurements(emb, canary, Contract(), seed)
    point = margins.measure_point(emb)
    for direction in margins.DIRECTIONS:
        assert point["recall@1"][direction] == measured.recall(direction, 1)[0]
        assert point["recall@5"][direction] == measured.recall(direction, 5)[0]
    assert point["symmetry_gap"] == measured.symmetry_gap()[0]
    assert point["effective_rank"]["image"] == measured.geometry("image")["effective_rank"]
    assert point["hubness_concentration"]["image_to_text"] == pytest.approx(
        measured.hubness("image_to_text")["concentration"])


@settings(max_examples=20, deadline=None)
@given(scale=st.floats(min_value=0.0, max_value=50.0))
def test_a_temperature_scale_changes_no_statistic(scale):
    emb = _embeddings(seed=2)
    assert margins.measure_point(emb, scale) == margins.measure_point(emb)


def test_ties_count_against_the_true_match():
    z = np.ones((16, 4))
    point = margins.measure_point(Embeddings(z, z))
    assert point["recall@1"] == {"image_to_text": 0.0, "text_to_image": 0.0}


def test_a_healthy_point_passes_and_each_violation_is_named():
    contract = Contract()
    point = margins.measure_point(_embeddings(n=128, d=24, noise=0.05))
    assert margins.failed_acceptance(point, contract) == []
    worse = {**point, "symmetry_gap": 0.5, "mean_cosine": {"image": 0.9, "text": 0.0}}
    assert margins.failed_acceptance(worse, contract) == ["symmetry_gap", "mean_cosine"]
    one_way = {**point, "recall@1": {"image_to_text": 0.9, "text_to_image": 0.9}}
    assert margins.failed_acceptance(one_way, Contract(min_retrieval_top1=0.95)) == ["retrieval_top1"]


@settings(max_examples=50, deadline=None)
@given(edge=st.floats(min_value=0.0, max_value=2.0, exclude_min=True, exclude_max=True))
def test_bisection_stops_within_tolerance_below_the_first_failure(edge):
    grid = margins.knob_named("image_noise").grid
    margin, bounded = margins.bisect_margin(lambda x: x <= edge, grid, 0.02)
    assert bounded and margin <= edge < margin + 0.02


def test_bisection_reports_an_unbounded_margin_and_a_zero_margin():
    grid = (0.0, 0.5, 1.0)
    assert margins.bisect_margin(lambda x: True, grid, 0.1) == (1.0, False)
    assert margins.bisect_margin(lambda x: False, grid, 0.1) == (0.0, True)


def test_unknown_knob_is_rejected():
    with pytest.raises(ConfigError, match="knob"):
        margins.knob_named("gain")


@pytest.fixture(scope="module")
def small_condition():
    return Condition("small", "healthy", "a small world trained briefly", train_world=SMALL,
                     eval_world=SMALL, training=DEFAULT_TRAINING.replace(steps=200, eval_every=100))


@pytest.fixture(scope="module")
def trainer():
    return ReferenceTrainer()


def test_margin_evidence_holds_the_curve_the_margin_and_every_evaluation(trainer, small_condition):
    contract = Contract(min_retrieval_top1=0.2, min_retrieval_top5=0.4, min_effective_rank=2.0)
    evidence = margins.robustness_margin(trainer, small_condition, 0, "image_noise", contract)
    knob = margins.knob_named("image_noise")
    assert [p["intensity"] for p in evidence["curve"]] == list(knob.grid)
    assert evidence["tolerance"] == knob.tolerance and evidence["range"] == [0.0, knob.top]
    verdicts = {e["intensity"]: e["passes"] for e in evidence["evaluations"]}
    assert verdicts[evidence["margin"]] is True
    if evidence["bounded"]:
        failing = [x for x, ok in verdicts.items() if not ok and x > evidence["margin"]]
        assert min(failing) - evidence["margin"] <= knob.tolerance
    assert set(evidence["slopes"]) == set(margins.CURVE_SERIES)
    series = margins.curve_series(evidence)
    assert all(len(xs) == len(ys) for xs, ys in series.values())


def test_temperature_margin_is_the_whole_range_and_says_why(trainer, small_condition):
    contract = Contract(min_retrieval_top1=0.2, min_retrieval_top5=0.4, min_effective_rank=2.0)
    evidence = margins.robustness_margin(trainer, small_condition, 0, "temperature_scale", contract)
    assert (evidence["margin"], evidence["bounded"]) == (margins.knob_named("temperature_scale").top, False)
    assert "invariance" in evidence
    first = evidence["curve"][0]
    assert all(p["recall@1"] == first["recall@1"] for p in evidence["curve"])


def test_a_model_failing_acceptance_unperturbed_has_margin_zero(trainer, small_condition):
    evidence = margins.robustness_margin(trainer, small_condition, 0, "text_noise",
                                         Contract(min_retrieval_top1=1.0))
    assert (evidence["margin"], evidence["bounded"]) == (0.0, True)
