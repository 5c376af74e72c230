"""mmgate counts like CLIP_benchmark 1.6.2: on the same embeddings its recall@K (both directions,
K = 1, 5, 10) equals ``recall_at_k`` > 0 averaged over queries, on one-to-one, COCO-layout and
class-level canaries, and its zero-shot top-1 / top-5 / mean per-class recall equal
``zeroshot_classification``'s. The tie rule: mmgate counts exact ties against the true match,
``torch.topk`` breaks them by position, so the data here is continuous (no exact ties)."""

from __future__ import annotations

import numpy as np
import pytest

from mmgate.gating.contract import Contract
from mmgate.gating.measurements import Measurements
from mmgate.subjects.embedding import Embeddings
from mmgate.subjects.paired import PairedSet

torch = pytest.importorskip("torch", reason="CLIP_benchmark's metrics run on torch")
retrieval = pytest.importorskip("clip_benchmark.metrics.zeroshot_retrieval",
                                reason="install clip-benchmark==1.6.2 --no-deps (the clip-benchmark test extra)")
classification = pytest.importorskip("clip_benchmark.metrics.zeroshot_classification")

KS = (1, 5, 10)
D = 32


def _unit(z: np.ndarray) -> np.ndarray:
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def _clip_benchmark_recalls(img: np.ndarray, txt: np.ndarray, positive: np.ndarray) -> dict[str, float]:
    """CLIP_benchmark's retrieval recalls, computed as its ``evaluate`` does from unique images,
    unique texts and the (texts, images) positive-pair matrix."""
    images, texts = torch.from_numpy(_unit(img)), torch.from_numpy(_unit(txt))
    scores, pairs = texts @ images.T, torch.from_numpy(positive)
    out = {}
    for k in KS:
        out[f"text_to_image@{k}"] = (retrieval.recall_at_k(scores, pairs, k) > 0).float().mean().item()
        out[f"image_to_text@{k}"] = (retrieval.recall_at_k(scores.T, pairs.T, k) > 0).float().mean().item()
    return out


def _mmgate_recalls(measured: Measurements) -> dict[str, float]:
    return {f"{direction}@{k}": measured.recall(direction, k)[0]
            for direction in ("text_to_image", "image_to_text") for k in KS}


def _world(n_images: int, n_texts: int, text_image: np.ndarray, noise: float, seed: int):
    """Unique image and text embeddings, text t a noisy copy of image ``text_image[t]``."""
    rng = np.random.default_rng(seed)
    img = rng.standard_normal((n_images, D)).astype(np.float32)
    txt = (img[text_image] + noise * rng.standard_normal((n_texts, D))).astype(np.float32)
    return img, txt


@pytest.mark.parametrize("seed", [0, 1])
def test_one_to_one_recalls_equal_clip_benchmarks(seed):
    n = 200
    img, txt = _world(n, n, np.arange(n), 1.2, seed)
    canary = PairedSet(np.arange(n)[:, None], [f"caption {i}" for i in range(n)])
    measured = Measurements(Embeddings(img, txt), canary, Contract(), seed)
    assert measured.items.one_to_one
    assert _mmgate_recalls(measured) == pytest.approx(_clip_benchmark_recalls(img, txt, np.eye(n, dtype=bool)), abs=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_coco_layout_recalls_equal_clip_benchmarks(seed):
    """100 images x 5 caption rows (each image row repeated five times, groups = the image)."""
    image_of_text = np.repeat(np.arange(100), 5)
    img, txt = _world(100, 500, image_of_text, 1.5, seed)
    canary = PairedSet(image_of_text[:, None], [f"caption {t}" for t in range(500)], groups=image_of_text)
    measured = Measurements(Embeddings(img[image_of_text], txt), canary, Contract(), seed)
    positive = image_of_text[:, None] == np.arange(100)[None, :]
    expected = _clip_benchmark_recalls(img, txt, positive)
    assert measured.ranks.n_images == 100 and measured.ranks.n_texts == 500
    assert _mmgate_recalls(measured) == pytest.approx(expected, abs=1e-6)
    rows_counted = np.mean(_row_ranks(img[image_of_text], txt) < 5)  # each repeated image row a candidate
    assert rows_counted < expected["text_to_image@5"]  # what counting rows used to under-read


def _row_ranks(z_img: np.ndarray, z_txt: np.ndarray) -> np.ndarray:
    """Text-to-image ranks when every row is a candidate (a wrong image repeated fills several slots)."""
    scores = _unit(z_txt) @ _unit(z_img).T
    return (scores > np.diag(scores)[:, None]).sum(axis=1)


@pytest.mark.parametrize("seed", [0, 1])
def test_class_level_recalls_equal_clip_benchmarks(seed):
    """1,000 images of 10 classes, one caption per class on every row of its class."""
    classes = np.repeat(np.arange(10), 100)
    rng = np.random.default_rng(seed)
    prompts = rng.standard_normal((10, D)).astype(np.float32)
    img = (prompts[classes] + 2.5 * rng.standard_normal((1000, D))).astype(np.float32)
    canary = PairedSet(np.arange(1000)[:, None], [f"a photo of class {c}" for c in classes], groups=classes)
    measured = Measurements(Embeddings(img, prompts[classes]), canary, Contract(), seed)
    positive = np.arange(10)[:, None] == classes[None, :]
    assert measured.ranks.n_texts == 10
    assert _mmgate_recalls(measured) == pytest.approx(_clip_benchmark_recalls(img, prompts, positive), abs=1e-6)


def _accuracy(logits, target, topk: tuple[int, ...]) -> list[float]:
    """``zeroshot_classification.accuracy`` line for line, but for its last step: 1.6.2 calls
    ``float()`` on a one-element array, which numpy >= 2.4 refuses (TypeError)."""
    pred = logits.topk(max(topk), 1, True, True)[1].t()
    correct = pred.eq(target.view(1, -1).expand_as(pred))
    return [correct[:k].reshape(-1).float().sum().item() / len(target) for k in topk]


@pytest.mark.parametrize("seed", [0, 1])
def test_zero_shot_metrics_equal_clip_benchmarks(seed):
    """12 classes of 3 prompts each: CLIP_benchmark's classifier (renormalised mean of unit prompt
    embeddings), its ``accuracy`` for acc1 / acc5 and its balanced accuracy for mean per-class recall."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((12, D))
    prompts = np.concatenate([centres[c] + 0.5 * rng.standard_normal((3, D)) for c in range(12)]).astype(np.float32)
    labels = rng.integers(0, 12, 600)
    img = (centres[labels] + 2.0 * rng.standard_normal((600, D))).astype(np.float32)
    canary = PairedSet(np.arange(600)[:, None], [f"image {i}" for i in range(600)], groups=labels)
    measured = Measurements(Embeddings(img, img), canary, Contract(), seed)
    _, _, evidence = measured.zero_shot(tuple(range(12)), prompts, (3,) * 12)

    classifier = torch.from_numpy(_unit(prompts)).reshape(12, 3, D).mean(dim=1)
    classifier = classifier / classifier.norm(dim=-1, keepdim=True)
    logits = torch.from_numpy(_unit(img)) @ classifier.T
    acc1, acc5 = _accuracy(logits, torch.from_numpy(labels), (1, 5))
    recall = classification.balanced_accuracy_score(labels, logits.argmax(dim=1).numpy())
    assert (evidence["acc1"], evidence["acc5"]) == pytest.approx((acc1, acc5), abs=1e-9)
    assert evidence["mean_per_class_recall"] == pytest.approx(recall, abs=1e-9)
