"""TransformersEncoder: a Hugging Face dual encoder (CLIP, SigLIP, anything with
``get_image_features`` and ``get_text_features``) and its processor as an mmgate DualEncoder.

::

    from transformers import CLIPModel, CLIPProcessor
    from mmgate.adapters import TransformersEncoder

    model = CLIPModel.from_pretrained("openai/clip-vit-base-patch32")
    encoder = TransformersEncoder(model, CLIPProcessor.from_pretrained("openai/clip-vit-base-patch32"))

transformers 4.x returned the projected embeddings as a tensor, 5.x returns an output object with
them in ``pooler_output``: both are accepted.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Mapping, Sequence

from mmgate.adapters.common import (
    DEFAULT_BATCH_SIZE,
    ModuleAdapter,
    as_strings,
    image_for_preprocess,
    numeric_tensor,
    to_device,
    torch,
)
from mmgate.adapters.extras import require
from mmgate.errors import ConfigError, InputError

transformers = require("transformers", "transformers", "mmgate.adapters.TransformersEncoder")

FEATURE_METHODS = ("get_image_features", "get_text_features")


def processor_parts(processor: Any) -> tuple[Any, Any]:
    """``(image_processor, tokenizer)`` of a multimodal processor, a lone tokenizer or a lone
    image processor; None for a part that is absent."""
    if processor is None:
        return None, None
    image_processor = getattr(processor, "image_processor", None)
    tokenizer = getattr(processor, "tokenizer", None)
    if image_processor is not None or tokenizer is not None:
        return image_processor, tokenizer
    if isinstance(processor, transformers.PreTrainedTokenizerBase):
        return None, processor
    if isinstance(processor, transformers.ImageProcessingMixin):
        return processor, None
    raise ConfigError(f"TransformersEncoder processor: expected a transformers processor (with "
                      f"image_processor and tokenizer), a tokenizer or an image processor, got "
                      f"{type(processor).__name__}")


def accepted(method: Callable[..., Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``inputs`` that ``method`` names as parameters (all of them if it names
    none), so extra tokenizer outputs such as ``token_type_ids`` do not break the call."""
    params = inspect.signature(method).parameters.values()
    named = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return {k: v for k, v in inputs.items() if k in named} if named else dict(inputs)


def features_tensor(out: Any, where: str) -> Any:
    """The embeddings in a ``get_*_features`` result: the tensor itself (transformers 4.x),
    ``pooler_output`` (5.x output objects), else the first tensor of a tuple or output object."""
    if isinstance(out, torch.Tensor):
        return out
    pooled = getattr(out, "pooler_output", None)
    if isinstance(pooled, torch.Tensor):
        return pooled
    values = out.to_tuple() if hasattr(out, "to_tuple") else out
    if isinstance(values, (tuple, list)):
        for value in values:
            if isinstance(value, torch.Tensor):
                return value
    raise InputError(f"{where}: the model returned {type(out).__name__}; expected a tensor or an "
                     f"output object with a pooler_output tensor")


class TransformersEncoder(ModuleAdapter):
    """A transformers model with ``get_image_features``/``get_text_features`` as a DualEncoder.

    ``processor`` may be the model's processor (image processor plus tokenizer), a tokenizer alone
    or an image processor alone. A side without its part takes model inputs directly: pixel values
    as a float array ``(N, channels, height, width)``, token ids as an integer array
    ``(N, length)``. Texts are padded to the longest (to ``max_length`` for SigLIP, as it was
    trained) and truncated to the text tower's positions. ``temperature`` is
    ``1 / exp(model.logit_scale)`` where the model has one.
    """

    libraries = ("torch", "transformers")

    def __init__(self, model: Any, processor: Any = None, device: Any = "cpu",
                 batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        if not isinstance(model, torch.nn.Module):
            raise ConfigError(f"TransformersEncoder model: expected a transformers model (a "
                              f"torch.nn.Module), got {type(model).__name__}")
        missing = [m for m in FEATURE_METHODS if not callable(getattr(model, m, None))]
        if missing:
            raise ConfigError(f"TransformersEncoder model: {type(model).__name__} lacks "
                              f"{' and '.join(missing)}; expected a dual encoder such as "
                              f"CLIPModel or SiglipModel")
        self.model = model
        self.image_processor, self.tokenizer = processor_parts(processor)
        config = getattr(model, "config", None)
        text_config = getattr(config, "text_config", None)
        self._max_length: int | None = getattr(text_config, "max_position_embeddings", None)
        model_type = str(getattr(config, "model_type", ""))
        self._padding: bool | str = "max_length" if model_type.startswith("siglip") else True
        name = getattr(model, "name_or_path", "") or type(model).__name__
        super().__init__({"model": model}, name=name, device=device, batch_size=batch_size)

    def _image_features(self, chunk: Sequence[Any], where: str) -> Any:
        if self.image_processor is not None:
            images = [image_for_preprocess(item, f"{where} item {i}") for i, item in enumerate(chunk)]
            inputs = dict(self.image_processor(images=images, return_tensors="pt"))
        else:
            pixels = numeric_tensor(chunk, where)
            if pixels is None or pixels.ndim != 4 or not pixels.dtype.is_floating_point:
                got = (f"shape {tuple(pixels.shape)} dtype {pixels.dtype}" if pixels is not None
                       else f"items of type {type(chunk[0]).__name__}")
                raise InputError(f"{where}: without an image processor, expected pixel values as a "
                                 f"float array (N, channels, height, width), got {got}; pass "
                                 f"processor= to preprocess images")
            inputs = {"pixel_values": pixels}
        method = self.model.get_image_features
        out = method(**to_device(accepted(method, inputs), self.device, self.dtype))
        return features_tensor(out, where)

    def _text_features(self, chunk: Sequence[Any], where: str) -> Any:
        if self.tokenizer is not None:
            lengths = {} if self._max_length is None else {"max_length": self._max_length}
            inputs = dict(self.tokenizer(as_strings(chunk, where), padding=self._padding,
                                         truncation=True, return_tensors="pt", **lengths))
        else:
            ids = numeric_tensor(chunk, where)
            if ids is None or ids.ndim != 2 or ids.dtype.is_floating_point:
                got = (f"shape {tuple(ids.shape)} dtype {ids.dtype}" if ids is not None
                       else f"items of type {type(chunk[0]).__name__}")
                raise InputError(f"{where}: without a tokenizer, expected token ids as an integer "
                                 f"array (N, length), got {got}; pass processor= to tokenize text")
            inputs = {"input_ids": ids.long()}
        method = self.model.get_text_features
        out = method(**to_device(accepted(method, inputs), self.device))
        return features_tensor(out, where)
