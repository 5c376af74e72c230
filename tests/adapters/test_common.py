"""The adapters' shared helpers: device choice, batch and output checks, weights digest,
temperature from logit_scale, image conversion."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from mmgate.adapters import common
from mmgate.errors import ConfigError, InputError


def test_cpu_is_always_usable_and_unknown_devices_are_config_errors():
    assert common.resolve_device("cpu", "X") == torch.device("cpu")
    assert common.resolve_device(torch.device("cpu"), "X") == torch.device("cpu")
    with pytest.raises(ConfigError, match="expected 'cpu', 'cuda', 'cuda:N' or 'mps'"):
        common.resolve_device("gpu please", "X")
    with pytest.raises(ConfigError, match="expected 'cpu', 'cuda', 'cuda:N' or 'mps'"):
        common.resolve_device("meta", "X")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_without_cuda_says_so():
    with pytest.raises(ConfigError, match="CUDA is not available"):
        common.resolve_device("cuda", "TorchEncoder")


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="MPS is available here")
def test_mps_without_mps_says_so():
    with pytest.raises(ConfigError, match="MPS backend is not available"):
        common.resolve_device("mps", "TorchEncoder")


@pytest.mark.parametrize("bad", [0, -1, 2.0, True, "8", None])
def test_batch_size_must_be_a_positive_integer(bad):
    with pytest.raises(ConfigError, match="batch_size: expected an integer >= 1"):
        common.checked_batch_size(bad, "X")


@pytest.mark.parametrize("bad", ["a caption", {"a": 1}, 3, np.float32(1.0), np.zeros(()), []])
def test_batch_must_be_a_non_empty_sequence_of_rows(bad):
    with pytest.raises(InputError, match="X.embed_texts: expected"):
        common.batch_items(bad, "X.embed_texts")


def test_output_checks_name_what_was_expected():
    rows = common.embedding_rows(torch.ones(3, 4, dtype=torch.bfloat16), 3, "w")
    assert rows.dtype == np.float32 and rows.shape == (3, 4)
    assert common.embedding_rows(np.ones((2, 4)), 2, "w").dtype == np.float32
    with pytest.raises(InputError, match=r"expected 2-D embeddings shaped \(3, d\), got shape \(3,\)"):
        common.embedding_rows(torch.ones(3), 3, "w")
    with pytest.raises(InputError, match="expected 3 rows"):
        common.embedding_rows(torch.ones(2, 4), 3, "w")
    with pytest.raises(InputError, match="expected embedding dimension 5"):
        common.embedding_rows(torch.ones(3, 4), 3, "w", d=5)
    with pytest.raises(InputError, match="tensor or numpy array"):
        common.embedding_rows([[1.0, 2.0]], 1, "w")
    nan = torch.ones(3, 4)
    nan[1, 2] = math.nan
    with pytest.raises(InputError, match="1 of 3 rows hold NaN or Inf"):
        common.embedding_rows(nan, 3, "w")


def test_numeric_batches_become_one_tensor_and_others_none():
    assert common.numeric_tensor(np.zeros((2, 3), np.float64), "w").shape == (2, 3)
    assert common.numeric_tensor([np.zeros(3), np.ones(3)], "w").shape == (2, 3)
    assert common.numeric_tensor(["a", "b"], "w") is None
    assert common.numeric_tensor(np.array(["a", "b"]), "w") is None
    with pytest.raises(InputError, match="items differ in shape"):
        common.numeric_tensor([np.zeros(3), np.zeros(4)], "w")


def test_uint8_arrays_and_paths_become_rgb_pil_images(tmp_path):
    from PIL import Image

    pixels = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    image = common.image_for_preprocess(pixels, "w")
    assert isinstance(image, Image.Image) and image.mode == "RGB" and image.size == (5, 4)
    assert common.image_for_preprocess(pixels[..., 0], "w").mode == "RGB"
    path = tmp_path / "x.png"
    image.save(path)
    assert np.array_equal(np.asarray(common.image_for_preprocess(path, "w")), pixels)
    floats = pixels.astype(np.float32)
    assert common.image_for_preprocess(floats, "w") is floats
    with pytest.raises(InputError, match="cannot read the image file"):
        common.image_for_preprocess(tmp_path / "missing.png", "w")


def test_weights_digest_covers_names_dtypes_shapes_and_values():
    torch.manual_seed(0)
    layer = torch.nn.Linear(3, 2)
    digest = common.weights_sha256({"model": layer})
    assert digest == common.weights_sha256({"model": layer})
    assert len(digest) == 64
    with torch.no_grad():
        layer.bias[0] += 1e-3
    assert common.weights_sha256({"model": layer}) != digest
    assert common.weights_sha256({"model": layer.half()}) != common.weights_sha256(
        {"model": layer.float()})
    pair = {"image": torch.nn.Linear(3, 2), "text": torch.nn.Linear(3, 2)}
    assert common.weights_sha256(pair) != common.weights_sha256(dict(reversed(pair.items())))


def test_temperature_is_one_over_exp_of_the_outermost_logit_scale():
    outer = torch.nn.Module()
    outer.logit_scale = torch.nn.Parameter(torch.tensor(math.log(1 / 0.07)))
    outer.inner = torch.nn.Module()
    outer.inner.logit_scale = torch.nn.Parameter(torch.tensor([0.0]))
    assert common.logit_scale_temperature({"model": outer}, "X") == pytest.approx(0.07)
    assert common.logit_scale_temperature({"model": outer.inner}, "X") == pytest.approx(1.0)
    assert common.logit_scale_temperature({"model": torch.nn.Linear(2, 2)}, "X") is None
    outer.inner.logit_scale.data.fill_(1e6)
    with pytest.raises(ConfigError, match="temperature from logit_scale"):
        common.logit_scale_temperature({"model": outer.inner}, "X")
