"""Adapters that wrap models from common libraries as mmgate DualEncoders: ``TorchEncoder`` (two
torch callables, e.g. open_clip), ``TransformersEncoder`` (CLIP, SigLIP) and
``SentenceTransformersEncoder``, with their shared helpers in ``common``. This optional package may
import torch, Pillow, transformers and sentence-transformers, and from mmgate only
``mmgate.errors``; nothing else in mmgate imports it. The libraries are imported
lazily, when an adapter is first looked up, so ``import mmgate.adapters`` works without them and a
missing one raises ``MissingExtraError`` (an ImportError) naming the extra to install, e.g.
``pip install 'mmgate[torch]'``.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["MissingExtraError", "SentenceTransformersEncoder", "TorchEncoder",
           "TransformersEncoder"]

_HOMES = {
    "MissingExtraError": "mmgate.adapters.extras",
    "TorchEncoder": "mmgate.adapters.torch_encoder",
    "TransformersEncoder": "mmgate.adapters.transformers_encoder",
    "SentenceTransformersEncoder": "mmgate.adapters.sentence_transformers_encoder",
}


def __getattr__(name: str) -> Any:
    """Import an adapter's module, and so its optional libraries, on first use of its name."""
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'mmgate.adapters' has no attribute {name!r}")
