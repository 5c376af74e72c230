"""Dataset drift profiles for text, vision and model outputs, and their comparison.

A profile is a plain JSON-ready dict that keeps the sampled per-item values (sequence lengths, image
brightness), so ``compare_profiles`` bins reference and new data on shared edges: histograms binned
each on their own edges would call a shifted distribution unchanged. Every drift score is on a
[0, 1] scale where 0 means no drift, and the largest of them (``max_drift``) sets the status.

Scores per modality (all feed ``max_drift``):

- text: ``seq_length_jsd`` (JSD of sequence-length histograms, 10 shared bins),
  ``token_overlap_drift`` (1 - fraction of the reference top-100 tokens also in the new top-100),
  ``token_frequency_jsd`` (JSD of token frequencies over the union of both top-100 lists plus one
  "other" bucket holding each side's mass outside its own top-100).
- vision: ``channel_<c>_mean_shift`` per channel (the new-minus-reference channel mean in units of
  the reference channel std, d, mapped to erf(|d| / (2 sqrt 2)): the total-variation distance
  between two unit normals d apart, so d = 0.25 scores 0.1 and d = 0.5 scores 0.2), and
  ``brightness_jsd`` (JSD of per-image mean brightness, 5 shared bins).
- output: ``class_jsd`` and ``class_kl_drift`` = 1 - 2^-KL, with KL(reference || new) in bits over
  the union of classes (smoothing 1e-6); the raw KL is in ``statistics["class_kl_bits"]``.

All JSDs are in bits (bounded by 1).
"""

from __future__ import annotations

import math
import numbers
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from mmgate.drift.divergence import (
    histogram,
    js_divergence,
    kl_divergence,
    shared_edges,
)
from mmgate.errors import ConfigError, InputError
from mmgate.panel.validate import real_array

MODALITIES = ("text", "vision", "output")
LAYOUTS = ("NCHW", "NHWC", "NHW")
LENGTH_BINS = 10
BRIGHTNESS_BINS = 5
TOP_TOKENS = 100
KL_SMOOTHING = 1e-6

_SAMPLE_STREAM = 0x0D21F7
_CHANNEL_AXIS_SIZES = (1, 3, 4)
_IMAGE_CHUNK = 64
_MAX_EFFECT = 1e12
_CHANGED_TOKENS_SHOWN = 10


@dataclass(frozen=True)
class DriftThresholds:
    """Status cut-offs on the drift scale: ok below ``warn``, alert above ``alert``, warn between."""

    warn: float = 0.1
    alert: float = 0.2

    def __post_init__(self) -> None:
        for name in ("warn", "alert"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise ConfigError(f"DriftThresholds.{name} must be a finite number; got {value!r}")
        if not 0 <= self.warn <= self.alert:
            raise ConfigError(f"DriftThresholds need 0 <= warn <= alert; got warn={self.warn!r}, alert={self.alert!r}")


DEFAULT_THRESHOLDS = DriftThresholds()


def drift_status(score: float, thresholds: DriftThresholds = DEFAULT_THRESHOLDS) -> str:
    """"ok" when ``score`` < warn, "alert" when ``score`` > alert, "warn" otherwise."""
    if score < thresholds.warn:
        return "ok"
    if score > thresholds.alert:
        return "alert"
    return "warn"


def mean_shift_score(effect: float) -> float:
    """Total-variation distance between two unit-variance normals ``effect`` std apart, in [0, 1]."""
    return math.erf(abs(effect) / (2.0 * math.sqrt(2.0)))


def _check_int(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def _sample_indices(n: int, sample_size: int, seed: int) -> np.ndarray:
    """All indices when ``n <= sample_size``, else a seeded sorted sample without replacement."""
    if n <= sample_size:
        return np.arange(n)
    rng = np.random.default_rng(np.random.SeedSequence([seed, _SAMPLE_STREAM]))
    return np.sort(rng.choice(n, size=sample_size, replace=False))


def _header(modality: str, n: int, idx: np.ndarray, seed: int) -> dict:
    return {"modality": modality, "n_items": int(n), "n_sampled": int(idx.size), "seed": int(seed)}


def _int_sequence(item: object, index: int) -> np.ndarray:
    arr = np.asarray(item)
    if arr.size == 0 and arr.ndim == 1:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype.kind not in "iu" or arr.ndim != 1:
        raise InputError(f"dataset[{index}] must be a string or a 1-D sequence of integer token ids; "
                         f"got dtype {arr.dtype} with shape {arr.shape}")
    return arr.astype(np.int64)


def _text_tokens(dataset: object, sample_size: int, seed: int,
                 pad_id: int | None) -> tuple[int, np.ndarray, list, str, np.ndarray]:
    """(n_items, sampled indices, token lists or arrays of the sample, token kind, sequence lengths)."""
    if isinstance(dataset, np.ndarray) and dataset.dtype.kind in "iu" and dataset.ndim == 2:
        n = dataset.shape[0]
        if n == 0:
            raise InputError("dataset must hold at least one sequence; got 0 rows")
        idx = _sample_indices(n, sample_size, seed)
        rows = dataset[idx].astype(np.int64)
        keep = np.ones(rows.shape, dtype=bool) if pad_id is None else rows != pad_id
        return n, idx, [rows[keep]], "int", keep.sum(axis=1)
    listlike = isinstance(dataset, np.ndarray) and dataset.ndim == 1 and dataset.dtype.kind in "UO"
    if listlike or isinstance(dataset, (list, tuple)):
        items = list(dataset)
    else:
        shape = f" of shape {dataset.shape} and dtype {dataset.dtype}" if isinstance(dataset, np.ndarray) else ""
        raise InputError("text dataset must be a list of whitespace-token strings, an integer token array (N, L) "
                         f"or a list of 1-D integer sequences; got {type(dataset).__name__}{shape}")
    if not items:
        raise InputError("dataset must hold at least one sequence; got an empty dataset")
    is_str = [isinstance(item, str) for item in items]
    idx = _sample_indices(len(items), sample_size, seed)
    if all(is_str):
        if pad_id is not None:
            raise ConfigError("pad_id applies only to integer token datasets; this dataset holds strings")
        split = [items[i].split() for i in idx]
        return len(items), idx, split, "str", np.array([len(s) for s in split], dtype=np.int64)
    if any(is_str):
        raise InputError(f"dataset mixes strings and token sequences (dataset[{is_str.index(not is_str[0])}] "
                         f"differs from dataset[0]); use one kind")
    seqs = [_int_sequence(items[i], int(i)) for i in idx]
    if pad_id is not None:
        seqs = [s[s != pad_id] for s in seqs]
    return len(items), idx, seqs, "int", np.array([s.size for s in seqs], dtype=np.int64)


def _token_counts(tokens: list, kind: str) -> list[tuple[object, int]]:
    if kind == "str":
        return list(Counter(tok for seq in tokens for tok in seq).items())
    values, counts = np.unique(np.concatenate(tokens), return_counts=True)
    return [(int(v), int(c)) for v, c in zip(values, counts)]


def _text_profile(dataset: object, sample_size: int, seed: int, pad_id: int | None) -> dict:
    n, idx, tokens, kind, lengths = _text_tokens(dataset, sample_size, seed, pad_id)
    counts = _token_counts(tokens, kind)
    total = sum(c for _, c in counts)
    if total == 0:
        raise InputError("dataset has no tokens in its sampled sequences; token frequencies need at least one")
    top = sorted(counts, key=lambda kv: (-kv[1], kv[0]))[:TOP_TOKENS]
    return {**_header("text", n, idx, seed), "pad_id": pad_id, "token_kind": kind,
            "lengths": [int(v) for v in lengths], "length_mean": float(lengths.mean()),
            "length_std": float(lengths.std()), "n_tokens": int(total),
            "top_tokens": {str(tok): c / total for tok, c in top}}


def _resolve_layout(shape: tuple[int, ...], layout: str | None) -> str:
    if layout is not None and layout not in LAYOUTS:
        raise ConfigError(f"layout must be one of {', '.join(LAYOUTS)} or None; got {layout!r}")
    if len(shape) not in (3, 4):
        raise InputError(f"vision dataset must be N x H x W or a 4-D N x C x H x W / N x H x W x C array; "
                         f"got shape {shape}")
    if layout is not None:
        if (layout == "NHW") != (len(shape) == 3):
            raise InputError(f"layout {layout!r} needs a {len(layout)}-D array; got shape {shape}")
        return layout
    if len(shape) == 3:
        return "NHW"
    first, last = shape[1] in _CHANNEL_AXIS_SIZES, shape[3] in _CHANNEL_AXIS_SIZES
    if first != last:
        return "NCHW" if first else "NHWC"
    raise InputError(f"cannot tell the channel axis of shape {shape}; pass layout='NCHW' or layout='NHWC'")


def _vision_profile(dataset: object, sample_size: int, seed: int, layout: str | None) -> dict:
    arr = real_array(dataset, "dataset")
    resolved = _resolve_layout(arr.shape, layout)
    if 0 in arr.shape:
        raise InputError(f"dataset must hold at least one non-empty image; got shape {arr.shape}")
    idx = _sample_indices(arr.shape[0], sample_size, seed)
    images = arr[idx]
    images = images[:, None] if resolved == "NHW" else images
    images = np.moveaxis(images, 3, 1) if resolved == "NHWC" else images
    scale = 1.0 / 255.0 if arr.dtype == np.uint8 else 1.0
    means, variances = [], []
    for start in range(0, images.shape[0], _IMAGE_CHUNK):
        chunk = images[start:start + _IMAGE_CHUNK].astype(np.float64) * scale
        if not np.isfinite(chunk).all():
            raise InputError("dataset contains non-finite pixel values (NaN or Inf)")
        means.append(chunk.mean(axis=(2, 3)))
        variances.append(chunk.var(axis=(2, 3)))
    per_image = np.concatenate(means)
    channel_var = np.concatenate(variances).mean(axis=0) + per_image.var(axis=0)
    brightness = per_image.mean(axis=1)
    return {**_header("vision", arr.shape[0], idx, seed), "layout": resolved, "dtype": str(arr.dtype),
            "channel_means": [float(v) for v in per_image.mean(axis=0)],
            "channel_stds": [float(v) for v in np.sqrt(channel_var)],
            "brightness_values": [float(v) for v in brightness],
            "brightness_mean": float(brightness.mean()), "brightness_std": float(brightness.std())}


def _output_profile(dataset: object, sample_size: int, seed: int) -> dict:
    arr = np.asarray(dataset)
    if arr.dtype.kind not in "iu" or arr.ndim != 1 or arr.size == 0:
        raise InputError(f"output dataset must be a non-empty 1-D array of integer class ids; "
                         f"got dtype {arr.dtype} with shape {arr.shape}")
    idx = _sample_indices(arr.size, sample_size, seed)
    classes, counts = np.unique(arr[idx], return_counts=True)
    return {**_header("output", arr.size, idx, seed),
            "class_counts": {str(int(c)): int(k) for c, k in zip(classes, counts)}}


def compute_dataset_profile(dataset: object, modality: str, sample_size: int = 1000, seed: int = 0,
                            layout: str | None = None, *, pad_id: int | None = None) -> dict:
    """JSON-ready drift profile of at most ``sample_size`` items (seeded sample without replacement).

    text: list of whitespace-token strings, integer array (N, L) (every column is a token unless
    ``pad_id`` is given; then tokens equal to it are dropped), or a list of 1-D integer sequences;
    tokens are stored as strings. vision: N x H x W, N x C x H x W or N x H x W x C (``layout``,
    inferred only when unambiguous); uint8 pixels are divided by 255, other dtypes are taken as
    given. output: 1-D integer class or target ids."""
    if modality not in MODALITIES:
        raise ConfigError(f"modality must be one of {', '.join(MODALITIES)}; got {modality!r}")
    sample_size = _check_int(sample_size, "sample_size", 1)
    seed = _check_int(seed, "seed", 0)
    if layout is not None and modality != "vision":
        raise ConfigError(f"layout applies only to modality 'vision'; got layout={layout!r} for {modality!r}")
    if pad_id is not None:
        if modality != "text":
            raise ConfigError(f"pad_id applies only to modality 'text'; got pad_id={pad_id!r} for {modality!r}")
        if isinstance(pad_id, bool) or not isinstance(pad_id, numbers.Integral):
            raise ConfigError(f"pad_id must be an integer token id or None; got {pad_id!r}")
        pad_id = int(pad_id)
    if modality == "text":
        return _text_profile(dataset, sample_size, seed, pad_id)
    if modality == "vision":
        return _vision_profile(dataset, sample_size, seed, layout)
    return _output_profile(dataset, sample_size, seed)


def _field(profile: Mapping, name: str, key: str) -> object:
    if key not in profile:
        raise InputError(f"{name} profile is missing key {key!r}")
    return profile[key]


def _is_real(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _real_list(profile: Mapping, name: str, key: str, minimum: float | None = None, integer: bool = False) -> list:
    value = _field(profile, name, key)
    kind = "integers" if integer else "finite numbers"
    bound = "" if minimum is None else f" >= {minimum}"
    if not isinstance(value, list) or not value or not all(
            (isinstance(v, int) and not isinstance(v, bool)) if integer else _is_real(v) for v in value) \
            or (minimum is not None and min(value) < minimum):
        raise InputError(f"{name} profile key {key!r} must be a non-empty list of {kind}{bound}")
    return value


def _real_map(profile: Mapping, name: str, key: str, integer: bool = False) -> dict[str, float]:
    value = _field(profile, name, key)
    kind = "integer counts >= 0" if integer else "frequencies in [0, 1]"
    if not isinstance(value, dict) or not value or not all(isinstance(k, str) for k in value) or not all(
            (isinstance(v, int) and not isinstance(v, bool) and v >= 0) if integer else (_is_real(v) and 0 <= v <= 1)
            for v in value.values()) or sum(value.values()) <= 0:
        raise InputError(f"{name} profile key {key!r} must be a non-empty mapping of string keys to {kind} "
                         "with a positive total")
    return value


def _text_scores(ref: Mapping, new: Mapping) -> tuple[dict, dict, dict]:
    kinds = [_field(p, name, "token_kind") for p, name in ((ref, "ref"), (new, "new"))]
    if kinds[0] not in ("str", "int") or kinds[1] not in ("str", "int"):
        raise InputError(f"profile key 'token_kind' must be 'str' or 'int'; got ref={kinds[0]!r}, new={kinds[1]!r}")
    if kinds[0] != kinds[1]:
        raise InputError(f"token kind mismatch: ref tokens are {kinds[0]!r}, new tokens are {kinds[1]!r}")
    lengths = [np.asarray(_real_list(p, name, "lengths", minimum=0, integer=True), dtype=np.float64)
               for p, name in ((ref, "ref"), (new, "new"))]
    freqs = [_real_map(p, name, "top_tokens") for p, name in ((ref, "ref"), (new, "new"))]
    edges = shared_edges(*lengths, bins=LENGTH_BINS)
    hists = [histogram(v, edges) for v in lengths]
    ref_top, new_top = set(freqs[0]), set(freqs[1])
    overlap = len(ref_top & new_top) / len(ref_top)
    union = sorted(ref_top | new_top)
    vectors = [[f.get(t, 0.0) for t in union] + [max(0.0, 1.0 - math.fsum(f.values()))] for f in freqs]

    def ranked(f: dict, keep: set) -> list[str]:
        return sorted((t for t in f if t not in keep), key=lambda t: (-f[t], t))[:_CHANGED_TOKENS_SHOWN]

    scores = {"seq_length_jsd": js_divergence(*hists), "token_overlap_drift": 1.0 - overlap,
              "token_frequency_jsd": js_divergence(*vectors)}
    stats = {"token_overlap": overlap,
             "length_mean": {"reference": float(lengths[0].mean()), "new": float(lengths[1].mean())},
             "length_std": {"reference": float(lengths[0].std()), "new": float(lengths[1].std())},
             "entering_tokens": ranked(freqs[1], ref_top), "leaving_tokens": ranked(freqs[0], new_top)}
    hist = {"seq_length": {"edges": edges.tolist(), "reference": hists[0].tolist(), "new": hists[1].tolist()}}
    return scores, stats, hist


def _vision_scores(ref: Mapping, new: Mapping) -> tuple[dict, dict, dict]:
    channels = {}
    for p, name in ((ref, "ref"), (new, "new")):
        means = _real_list(p, name, "channel_means")
        stds = _real_list(p, name, "channel_stds", minimum=0)
        if len(means) != len(stds):
            raise InputError(f"{name} profile keys 'channel_means' and 'channel_stds' must have equal lengths; "
                             f"got {len(means)} and {len(stds)}")
        channels[name] = (np.asarray(means, dtype=np.float64), np.asarray(stds, dtype=np.float64))
    (ref_mean, ref_std), (new_mean, new_std) = channels["ref"], channels["new"]
    if ref_mean.size != new_mean.size:
        raise InputError(f"channel count mismatch: ref has {ref_mean.size} channels, new has {new_mean.size}")
    with np.errstate(over="ignore"):
        shift = new_mean - ref_mean
        scaled = shift / np.where(ref_std > 0, ref_std, 1.0)
    constant = np.where(shift == 0, 0.0, np.sign(shift) * _MAX_EFFECT)
    effect = np.clip(np.where(ref_std > 0, scaled, constant), -_MAX_EFFECT, _MAX_EFFECT)
    brightness = [np.asarray(_real_list(p, name, "brightness_values"), dtype=np.float64)
                  for p, name in ((ref, "ref"), (new, "new"))]
    edges = shared_edges(*brightness, bins=BRIGHTNESS_BINS)
    hists = [histogram(v, edges) for v in brightness]
    scores = {f"channel_{c}_mean_shift": mean_shift_score(float(d)) for c, d in enumerate(effect)}
    scores["brightness_jsd"] = js_divergence(*hists)
    stats = {"channel_mean_shift_std": [float(d) for d in effect],
             "channel_means": {"reference": ref_mean.tolist(), "new": new_mean.tolist()},
             "channel_stds": {"reference": ref_std.tolist(), "new": new_std.tolist()},
             "brightness_mean": {"reference": float(brightness[0].mean()), "new": float(brightness[1].mean())}}
    hist = {"brightness": {"edges": edges.tolist(), "reference": hists[0].tolist(), "new": hists[1].tolist()}}
    return scores, stats, hist


def _class_id(label: str, name: str) -> int:
    try:
        return int(label)
    except ValueError:
        raise InputError(f"{name} profile key 'class_counts' must have integer class ids as keys; "
                         f"got {label!r}") from None


def _output_scores(ref: Mapping, new: Mapping) -> tuple[dict, dict, dict]:
    counts = [_real_map(p, name, "class_counts", integer=True) for p, name in ((ref, "ref"), (new, "new"))]
    ids = [{_class_id(k, name): v for k, v in c.items()} for c, name in zip(counts, ("ref", "new"))]
    labels = sorted(set(ids[0]) | set(ids[1]))
    p, q = ([c.get(k, 0) for k in labels] for c in ids)
    kl = kl_divergence(p, q, smoothing=KL_SMOOTHING)
    scores = {"class_jsd": js_divergence(p, q), "class_kl_drift": 1.0 - 2.0 ** -kl}
    stats = {"class_kl_bits": kl, "n_classes": {"reference": len(ids[0]), "new": len(ids[1])}}
    p_total, q_total = sum(p), sum(q)
    hist = {"classes": {"labels": labels, "reference": [v / p_total for v in p], "new": [v / q_total for v in q]}}
    return scores, stats, hist


_SCORERS = {"text": _text_scores, "vision": _vision_scores, "output": _output_scores}


def compare_profiles(ref: Mapping, new: Mapping, thresholds: DriftThresholds = DEFAULT_THRESHOLDS) -> dict:
    """Drift of ``new`` from ``ref`` (same modality), binning both on shared edges; JSON-ready.

    Keys: modality, drift_scores (all feed max_drift), score_status, max_drift, status, thresholds,
    statistics (raw measurements) and histograms (shared edges or labels with both distributions)."""
    if not isinstance(thresholds, DriftThresholds):
        raise ConfigError(f"thresholds must be a DriftThresholds; got {type(thresholds).__name__}")
    modalities = []
    for profile, name in ((ref, "ref"), (new, "new")):
        if not isinstance(profile, Mapping):
            raise InputError(f"{name} profile must be a mapping; got {type(profile).__name__}")
        modality = _field(profile, name, "modality")
        if modality not in MODALITIES:
            raise InputError(f"{name} profile key 'modality' must be one of {', '.join(MODALITIES)}; got {modality!r}")
        modalities.append(modality)
    if modalities[0] != modalities[1]:
        raise InputError(f"modality mismatch: ref is {modalities[0]!r}, new is {modalities[1]!r}")
    scores, stats, hists = _SCORERS[modalities[0]](ref, new)
    max_drift = max(scores.values())
    return {"modality": modalities[0], "drift_scores": scores,
            "score_status": {k: drift_status(v, thresholds) for k, v in scores.items()},
            "max_drift": max_drift, "status": drift_status(max_drift, thresholds),
            "thresholds": {"warn": float(thresholds.warn), "alert": float(thresholds.alert)},
            "statistics": stats, "histograms": hists}
