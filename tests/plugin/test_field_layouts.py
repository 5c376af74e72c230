"""End to end, canaries laid out as the field lays them out are gated as the field counts them: a
healthy COCO-layout canary (each image on five caption rows) and a healthy class-level canary (one
caption per class on every row of the class) are APPROVEd, and the recalls in the bundle equal
CLIP_benchmark 1.6.2's ``recall_at_k`` on the same embeddings."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from tests.plugin_support import assert_verified, run_gates

torch = pytest.importorskip("torch", reason="CLIP_benchmark's metrics run on torch")
retrieval = pytest.importorskip("clip_benchmark.metrics.zeroshot_retrieval",
                                reason="install clip-benchmark==1.6.2 --no-deps (the clip-benchmark test extra)")

pytestmark = pytest.mark.slow

# The grid example's towers (a bright cell of a 16 x 16 image, a caption naming it, both mapped to
# the cell's Fourier code), with two layouts of its canary. A caption's wording moves its embedding
# a little, so five captions of one image are five distinct texts.
SUBJECT = '''
import numpy as np
from mmgate import PairedSet, Subject

SIDE, FREQUENCIES = 16, (1, 2, 3, 4)
WORDINGS = ("row {r} col {c}", "cell at row {r} col {c}", "bright row {r} col {c}",
            "a dot row {r} col {c}", "one cell row {r} col {c}")


def codes():
    rows, cols = np.divmod(np.arange(SIDE * SIDE), SIDE)
    angles = [2 * np.pi * f * axis / SIDE for axis in (rows, cols) for f in FREQUENCIES]
    return np.stack([fn(a) for a in angles for fn in (np.sin, np.cos)], axis=1)


class Encoder:
    temperature = 0.07

    def __init__(self):
        self.codes = codes()
        self.wording = np.random.default_rng(7).normal(0.0, 0.15, (len(WORDINGS), self.codes.shape[1]))

    def embed_images(self, batch):
        return np.asarray(batch, dtype=np.float64).reshape(len(batch), -1) @ self.codes

    def embed_texts(self, batch):
        out = []
        for caption in batch:
            words = caption.split()
            r, c = int(words[words.index("row") + 1]), words[words.index("row") + 2:]
            if c:  # "row R col C": the cell's code, shifted by the wording
                cell = self.codes[r * SIDE + int(c[1])]
                out.append(cell + self.wording[[w.split()[0] for w in WORDINGS].index(words[0])])
            else:  # "a photo of row R": the mean code of the row's cells
                out.append(self.codes[r * SIDE:(r + 1) * SIDE].mean(axis=0))
        return np.stack(out)


def _images(cells, seed, noise=0.05):
    rng = np.random.default_rng(seed)
    images = rng.normal(0.0, noise, size=(len(cells), SIDE, SIDE))
    images[np.arange(len(cells)), cells // SIDE, cells % SIDE] += 1.0
    return images


def coco():
    """100 images, five caption rows each: every image row repeated five times."""
    cells = np.random.default_rng(1).permutation(SIDE * SIDE)[:100]
    image_of_row = np.repeat(np.arange(100), 5)
    captions = [WORDINGS[i % 5].format(r=cells[k] // SIDE, c=cells[k] % SIDE) for i, k in enumerate(image_of_row)]
    canary = PairedSet(_images(cells, 2)[image_of_row], captions, groups=image_of_row, name="grid-coco")
    return Subject(name="grid-coco", encoder=Encoder(), canary=canary)


def class_level():
    """Every cell once, its class its row: one caption per class on all sixteen of its rows."""
    cells = np.arange(SIDE * SIDE)
    captions = [f"a photo of row {r}" for r in cells // SIDE]
    canary = PairedSet(_images(cells, 3, noise=0.01), captions, groups=cells // SIDE, name="grid-rows")
    return Subject(name="grid-rows", encoder=Encoder(), canary=canary)
'''


def _clip_benchmark(pytester: pytest.Pytester, factory: str) -> dict[str, float]:
    """CLIP_benchmark's recall@1/5 both ways on the subject's unique images and texts."""
    spec = importlib.util.spec_from_file_location("field_subject", pytester.path / "field_subject.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules.pop("field_subject", None)
    subject = getattr(module, factory)()
    canary, encoder = subject.canary, subject.encoder
    _, first_image = np.unique(canary.images.reshape(len(canary), -1), axis=0, return_index=True)
    first_image.sort()
    images = torch.from_numpy(encoder.embed_images(canary.images[first_image]))
    texts_unique, first_text = np.unique(np.array(canary.texts), return_index=True)
    first_text.sort()
    texts = torch.from_numpy(encoder.embed_texts([canary.texts[i] for i in first_text]))
    images, texts = images / images.norm(dim=1, keepdim=True), texts / texts.norm(dim=1, keepdim=True)
    positive = torch.from_numpy(canary.groups[first_text][:, None] == canary.groups[first_image][None, :])
    scores = texts @ images.T
    return {f"{direction}@{k}": (retrieval.recall_at_k(s, p, k) > 0).float().mean().item()
            for k in (1, 5) for direction, s, p in (("text_to_image", scores, positive),
                                                    ("image_to_text", scores.T, positive.T))}


@pytest.mark.parametrize(("factory", "images", "texts"), [("coco", 100, 500), ("class_level", 256, 16)])
def test_a_healthy_field_layout_canary_is_approved_with_clip_benchmarks_recalls(pytester, factory, images, texts):
    pytester.makepyfile(field_subject=SUBJECT)
    run = run_gates(pytester, "--mmgate-subject", f"field_subject:{factory}", "--mmgate-seeds", "1")
    assert run.decision == "APPROVE", run.output
    assert_verified(run)
    expected = _clip_benchmark(pytester, factory)
    for gate in run.gates().values():
        if gate["gate"] in ("retrieval_top1", "retrieval_top5"):
            k = 1 if gate["gate"] == "retrieval_top1" else 5
            evidence = gate["evidence"]
            assert evidence["items"]["unique_images"] == images and evidence["items"]["unique_texts"] == texts
            assert evidence[f"recall@{k}"]["value"] == pytest.approx(expected[f"{gate['params']['direction']}@{k}"],
                                                                     abs=1e-6), gate
