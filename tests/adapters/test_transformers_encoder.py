"""TransformersEncoder over a tiny random-init CLIPModel built offline, with and without its
processor: shapes and dtypes, determinism and train mode, temperature, identity, bad inputs."""

from __future__ import annotations

import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("PIL")

from transformers.modeling_outputs import BaseModelOutputWithPooling

from mmgate import DualEncoder, PairedSet, Subject
from mmgate.adapters import TorchEncoder, TransformersEncoder
from mmgate.adapters.transformers_encoder import features_tensor
from mmgate.errors import ConfigError, InputError
from tests.adapters.tiny_models import (
    CAPTIONS,
    PROJECTION_DIM,
    TEMPERATURE,
    images,
    tiny_clip,
    tiny_processor,
    tiny_tokenizer,
)


@pytest.fixture(scope="module")
def processor():
    return tiny_processor()


@pytest.fixture
def encoder(processor):
    return TransformersEncoder(tiny_clip(), processor)


def test_is_a_dual_encoder_returning_float32_rows(encoder):
    assert isinstance(encoder, DualEncoder)
    z_img = encoder.embed_images(images(5))
    z_txt = encoder.embed_texts(CAPTIONS)
    assert z_img.shape == z_txt.shape == (5, PROJECTION_DIM)
    assert z_img.dtype == z_txt.dtype == np.float32
    assert encoder.temperature == pytest.approx(TEMPERATURE)


def test_processor_free_path_takes_pixel_values_and_token_ids(encoder, processor):
    bare = TransformersEncoder(encoder.model)
    pixels = processor.image_processor(images=list(images(3)), return_tensors="np")["pixel_values"]
    ids = processor.tokenizer(CAPTIONS[:3], padding=True, truncation=True,
                                 return_tensors="np")["input_ids"]
    np.testing.assert_array_equal(bare.embed_images(pixels), encoder.embed_images(images(3)))
    np.testing.assert_array_equal(bare.embed_texts(ids), encoder.embed_texts(CAPTIONS[:3]))
    with pytest.raises(InputError, match=r"without an image processor, expected pixel values as a "
                                         r"float array \(N, channels, height, width\)"):
        bare.embed_images(images(2))
    with pytest.raises(InputError, match=r"without a tokenizer, expected token ids as an integer "
                                         r"array \(N, length\)"):
        bare.embed_texts(CAPTIONS)


def test_a_lone_tokenizer_serves_the_text_side(encoder):
    text_only = TransformersEncoder(encoder.model, tiny_tokenizer())
    np.testing.assert_array_equal(text_only.embed_texts(CAPTIONS), encoder.embed_texts(CAPTIONS))
    assert text_only.image_processor is None


def test_train_mode_model_is_put_in_eval_and_deterministic(processor):
    model = tiny_clip(attention_dropout=0.5)
    ids = processor.tokenizer(CAPTIONS, padding=True, truncation=True, return_tensors="pt")
    assert model.training
    first = model.get_text_features(**ids).pooler_output
    assert not torch.equal(first, model.get_text_features(**ids).pooler_output), "dropout active"
    encoder = TransformersEncoder(model, processor, batch_size=2)
    assert encoder.was_training and not model.training
    assert encoder.identity()["was_in_train_mode"] is True
    encoder.check_determinism(images=images(4), texts=CAPTIONS)
    assert encoder.modules_in_train_mode() == []


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_models_return_float32(processor, dtype):
    reference = TransformersEncoder(tiny_clip(), processor)
    half = TransformersEncoder(tiny_clip().to(getattr(torch, dtype)), processor)
    for method, batch in (("embed_images", images(3)), ("embed_texts", CAPTIONS)):
        z = getattr(half, method)(batch)
        assert z.dtype == np.float32 and z.shape == (len(batch), PROJECTION_DIM)
        np.testing.assert_allclose(z, getattr(reference, method)(batch), atol=0.1)
    assert half.identity()["dtype"] == dtype


def test_identity_digest_follows_the_weights_and_matches_torch_encoder(encoder):
    identity = encoder.identity()
    assert json.loads(json.dumps(identity, allow_nan=False)) == identity
    assert identity["name"] == "CLIPModel" and identity["adapter"] == "TransformersEncoder"
    assert identity["modules"] == {"model": "transformers.models.clip.modeling_clip.CLIPModel"}
    assert identity["temperature"] == pytest.approx(TEMPERATURE)
    assert identity["versions"]["transformers"] == transformers.__version__
    model = encoder.model
    same = TorchEncoder(model.get_image_features, model.get_text_features, module=model)
    assert same.identity()["weights_sha256"] == identity["weights_sha256"]
    with torch.no_grad():
        model.visual_projection.weight[0, 0] += 1e-3
    assert TransformersEncoder(model).identity()["weights_sha256"] != identity["weights_sha256"]


def test_temperature_follows_logit_scale(processor):
    model = tiny_clip()
    with torch.no_grad():
        model.logit_scale.fill_(np.log(100.0))
    assert TransformersEncoder(model, processor).temperature == pytest.approx(0.01)


def test_models_and_processors_of_the_wrong_kind_are_config_errors(encoder):
    with pytest.raises(ConfigError, match="CLIPTextModel lacks get_image_features and "
                                          "get_text_features; expected a dual encoder"):
        TransformersEncoder(encoder.model.text_model.__class__(encoder.model.config.text_config))
    with pytest.raises(ConfigError, match="expected a transformers model"):
        TransformersEncoder("openai/clip-vit-base-patch32")
    with pytest.raises(ConfigError, match="expected a transformers processor"):
        TransformersEncoder(encoder.model, processor=lambda x: x)
    with pytest.raises(InputError, match="expected strings, got int"):
        encoder.embed_texts([1, 2])


class NoPooling(torch.nn.Module):
    """A dual encoder whose image output object has no pooler_output: its first tensor is 3-D."""

    def get_image_features(self, pixel_values):
        return BaseModelOutputWithPooling(last_hidden_state=pixel_values.flatten(2))

    def get_text_features(self, input_ids):
        return input_ids.float()


def test_outputs_of_4x_and_5x_shape_are_read_and_bad_ones_named():
    tensor = torch.ones(2, 3)
    assert features_tensor(tensor, "w") is tensor
    assert features_tensor(BaseModelOutputWithPooling(pooler_output=tensor), "w") is tensor
    assert features_tensor((tensor, None), "w") is tensor
    with pytest.raises(InputError, match="expected a tensor or an output object"):
        features_tensor({"a": 1}, "w")
    odd = TransformersEncoder(NoPooling())
    assert odd.embed_texts(np.ones((2, 4), dtype=np.int64)).shape == (2, 4)
    with pytest.raises(InputError, match=r"expected 2-D embeddings shaped \(2, d\), got shape "
                                         r"\(2, 3, 16\)"):
        odd.embed_images(np.ones((2, 3, 4, 4), dtype=np.float32))


def test_a_subject_built_on_the_adapter(encoder):
    canary = PairedSet(images(5), CAPTIONS, name="tiny-clip-canary")
    subject = Subject(name="tiny-clip", encoder=encoder, canary=canary)
    assert subject.identity()["weights_sha256"] == encoder.identity()["weights_sha256"]
    assert encoder.embed_images(canary.images[1:3]).shape == (2, PROJECTION_DIM)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_fp16_model_matches_cpu_and_returns_float32_numpy(processor):
    cpu = TransformersEncoder(tiny_clip(), processor)
    gpu = TransformersEncoder(tiny_clip().half(), processor, device="cuda", batch_size=2)
    assert gpu.identity()["device"].startswith("cuda") and gpu.identity()["dtype"] == "float16"
    for method, batch in (("embed_images", images(3)), ("embed_texts", CAPTIONS)):
        z = getattr(gpu, method)(batch)
        assert isinstance(z, np.ndarray) and z.dtype == np.float32
        np.testing.assert_allclose(z, getattr(cpu, method)(batch), atol=0.05)
    gpu.check_determinism(images=images(3), texts=CAPTIONS)
