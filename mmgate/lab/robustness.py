"""Robustness and counterfactual measurements of the built-in subject (the reference aligner on
the synthetic world), where the world can be regenerated with one knob turned."""

from __future__ import annotations

import numpy as np

from mmgate.lab.builtin import ReferenceTrainer, deployed
from mmgate.lab.conditions import Condition
from mmgate.panel import retrieval_metrics
from mmgate.reference import ReferenceAligner
from mmgate.world import SplitData

NOISE_DELTAS = (0.0, 0.1, 0.2, 0.3, 0.4)
CORRUPTION_RATE = 0.3


def top1(model: ReferenceAligner, split: SplitData) -> dict[str, float]:
    """Recall@1 of ``model`` on a split, both directions and their mean."""
    metrics = retrieval_metrics(model.embed_images(split.images), model.embed_texts(split.tokens), ks=(1,))
    i2t, t2i = metrics["i2t_recall@1"], metrics["t2i_recall@1"]
    return {"image_to_text": i2t, "text_to_image": t2i, "mean": (i2t + t2i) / 2.0}


def degradation_slope(xs: tuple[float, ...], ys: list[float]) -> float:
    """Least-squares loss of ``ys`` per unit of ``xs`` (positive when ys falls as xs grows)."""
    return float(-np.polyfit(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float), 1)[0])


def noise_slope(trainer: ReferenceTrainer, condition: Condition, seed: int,
                deltas: tuple[float, ...] = NOISE_DELTAS) -> dict:
    """Top-1 of the seed's model as image noise grows by ``deltas`` while texts stay as they are."""
    model = trainer.model(condition, seed)
    base = condition.eval_world
    curve = [top1(model, trainer.world(base.replace(noise_image=base.noise_image + d), seed).test)
             for d in deltas]
    return {
        "noise_image_base": base.noise_image,
        "deltas": list(deltas),
        "top1": curve,
        "slope": degradation_slope(deltas, [point["mean"] for point in curve]),
    }


def corruption_slope(trainer: ReferenceTrainer, condition: Condition, seed: int,
                     rate: float = CORRUPTION_RATE) -> dict:
    """Clean test top-1 lost per unit of training-pair corruption (random swaps at ``rate``)."""
    clean_test = trainer.world(condition.eval_world.replace(pairing="none"), seed).test
    clean = top1(trainer.model(condition, seed), clean_test)
    corrupted_world = condition.train_world.replace(pairing="swap", pairing_rate=rate, pairing_splits=("train",))
    corrupted_model = trainer.train(corrupted_world, seed, condition.aligner, condition.training).model
    corrupted = top1(deployed(corrupted_model, condition.eval_world), clean_test)
    return {
        "rate": rate,
        "top1_trained_as_condition": clean,
        "top1_trained_corrupted": corrupted,
        "slope": (clean["mean"] - corrupted["mean"]) / rate,
    }


def counterfactual_drop(trainer: ReferenceTrainer, condition: Condition, seed: int,
                        confounder: str) -> dict:
    """Top-1 on the subject's evaluation world, which carries the shared cue ``confounder`` (a
    marker in both modalities), minus top-1 on the same items with the cue removed.

    A model that learned the cue as a shortcut loses much when it is removed; a model that aligned
    the factors barely notices. Call it only when the evaluation world carries that cue.
    """
    model = trainer.model(condition, seed)
    with_cue = condition.eval_world
    present = top1(model, trainer.world(with_cue, seed).test)
    removed = top1(model, trainer.world(with_cue.replace(confounder="none"), seed).test)
    return {
        "confounder": confounder,
        "trained_with": condition.train_world.confounder,
        "top1_with_cue": present,
        "top1_without_cue": removed,
        "drop": present["mean"] - removed["mean"],
    }
