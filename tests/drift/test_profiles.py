"""Drift profiles: the ticket's six scenarios, shared-edge comparison, sampling, layouts, validation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmgate.drift.divergence import js_divergence
from mmgate.drift.profiles import (
    DEFAULT_THRESHOLDS,
    DriftThresholds,
    compare_profiles,
    compute_dataset_profile,
    drift_status,
    mean_shift_score,
)
from mmgate.errors import ConfigError, InputError
from mmgate.records.atomic import write_text_atomic

STOP_WORDS = ["the", "a", "is", "of", "and", "to", "in", "it", "that", "was"]
COVID_WORDS = ["COVID", "pandemic", "vaccine", "lockdown", "mask", "virus", "cases", "the", "a", "is"]
VOCAB = STOP_WORDS + [f"w{i}" for i in range(60)]


def _zipf(n):
    w = 1.0 / np.arange(1, n + 1)
    return w / w.sum()


def _sentences(rng, words, mean_length, n=400, spread=15.0):
    lengths = np.clip(np.rint(rng.normal(mean_length, spread, n)), 1, None).astype(int)
    return [" ".join(rng.choice(words, size=k, p=_zipf(len(words)))) for k in lengths]


def _images(rng, means, n=150, size=12, noise=0.1):
    return rng.normal(np.asarray(means)[None, :, None, None], noise, (n, len(means), size, size))


def _outputs(fractions, n=1000):
    counts = np.rint(np.asarray(fractions) * n).astype(int)
    return np.repeat(np.arange(len(fractions)), counts)


def _plain_json_types(x):
    if isinstance(x, dict):
        return all(type(k) is str and _plain_json_types(v) for k, v in x.items())
    if isinstance(x, list):
        return all(_plain_json_types(v) for v in x)
    return x is None or type(x) in (str, int, float, bool)


@pytest.fixture(scope="module")
def profiles():
    """Reference and new profiles of every modality, each pair drifted."""
    rng = np.random.default_rng(7)
    return {
        "text": (compute_dataset_profile(_sentences(rng, VOCAB, 120), "text"),
                 compute_dataset_profile(_sentences(rng, VOCAB, 200), "text")),
        "vision": (compute_dataset_profile(_images(rng, [0.5, 0.5, 0.5]), "vision"),
                   compute_dataset_profile(_images(rng, [0.6, 0.4, 0.5]), "vision")),
        "output": (compute_dataset_profile(_outputs([0.4, 0.6]), "output"),
                   compute_dataset_profile(_outputs([0.8, 0.2]), "output")),
    }


# --- the ticket's six test scenarios ---------------------------------------------------------------

def test_case1_text_length_drift_from_120_to_200_tokens_alerts(profiles):
    result = compare_profiles(*profiles["text"])
    assert result["statistics"]["length_mean"]["reference"] == pytest.approx(120, abs=3)
    assert result["statistics"]["length_mean"]["new"] == pytest.approx(200, abs=3)
    assert result["drift_scores"]["seq_length_jsd"] > 0.2
    assert result["max_drift"] > 0.2 and result["status"] == "alert"
    assert result["score_status"]["token_overlap_drift"] == "ok"


def test_case2_vision_channel_mean_shift_flags_the_red_and_green_channels_only(profiles):
    result = compare_profiles(*profiles["vision"])
    np.testing.assert_allclose(result["statistics"]["channel_mean_shift_std"], [1.0, -1.0, 0.0], atol=0.1)
    assert result["score_status"]["channel_0_mean_shift"] == "alert"
    assert result["score_status"]["channel_1_mean_shift"] == "alert"
    assert result["score_status"]["channel_2_mean_shift"] == "ok"
    assert result["score_status"]["brightness_jsd"] == "ok"
    assert result["status"] == "alert"


def test_case3_output_class_shift_from_40_60_to_80_20_has_kl_over_half_a_bit_and_alerts(profiles):
    result = compare_profiles(*profiles["output"])
    assert result["statistics"]["class_kl_bits"] > 0.5
    assert result["drift_scores"]["class_jsd"] == pytest.approx(0.1245, abs=1e-3)
    assert result["status"] == "alert"
    assert result["histograms"]["classes"] == {"labels": [0, 1], "reference": [0.4, 0.6], "new": [0.8, 0.2]}


@pytest.mark.parametrize("modality", ["text", "vision", "output"])
def test_case4_identical_profiles_have_zero_divergence_and_status_ok(profiles, modality):
    ref = profiles[modality][0]
    result = compare_profiles(ref, json.loads(json.dumps(ref)))
    assert all(score == 0.0 for score in result["drift_scores"].values())
    assert result["max_drift"] == 0.0 and result["status"] == "ok"


def test_case5_token_frequency_drift_to_covid_vocabulary_has_low_overlap():
    rng = np.random.default_rng(5)
    ref = compute_dataset_profile(_sentences(rng, STOP_WORDS, 30), "text")
    new = compute_dataset_profile(_sentences(rng, COVID_WORDS, 30), "text")
    assert list(ref["top_tokens"])[:3] == ["the", "a", "is"]
    assert list(new["top_tokens"])[:3] == ["COVID", "pandemic", "vaccine"]
    result = compare_profiles(ref, new)
    assert result["statistics"]["token_overlap"] < 0.5
    assert result["drift_scores"]["token_overlap_drift"] > 0.5
    assert result["drift_scores"]["token_frequency_jsd"] > 0.2
    assert result["status"] == "alert"
    assert result["statistics"]["entering_tokens"][:3] == ["COVID", "pandemic", "vaccine"]


@pytest.mark.parametrize("modality", ["text", "vision", "output"])
def test_case6_profiles_stored_as_json_files_compare_identically(profiles, modality, tmp_path):
    ref, new = profiles[modality]
    for name, profile in (("ref", ref), ("new", new)):
        write_text_atomic(tmp_path / f"{name}.json", json.dumps(profile, allow_nan=False))
    loaded = [json.loads((tmp_path / f"{name}.json").read_text()) for name in ("ref", "new")]
    assert loaded == [ref, new]
    assert compare_profiles(*loaded) == compare_profiles(ref, new)


# --- shared edges: the ticket's own-edges histograms miss a shifted distribution --------------------

def test_own_edge_histograms_call_a_shifted_length_distribution_unchanged_but_shared_edges_alert():
    rng = np.random.default_rng(3)
    noise = rng.integers(-20, 21, 500)
    ref_lengths, new_lengths = 120 + noise, 200 + noise
    own_edges = js_divergence(np.histogram(ref_lengths, bins=10)[0], np.histogram(new_lengths, bins=10)[0])
    assert own_edges < 0.01
    ref = compute_dataset_profile([np.ones(k, dtype=int) for k in ref_lengths], "text")
    new = compute_dataset_profile([np.ones(k, dtype=int) for k in new_lengths], "text")
    result = compare_profiles(ref, new)
    assert result["drift_scores"]["seq_length_jsd"] > 0.9
    assert result["status"] == "alert"


def test_comparison_reports_both_histograms_on_the_same_edges(profiles):
    hist = compare_profiles(*profiles["vision"])["histograms"]["brightness"]
    assert len(hist["edges"]) == 6 and len(hist["reference"]) == len(hist["new"]) == 5
    assert sum(hist["reference"]) == pytest.approx(1.0) and sum(hist["new"]) == pytest.approx(1.0)


# --- JSON-ready outputs ---------------------------------------------------------------------------

@pytest.mark.parametrize("modality", ["text", "vision", "output"])
def test_profiles_and_comparisons_hold_only_plain_json_types(profiles, modality):
    ref, new = profiles[modality]
    result = compare_profiles(ref, new)
    for obj in (ref, new, result):
        assert _plain_json_types(obj)
        json.dumps(obj, allow_nan=False)


# --- sampling -------------------------------------------------------------------------------------

def test_sampling_is_seeded_and_without_replacement():
    dataset = [np.arange(k) for k in range(1, 3001)]
    a = compute_dataset_profile(dataset, "text", sample_size=500, seed=4)
    assert a == compute_dataset_profile(dataset, "text", sample_size=500, seed=4)
    assert a != compute_dataset_profile(dataset, "text", sample_size=500, seed=5)
    assert (a["n_items"], a["n_sampled"]) == (3000, 500)
    assert len(set(a["lengths"])) == 500


def test_small_datasets_are_profiled_whole():
    profile = compute_dataset_profile(np.array([3, 1, 3]), "output", sample_size=10)
    assert profile["n_sampled"] == 3 and profile["class_counts"] == {"1": 1, "3": 2}


# --- text inputs ----------------------------------------------------------------------------------

def test_padded_token_arrays_drop_the_declared_pad_id_and_match_the_ragged_list():
    padded = np.array([[5, 6, 7, 0], [5, 5, 0, 0], [8, 0, 0, 0]])
    ragged = [[5, 6, 7], np.array([5, 5]), [8]]
    with_pad = compute_dataset_profile(padded, "text", pad_id=0)
    assert with_pad["lengths"] == [3, 2, 1]
    assert with_pad["top_tokens"] == {"5": 0.5, "6": 1 / 6, "7": 1 / 6, "8": 1 / 6}
    ragged_profile = compute_dataset_profile(ragged, "text")
    assert {k: v for k, v in ragged_profile.items() if k != "pad_id"} == \
           {k: v for k, v in with_pad.items() if k != "pad_id"}


def test_without_pad_id_every_column_of_a_token_array_is_a_token():
    profile = compute_dataset_profile(np.array([[5, 0], [0, 0]]), "text")
    assert profile["lengths"] == [2, 2] and profile["top_tokens"] == {"0": 0.75, "5": 0.25}


def test_string_and_integer_token_profiles_do_not_compare():
    words = compute_dataset_profile(["1 2 3"], "text")
    ids = compute_dataset_profile([[1, 2, 3]], "text")
    with pytest.raises(InputError, match="token kind mismatch"):
        compare_profiles(words, ids)


@pytest.mark.parametrize(("dataset", "match"), [
    ([], "at least one sequence"),
    (["a b", [1, 2]], "mixes strings"),
    ([[1.5, 2.0]], r"dataset\[0\] must be a string or a 1-D sequence of integer"),
    ([[1, 2], [[3]]], r"dataset\[1\]"),
    (np.zeros((3, 4)), "text dataset must be"),
    ("just one string", "text dataset must be"),
    (["", " "], "no tokens"),
])
def test_bad_text_datasets_are_rejected_with_the_reason(dataset, match):
    with pytest.raises(InputError, match=match):
        compute_dataset_profile(dataset, "text")


# --- vision inputs --------------------------------------------------------------------------------

def test_channel_stats_pool_pixels_of_all_images():
    rng = np.random.default_rng(11)
    images = rng.uniform(0, 1, (20, 3, 5, 7)) * np.array([1.0, 2.0, 0.5])[None, :, None, None]
    profile = compute_dataset_profile(images, "vision")
    pixels = images.transpose(1, 0, 2, 3).reshape(3, -1)
    np.testing.assert_allclose(profile["channel_means"], pixels.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(profile["channel_stds"], pixels.std(axis=1), rtol=1e-12)
    np.testing.assert_allclose(profile["brightness_values"], images.mean(axis=(1, 2, 3)), rtol=1e-12)


def test_channels_last_and_channels_first_arrays_give_the_same_profile():
    rng = np.random.default_rng(12)
    nchw = rng.uniform(0, 1, (6, 3, 8, 8))
    first = compute_dataset_profile(nchw, "vision")
    last = compute_dataset_profile(nchw.transpose(0, 2, 3, 1), "vision")
    assert (first["layout"], last["layout"]) == ("NCHW", "NHWC")
    np.testing.assert_allclose(first["channel_means"], last["channel_means"], rtol=1e-12)
    np.testing.assert_allclose(first["channel_stds"], last["channel_stds"], rtol=1e-12)


def test_grayscale_images_are_one_channel():
    profile = compute_dataset_profile(np.full((4, 6, 6), 0.25), "vision")
    assert profile["layout"] == "NHW" and profile["channel_means"] == [0.25] and profile["channel_stds"] == [0.0]


def test_uint8_images_are_scaled_to_the_unit_interval():
    rng = np.random.default_rng(13)
    pixels = rng.integers(0, 256, (5, 3, 6, 6), dtype=np.uint8)
    as_uint8 = compute_dataset_profile(pixels, "vision")
    as_float = compute_dataset_profile(pixels / 255.0, "vision")
    np.testing.assert_allclose(as_uint8["channel_means"], as_float["channel_means"], rtol=1e-12)
    assert compare_profiles(as_uint8, as_float)["status"] == "ok"


@pytest.mark.parametrize("shape", [(2, 3, 4, 3), (2, 8, 8, 8), (2, 1, 5, 4)])
def test_ambiguous_channel_axes_ask_for_a_layout(shape):
    with pytest.raises(InputError, match="pass layout="):
        compute_dataset_profile(np.zeros(shape), "vision")


def test_an_explicit_layout_resolves_any_channel_count():
    profile = compute_dataset_profile(np.zeros((2, 8, 8, 8)), "vision", layout="NHWC")
    assert len(profile["channel_means"]) == 8


@pytest.mark.parametrize(("shape", "layout", "match"), [
    ((2, 4, 4), "NCHW", "layout 'NCHW' needs a 4-D array"),
    ((2, 3, 4, 4), "NHW", "layout 'NHW' needs a 3-D array"),
    ((2, 4), None, "vision dataset must be"),
    ((0, 3, 5, 5), None, "at least one non-empty image"),
])
def test_bad_image_arrays_are_rejected(shape, layout, match):
    with pytest.raises(InputError, match=match):
        compute_dataset_profile(np.zeros(shape), "vision", layout=layout)


def test_non_finite_or_boolean_pixels_are_rejected():
    images = np.zeros((2, 3, 5, 5))
    images[1, 0, 0, 0] = np.nan
    with pytest.raises(InputError, match="non-finite"):
        compute_dataset_profile(images, "vision")
    with pytest.raises(InputError, match="real numbers"):
        compute_dataset_profile(np.zeros((2, 3, 5, 5), dtype=bool), "vision")


def test_vision_profiles_with_different_channel_counts_do_not_compare():
    rgb = compute_dataset_profile(np.zeros((2, 3, 5, 5)), "vision")
    gray = compute_dataset_profile(np.zeros((2, 5, 5)), "vision")
    with pytest.raises(InputError, match="channel count mismatch: ref has 3 channels, new has 1"):
        compare_profiles(rgb, gray)


def test_mean_shift_score_is_the_total_variation_of_shifted_unit_normals():
    assert mean_shift_score(0.0) == 0.0
    assert mean_shift_score(0.25) == pytest.approx(0.0995, abs=1e-4)
    assert mean_shift_score(-0.5) == pytest.approx(0.1974, abs=1e-4)
    assert mean_shift_score(10.0) == pytest.approx(1.0)


def test_a_constant_reference_channel_makes_any_shift_maximal():
    ref = compute_dataset_profile(np.full((3, 2, 4, 4), 0.5), "vision", layout="NCHW")
    new = compute_dataset_profile(np.full((3, 2, 4, 4), 0.5) + np.array([0.0, 0.01])[None, :, None, None],
                                  "vision", layout="NCHW")
    scores = compare_profiles(ref, new)["drift_scores"]
    assert scores["channel_0_mean_shift"] == 0.0 and scores["channel_1_mean_shift"] == 1.0


# --- outputs --------------------------------------------------------------------------------------

def test_output_comparison_uses_the_union_of_classes():
    result = compare_profiles(compute_dataset_profile(np.array([0, 0, 1]), "output"),
                              compute_dataset_profile(np.array([2, 2, 2]), "output"))
    assert result["histograms"]["classes"]["labels"] == [0, 1, 2]
    assert result["drift_scores"]["class_jsd"] == 1.0 and result["status"] == "alert"


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(-5, 5), min_size=1, max_size=40))
def test_an_output_profile_compared_with_itself_shows_no_drift(ids):
    profile = compute_dataset_profile(np.array(ids), "output")
    result = compare_profiles(profile, profile)
    assert result["max_drift"] == 0.0 and result["status"] == "ok"


@pytest.mark.parametrize("dataset", [np.array([0.0, 1.0]), np.array([[0, 1]]), np.array([], dtype=int),
                                     np.array([True, False])])
def test_outputs_must_be_a_non_empty_1d_integer_array(dataset):
    with pytest.raises(InputError, match="output dataset must be a non-empty 1-D array of integer"):
        compute_dataset_profile(dataset, "output")


# --- thresholds and status ------------------------------------------------------------------------

def test_status_is_ok_below_warn_warn_between_and_alert_above_alert():
    assert DEFAULT_THRESHOLDS == DriftThresholds(warn=0.1, alert=0.2)
    assert [drift_status(s) for s in (0.0, 0.0999, 0.1, 0.15, 0.2, 0.2001)] == \
           ["ok", "ok", "warn", "warn", "warn", "alert"]


def test_custom_thresholds_change_the_status(profiles):
    lenient = DriftThresholds(warn=0.4, alert=0.9)
    result = compare_profiles(*profiles["output"], thresholds=lenient)
    assert result["status"] == "ok" and result["thresholds"] == {"warn": 0.4, "alert": 0.9}


@pytest.mark.parametrize(("warn", "alert"), [(0.3, 0.2), (-0.1, 0.2), (float("nan"), 0.2), (0.1, float("inf")),
                                             (True, 0.2), ("0.1", 0.2)])
def test_thresholds_need_0_le_warn_le_alert(warn, alert):
    with pytest.raises(ConfigError, match="DriftThresholds"):
        DriftThresholds(warn=warn, alert=alert)


def test_thresholds_are_frozen_and_must_be_drift_thresholds(profiles):
    with pytest.raises(AttributeError):
        DEFAULT_THRESHOLDS.warn = 0.5
    with pytest.raises(ConfigError, match="thresholds must be a DriftThresholds"):
        compare_profiles(*profiles["output"], thresholds={"warn": 0.1, "alert": 0.2})


# --- configuration and malformed profiles ---------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "match"), [
    ({"modality": "audio"}, "modality must be one of text, vision, output"),
    ({"sample_size": 0}, "sample_size must be an integer >= 1"),
    ({"sample_size": 2.5}, "sample_size"),
    ({"seed": -1}, "seed must be an integer >= 0"),
    ({"layout": "NCHW"}, "layout applies only to modality 'vision'"),
    ({"pad_id": 0, "modality": "output"}, "pad_id applies only to modality 'text'"),
    ({"pad_id": 1.0}, "pad_id must be an integer"),
])
def test_bad_profile_configuration_raises_config_error(kwargs, match):
    args = {"modality": "text", **kwargs}
    with pytest.raises(ConfigError, match=match):
        compute_dataset_profile([[1, 2, 3]], **args)


def test_layout_must_be_a_known_name():
    with pytest.raises(ConfigError, match="layout must be one of NCHW, NHWC, NHW"):
        compute_dataset_profile(np.zeros((2, 3, 5, 5)), "vision", layout="CHW")


def test_pad_id_does_not_apply_to_word_strings():
    with pytest.raises(ConfigError, match="pad_id applies only to integer token datasets"):
        compute_dataset_profile(["a b"], "text", pad_id=0)


def test_profiles_of_different_modalities_do_not_compare(profiles):
    with pytest.raises(InputError, match="modality mismatch: ref is 'text', new is 'output'"):
        compare_profiles(profiles["text"][0], profiles["output"][0])


@pytest.mark.parametrize(("modality", "key", "value"), [
    ("text", "lengths", None),
    ("text", "lengths", "120"),
    ("text", "lengths", [1, -2]),
    ("text", "lengths", [1.5]),
    ("text", "lengths", []),
    ("text", "top_tokens", {"the": 2.0}),
    ("text", "top_tokens", ["the"]),
    ("text", "token_kind", "bytes"),
    ("vision", "channel_means", [0.5, "x", 0.5]),
    ("vision", "channel_stds", [0.1, -0.1, 0.1]),
    ("vision", "channel_stds", [0.1, 0.1]),
    ("vision", "brightness_values", [float("nan")]),
    ("output", "class_counts", {"0": -1}),
    ("output", "class_counts", {"zero": 4}),
    ("output", "class_counts", {"0": 0}),
    ("output", "modality", "audio"),
])
def test_malformed_profiles_name_the_bad_key(profiles, modality, key, value):
    ref, new = profiles[modality]
    tampered = json.loads(json.dumps(new))
    if value is None:
        del tampered[key]
    else:
        tampered[key] = value
    with pytest.raises(InputError, match=rf"new profile key '{key}'|new profile is missing key '{key}'|'{key}'"):
        compare_profiles(ref, tampered)


def test_a_profile_must_be_a_mapping(profiles):
    with pytest.raises(InputError, match="ref profile must be a mapping"):
        compare_profiles([1, 2], profiles["output"][1])


def test_no_drift_for_independent_samples_of_the_same_sources():
    rng = np.random.default_rng(21)
    pairs = [
        ("text", _sentences(rng, VOCAB, 120), _sentences(rng, VOCAB, 120)),
        ("vision", _images(rng, [0.5, 0.5, 0.5]), _images(rng, [0.5, 0.5, 0.5])),
        ("output", rng.integers(0, 5, 1000), rng.integers(0, 5, 1000)),
    ]
    for modality, a, b in pairs:
        result = compare_profiles(compute_dataset_profile(a, modality), compute_dataset_profile(b, modality))
        assert result["status"] == "ok", (modality, result["drift_scores"])
        assert math.isfinite(result["max_drift"])
