"""The example's subject factories: build the data and the trained tower once (under a file lock, so
xdist workers do not race), then wrap the model with ``TorchEncoder`` over the PNG manifest."""

from __future__ import annotations

import fcntl
from pathlib import Path

import numpy as np

from examples.lit_digits import data, model
from mmgate import PairedSet, Subject

BUILD = Path(__file__).resolve().parent / "build"
TOWER = "image_tower.pt"


def ensure_built(root: Path = BUILD) -> Path:
    """Write the PNGs and manifests and train the image tower, unless a previous run did."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / TOWER).exists():
            data.write_data(root)
            pixels, labels = data.digits()
            train_rows = data.splits(labels)[0].rows
            lit = model.LiTDigits(model.text_model())
            model.train(lit, pixels[train_rows], labels[train_rows])
            model.save_tower(lit, root / TOWER)
    return root


def _subject(name: str, trained: bool, shuffled: bool) -> Subject:
    from mmgate.adapters import TorchEncoder

    root = ensure_built()
    lit = model.LiTDigits(model.text_model())
    if trained:
        model.load_tower(lit, root / TOWER)
    canary = PairedSet.from_manifest(root / "canary.csv", group_column="label", name="digits-canary")
    if shuffled:
        order = np.random.default_rng(data.SPLIT_SEED).permutation(len(canary.texts))
        canary = PairedSet(canary.images, [canary.texts[i] for i in order], name="digits-canary-shuffled",
                           groups=canary.groups)
    encoder = TorchEncoder(lit.encode_image, lit.encode_text, model.preprocess, lit.tokenize,
                           name=name, module=lit)
    return Subject(name=name, encoder=encoder, canary=canary, class_prompts=data.class_prompts())


def make_subject() -> Subject:
    """The trained LiT model on the digits canary (545 scans, groups by class)."""
    return _subject("lit-digits", trained=True, shuffled=False)


def make_untrained_subject() -> Subject:
    """The same model with its image tower at random initialisation: must be rejected."""
    return _subject("lit-digits-untrained", trained=False, shuffled=False)


def make_shuffled_subject() -> Subject:
    """The trained model on a canary whose captions were shuffled across rows: must be rejected."""
    return _subject("lit-digits-shuffled", trained=True, shuffled=True)
