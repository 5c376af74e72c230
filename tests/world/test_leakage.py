"""Leakage alarm: fires on a rendered parity marker, stays low on the default world."""

from __future__ import annotations

import numpy as np
import pytest

from mmgate.errors import ConfigError, InputError
from mmgate.world import DEFAULT_WORLD, leakage_alarm, make_world, text_features


def alarm_for(config, split="train", cue="parity"):
    data = make_world(config, 0).split(split)
    return leakage_alarm(data.images, text_features(data.tokens, config.vocab_size),
                         data.confounders[cue])


def test_alarm_is_low_on_the_default_world():
    report = alarm_for(DEFAULT_WORLD)
    assert report["level"] == "low"
    assert report["max_abs_corr_img"] < 0.2 and report["max_abs_corr_txt"] < 0.2
    assert report["threshold"] == 0.35


def test_alarm_investigates_a_parity_marker_and_points_at_it():
    report = alarm_for(DEFAULT_WORLD.replace(confounder="parity"))
    assert report["level"] == "investigate"
    assert report["argmax_img"] == 0 and report["max_abs_corr_img"] > 0.9
    marker_columns = (2, 3, 64 + 2, 64 + 3)  # the marker tokens' bag-of-words or position features
    assert report["argmax_txt"] in marker_columns and report["max_abs_corr_txt"] > 0.99


def test_alarm_investigates_the_bucket_codebook_against_the_bucket_cue():
    report = alarm_for(DEFAULT_WORLD.replace(confounder="bucket"), "test", "bucket")
    assert report["level"] == "investigate"
    assert report["argmax_img"] % 16 == 0


def test_correlations_match_numpy_corrcoef_column_by_column():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 6))
    cue = rng.integers(0, 2, 80)
    x[:, 4] += 2 * cue
    report = leakage_alarm(x, x[:, :3], cue, threshold=0.9)
    slow = [abs(np.corrcoef(x[:, j], cue)[0, 1]) for j in range(6)]
    assert report["max_abs_corr_img"] == pytest.approx(max(slow))
    assert report["argmax_img"] == int(np.argmax(slow)) == 4
    assert report["max_abs_corr_txt"] == pytest.approx(max(slow[:3]))
    assert report["level"] == "low"


def test_constant_columns_and_constant_cues_give_zero_correlation():
    x = np.ones((10, 3))
    x[:, 1] = np.arange(10)
    cue = np.arange(10) % 2
    report = leakage_alarm(x, np.full((10, 2), 0.1), cue)
    assert report["max_abs_corr_txt"] == 0.0
    assert report["max_abs_corr_img"] == pytest.approx(abs(np.corrcoef(x[:, 1], cue)[0, 1]))
    flat = leakage_alarm(x, x, np.zeros(10))
    assert flat["max_abs_corr_img"] == 0.0 and flat["level"] == "low"


def test_bad_inputs_are_named():
    with pytest.raises(InputError, match="features_txt: expected a numeric array with 4 rows"):
        leakage_alarm(np.zeros((4, 2)), np.zeros((3, 2)), np.arange(4))
    with pytest.raises(InputError, match="features_img: expected finite"):
        leakage_alarm(np.full((4, 2), np.nan), np.zeros((4, 2)), np.arange(4))
    with pytest.raises(InputError, match="cue"):
        leakage_alarm(np.zeros((4, 2)), np.zeros((4, 2)), np.arange(8).reshape(4, 2))
    with pytest.raises(ConfigError, match="threshold"):
        leakage_alarm(np.zeros((4, 2)), np.zeros((4, 2)), np.arange(4), threshold=1.5)
