"""PNG plots of one seed's embedding snapshot (PCA, spectra, similarity, retrieval, hubness) for the
human-facing report; equal input gives byte-identical PNGs (see ``mmgate.audit.figure_kit``)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from mmgate.audit.figure_kit import (
    CATEGORICAL_COLOURS,
    DPI,
    figure,
    finite_array,
    finite_scalar,
    finite_vector,
    int_vector,
    non_negative_int,
    plain,
    png_bytes,
)
from mmgate.errors import InputError
from mmgate.panel.spectra import spectrum_effective_rank

PCA_SIZE_IN = (10.0, 4.5)
SPECTRA_SIZE_IN = (7.0, 4.5)
SIMILARITY_SIZE_IN = (6.0, 5.2)
RETRIEVAL_SIZE_IN = (6.0, 4.0)
HUBNESS_SIZE_IN = (7.0, 4.0)

MAX_PCA_POINTS = 512
MAX_SIMILARITY_SIZE = 48
MAX_HISTOGRAM_BINS = 50

IMAGE_COLOUR = "#1f77b4"
TEXT_COLOUR = "#d62728"
SNAPSHOT_KEYS = (
    "seed", "factor", "pca_img", "pca_txt", "labels", "spectrum_img", "spectrum_txt",
    "similarity", "retrieval", "k_occurrence_i2t", "k_occurrence_t2i", "k",
)
_RECALL_KEY = re.compile(r"^(i2t|t2i)_recall@(\d+)$")


@dataclass(frozen=True)
class Snapshot:
    """A validated snapshot: arrays checked for shape, finiteness and range before any drawing."""

    seed: int
    factor: str
    pca_img: np.ndarray
    pca_txt: np.ndarray
    labels: np.ndarray | None
    spectrum_img: np.ndarray
    spectrum_txt: np.ndarray
    similarity: np.ndarray
    recall_ks: tuple[int, ...]
    recall_i2t: tuple[float, ...]
    recall_t2i: tuple[float, ...]
    k_occurrence_i2t: np.ndarray
    k_occurrence_t2i: np.ndarray
    k: int


def parse_snapshot(snapshot: Mapping[str, object]) -> Snapshot:
    """Validate a JSON-shaped snapshot dict; InputError names the first missing or bad key."""
    if not isinstance(snapshot, Mapping):
        raise InputError(f"snapshot: expected a mapping, got {type(snapshot).__name__}")
    for key in SNAPSHOT_KEYS:
        if key not in snapshot:
            raise InputError(f"snapshot: missing key {key!r}")
    factor = snapshot["factor"]
    if not isinstance(factor, str):
        raise InputError(f"snapshot['factor']: expected a string, got {type(factor).__name__}")
    pca_img = _points(snapshot["pca_img"], "snapshot['pca_img']")
    pca_txt = _points(snapshot["pca_txt"], "snapshot['pca_txt']")
    labels = None
    if snapshot["labels"] is not None:
        labels = int_vector(snapshot["labels"], "snapshot['labels']")
        for key, points in (("pca_img", pca_img), ("pca_txt", pca_txt)):
            if points.shape[0] != labels.size:
                raise InputError(f"snapshot['labels']: has {labels.size} labels but "
                                 f"snapshot['{key}'] has {points.shape[0]} points")
    ks, i2t, t2i = _recalls(snapshot["retrieval"])
    counts = {}
    for key in ("k_occurrence_i2t", "k_occurrence_t2i"):
        counts[key] = int_vector(snapshot[key], f"snapshot['{key}']")
        if counts[key].min() < 0:
            raise InputError(f"snapshot['{key}']: counts must be non-negative")
    return Snapshot(
        seed=non_negative_int(snapshot["seed"], "snapshot['seed']"),
        factor=factor,
        pca_img=pca_img,
        pca_txt=pca_txt,
        labels=labels,
        spectrum_img=_spectrum(snapshot["spectrum_img"], "snapshot['spectrum_img']"),
        spectrum_txt=_spectrum(snapshot["spectrum_txt"], "snapshot['spectrum_txt']"),
        similarity=_similarity(snapshot["similarity"], "snapshot['similarity']"),
        recall_ks=ks,
        recall_i2t=i2t,
        recall_t2i=t2i,
        k_occurrence_i2t=counts["k_occurrence_i2t"],
        k_occurrence_t2i=counts["k_occurrence_t2i"],
        k=non_negative_int(snapshot["k"], "snapshot['k']"),
    )


def render_snapshot_plots(snapshot: Mapping[str, object],
                          limits: Mapping[str, float] | None = None) -> dict[str, bytes]:
    """PNG bytes of the five plots of one seed's snapshot, keyed by file name:
    ``{pca,spectra,similarity,retrieval,hubness}_seed{seed}.png``. ``limits`` draws the gated
    thresholds where a plot shows the gated quantity: ``recall@<k>`` (the lowest recall@k a
    retrieval gate accepts) as a dashed line over its bars, ``hubness_concentration`` (the highest
    top-1 concentration the hubness gate accepts) noted in the hubness plot's legend."""
    snap = parse_snapshot(snapshot)
    checked = _limits(limits)
    return {
        f"pca_seed{snap.seed}.png": _pca_png(snap),
        f"spectra_seed{snap.seed}.png": _spectra_png(snap),
        f"similarity_seed{snap.seed}.png": _similarity_png(snap),
        f"retrieval_seed{snap.seed}.png": _retrieval_png(snap, checked),
        f"hubness_seed{snap.seed}.png": _hubness_png(snap, checked),
    }


def _limits(limits: Mapping[str, float] | None) -> dict[str, float]:
    if limits is None:
        return {}
    if not isinstance(limits, Mapping):
        raise InputError(f"limits: expected a mapping of name -> number, got {type(limits).__name__}")
    return {str(name): finite_scalar(value, f"limits[{name!r}]") for name, value in limits.items()}


def _pca_png(snap: Snapshot) -> bytes:
    fig = Figure(figsize=PCA_SIZE_IN, dpi=DPI, facecolor="white")
    fig.subplots_adjust(left=0.06, right=0.84, bottom=0.12, top=0.86, wspace=0.22)
    axes = fig.subplots(1, 2)
    colour_args, handles = _label_colouring(snap.labels, snap.factor)
    mappable = None
    for ax, name, xy, colour in ((axes[0], "image", snap.pca_img, IMAGE_COLOUR),
                                 (axes[1], "text", snap.pca_txt, TEXT_COLOUR)):
        if snap.labels is None:
            ax.scatter(xy[:, 0], xy[:, 1], s=8, color=colour, alpha=0.7, linewidths=0)
        else:
            mappable = ax.scatter(xy[:, 0], xy[:, 1], s=8, alpha=0.8, linewidths=0, **colour_args)
        ax.set_title(f"{name} embeddings ({xy.shape[0]} points)")
        ax.set_xlabel("PC 1")
        ax.set_ylabel("PC 2")
        ax.grid(True, alpha=0.3)
    coloured_by = f", coloured by {snap.factor}" if snap.labels is not None and snap.factor else ""
    fig.suptitle(plain(f"PCA per modality, seed {snap.seed}{coloured_by}"))
    if handles:
        fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.855, 0.86),
                   fontsize="small", title=plain(snap.factor) or None)
    elif mappable is not None:
        colour_axes = fig.add_axes((0.87, 0.12, 0.02, 0.74))
        fig.colorbar(mappable, cax=colour_axes, label=plain(snap.factor) or "label")
    return png_bytes(fig)


def _label_colouring(labels: np.ndarray | None,
                     factor: str) -> tuple[dict[str, object], list[Line2D]]:
    """Scatter colour arguments for ``labels``: categorical colours with legend handles for at
    most 20 distinct labels, a continuous colour map (no handles) beyond that."""
    if labels is None:
        return {}, []
    distinct = np.unique(labels)
    if distinct.size > len(CATEGORICAL_COLOURS):
        return {"c": labels, "cmap": "viridis"}, []
    codes = np.searchsorted(distinct, labels)
    cmap = ListedColormap(CATEGORICAL_COLOURS[:distinct.size])
    norm = BoundaryNorm(np.arange(distinct.size + 1) - 0.5, distinct.size)
    handles = [
        Line2D([], [], linestyle="", marker="o", markersize=5, color=CATEGORICAL_COLOURS[i],
               label=plain(f"{factor} = {int(v)}" if factor else str(int(v))))
        for i, v in enumerate(distinct)
    ]
    return {"c": codes, "cmap": cmap, "norm": norm}, handles


def _spectra_png(snap: Snapshot) -> bytes:
    fig, ax = figure(SPECTRA_SIZE_IN)
    any_positive = False
    for name, values, colour in (("image", snap.spectrum_img, IMAGE_COLOUR),
                                 ("text", snap.spectrum_txt, TEXT_COLOUR)):
        label = f"{name} (effective rank {spectrum_effective_rank(values):.2f} of {values.size})"
        positive = values > 0.0
        if positive.any():
            any_positive = True
            index = np.arange(1, values.size + 1)
            ax.plot(index[positive], values[positive], marker=".", color=colour, label=label)
        else:
            ax.plot([], [], color=colour, label=f"{label}: all eigenvalues zero")
    if any_positive:
        ax.set_yscale("log")
    ax.set_title(f"Covariance eigenvalue spectra, seed {snap.seed}")
    ax.set_xlabel("eigenvalue index (descending)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("eigenvalue (log scale)" if any_positive else "eigenvalue")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right", fontsize="small")
    return png_bytes(fig)


def _similarity_png(snap: Snapshot) -> bytes:
    m = snap.similarity.shape[0]
    fig = Figure(figsize=SIMILARITY_SIZE_IN, dpi=DPI, facecolor="white")
    fig.subplots_adjust(left=0.1, right=0.8, bottom=0.16, top=0.92)
    ax = fig.subplots()
    image = ax.imshow(snap.similarity, cmap="RdBu_r", vmin=-1.0, vmax=1.0, interpolation="nearest")
    for i in range(m):
        ax.add_patch(Rectangle((i - 0.5, i - 0.5), 1.0, 1.0, fill=False, edgecolor="black",
                               linewidth=0.8, label="true pair (diagonal)" if i == 0 else None))
    ax.set_title(f"Cosine similarity of {m} pairs, seed {snap.seed}")
    ax.set_xlabel("text item")
    ax.set_ylabel("image item")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), fontsize="small", frameon=False)
    fig.colorbar(image, cax=fig.add_axes((0.83, 0.16, 0.03, 0.76)), label="cosine similarity")
    return png_bytes(fig)


def _retrieval_png(snap: Snapshot, limits: Mapping[str, float]) -> bytes:
    fig, ax = figure(RETRIEVAL_SIZE_IN)
    x = np.arange(len(snap.recall_ks), dtype=np.float64)
    width = 0.38
    bars_spec = ((-width / 2, snap.recall_i2t, "image -> text", IMAGE_COLOUR),
                 (width / 2, snap.recall_t2i, "text -> image", TEXT_COLOUR))
    for offset, values, label, colour in bars_spec:
        bars = ax.bar(x + offset, values, width, color=colour, label=label)
        ax.bar_label(bars, fmt="%.2f", fontsize="small", padding=2)
    drawn = False
    for position, k in zip(x, snap.recall_ks):
        limit = limits.get(f"recall@{k}")
        if limit is not None:
            ax.hlines(limit, position - 0.45, position + 0.45, colors="black", linestyles="--",
                      linewidth=1.2, label=None if drawn else "gate threshold (minimum)")
            ax.annotate(f">= {limit:.2f}", (position + 0.45, limit), xytext=(2, -3),
                        textcoords="offset points", fontsize="x-small", ha="left", va="top")
            drawn = True
    ax.set_xticks(x, [f"recall@{k}" for k in snap.recall_ks])
    ax.set_ylim(0.0, 1.1)
    ax.set_ylabel("recall")
    ax.set_title(f"Directional retrieval, seed {snap.seed}")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    return png_bytes(fig)


def _hubness_png(snap: Snapshot, limits: Mapping[str, float]) -> bytes:
    top = int(max(snap.k_occurrence_i2t.max(), snap.k_occurrence_t2i.max()))
    width = max(1, math.ceil((top + 1) / MAX_HISTOGRAM_BINS))
    edges = np.arange(0, top + width + 1, width, dtype=np.float64) - 0.5
    fig, ax = figure(HUBNESS_SIZE_IN)
    for values, label, colour in ((snap.k_occurrence_i2t, "image -> text", IMAGE_COLOUR),
                                  (snap.k_occurrence_t2i, "text -> image", TEXT_COLOUR)):
        ax.hist(values, bins=edges, histtype="step", linewidth=1.6, color=colour,
                label=f"{label} (skewness {_skewness(values):.2f}, max {int(values.max())})")
    ax.axvline(snap.k, color="black", linestyle="--", linewidth=1.0,
               label=f"k = {snap.k} (mean k-occurrence)")
    if "hubness_concentration" in limits:
        ax.plot([], [], linestyle="", label=f"gate: top-1 concentration <= "
                                           f"{limits['hubness_concentration']:.2g}")
    ax.set_ylim(0.0, 1.35 * ax.get_ylim()[1])
    ax.set_title(f"Hubness: k-occurrence histograms (k = {snap.k}), seed {snap.seed}")
    ax.set_xlabel("k-occurrence (times an item is among the k nearest of a query)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("items")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right", fontsize="small")
    return png_bytes(fig)


def _skewness(values: np.ndarray) -> float:
    """Sample skewness (third standardised moment); 0.0 for a constant vector."""
    x = values.astype(np.float64)
    std = float(x.std())
    if std == 0.0:
        return 0.0
    return float(np.mean(((x - x.mean()) / std) ** 3))


def _recalls(retrieval: object) -> tuple[tuple[int, ...], tuple[float, ...], tuple[float, ...]]:
    """The K values with recall@K in ``retrieval`` and both directions' recalls at each K."""
    if not isinstance(retrieval, Mapping):
        raise InputError("snapshot['retrieval']: expected a mapping of metric name -> value")
    ks = tuple(sorted({int(match.group(2)) for name in retrieval
                       if isinstance(name, str) and (match := _RECALL_KEY.match(name))}))
    if not ks:
        raise InputError("snapshot['retrieval']: expected keys like 'i2t_recall@1' and "
                         "'t2i_recall@1'")
    directions = []
    for direction in ("i2t", "t2i"):
        row = []
        for k in ks:
            name = f"{direction}_recall@{k}"
            if name not in retrieval:
                raise InputError(f"snapshot['retrieval']: missing key {name!r}")
            value = finite_scalar(retrieval[name], f"snapshot['retrieval'][{name!r}]")
            if not 0.0 <= value <= 1.0:
                raise InputError(f"snapshot['retrieval'][{name!r}]: expected a recall in [0, 1], "
                                 f"got {value}")
            row.append(value)
        directions.append(tuple(row))
    return ks, directions[0], directions[1]


def _points(values: object, name: str) -> np.ndarray:
    array = finite_array(values, name, "a list of [x, y] points")
    if array.ndim != 2 or array.shape[1] != 2 or array.shape[0] == 0:
        raise InputError(f"{name}: expected a non-empty list of [x, y] points, "
                         f"got shape {array.shape}")
    if array.shape[0] > MAX_PCA_POINTS:
        raise InputError(f"{name}: expected at most {MAX_PCA_POINTS} points, got {array.shape[0]}")
    return array


def _similarity(values: object, name: str) -> np.ndarray:
    matrix = finite_array(values, name, "a square matrix of numbers")
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] == 0:
        raise InputError(f"{name}: expected a non-empty square m x m matrix, "
                         f"got shape {matrix.shape}")
    if matrix.shape[0] > MAX_SIMILARITY_SIZE:
        raise InputError(f"{name}: expected m <= {MAX_SIMILARITY_SIZE}, got m = {matrix.shape[0]}")
    return matrix


def _spectrum(values: object, name: str) -> np.ndarray:
    """Eigenvalues checked to be finite, non-negative up to round-off and descending; round-off
    negatives are clipped to zero."""
    array = finite_vector(values, name)
    tolerance = 1e-9 * max(1.0, float(np.max(np.abs(array))))
    if array.min() < -tolerance:
        raise InputError(f"{name}: covariance eigenvalues must be non-negative, got {array.min()}")
    if np.any(np.diff(array) > tolerance):
        raise InputError(f"{name}: eigenvalues must be sorted in descending order")
    return np.clip(array, 0.0, None)


