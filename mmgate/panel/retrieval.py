"""Cross-modal retrieval: ranks of the true match in both directions, recall@K, MRR, symmetry gap.

Scores are cosines (rows L2-normalised once; float32 compute for float16/float32 input, float64
otherwise). Rank convention: the rank of the true match (0 = retrieved first) is the number of other
candidates scoring above it by more than a rounding tolerance tol = sqrt(d) * eps (2.7e-6 for
float32 at d=512, about 1e-14 for float64); candidates within tol of the true score are counted as
ties and do not worsen the rank, and top-1 is the true match whenever its rank is 0. Ties are thus
resolved in favour of the true match: a fully collapsed space gets rank 0 (recall 1) everywhere and
shows only in its tie counts (N - 1 per query) and the geometry metrics, so gates should read ties
beside recall.

Ground truth beyond one-to-one: with ``groups`` (an integer label per row), every candidate that
shares the query's group is relevant (COCO: the five captions of an image; a class-labelled canary:
its class). A query's rank is then the number of irrelevant candidates scoring above its best
relevant candidate by more than tol; relevant candidates never count against it, and irrelevant
ones within tol of that best score are ties, as above. Recall@K thus counts a hit when any relevant
candidate ranks within K (the CLIP_benchmark convention), and top-1 is the best relevant candidate
(the true pair among equals) whenever the rank is 0. Labels that are all distinct give exactly the
results of no labels.

Unique items (the CLIP_benchmark layout): with ``text_groups`` too, ``z_img`` holds the unique
images and ``z_txt`` the unique texts (the row counts may differ), ``groups`` labels the images and
``text_groups`` the texts, and a text is relevant to an image when their labels are equal. A COCO
image query then hits at K when any of its captions ranks within K among the unique texts, and a
caption query when its image ranks within K among the unique images: recall@K equals
CLIP_benchmark's ``recall_at_k`` on the same scores (up to ties, which it leaves to ``topk``).

Backends: numpy (the default for arrays) or torch (``backend="torch"``, chosen automatically for
tensor inputs or when a ``device`` is named; see ``torch_backend`` for its tie tolerance). On numpy,
``sweep`` replaces the local rank sweep by one with the same result computed elsewhere (the Ray
tasks of ``mmgate.distributed.panel``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from mmgate.errors import InputError
from mmgate.panel.groups import group_labels
from mmgate.panel.rank_sweep import SweepResult, sweep_ranks
from mmgate.panel.torch_backend import (
    device_block_rows,
    host_array,
    select_backend,
    torch_sweep_ranks,
    unit_tensor_pair,
)
from mmgate.panel.validate import block_rows, cutoffs, embedding_pair, shared_unit_rows
from mmgate.subjects.items import CanaryItems


@dataclass(frozen=True)
class RetrievalRanks:
    """Per-query retrieval outcome, both directions (int64, read-only; shape (N,) for N pairs, or
    (images,) for ``i2t*`` and (texts,) for ``t2i*`` over unique items).

    ``i2t[i]``: rank of text i among all texts for image i; ``t2i[j]``: rank of image j among all
    images for text j; ``*_top1``: index of the best-scoring candidate (the true match when its rank
    is 0); ``*_ties``: number of other candidates scoring within the rounding tolerance of the true
    pair's score (see the module docstring). With ``groups`` (the validated labels the ranks were
    computed with, kept so consumers can tell relevant top-1s and resample by group), "true match"
    reads "best relevant candidate" and only irrelevant candidates are ranked or tied;
    ``text_groups`` are the texts' labels when they differ from the images' (unique items)."""

    i2t: np.ndarray
    t2i: np.ndarray
    i2t_top1: np.ndarray
    t2i_top1: np.ndarray
    i2t_ties: np.ndarray
    t2i_ties: np.ndarray
    groups: np.ndarray | None = None
    text_groups: np.ndarray | None = None

    @property
    def n_images(self) -> int:
        """Image queries (and image candidates of the text queries)."""
        return int(self.i2t.shape[0])

    @property
    def n_texts(self) -> int:
        """Text queries (and text candidates of the image queries)."""
        return int(self.t2i.shape[0])

    @property
    def n(self) -> int:
        """Number of pairs; over unique items the smaller side (the largest cut-off K either
        direction has candidates for)."""
        return min(self.n_images, self.n_texts)

    @property
    def paired(self) -> bool:
        """Row i of the images goes with row i of the texts (not unique items of unequal counts)."""
        return self.text_groups is None


Labels = tuple[np.ndarray, np.ndarray] | None
Ranker = Callable[[int | None, Labels], RetrievalRanks]
Sweep = Callable[[np.ndarray, np.ndarray, int, Labels], SweepResult]
"""(unit image rows, unit text rows, block rows, labels) -> the sweep's result, as ``sweep_ranks``."""


def _frozen(sweep: SweepResult, labels: Labels) -> RetrievalRanks:
    """The sweep's arrays (and the labels) made read-only, as RetrievalRanks."""
    arrays = [getattr(sweep, name) for name in ("i2t", "t2i", "i2t_top1", "t2i_top1", "i2t_ties", "t2i_ties")]
    for arr in arrays + ([] if labels is None else list(labels)):
        arr.setflags(write=False)
    if labels is None:
        return RetrievalRanks(*arrays)
    return RetrievalRanks(*arrays, groups=labels[0], text_groups=None if labels[1] is labels[0] else labels[1])


def _ranks(zi: np.ndarray, zt: np.ndarray, block_size: int | None, labels: Labels,
           sweep: Sweep) -> RetrievalRanks:
    """Ranks of an already validated pair (and validated labels, or None), on numpy."""
    ui, ut = shared_unit_rows(zi, zt)
    block = block_rows(block_size, ut.shape[0], ui.dtype.itemsize, ui.shape[1])
    return _frozen(sweep(ui, ut, block, labels), labels)


def _ranker(z_img: object, z_txt: object, backend: str | None, device: str | None,
            paired: bool, sweep: Sweep | None = None) -> tuple[tuple[int, int], Ranker]:
    """(image rows, text rows) and a function (block_size, labels) -> ranks of the validated pair on
    the selected backend; validation (and, on torch, normalisation on the device) happens here,
    before any product."""
    chosen = select_backend(backend, device, z_img, z_txt)
    if sweep is not None and chosen != "numpy":
        raise InputError("sweep replaces the numpy rank sweep; it cannot run on the torch backend "
                         f"(device={device!r}, backend={backend!r})")
    if chosen == "numpy":
        zi, zt = embedding_pair(host_array(z_img), host_array(z_txt), paired=paired)
        return (zi.shape[0], zt.shape[0]), lambda block_size, labels: _ranks(zi, zt, block_size, labels,
                                                                             sweep or sweep_ranks)
    ui, ut = unit_tensor_pair(z_img, z_txt, device, paired=paired)
    n, dim = ut.shape

    def ranks(block_size: int | None, labels: Labels) -> RetrievalRanks:
        block = device_block_rows(block_size, n, ui.element_size(), dim, ui.device.type)
        return _frozen(torch_sweep_ranks(ui, ut, block, labels), labels)

    return (ui.shape[0], n), ranks


def _labels(groups: object, text_groups: object, sizes: tuple[int, int]) -> Labels:
    """Validated labels (host int64, tensors copied over): (image labels, text labels), one array
    for both sides of row-paired data, or None for row-paired ground truth."""
    if text_groups is None:
        if groups is None:
            return None
        labels = group_labels(host_array(groups), sizes[0])
        return labels, labels
    if groups is None:
        raise InputError("text_groups labels the unique texts against image labels: pass groups "
                         "(one label per image row) too")
    return (group_labels(host_array(groups), sizes[0]),
            group_labels(host_array(text_groups), sizes[1], "text_groups"))


def retrieval_ranks(z_img: object, z_txt: object, block_size: int | None = None, groups: object = None,
                    backend: str | None = None, device: str | None = None,
                    text_groups: object = None, sweep: Sweep | None = None) -> RetrievalRanks:
    """Ranks, ties and top-1 of both directions from one blocked pass of cosine scores; with
    ``groups`` (one integer label per row) every row of the query's group is a relevant answer;
    with ``text_groups`` as well, the rows are unique images and unique texts (counts may differ)
    and texts are relevant to the images of equal label (see the module docstring).

    Memory is O(block_size x N); the default block holds 4 to 32 MB of scores (more for larger d;
    2 GiB on an accelerator). Results do not depend on ``block_size``. ``backend`` is "numpy",
    "torch" or None (torch for tensor inputs or a named ``device`` such as "cuda", else numpy);
    ``sweep`` (numpy only) computes the sweep elsewhere, e.g. ``mmgate.distributed.panel``."""
    sizes, ranks = _ranker(z_img, z_txt, backend, device, paired=text_groups is None, sweep=sweep)
    return ranks(block_size, _labels(groups, text_groups, sizes))


def item_ranks(z_img: object, z_txt: object, items: CanaryItems, block_size: int | None = None,
               device: str | None = None, sweep: Sweep | None = None) -> RetrievalRanks:
    """Ranks over a canary's unique items from its row embeddings (``z_img``/``z_txt``, one row per
    canary row): row-paired when the canary is one-to-one, else the unique images against the
    unique texts with their relevance labels (``mmgate.subjects.items``)."""
    relevance = items.relevance()
    if relevance is None:
        return retrieval_ranks(z_img, z_txt, block_size=block_size, device=device, sweep=sweep)
    return retrieval_ranks(z_img[items.images.rows], z_txt[items.texts.rows], block_size=block_size,
                           groups=relevance[0], text_groups=relevance[1], device=device, sweep=sweep)


def metrics_from_ranks(ranks: RetrievalRanks, ks: int | Iterable[int] = (1, 5, 10)) -> dict[str, float]:
    """Recall@K (mean of rank < K), MRR (mean of 1 / (rank + 1)) and symmetry gap@K per direction."""
    out: dict[str, float] = {}
    ks = cutoffs(ks, ranks.n)
    for k in ks:
        out[f"i2t_recall@{k}"] = float(np.mean(ranks.i2t < k))
        out[f"t2i_recall@{k}"] = float(np.mean(ranks.t2i < k))
    out["i2t_mrr"] = float(np.mean(1.0 / (ranks.i2t + 1.0)))
    out["t2i_mrr"] = float(np.mean(1.0 / (ranks.t2i + 1.0)))
    for k in ks:
        out[f"symmetry_gap@{k}"] = out[f"i2t_recall@{k}"] - out[f"t2i_recall@{k}"]
    return out


def retrieval_metrics(z_img: object, z_txt: object, ks: int | Iterable[int] = (1, 5, 10),
                      block_size: int | None = None, groups: object = None,
                      backend: str | None = None, device: str | None = None,
                      text_groups: object = None) -> dict[str, float]:
    """Keys ``i2t_recall@K``, ``t2i_recall@K``, ``i2t_mrr``, ``t2i_mrr``, ``symmetry_gap@K``
    (= i2t minus t2i) for cosine retrieval of row-paired embeddings, or of rows relevant by shared
    ``groups`` label (unique items with ``text_groups``, as in ``retrieval_ranks``), on the backend chosen as in ``retrieval_ranks``; k > N and bad labels raise
    InputError before any score is computed."""
    sizes, ranks = _ranker(z_img, z_txt, backend, device, paired=text_groups is None)
    checked = cutoffs(ks, min(sizes))
    return metrics_from_ranks(ranks(block_size, _labels(groups, text_groups, sizes)), checked)
