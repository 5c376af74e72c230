"""Every built-in perturbation operator acts, is seeded, keeps shape and dtype, is the identity at
intensity 0, never mutates its input, refuses data it cannot handle with a reason, and rejects a
bad intensity naming the field."""

from __future__ import annotations

import numpy as np
import pytest

from mmgate.errors import ConfigError, InputError
from mmgate.perturb import BUILTIN_OPERATORS, make_operator
from mmgate.subjects.paired import PairedSet

N = 24
IMAGE_OPS = ("gaussian_noise", "brightness", "contrast", "blur", "stroke_weight", "watermark", "crop", "translate")
TEXT_OPS = ("token_dropout", "token_substitution", "token_shuffle", "template_prefix",
            "marker_token")
PAIRING_OPS = ("swap_pairs", "offset_pairs", "block_shuffle")
INTENSITY = {"gaussian_noise": 0.2, "brightness": 0.1, "contrast": 0.5, "blur": 1.0, "stroke_weight": 1.5,
             "watermark": 0.8, "crop": 0.3, "translate": 0.2, "channel_shift": 0.2,
             "token_dropout": 0.5, "token_substitution": 0.5, "token_shuffle": 1.0,
             "template_prefix": 1.0, "marker_token": 1.0, "swap_pairs": 0.5, "offset_pairs": 1.0,
             "block_shuffle": 1.0, "preprocess_scale": 0.5, "preprocess_shift": 0.1}
TOKEN_PARAMS = {"template_prefix": {"tokens": (7, 8)}, "marker_token": {"token": 9}}


def images(kind: str) -> np.ndarray:
    rng = np.random.default_rng(0)
    if kind == "uint8":
        return rng.integers(0, 256, size=(N, 8, 8), dtype=np.uint8)
    if kind == "rgb":
        return rng.random((N, 8, 8, 3)).astype(np.float32)
    return rng.standard_normal((N, 8, 8))


def string_texts() -> list[str]:
    return [f"item {i} is a {['red', 'blue', 'green'][i % 3]} square" for i in range(N)]


def token_texts() -> np.ndarray:
    tokens = np.random.default_rng(1).integers(1, 30, size=(N, 10))
    tokens[:, 7:] = 0
    return tokens


def paired(image_kind: str = "float", text_kind: str = "strings") -> PairedSet:
    texts = string_texts() if text_kind == "strings" else token_texts()
    return PairedSet(images(image_kind), texts, factors={"k": np.arange(N) % 3})


def op(name: str, intensity: float | None = None, seed: int = 3, kinds: str = "strings"):
    params = TOKEN_PARAMS.get(name, {}) if kinds == "tokens" else {}
    return make_operator(name, INTENSITY[name] if intensity is None else intensity, seed, **params)


def same(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    return list(a) == list(b)


CASES = ([(name, kind, "strings") for name in IMAGE_OPS for kind in ("float", "uint8", "rgb")]
         + [("channel_shift", "rgb", "strings")]
         + [(name, "float", kind) for name in TEXT_OPS for kind in ("strings", "tokens")]
         + [(name, "float", kind) for name in PAIRING_OPS for kind in ("strings", "tokens")]
         + [("preprocess_scale", kind, "strings") for kind in ("float", "uint8")]
         + [("preprocess_shift", kind, "strings") for kind in ("float", "uint8")])


@pytest.mark.parametrize("name, image_kind, text_kind", CASES)
def test_operator_acts_keeps_shape_and_dtype_and_leaves_its_input_alone(name, image_kind, text_kind):
    data = paired(image_kind, text_kind)
    before = PairedSet(np.array(data.images), np.array(data.texts) if text_kind == "tokens"
                       else list(data.texts)).fingerprint()
    out = op(name, kinds=text_kind).apply(data)
    assert not (same(out.images, data.images) and same(out.texts, data.texts)), "nothing changed"
    assert out.images.shape == data.images.shape and out.images.dtype == data.images.dtype
    assert type(out.texts) is type(data.texts) and len(out.texts) == N
    if text_kind == "tokens":
        assert out.texts.shape == data.texts.shape and out.texts.dtype == data.texts.dtype
    assert PairedSet(data.images, data.texts).fingerprint() == before
    assert np.array_equal(out.factors["k"], data.factors["k"])


@pytest.mark.parametrize("name, image_kind, text_kind", CASES)
def test_operator_is_seeded_and_deterministic(name, image_kind, text_kind):
    data = paired(image_kind, text_kind)
    first, again = (op(name, kinds=text_kind).apply(data) for _ in range(2))
    assert same(first.images, again.images) and same(first.texts, again.texts)
    assert first.fingerprint() == again.fingerprint()


@pytest.mark.parametrize("name", ["gaussian_noise", "channel_shift", "translate", "token_dropout",
                                  "token_substitution", "token_shuffle", "swap_pairs"])
def test_another_seed_draws_another_perturbation(name):
    data = paired("rgb", "strings")
    assert op(name, seed=1).apply(data).fingerprint() != op(name, seed=2).apply(data).fingerprint()


@pytest.mark.parametrize("name, image_kind, text_kind", CASES)
def test_intensity_zero_is_the_identity(name, image_kind, text_kind):
    data = paired(image_kind, text_kind)
    assert op(name, 0.0, kinds=text_kind).apply(data).fingerprint() == data.fingerprint()


def test_uint8_images_are_clipped_to_the_byte_range():
    data = paired("uint8")
    brighter = make_operator("brightness", 0.5).apply(data).images
    assert brighter.dtype == np.uint8 and brighter.max() == 255
    assert np.array_equal(brighter, np.clip(np.rint(data.images + 127.5), 0, 255))


def test_blur_keeps_a_constant_image_constant_and_smooths_a_spike():
    flat = PairedSet(np.full((2, 9, 9), 0.5), ["a", "b"])
    assert np.allclose(make_operator("blur", 1.5).apply(flat).images, 0.5)
    spike = np.zeros((2, 9, 9))
    spike[:, 4, 4] = 1.0
    for kind in ("gaussian", "box"):
        out = make_operator("blur", 1.0, kind=kind).apply(PairedSet(spike, ["a", "b"])).images
        assert out[0, 4, 4] < 1.0 and out[0, 4, 5] > 0.0
        assert np.isclose(out[0].sum(), 1.0)


def test_template_prefix_and_marker_on_strings_read_as_text():
    data = paired()
    prefixed = make_operator("template_prefix", 1.0).apply(data).texts
    assert all(t == f"a photo of {s}" for t, s in zip(prefixed, data.texts))
    marked = make_operator("marker_token", 1.0, codebook=4).apply(data).texts
    assert marked[5] == f"{data.texts[5]} [ID]1"


def test_token_prefix_shifts_right_and_truncates_to_the_fixed_length():
    data = paired(text_kind="tokens")
    out = make_operator("template_prefix", 1.0, tokens=(7, 8)).apply(data).texts
    assert np.array_equal(out[:, :2], np.tile([7, 8], (N, 1)))
    assert np.array_equal(out[:, 2:], data.texts[:, :-2])


def test_marker_token_fills_the_first_pad_position():
    data = paired(text_kind="tokens")
    out = make_operator("marker_token", 1.0, token=9).apply(data).texts
    assert (out[:, 7] == 9).all() and np.array_equal(out[:, :7], data.texts[:, :7])


def test_pairing_operators_move_texts_and_keep_images():
    data = paired()
    out = make_operator("offset_pairs", 1.0, offset=2).apply(data)
    assert same(out.images, data.images)
    assert out.texts == data.texts[2:] + data.texts[:2]
    swapped = make_operator("swap_pairs", 0.5, seed=1).apply(data)
    assert sum(a != b for a, b in zip(swapped.texts, data.texts)) == N // 2


@pytest.mark.parametrize("name, data, reason", [
    ("gaussian_noise", PairedSet(np.arange(N), string_texts()), "(N, H, W)"),
    ("blur", PairedSet(np.zeros((N, 4, 4), dtype=np.int32), string_texts()), "float or uint8"),
    ("channel_shift", paired("float"), "channel axis"),
    ("token_dropout", PairedSet(np.zeros((N, 4, 4)), np.zeros((N, 3))), "integer token"),
    ("template_prefix", paired(text_kind="tokens"), "integer ids declared"),
    ("marker_token", paired(text_kind="tokens"), "integer ids declared"),
    ("preprocess_scale", PairedSet(["a.png"] * N, string_texts()), "numpy array"),
])
def test_operator_refuses_data_it_cannot_handle_with_a_reason(name, data, reason):
    operator = make_operator(name, INTENSITY[name])
    assert reason in operator.applies_to(data)
    with pytest.raises(InputError, match=name):
        operator.apply(data)


def test_preprocess_refuses_integer_token_ids():
    operator = make_operator("preprocess_scale", 0.5, modality="text")
    assert "token ids" in operator.applies_to(paired(text_kind="tokens"))


OUT_OF_RANGE = {"gaussian_noise": -0.1, "blur": -1.0, "channel_shift": -0.1, "stroke_weight": 3.5,
                "preprocess_scale": -1.0, "preprocess_shift": float("nan")}


@pytest.mark.parametrize("name", sorted(BUILTIN_OPERATORS))
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "0.1", True, None])
def test_bad_intensity_is_a_config_error_naming_the_field(name, bad):
    bad = OUT_OF_RANGE.get(name, 1.5) if bad is None else bad
    with pytest.raises(ConfigError, match=rf"{name}\.intensity"):
        make_operator(name, bad)


@pytest.mark.parametrize("name, params, field", [
    ("blur", {"kind": "median"}, "blur.kind"),
    ("watermark", {"corner": "middle"}, "watermark.corner"),
    ("watermark", {"size": 0.0}, "watermark.size"),
    ("template_prefix", {"tokens": ("a", 3)}, "template_prefix.tokens"),
    ("marker_token", {"codebook": 0}, "marker_token.codebook"),
    ("offset_pairs", {"offset": 0}, "offset_pairs.offset"),
    ("preprocess_shift", {"modality": "audio"}, "preprocess_shift.modality"),
    ("token_dropout", {"pad": -1}, "token_dropout.pad"),
])
def test_bad_parameters_are_config_errors_naming_the_field(name, params, field):
    with pytest.raises(ConfigError, match=field):
        make_operator(name, 0.1, **params)


def test_negative_seed_is_a_config_error():
    with pytest.raises(ConfigError, match="gaussian_noise.seed"):
        make_operator("gaussian_noise", 0.1, seed=-1)


def test_to_json_names_the_operator_its_intensity_seed_and_parameters():
    assert make_operator("blur", 0.5, seed=4, kind="box").to_json() == {
        "name": "blur", "intensity": 0.5, "seed": 4, "kind": "box"}
    assert make_operator("template_prefix", 1.0, tokens=[7, 8]).to_json()["tokens"] == [7, 8]


def test_stroke_weight_draws_bright_strokes_bolder_or_thinner_by_whole_and_partial_pixels():
    image = np.zeros((1, 5, 5))
    image[0, 2, 2] = 1.0  # one bright pixel on a dark ground
    bold = make_operator("stroke_weight", 1.0).transform(image, 1.0)
    assert bold[0].sum() == 9.0 and bold[0, 1:4, 1:4].min() == 1.0  # a 3 x 3 stroke
    half = make_operator("stroke_weight", 0.5).transform(image, 1.0)
    assert half[0, 2, 2] == 1.0 and half[0, 1, 1] == 0.5
    thin = make_operator("stroke_weight", -1.0).transform(bold, 1.0)
    assert thin[0].sum() == 1.0 and thin[0, 2, 2] == 1.0  # erosion undoes the dilation here
