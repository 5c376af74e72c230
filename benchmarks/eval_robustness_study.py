"""Measurements behind the user-profile defaults of the evaluation-time robustness gates
(``mmgate.lab.eval_robustness``): noise slope, per-knob acceptance margins and the confounder
counterfactual, on synthetic subjects (the plugin tests' cone subjects, the grid example and
deliberately broken variants), the LiT digits example (real MiniLM text tower) and
all-MiniLM-L6-v2 on the caption <-> paraphrase canary.

    HF_HUB_OFFLINE=1 python benchmarks/eval_robustness_study.py [synthetic] [lit] [minilm]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from examples import grid_subject
from mmgate import PairedSet, Subject
from mmgate.gating.contract import Contract
from mmgate.lab import eval_robustness as er
from mmgate.perturb import GaussianNoise
from mmgate.subjects.embedding import embed_set

USER = Contract.for_subject(builtin=False)
TEXT_OPT_IN = Contract.from_mapping({"stress_budgets": {"token_substitution": 0.1}}, profile="user")


class TextMemo:
    """The encoder with each distinct caption string embedded once (image knobs leave the captions as
    they are; the study would otherwise re-run the text tower at every curve point)."""

    def __init__(self, encoder) -> None:
        self.encoder, self.rows = encoder, {}

    def embed_images(self, batch):
        return self.encoder.embed_images(batch)

    def embed_texts(self, batch):
        batch = list(batch)
        if not all(isinstance(t, str) for t in batch):
            return self.encoder.embed_texts(batch)
        new = sorted({t for t in batch if t not in self.rows})
        if new:
            self.rows.update(zip(new, np.asarray(self.encoder.embed_texts(new))))
        return np.stack([self.rows[t] for t in batch])


def embedder(subject: Subject):
    cache: dict[tuple[str, str], object] = {}
    encoder = TextMemo(subject.encoder)

    def embed(paired_set: PairedSet, key: str):
        k = (paired_set.fingerprint(), key)
        if k not in cache:
            cache[k] = embed_set(encoder, paired_set, 256)
        return cache[k]
    return embed


def study(subject: Subject, contract: Contract = USER, seed: int = 0) -> dict:
    embed = embedder(subject)
    out: dict = {"subject": subject.name, "n": len(subject.canary)}
    point = er.acceptance_point(embed(subject.canary, "clean"), subject.canary)
    out["clean"] = {k: point[k] for k in ("recall@1", "pair_auc", "symmetry_gap")}
    if GaussianNoise(0.2).applies_to(subject.canary) is None:
        sweep = er.noise_slope(subject.canary, embed, seed)
        out["noise_slope"] = {"slope": round(sweep["slope"], 3),
                              "top1": [round(p["mean"], 3) for p in sweep["top1"]]}
    for knob in er.USER_KNOBS:
        reason = er.knob_reason(knob, subject.canary, contract, seed)
        if reason is None:
            ev = er.robustness_margin(knob, subject.canary, embed, contract, seed)
            out[f"margin_{knob}"] = {"margin": round(ev["margin"], 4), "bounded": ev["bounded"],
                                     "failed_at_first_failure": next(
                                         (p["failed"] for p in ev["curve"] if not p["passes"]), None)}
    for name in subject.canary.confounders:
        if er.confounder_reason(subject.canary, name) is None:
            effect = er.counterfactual_drop(embed(subject.canary, "clean"), subject.canary, name, seed)
            out[f"counterfactual_{name}"] = {"drop": round(effect["drop"], 3), "pool": effect["pool_size"],
                                             **{d: effect[d] for d in ("image_to_text", "text_to_image")}}
    print(json.dumps(out), flush=True)
    return out


class FingerprintGrid(grid_subject.GridEncoder):
    """Broken: the image tower reads the faint background at 8 fixed pixels (a memorised fingerprint
    of each canary image, which the text tower looks up): perfect on the clean canary, lost as soon
    as a little noise covers the fingerprint."""

    PIXELS = np.array([3, 40, 77, 110, 150, 181, 219, 250])

    def __init__(self, canary: PairedSet) -> None:
        super().__init__()
        self.lookup = {t: self._print(np.asarray(canary.images[i])[None])[0] for i, t in enumerate(canary.texts)}

    def _print(self, images: np.ndarray) -> np.ndarray:
        return np.asarray(images, dtype=np.float64).reshape(len(images), -1)[:, self.PIXELS]

    def embed_images(self, batch):
        return self._print(batch)

    def embed_texts(self, batch):
        return np.stack([self.lookup[t] for t in batch])


class Shortcut:
    """Synthetic towers: a shared cue vector per confounder value (weight ``cue``) plus a weak or
    strong per-item signal; ``cue`` high and signal weak = a model matching on the cue."""

    def __init__(self, n: int, values: np.ndarray, cue: float, signal: float, d: int = 32) -> None:
        rng = np.random.default_rng(3)
        self.base = rng.standard_normal((n, d))
        self.cues = rng.standard_normal((int(values.max()) + 1, d))
        self.values, self.cue, self.signal = values, cue, signal
        self.noise = rng.standard_normal((2, n, d))

    def _embed(self, rows, side):
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        return (self.cue * self.cues[self.values[rows]] + self.signal * self.base[rows]
                + self.noise[side, rows])

    def embed_images(self, batch):
        return self._embed(batch, 0)

    def embed_texts(self, batch):
        return self._embed([int(t.split()[1]) for t in batch], 1)


def synthetic() -> None:
    ns: dict = {}
    support = (ROOT / "tests" / "plugin" / "test_plugin_user_defaults.py").read_text()
    module = support.split("CONE_MODULE = '''")[1].split("'''")[0]
    for mode in ("cone", "random"):
        ns = {}
        exec(module.format(mode=mode), ns)  # noqa: S102 - our own test fixture source
        study(ns["make"]())
    canary = grid_subject.make_canary()
    study(grid_subject.make_subject())
    study(Subject(name="grid-fingerprint", encoder=FingerprintGrid(canary), canary=canary))
    n = 256
    values = np.arange(n) % 4
    ids = np.arange(n)
    texts = [f"item {i}" for i in ids]
    for cue, signal in ((0.0, 3.0), (1.0, 3.0), (3.0, 3.0), (3.0, 1.0), (6.0, 1.0)):
        study(Subject(name=f"shortcut-cue{cue}-signal{signal}", encoder=Shortcut(n, values, cue, signal),
                      canary=PairedSet(ids, texts, confounders={"cue": values})))


def lit() -> None:
    from examples.lit_digits import subject as lit_subject
    for factory in (lit_subject.make_subject, lit_subject.make_untrained_subject):
        s = factory()
        ink = np.array([np.asarray(s.canary.images[i]).mean() for i in range(len(s.canary))])
        tertile = np.searchsorted(np.quantile(ink, [1 / 3, 2 / 3]), ink)
        canary = PairedSet(s.canary.images, s.canary.texts, confounders={"ink": tertile},
                           groups=s.canary.groups, name=s.canary.name)
        study(Subject(name=s.name, encoder=s.encoder, canary=canary))


def minilm() -> None:
    from benchmarks.real_model_study import (
        mean_pool_embed,
        minilm_pretrained,
        minilm_random,
    )
    from examples.minilm_paraphrase.canary import build_canary

    class TextPair:
        def __init__(self, model):
            self.model = model

        def embed_images(self, batch):
            return mean_pool_embed(self.model, list(batch))

        def embed_texts(self, batch):
            return mean_pool_embed(self.model, list(batch))

    captions, paraphrases, items = build_canary(256)
    colour = np.array([item[1] for item in items])
    place = np.array([item[2] for item in items]) % 3  # a coarse attribute both sides describe
    canary = PairedSet(captions, paraphrases, confounders={"colour": colour, "place3": place}, name="paraphrase")
    study(Subject(name="minilm", encoder=TextPair(minilm_pretrained()), canary=canary), TEXT_OPT_IN)
    study(Subject(name="minilm-random", encoder=TextPair(minilm_random(0)), canary=canary), TEXT_OPT_IN)


if __name__ == "__main__":
    parts = sys.argv[1:] or ["synthetic"]
    for part in parts:
        {"synthetic": synthetic, "lit": lit, "minilm": minilm}[part]()
