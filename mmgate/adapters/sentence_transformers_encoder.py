"""SentenceTransformersEncoder: SentenceTransformer models (a CLIP-style one for images, any one for
text) as an mmgate DualEncoder.

::

    from sentence_transformers import SentenceTransformer
    from mmgate.adapters import SentenceTransformersEncoder

    encoder = SentenceTransformersEncoder(SentenceTransformer("clip-ViT-B-32"))

Strings on the image side are encoded as text, so a text-only model can be gated on both sides
(caption <-> paraphrase): ``SentenceTransformersEncoder(SentenceTransformer("all-MiniLM-L6-v2"))``
with paraphrases as the canary's "images". Image files go in as ``pathlib.Path`` objects (a plain
string is text), images as PIL images or uint8 arrays.

Embeddings are raw: the model runs without a trailing ``Normalize`` module, which many
SentenceTransformers (all-MiniLM-L6-v2 among them) end with, so mmgate sees the norms.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from mmgate.adapters.common import (
    DEFAULT_BATCH_SIZE,
    ModuleAdapter,
    as_strings,
    image_for_preprocess,
    to_device,
    torch,
)
from mmgate.adapters.extras import require
from mmgate.errors import ConfigError, InputError

sentence_transformers = require("sentence_transformers", "sentence-transformers",
                                "mmgate.adapters.SentenceTransformersEncoder")

NORMALIZE = "Normalize"
EMBEDDING_KEY = "sentence_embedding"


def model_name(model: Any) -> str:
    """The model's hub id or path where it records one, else its class name."""
    card = getattr(model, "model_card_data", None)
    backbone = getattr(model, "transformers_model", None)
    for candidate in (getattr(card, "model_id", None), getattr(card, "base_model", None),
                      getattr(backbone, "name_or_path", None)):
        if isinstance(candidate, str) and candidate:
            return candidate
    return type(model).__name__


def raw_stages(model: Any) -> list[torch.nn.Module]:
    """The model's modules in order, without trailing ``Normalize`` modules."""
    stages = list(model.children())
    while stages and type(stages[-1]).__name__ == NORMALIZE:
        stages.pop()
    return stages


class SentenceTransformersEncoder(ModuleAdapter):
    """``image_model`` embeds the image side (PIL images, ``pathlib.Path`` files, uint8 arrays, or
    strings for text-to-text gating) and ``text_model`` (default: ``image_model``) the strings of
    the text side, both without a trailing ``Normalize``. ``temperature`` comes from a
    ``logit_scale`` inside the model (CLIP) where there is one.
    """

    libraries = ("torch", "sentence_transformers")

    def __init__(self, image_model: Any, text_model: Any = None, device: Any = "cpu",
                 batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        for arg, model in (("image_model", image_model), ("text_model", text_model)):
            if model is not None and not isinstance(model, sentence_transformers.SentenceTransformer):
                raise ConfigError(f"SentenceTransformersEncoder {arg}: expected a "
                                  f"sentence_transformers.SentenceTransformer, got "
                                  f"{type(model).__name__}")
        if image_model is None:
            raise ConfigError("SentenceTransformersEncoder image_model: expected a "
                              "SentenceTransformer, got None")
        self.image_model = image_model
        self.text_model = image_model if text_model is None else text_model
        shared = self.text_model is image_model
        modules = {"model": image_model} if shared else {"image": image_model, "text": self.text_model}
        name = model_name(image_model) if shared else \
            f"{model_name(image_model)} + {model_name(self.text_model)}"
        self._normalize_skipped = any(len(raw_stages(m)) < len(list(m.children()))
                                      for m in modules.values())
        super().__init__(modules, name=name, device=device, batch_size=batch_size)

    def _encode(self, model: Any, items: list[Any]) -> torch.Tensor:
        features = model.preprocess(items) if hasattr(model, "preprocess") else model.tokenize(items)
        features = to_device(features, self.device, self.dtype)
        for stage in raw_stages(model):
            features = stage(features)
        return features[EMBEDDING_KEY]

    def _image_features(self, chunk: Sequence[Any], where: str) -> Any:
        items = chunk.tolist() if isinstance(chunk, np.ndarray) and chunk.dtype.kind in "UO" else chunk
        if all(isinstance(item, str) for item in items):
            return self._encode(self.image_model, list(items))
        modalities = getattr(self.image_model, "modalities", None)
        if modalities is not None and "image" not in modalities:
            raise InputError(f"{where}: {self.name!r} encodes {', '.join(modalities)} only, not "
                             f"images; pass an image-capable image_model (such as clip-ViT-B-32), "
                             f"or strings on the image side to gate text against text")
        images = []
        for i, item in enumerate(items):
            if isinstance(item, str):
                raise InputError(f"{where}: item {i} is a string in a batch of images; strings "
                                 f"on the image side are text (pass image files as pathlib.Path)")
            images.append(image_for_preprocess(item, f"{where} item {i}"))
        return self._encode(self.image_model, images)

    def _text_features(self, chunk: Sequence[Any], where: str) -> Any:
        return self._encode(self.text_model, as_strings(chunk, where))

    def _identity_extra(self) -> dict[str, Any]:
        return {"normalize_skipped": self._normalize_skipped}
