"""TorchEncoder: any pair of torch encoding callables (open_clip, a custom two-tower model) as an
mmgate DualEncoder.

open_clip in a few lines::

    import open_clip
    from mmgate.adapters import TorchEncoder

    model, _, preprocess = open_clip.create_model_and_transforms(
        "ViT-B-32", pretrained="laion2b_s34b_b79k")
    encoder = TorchEncoder(model.encode_image, model.encode_text, preprocess,
                           open_clip.get_tokenizer("ViT-B-32"), module=model)

``temperature`` then comes from ``model.logit_scale`` and the manifest records a sha256 of the
weights. Image-side items reach ``preprocess`` one at a time; paths and image-like uint8 arrays
(HxW or HxWxC) are first opened or converted to RGB PIL images, the input torchvision and open_clip
transforms expect (wrap a preprocess that wants arrays: ``lambda im: pre(np.asarray(im))``).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np

from mmgate.adapters.common import (
    DEFAULT_BATCH_SIZE,
    ModuleAdapter,
    as_strings,
    image_for_preprocess,
    numeric_tensor,
    to_device,
    torch,
)
from mmgate.errors import ConfigError, InputError


def _owning_modules(module: Any, encode_image: Callable[..., Any],
                    encode_text: Callable[..., Any]) -> dict[str, torch.nn.Module]:
    """The module(s) whose weights the encoder uses: ``module`` if given, else the modules the two
    callables are bound methods of (one, or an image and a text tower)."""
    if module is not None:
        if not isinstance(module, torch.nn.Module):
            raise ConfigError(f"TorchEncoder module: expected a torch.nn.Module (the model whose "
                              f"weights are hashed and put in eval mode), got "
                              f"{type(module).__name__}")
        return {"model": module}
    owners = {role: getattr(fn, "__self__", None)
              for role, fn in (("image", encode_image), ("text", encode_text))}
    owners = {role: owner for role, owner in owners.items() if isinstance(owner, torch.nn.Module)}
    if len(owners) == 2 and owners["image"] is owners["text"]:
        return {"model": owners["image"]}
    return owners


class TorchEncoder(ModuleAdapter):
    """Two encoding callables, an optional per-item image ``preprocess`` and an optional
    ``tokenize``, as a DualEncoder.

    Image side: with ``preprocess`` each item (a PIL image, a path, an image-like uint8 array, or
    anything the preprocess takes) becomes a tensor and the tensors are stacked; without it the
    batch must be numeric (an array or tensor, or a list of same-shaped ones). Text side: with
    ``tokenize`` the strings become a tensor or a dict of tensors; without it numeric token ids
    become a tensor and strings are handed over as a list. ``encode_text`` is called with a dict's
    entries as keyword arguments, with anything else positionally.

    ``module`` is the model whose weights are hashed and put in eval mode; by default the module(s)
    ``encode_image``/``encode_text`` are bound methods of. ``temperature`` defaults to
    ``1 / exp(module.logit_scale)`` where there is one. ``name`` (default: the module's class)
    names the encoder in the manifest.
    """

    def __init__(self, encode_image: Callable[..., Any], encode_text: Callable[..., Any],
                 preprocess: Callable[[Any], Any] | None = None,
                 tokenize: Callable[[list[str]], Any] | None = None, device: Any = "cpu",
                 temperature: float | None = None, name: str | None = None,
                 module: torch.nn.Module | None = None,
                 batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        for arg, value in (("encode_image", encode_image), ("encode_text", encode_text),
                           ("preprocess", preprocess), ("tokenize", tokenize)):
            if value is not None and not callable(value):
                raise ConfigError(f"TorchEncoder {arg}: expected a callable, got "
                                  f"{type(value).__name__}")
        if encode_image is None or encode_text is None:
            raise ConfigError("TorchEncoder: expected both encode_image and encode_text callables")
        modules = _owning_modules(module, encode_image, encode_text)
        if name is None:
            name = (type(next(iter(modules.values()))).__name__ if modules
                    else getattr(encode_image, "__qualname__", type(encode_image).__name__))
        if not isinstance(name, str) or not name:
            raise ConfigError(f"TorchEncoder name: expected a non-empty string, got {name!r}")
        self.encode_image = encode_image
        self.encode_text = encode_text
        self.preprocess = preprocess
        self.tokenize = tokenize
        super().__init__(modules, name=name, device=device, batch_size=batch_size,
                         temperature=temperature)

    def _preprocessed(self, item: Any, index: int, where: str) -> torch.Tensor:
        image = image_for_preprocess(item, f"{where} item {index}")
        try:
            out = self.preprocess(image)
        except Exception as exc:
            raise InputError(f"{where}: preprocess failed on item {index} "
                             f"({type(item).__name__}): {type(exc).__name__}: {exc}") from exc
        tensor = (numeric_tensor(out, where) if isinstance(out, (np.ndarray, torch.Tensor))
                  else None)
        if tensor is None:
            raise InputError(f"{where}: preprocess returned {type(out).__name__} for item "
                             f"{index}; expected a tensor or numeric array per image")
        return tensor

    def _image_features(self, chunk: Sequence[Any], where: str) -> Any:
        if self.preprocess is not None:
            pixels = numeric_tensor([self._preprocessed(item, i, where)
                                     for i, item in enumerate(chunk)], where)
        else:
            pixels = numeric_tensor(chunk, where)
            if pixels is None:
                kind = type(chunk[0]).__name__ if len(chunk) else type(chunk).__name__
                raise InputError(f"{where}: without preprocess, expected a numeric array or tensor "
                                 f"batch (or a list of same-shaped ones), got items of type "
                                 f"{kind}; pass preprocess= to turn images into tensors")
        return self.encode_image(to_device(pixels, self.device, self.dtype))

    def _text_features(self, chunk: Sequence[Any], where: str) -> Any:
        if self.tokenize is None:
            ids = numeric_tensor(chunk, where)
            return self.encode_text(to_device(ids, self.device) if ids is not None
                                    else as_strings(chunk, where))
        tokens = self.tokenize(as_strings(chunk, where))
        if not isinstance(tokens, (torch.Tensor, Mapping)):
            raise InputError(f"{where}: tokenize returned {type(tokens).__name__}; expected a "
                             f"tensor or a dict of tensors")
        tokens = to_device(tokens, self.device)
        return self.encode_text(**tokens) if isinstance(tokens, Mapping) else self.encode_text(tokens)
