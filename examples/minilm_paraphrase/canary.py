"""The caption <-> paraphrase pairs: seeded (object, colour, place, action) items, each written once
as a caption and once as a paraphrase (synonyms and a different sentence template), so a text
encoder that understands the words puts a caption next to its own paraphrase.

The same construction measured all-MiniLM-L6-v2 for the README's "Defaults for your subject"
(``benchmarks/real_model_study.py`` imports it from here).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CANARY_SEED = 20240611
CANARY_SIZE = 256
TRAINING_SIZE = 256

OBJECTS = [("dog", "puppy"), ("cat", "kitten"), ("car", "automobile"), ("bicycle", "bike"),
           ("boat", "small vessel"), ("horse", "pony"), ("bird", "songbird"), ("child", "kid"),
           ("man", "gentleman"), ("woman", "lady"), ("truck", "lorry"), ("chair", "seat"),
           ("cup", "mug"), ("ball", "round toy"), ("umbrella", "parasol"), ("suitcase", "travel bag")]
COLOURS = [("red", "crimson"), ("blue", "navy"), ("green", "emerald"), ("yellow", "golden"),
           ("black", "dark"), ("white", "snow-white"), ("brown", "chestnut"), ("grey", "silver"),
           ("orange", "tangerine"), ("pink", "rosy")]
PLACES = [("in the park", "at a public garden"), ("on the beach", "by the seaside"),
          ("in the kitchen", "inside a cooking area"), ("on a street", "along a city road"),
          ("in a forest", "among the woods"), ("near a river", "beside a stream"),
          ("in the snow", "on snowy ground"), ("at the station", "on a train platform"),
          ("in a field", "across a meadow"), ("on a bridge", "over a footbridge"),
          ("in the desert", "on desert sand"), ("in a busy market", "at a crowded bazaar")]
ACTIONS = [("standing", "upright"), ("lying down", "resting flat"), ("moving quickly", "in rapid motion"),
           ("half hidden", "partly concealed"), ("covered in mud", "muddy all over"),
           ("in the sunlight", "lit by the sun"), ("surrounded by people", "amid a crowd"),
           ("all alone", "by itself")]
CAPTION_TEMPLATES = ["a {c} {o} {a} {p}", "a photo of a {c} {o} {a} {p}", "{p}, a {c} {o} {a}",
                     "the {c} {o} is {a} {p}"]
PARAPHRASE_TEMPLATES = ["{p}, there is a {c} {o} that is {a}", "picture showing a {o}, {c} in colour, {a} {p}",
                        "{p} one can see a {c} {o}, {a}", "an image of a {c}-coloured {o} {p}, {a}"]


def build_canary(n: int = 512, seed: int = CANARY_SEED) -> tuple[list[str], list[str], list[tuple[int, ...]]]:
    """``n`` distinct (object, colour, place, action) items, each as a caption and a paraphrase:
    ``(captions, paraphrases, items)`` with the four word indices of each item."""
    rng = np.random.default_rng(seed)
    total = len(OBJECTS) * len(COLOURS) * len(PLACES) * len(ACTIONS)
    flat = rng.choice(total, size=n, replace=False)
    captions, paraphrases, items = [], [], []
    for f in flat:
        f = int(f)
        o, f = f % len(OBJECTS), f // len(OBJECTS)
        c, f = f % len(COLOURS), f // len(COLOURS)
        p, a = f % len(PLACES), f // len(PLACES)
        ct = CAPTION_TEMPLATES[int(rng.integers(len(CAPTION_TEMPLATES)))]
        pt = PARAPHRASE_TEMPLATES[int(rng.integers(len(PARAPHRASE_TEMPLATES)))]
        captions.append(ct.format(c=COLOURS[c][0], o=OBJECTS[o][0], a=ACTIONS[a][0], p=PLACES[p][0]))
        paraphrases.append(pt.format(c=COLOURS[c][1], o=OBJECTS[o][1], a=ACTIONS[a][1], p=PLACES[p][1]))
        items.append((o, c, p, a))
    return captions, paraphrases, items


@dataclass(frozen=True)
class TextPairs:
    """Captions (the "image" side of a text-to-text subject) and their paraphrases (the text side),
    row ``i`` paired with row ``i``, and the four word indices of each item."""

    captions: list[str]
    paraphrases: list[str]
    items: list[tuple[int, ...]]


def splits(canary_size: int = CANARY_SIZE, training_size: int = TRAINING_SIZE,
           seed: int = CANARY_SEED) -> tuple[TextPairs, TextPairs]:
    """``(canary, training)``: the first ``canary_size`` items of one seeded draw and the next
    ``training_size``, so no item is in both (the canary is the study's N = 256 set)."""
    captions, paraphrases, items = build_canary(canary_size + training_size, seed)
    cut = canary_size
    return (TextPairs(captions[:cut], paraphrases[:cut], items[:cut]),
            TextPairs(captions[cut:], paraphrases[cut:], items[cut:]))
