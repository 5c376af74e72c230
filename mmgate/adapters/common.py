"""What every torch-backed adapter shares: device choice, batching, input and output checks, the
weights digest, the declared temperature and the eval-mode and determinism checks.

The adapters differ only in how a chunk of items becomes a tensor of embeddings; this module holds
the rest, so the three behave alike: eval mode and ``torch.inference_mode()``, chunks of at most
``batch_size`` items, float32 numpy rows out, and errors that name what was expected.
"""

from __future__ import annotations

import abc
import hashlib
import importlib
import json
import math
import os
import warnings
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from mmgate.adapters.extras import require
from mmgate.errors import ConfigError, InputError

torch = require("torch", "torch", "mmgate.adapters")

DEFAULT_BATCH_SIZE = 32
LOGIT_SCALE = "logit_scale"


def resolve_device(device: Any, owner: str) -> torch.device:
    """The torch device named by ``device`` ('cpu', 'cuda', 'cuda:N', 'mps' or a torch.device),
    checked to be usable here, so a missing accelerator fails at construction, not mid-run."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(f"{owner} device: expected 'cpu', 'cuda', 'cuda:N' or 'mps', got "
                          f"{device!r}") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"{owner} device {str(dev)!r}: CUDA is not available to this torch "
                              f"({torch.__version__}); use device='cpu' or a CUDA build of torch")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(f"{owner} device {str(dev)!r}: only {torch.cuda.device_count()} CUDA "
                              f"device(s) are visible")
    elif dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise ConfigError(f"{owner} device 'mps': Apple's MPS backend is not available to this "
                              f"torch ({torch.__version__}); use device='cpu'")
    elif dev.type != "cpu":
        raise ConfigError(f"{owner} device: expected 'cpu', 'cuda', 'cuda:N' or 'mps', got "
                          f"{str(dev)!r}")
    return dev


def checked_batch_size(batch_size: Any, owner: str) -> int:
    """``batch_size`` as an int >= 1: the most items one forward pass sees, to bound memory."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"{owner} batch_size: expected an integer >= 1, got {batch_size!r}")
    return batch_size


def checked_temperature(value: Any, where: str) -> float:
    """``value`` as a finite float > 0, the only kind of scoring temperature mmgate accepts."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value <= 0:
        raise ConfigError(f"{where}: expected a finite number > 0 (the scoring temperature), got "
                          f"{value!r}")
    return float(value)


def batch_items(batch: Any, where: str) -> Sequence[Any]:
    """``batch`` checked to be a non-empty batch of rows: an array, a tensor, a list or a tuple."""
    if not isinstance(batch, (np.ndarray, torch.Tensor, list, tuple)):
        raise InputError(f"{where}: expected a batch (a list, tuple, numpy array or tensor of "
                         f"items), got {type(batch).__name__}")
    if isinstance(batch, (np.ndarray, torch.Tensor)) and batch.ndim == 0:
        raise InputError(f"{where}: expected a batch with a row axis, got a 0-d array")
    if len(batch) == 0:
        raise InputError(f"{where}: expected at least one item, got an empty batch")
    return batch


def chunks(items: Sequence[Any], size: int) -> Iterator[tuple[int, Sequence[Any]]]:
    """``(start, items[start:start + size])`` for consecutive chunks of ``items``."""
    for start in range(0, len(items), size):
        yield start, items[start:start + size]


def as_strings(items: Sequence[Any], where: str) -> list[str]:
    """``items`` as a list of strings (a numpy string array too); anything else is an InputError."""
    texts = items.tolist() if isinstance(items, np.ndarray) else list(items)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InputError(f"{where}: expected strings, got {type(text).__name__} at item {i}")
    return texts


def numeric_tensor(items: Sequence[Any], where: str) -> torch.Tensor | None:
    """A real-valued numpy array or tensor batch, or a list or tuple of same-shaped ones, as one
    tensor; None when ``items`` is anything else (strings, images, paths)."""
    if isinstance(items, torch.Tensor):
        return None if items.dtype.is_complex or items.dtype == torch.bool else items
    if isinstance(items, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(items)) if items.dtype.kind in "iuf" else None
    if not all(isinstance(item, (np.ndarray, torch.Tensor)) for item in items):
        return None
    rows = [numeric_tensor(item, where) for item in items]
    if any(row is None for row in rows):
        return None
    try:
        return torch.stack(rows)
    except RuntimeError as exc:
        raise InputError(f"{where}: items differ in shape or dtype ({tuple(rows[0].shape)} first): "
                         f"{exc}") from exc


def to_device(value: Any, device: torch.device, dtype: torch.dtype | None = None) -> Any:
    """Tensors (alone or as values of a mapping) moved to ``device``, floating ones cast to
    ``dtype`` when given; non-tensor values are left as they are."""
    if isinstance(value, torch.Tensor):
        if dtype is not None and value.dtype.is_floating_point:
            return value.to(device=device, dtype=dtype)
        return value.to(device=device)
    if isinstance(value, Mapping):
        return {key: to_device(item, device, dtype) for key, item in value.items()}
    return value


def image_for_preprocess(item: Any, where: str) -> Any:
    """A path or an image-like uint8 array (HxW or HxWxC, C in 1, 3, 4) as an RGB PIL image, the
    input CLIP-family preprocessors expect; any other item (PIL images, float arrays, tensors)
    unchanged."""
    is_path = isinstance(item, (str, os.PathLike))
    is_pixels = isinstance(item, np.ndarray) and item.dtype == np.uint8 and (
        item.ndim == 2 or (item.ndim == 3 and item.shape[-1] in (1, 3, 4)))
    if not (is_path or is_pixels):
        return item
    image = require("PIL.Image", "torch", "reading images for an mmgate adapter")
    if is_path:
        try:
            with image.open(item) as opened:
                return opened.convert("RGB")
        except OSError as exc:
            raise InputError(f"{where}: cannot read the image file {os.fspath(item)!r}: {exc}") from exc
    pixels = item[..., 0] if item.ndim == 3 and item.shape[-1] == 1 else item
    return image.fromarray(np.ascontiguousarray(pixels)).convert("RGB")


def embedding_rows(out: Any, n: int, where: str, d: int | None = None) -> np.ndarray:
    """A model output checked to be ``n`` finite rows of ``d`` real values, as float32 numpy."""
    if isinstance(out, torch.Tensor):
        if out.dtype.is_complex or out.dtype == torch.bool:
            raise InputError(f"{where}: expected real embeddings, got a {out.dtype} tensor")
        arr = out.detach().to(device="cpu", dtype=torch.float32).numpy()
    elif isinstance(out, np.ndarray):
        if out.dtype.kind not in "iuf":
            raise InputError(f"{where}: expected real embeddings, got a {out.dtype} array")
        arr = out.astype(np.float32)
    else:
        raise InputError(f"{where}: expected the encoder to return a tensor or numpy array of "
                         f"embeddings, got {type(out).__name__}")
    if arr.ndim != 2:
        raise InputError(f"{where}: expected 2-D embeddings shaped ({n}, d), got shape "
                         f"{tuple(arr.shape)}")
    if arr.shape[0] != n:
        raise InputError(f"{where}: expected {n} rows (one per item), got {arr.shape[0]}")
    if arr.shape[1] == 0 or (d is not None and arr.shape[1] != d):
        raise InputError(f"{where}: expected embedding dimension {d if d else '>= 1'}, got "
                         f"{arr.shape[1]}")
    bad = np.flatnonzero(~np.isfinite(arr).all(axis=1))
    if bad.size:
        raise InputError(f"{where}: {bad.size} of {n} rows hold NaN or Inf (first: row "
                         f"{int(bad[0])} of the chunk)")
    return arr


def floating_dtype(modules: Mapping[str, torch.nn.Module]) -> torch.dtype:
    """The dtype of the first floating parameter or buffer (float32 if none): inputs get cast to
    it, so an fp16 or bf16 model gets inputs it can multiply."""
    for module in modules.values():
        for tensor in (*module.parameters(), *module.buffers()):
            if tensor.dtype.is_floating_point:
                return tensor.dtype
    return torch.float32


def _frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(8, "big") + payload


def weights_sha256(modules: Mapping[str, torch.nn.Module]) -> str:
    """Hex sha256 over every state_dict tensor in sorted key order: name, dtype, shape, bytes.

    Keys are prefixed with their role (``"image/..."``) only when there are several modules, so
    one model hashes the same whichever adapter wraps it."""
    digest = hashlib.sha256()
    prefix = len(modules) > 1
    for role, module in modules.items():
        state = module.state_dict()
        for key in sorted(state):
            tensor = state[key]
            if not isinstance(tensor, torch.Tensor):
                continue
            name = f"{role}/{key}" if prefix else key
            flat = tensor.detach().to("cpu").contiguous().reshape(-1)
            header = json.dumps([name, str(flat.dtype), list(tensor.shape)]).encode()
            data = flat.view(torch.uint8).numpy()
            digest.update(_frame(header))
            digest.update(len(data).to_bytes(8, "big"))
            digest.update(memoryview(data))
    return digest.hexdigest()


def logit_scale_temperature(modules: Mapping[str, torch.nn.Module], where: str) -> float | None:
    """``1 / exp(logit_scale)`` from the ``logit_scale`` parameter or buffer nearest the root of
    the modules (CLIP, SigLIP, open_clip), or None when there is none."""
    found: list[tuple[int, str, torch.Tensor]] = []
    for module in modules.values():
        for name, tensor in (*module.named_parameters(), *module.named_buffers()):
            if name.rsplit(".", 1)[-1] == LOGIT_SCALE and tensor.numel() == 1:
                found.append((name.count("."), name, tensor))
    if not found:
        return None
    _, name, tensor = min(found, key=lambda entry: entry[:2])
    scale = float(tensor.detach().to("cpu", torch.float64).reshape(()))
    temperature = math.exp(-scale) if math.isfinite(scale) else math.nan
    return checked_temperature(temperature, f"{where} temperature from {name} = {scale!r}")


class ModuleAdapter(abc.ABC):
    """A DualEncoder over torch modules: subclasses turn one chunk of items into a tensor of
    embeddings (``_image_features`` / ``_text_features``); this class does the rest.

    At construction the modules move to the device and go into eval mode (``was_training`` says
    whether any was in train mode); every embedding call puts them in eval mode again and runs
    under ``torch.inference_mode()``, chunk by chunk, returning float32 rows as they came from the
    model (not normalised)."""

    libraries: tuple[str, ...] = ("torch",)

    def __init__(self, modules: Mapping[str, torch.nn.Module], *, name: str, device: Any,
                 batch_size: Any, temperature: float | None = None) -> None:
        owner = type(self).__name__
        self.name = name
        self.device = resolve_device(device, owner)
        self.batch_size = checked_batch_size(batch_size, owner)
        self._modules = dict(modules)
        self.was_training = any(sub.training for module in self._modules.values()
                                for sub in module.modules())
        for module in self._modules.values():
            module.to(self.device)
        self._eval()
        still = self.modules_in_train_mode()
        if still:
            warnings.warn(f"{owner} {name!r}: modules still in train mode after .eval(): "
                          f"{', '.join(still[:5])}{' ...' if len(still) > 5 else ''}; their dropout "
                          f"stays active and embeddings will vary between calls, which mmgate's "
                          f"determinism gate fails; check_determinism() confirms it",
                          RuntimeWarning, stacklevel=3)
        self.dtype = floating_dtype(self._modules)
        self.temperature = (checked_temperature(temperature, f"{owner} temperature")
                            if temperature is not None
                            else logit_scale_temperature(self._modules, owner))
        self._weights_sha256: str | None = None

    def embed_images(self, batch: Any) -> np.ndarray:
        """Raw image embeddings, one float32 row per item of ``batch``."""
        return self._embed(batch, "embed_images", self._image_features)

    def embed_texts(self, batch: Any) -> np.ndarray:
        """Raw text embeddings, one float32 row per item of ``batch``."""
        return self._embed(batch, "embed_texts", self._text_features)

    @abc.abstractmethod
    def _image_features(self, chunk: Sequence[Any], where: str) -> Any:
        """The model's output for one chunk of image-side items (``where`` names it in errors)."""

    @abc.abstractmethod
    def _text_features(self, chunk: Sequence[Any], where: str) -> Any:
        """The model's output for one chunk of text-side items (``where`` names it in errors)."""

    def _eval(self) -> None:
        for module in self._modules.values():
            module.eval()

    def _embed(self, batch: Any, method: str,
               features: Callable[[Sequence[Any], str], Any]) -> np.ndarray:
        where = f"{type(self).__name__}.{method}"
        items = batch_items(batch, where)
        self._eval()
        blocks: list[np.ndarray] = []
        with torch.inference_mode():
            for start, chunk in chunks(items, self.batch_size):
                at = f"{where} (rows {start}:{start + len(chunk)} of the batch)"
                d = blocks[0].shape[1] if blocks else None
                blocks.append(embedding_rows(features(chunk, at), len(chunk), at, d))
        return blocks[0] if len(blocks) == 1 else np.concatenate(blocks, axis=0)

    def modules_in_train_mode(self) -> list[str]:
        """Names of submodules in train mode (dropout active): none, unless a module overrides
        ``train``/``eval`` or was switched back after construction."""
        return [f"{role}:{name or '<root>'}" for role, module in self._modules.items()
                for name, sub in module.named_modules() if sub.training]

    def check_determinism(self, images: Any = None, texts: Any = None) -> None:
        """Embed ``images`` and/or ``texts`` twice and raise ConfigError if the two passes differ
        anywhere: the failure mmgate's determinism gate would report, caught before a run."""
        for method, batch in (("embed_images", images), ("embed_texts", texts)):
            if batch is None:
                continue
            first = getattr(self, method)(batch)
            second = getattr(self, method)(batch)
            differ = first != second
            if differ.any():
                still = self.modules_in_train_mode()
                cause = (f"modules still in train mode: {', '.join(still[:5])}" if still else
                         "a stochastic layer (dropout called with training=True, sampling) or a "
                         "non-deterministic kernel is active")
                raise ConfigError(
                    f"{type(self).__name__} {self.name!r}: {method} gave different embeddings for "
                    f"the same {len(first)} items on two calls ({int(differ.sum())} of "
                    f"{differ.size} entries differ, max |diff| "
                    f"{float(np.abs(first - second).max()):.3g}); {cause}. mmgate's determinism "
                    f"gate, which embeds the canary twice and requires identical results, would "
                    f"fail this encoder")

    def weights_sha256(self) -> str | None:
        """The weights digest (see ``common.weights_sha256``), computed once and cached; None when
        the adapter holds no module."""
        if self._weights_sha256 is None and self._modules:
            self._weights_sha256 = weights_sha256(self._modules)
        return self._weights_sha256

    def _identity_extra(self) -> dict[str, Any]:
        """Adapter-specific entries added to ``identity()``."""
        return {}

    def identity(self) -> dict[str, Any]:
        """JSON-ready record for mmgate's manifest: name, adapter, module classes, weights digest,
        dtype, device, temperature, whether a module was in train mode, library versions."""
        versions = {library: str(getattr(importlib.import_module(library), "__version__", "unknown"))
                    for library in self.libraries}
        return {
            "name": self.name,
            "adapter": type(self).__name__,
            "modules": {role: f"{type(m).__module__}.{type(m).__qualname__}"
                        for role, m in self._modules.items()},
            "weights_sha256": self.weights_sha256(),
            "dtype": str(self.dtype).removeprefix("torch."),
            "device": str(self.device),
            "temperature": self.temperature,
            "was_in_train_mode": self.was_training,
            "versions": versions,
            **self._identity_extra(),
        }
