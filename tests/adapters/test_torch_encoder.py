"""TorchEncoder over small torch modules: shapes and dtype, batching, preprocess and tokenize
paths, eval mode and determinism, temperature, identity, and errors that name what was expected."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("PIL")

from PIL import Image

from mmgate import DualEncoder, PairedSet, Subject
from mmgate.adapters import TorchEncoder
from mmgate.errors import ConfigError, InputError

SIDE = 8
VOCAB = 64
LENGTH = 12
DIM = 16
CAPTIONS = ["a red square", "a blue circle", "two green triangles", "a star", "an empty frame"]


class TwoTower(torch.nn.Module):
    """An image tower over 3x8x8 pixels and a text tower over token ids, with dropout and a CLIP
    style logit_scale."""

    def __init__(self, seed: int = 0, p: float = 0.5) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.image = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * SIDE * SIDE, DIM))
        self.text = torch.nn.EmbeddingBag(VOCAB, DIM)
        self.drop = torch.nn.Dropout(p)
        self.logit_scale = torch.nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def encode_image(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.drop(self.image(pixels))

    def encode_text(self, input_ids: torch.Tensor, offsets: torch.Tensor | None = None) -> torch.Tensor:
        return self.drop(self.text(input_ids, offsets))


def preprocess(image: Image.Image) -> torch.Tensor:
    """PIL image -> 3x8x8 float tensor in [0, 1], like a torchvision transform."""
    if not isinstance(image, Image.Image):
        raise TypeError(f"expected a PIL image, got {type(image).__name__}")
    pixels = np.asarray(image.resize((SIDE, SIDE)), dtype=np.float32) / 255.0
    return torch.from_numpy(pixels).permute(2, 0, 1)


def tokenize(texts: list[str]) -> torch.Tensor:
    """Character codes modulo the vocabulary, cut or padded to LENGTH."""
    return torch.tensor([[ord(c) % VOCAB for c in (t + " " * LENGTH)[:LENGTH]] for t in texts])


def pictures(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, 10, 12, 3), dtype=np.uint8)


@pytest.fixture
def model() -> TwoTower:
    return TwoTower()


@pytest.fixture
def encoder(model: TwoTower) -> TorchEncoder:
    return TorchEncoder(model.encode_image, model.encode_text, preprocess, tokenize, module=model)


def test_is_a_dual_encoder_returning_float32_rows(encoder):
    assert isinstance(encoder, DualEncoder)
    z_img = encoder.embed_images(pictures(5))
    z_txt = encoder.embed_texts(CAPTIONS)
    assert z_img.shape == z_txt.shape == (5, DIM)
    assert z_img.dtype == z_txt.dtype == np.float32


def test_train_mode_model_is_put_in_eval_recorded_and_deterministic(model):
    assert model.training
    raw = torch.from_numpy(pictures(4).astype(np.float32)[:, :SIDE, :SIDE].transpose(0, 3, 1, 2).copy())
    assert not torch.equal(model.encode_image(raw), model.encode_image(raw)), "dropout is active"
    encoder = TorchEncoder(model.encode_image, model.encode_text, preprocess, tokenize, module=model)
    assert not model.training and encoder.was_training
    assert encoder.identity()["was_in_train_mode"] is True
    np.testing.assert_array_equal(encoder.embed_images(pictures(4)), encoder.embed_images(pictures(4)))
    encoder.check_determinism(images=pictures(4), texts=CAPTIONS)
    model.train()
    np.testing.assert_array_equal(encoder.embed_texts(CAPTIONS), encoder.embed_texts(CAPTIONS))
    assert not model.training


class StubbornDropout(torch.nn.Dropout):
    """A dropout that ignores eval(), the way MC-dropout layers do."""

    def train(self, mode: bool = True) -> StubbornDropout:
        return super().train(True)


def test_dropout_that_stays_active_is_reported_clearly(model):
    model.drop = StubbornDropout(0.5)
    with pytest.warns(RuntimeWarning, match="determinism gate"):
        encoder = TorchEncoder(model.encode_image, model.encode_text, preprocess, tokenize,
                               module=model)
    assert encoder.modules_in_train_mode() == ["model:drop"]
    with pytest.raises(ConfigError, match="embed_images gave different embeddings.*model:drop.*"
                                          "mmgate's determinism gate"):
        encoder.check_determinism(images=pictures(4))


def test_uint8_arrays_pil_images_and_paths_embed_alike(encoder, tmp_path):
    arrays = pictures(3)
    images = [Image.fromarray(a) for a in arrays]
    paths = []
    for i, image in enumerate(images):
        paths.append(tmp_path / f"{i}.png")
        image.save(paths[-1])
    expected = encoder.embed_images(arrays)
    np.testing.assert_array_equal(encoder.embed_images(images), expected)
    np.testing.assert_array_equal(encoder.embed_images(paths), expected)
    np.testing.assert_array_equal(encoder.embed_images([str(p) for p in paths]), expected)


def test_batches_are_split_into_chunks_of_batch_size(model):
    calls = []

    def encode_image(pixels):
        calls.append(len(pixels))
        return model.encode_image(pixels)

    small = TorchEncoder(encode_image, model.encode_text, preprocess, tokenize, module=model,
                         batch_size=2)
    whole = TorchEncoder(model.encode_image, model.encode_text, preprocess, tokenize, module=model)
    np.testing.assert_allclose(small.embed_images(pictures(5)), whole.embed_images(pictures(5)),
                               rtol=1e-6, atol=1e-6)
    assert calls == [2, 2, 1]


def test_without_preprocess_numeric_pixels_are_cast_to_the_model_dtype(model):
    encoder = TorchEncoder(model.encode_image, model.encode_text, tokenize=tokenize, module=model)
    pixels = np.random.default_rng(0).random((3, 3, SIDE, SIDE))
    assert encoder.embed_images(pixels).shape == (3, DIM)
    assert encoder.embed_images(torch.from_numpy(pixels)).shape == (3, DIM)
    with pytest.raises(InputError, match="without preprocess, expected a numeric array.*pass "
                                         "preprocess="):
        encoder.embed_images([Image.fromarray(pictures(1)[0])])


def test_fp16_and_bf16_modules_return_float32(model):
    for dtype in (torch.float16, torch.bfloat16):
        half = TwoTower().to(dtype)
        encoder = TorchEncoder(half.encode_image, half.encode_text, preprocess, tokenize)
        z = encoder.embed_images(pictures(3))
        assert z.dtype == np.float32 and z.shape == (3, DIM)
        assert encoder.identity()["dtype"] == str(dtype).removeprefix("torch.")


def test_tokenize_may_return_a_dict_passed_as_keywords(model):
    def tokenize_flat(texts):
        ids = tokenize(texts).reshape(-1)
        return {"input_ids": ids, "offsets": torch.arange(0, len(ids), LENGTH)}

    flat = TorchEncoder(model.encode_image, model.encode_text, preprocess, tokenize_flat,
                        module=model)
    plain = TorchEncoder(model.encode_image, model.encode_text, preprocess, tokenize, module=model)
    np.testing.assert_allclose(flat.embed_texts(CAPTIONS), plain.embed_texts(CAPTIONS), atol=1e-6)


def test_without_tokenize_strings_go_through_and_token_ids_become_a_tensor(model):
    seen = []

    def encode_text(batch):
        seen.append(type(batch))
        ids = tokenize(batch) if isinstance(batch, list) else batch
        return model.encode_text(ids)

    encoder = TorchEncoder(model.encode_image, encode_text, preprocess, module=model)
    by_string = encoder.embed_texts(CAPTIONS)
    by_ids = encoder.embed_texts(tokenize(CAPTIONS).numpy())
    np.testing.assert_array_equal(by_string, by_ids)
    assert seen == [list, torch.Tensor]


def test_temperature_comes_from_logit_scale_unless_given(model, encoder):
    assert encoder.temperature == pytest.approx(0.07)
    given = TorchEncoder(model.encode_image, model.encode_text, preprocess, tokenize,
                         temperature=0.01, module=model)
    assert given.temperature == 0.01 and given.identity()["temperature"] == 0.01
    with pytest.raises(ConfigError, match="temperature: expected a finite number > 0"):
        TorchEncoder(model.encode_image, model.encode_text, temperature=-1.0, module=model)


def test_identity_is_json_ready_and_its_digest_follows_the_weights(model, encoder):
    identity = encoder.identity()
    assert json.loads(json.dumps(identity, allow_nan=False)) == identity
    assert identity["name"] == "TwoTower" and identity["adapter"] == "TorchEncoder"
    assert identity["modules"] == {"model": f"{__name__}.TwoTower"}
    assert identity["device"] == "cpu" and identity["versions"]["torch"] == torch.__version__
    with torch.no_grad():
        model.image[1].weight[0, 0] += 1.0
    assert encoder.identity()["weights_sha256"] == identity["weights_sha256"], "cached"
    changed = TorchEncoder(model.encode_image, model.encode_text, preprocess, tokenize, module=model)
    assert changed.identity()["weights_sha256"] != identity["weights_sha256"]


def test_module_is_found_from_bound_methods_or_absent(model):
    bound = TorchEncoder(model.encode_image, model.encode_text, preprocess, tokenize)
    assert bound.identity()["modules"] == {"model": f"{__name__}.TwoTower"}
    other = TwoTower(seed=1)
    towers = TorchEncoder(model.encode_image, other.encode_text, preprocess, tokenize)
    assert set(towers.identity()["modules"]) == {"image", "text"}

    def plain(pixels):
        return model.encode_image(pixels)

    unbound = TorchEncoder(plain, lambda ids: model.encode_text(ids), preprocess, tokenize,
                           temperature=0.1)
    assert unbound.identity()["weights_sha256"] is None
    assert unbound.identity()["name"].endswith("plain")


def test_bad_inputs_and_outputs_are_named(model, encoder):
    with pytest.raises(InputError, match="embed_texts: expected a batch"):
        encoder.embed_texts("a single caption")
    with pytest.raises(InputError, match="embed_texts.*expected strings, got int at item 1"):
        encoder.embed_texts(["a", 3])
    with pytest.raises(InputError, match="preprocess failed on item 0"):
        encoder.embed_images([object()])
    flat = TorchEncoder(lambda x: model.encode_image(x)[:, 0], model.encode_text, preprocess,
                        tokenize, module=model)
    with pytest.raises(InputError, match=r"expected 2-D embeddings shaped \(2, d\)"):
        flat.embed_images(pictures(2))
    nan = TorchEncoder(lambda x: model.encode_image(x) * math.nan, model.encode_text, preprocess,
                       tokenize, module=model)
    with pytest.raises(InputError, match="2 of 2 rows hold NaN or Inf"):
        nan.embed_images(pictures(2))
    with pytest.raises(ConfigError, match="encode_image: expected a callable"):
        TorchEncoder("not callable", model.encode_text)
    with pytest.raises(ConfigError, match="module: expected a torch.nn.Module"):
        TorchEncoder(model.encode_image, model.encode_text, module=object())


def test_a_subject_built_on_the_adapter_reads_its_identity_and_slices(encoder):
    canary = PairedSet(pictures(6), CAPTIONS + ["a dot"], name="tiny-canary")
    subject = Subject(name="two-tower", encoder=encoder, canary=canary)
    assert subject.identity() == encoder.identity()
    z = np.concatenate([encoder.embed_images(canary.images[i:i + 4]) for i in (0, 4)])
    np.testing.assert_allclose(z, encoder.embed_images(canary.images), atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_fp16_embeds_to_float32_numpy_with_the_cpu_digest():
    cpu = TwoTower()
    digest = TorchEncoder(cpu.encode_image, cpu.encode_text, preprocess, tokenize).identity()
    half = TwoTower().half()
    encoder = TorchEncoder(half.encode_image, half.encode_text, preprocess, tokenize, device="cuda")
    z = encoder.embed_images(pictures(3))
    assert z.dtype == np.float32 and isinstance(z, np.ndarray) and np.isfinite(z).all()
    assert encoder.identity()["device"].startswith("cuda")
    assert digest["weights_sha256"] != encoder.identity()["weights_sha256"], "fp16 bytes differ"
    back = TwoTower()
    on_gpu = TorchEncoder(back.encode_image, back.encode_text, preprocess, tokenize, device="cuda:0")
    assert on_gpu.identity()["weights_sha256"] == digest["weights_sha256"]
    np.testing.assert_allclose(on_gpu.embed_texts(CAPTIONS),
                               TorchEncoder(cpu.encode_image, cpu.encode_text, preprocess,
                                            tokenize).embed_texts(CAPTIONS), atol=1e-4)
