"""Canaries from the captions JSON that retrieval papers and CLIP_benchmark read: COCO captions
(``captions_val2017.json``, and CLIP_benchmark's ``coco_{split}_karpathy.json``), Karpathy splits
(``dataset_coco.json``, ``dataset_flickr30k.json``) and the retrieval list of BLIP / ALBEF
(``coco_karpathy_test.json``: ``[{"image", "caption": [...]}]``). The format is told by structure.

The result has one row per (image, caption), each image repeated once per caption (COCO layout),
``groups`` numbering the images 0, 1, ... in file order, ``image_ids`` the file's image ids and
``text_ids`` one id per caption (so equal caption strings stay separate texts, as CLIP_benchmark
counts them). Images stay on disk (``CaptionImages``) until a batch is sliced. The whole file is
checked (types, ids, captions); only the selected images (``split``, ``limit_images``) must exist.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mmgate.errors import ConfigError, InputError
from mmgate.subjects.lazy_images import ImageFiles, raise_all, relative_image_path

COCO = "COCO captions"
KARPATHY = "Karpathy split"
RETRIEVAL_LIST = "retrieval list"
EXPECTED = (
    f"{COCO}: an object with 'images' [{{'id', 'file_name'}}] and 'annotations' "
    f"[{{'image_id', 'id', 'caption'}}]",
    f"{KARPATHY}: an object with 'images' [{{'filename', 'filepath' (optional), 'imgid' or "
    f"'cocoid', 'split', 'sentences' [{{'raw', 'sentid'}}]}}]",
    f"{RETRIEVAL_LIST}: an array of {{'image', 'caption' (a string or a list of strings)}}",
)
MISSING_SHOWN = 10
_INT64 = (-2 ** 63, 2 ** 63)


@dataclass(frozen=True)
class Entry:
    """One image of a captions file: its position and JSON path, id, file (relative to the image
    folder), Karpathy split (None elsewhere), and its captions with their ids, in file order."""

    index: int
    where: str
    image_id: int | str
    file: str
    split: str | None
    captions: tuple[str, ...]
    caption_ids: tuple[int | str, ...]


@dataclass(frozen=True)
class Captions:
    """A parsed captions file: where it is and in which format (the prefix of every error), the JSON
    key naming each image's file, and its images in file order."""

    at: str
    format: str
    file_key: str
    entries: tuple[Entry, ...]


@dataclass(frozen=True, eq=False)
class CaptionImages(ImageFiles):
    """``ImageFiles`` whose row i is entry ``rows[i]`` of a captions file's image array ``prefix``:
    errors name the JSON path (``captions.json: images[3].file_name: /data/x.jpg``)."""

    prefix: str = "images"

    def where(self, i: int) -> str:
        return f"{self.table}: {self.prefix}[{self.rows[i]}].{self.column}: {self.path(i)}"

    def take(self, indices: Sequence[int] | np.ndarray) -> CaptionImages:
        """The rows ``indices``, still lazy and still named by JSON path, sharing the digest cache."""
        base = super().take(indices)
        return CaptionImages(base.root, base.files, base.rows, base.table, base.column,
                             self._digests, self.prefix)


def coco_fields(captions_json: str | os.PathLike, image_dir: str | os.PathLike,
                split: str | Sequence[str] | None = None, limit_images: int | None = None,
                name: str | None = None) -> dict[str, Any]:
    """The ``PairedSet`` fields the captions file describes, images resolved against ``image_dir``
    (see the module docstring); ``split`` keeps the Karpathy images of those splits, ``limit_images``
    the first N images (with all their captions). For ``PairedSet.from_coco``."""
    wanted = _splits(split)
    limit = _limit(limit_images)
    path = Path(captions_json)
    captions = parse_captions(path, load_json(path))
    folder = Path(image_dir)
    if not folder.is_dir():
        raise InputError(f"{captions.at}: image folder {str(folder)!r} not found (no such directory)")
    chosen = select(captions, wanted, limit)
    root = os.path.abspath(folder)
    _check_files_exist(captions, chosen, root)
    return _paired(captions, chosen, root, str(path), name or _name(path, wanted))


def load_json(path: Path) -> Any:
    """The decoded JSON document at ``path``; InputError when missing, not UTF-8 or not JSON."""
    if not path.is_file():
        raise InputError(f"{path}: captions file not found (no such file)")
    try:
        with open(path, encoding="utf-8-sig") as handle:
            return json.load(handle)
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: cannot read the captions file as UTF-8 ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}, column "
                         f"{exc.colno}") from exc


def captions_format(data: Any) -> str | None:
    """Which of the three formats ``data`` has by its structure, None when it has none of them."""
    if isinstance(data, list):
        return RETRIEVAL_LIST
    if not isinstance(data, dict):
        return None
    if "images" in data and "annotations" in data:
        return COCO
    images = data.get("images")
    if isinstance(images, list) and images and isinstance(images[0], dict) and "sentences" in images[0]:
        return KARPATHY
    return None


def parse_captions(path: Path, data: Any) -> Captions:
    """The images and captions of a decoded captions file, every entry checked; InputError naming
    the file, the format and the JSON path of the first bad entry (duplicates: all of them)."""
    fmt = captions_format(data)
    if fmt is None:
        raise InputError(f"{path}: unknown captions format ({_seen(data)}); expected one of:\n  "
                         + "\n  ".join(EXPECTED))
    at = f"{path} ({fmt})"
    if fmt == COCO:
        entries, key = _coco_entries(data, at), "file_name"
    elif fmt == KARPATHY:
        entries, key = _karpathy_entries(data, at), "filename"
    else:
        entries, key = _list_entries(data, at), "image"
    _check_captioned(at, fmt, entries)
    return Captions(at, fmt, key, tuple(entries))


def select(captions: Captions, splits: tuple[str, ...] | None, limit: int | None) -> tuple[Entry, ...]:
    """The images kept: those of the ``splits`` (Karpathy only), then the first ``limit``."""
    entries = captions.entries
    if splits is not None:
        if captions.format != KARPATHY:
            raise ConfigError(f"{captions.at}: split={list(splits)} applies to the {KARPATHY} "
                              f"format only; this file has no 'split' field")
        for entry in entries:
            if entry.split is None:
                raise InputError(f"{captions.at}: {entry.where}: missing key 'split' (needed by "
                                 f"split={list(splits)})")
        present = sorted({e.split for e in entries})
        unmatched = [s for s in splits if s not in present]
        if unmatched:
            raise ConfigError(f"{captions.at}: split {unmatched} matches no image; the splits "
                              f"present are {present}")
        entries = tuple(e for e in entries if e.split in splits)
    return entries if limit is None else entries[:limit]


def _splits(split: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """``split=`` as a tuple of split names (None: every image); ConfigError when malformed."""
    if split is None:
        return None
    names = (split,) if isinstance(split, str) else split
    if not isinstance(names, Sequence) or not names or not all(
            isinstance(s, str) and s for s in names):
        raise ConfigError(f"split: expected a split name or a non-empty sequence of split names "
                          f"(e.g. 'test'), got {split!r}")
    return tuple(names)


def _limit(limit_images: int | None) -> int | None:
    if limit_images is None:
        return None
    if isinstance(limit_images, bool) or not isinstance(limit_images, int) or limit_images < 1:
        raise ConfigError(f"limit_images: expected a positive integer or None, got {limit_images!r}")
    return limit_images


def _name(path: Path, splits: tuple[str, ...] | None) -> str:
    return path.stem if splits is None else f"{path.stem}-{'+'.join(splits)}"


def _kind(value: Any) -> str:
    """The JSON type of a decoded value, as errors name it."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "null" if value is None else type(value).__name__


def _shown(value: Any, width: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _seen(data: Any) -> str:
    """What the top of an unrecognised document looks like."""
    if not isinstance(data, dict):
        return f"the document is a JSON {_kind(data)}"
    seen = f"an object with keys {sorted(data)}"
    images = data.get("images")
    if isinstance(images, list) and images and isinstance(images[0], dict):
        seen += f", images[0] with keys {sorted(images[0])}"
    return seen


def _object(value: Any, at: str, where: str) -> dict:
    if not isinstance(value, dict):
        raise InputError(f"{at}: {where}: expected a JSON object, got {_kind(value)} {_shown(value)}")
    return value


def _array(value: Any, at: str, where: str) -> list:
    if not isinstance(value, list):
        raise InputError(f"{at}: {where}: expected a JSON array, got {_kind(value)} {_shown(value)}")
    return value


def _field(obj: dict, key: str, at: str, where: str) -> Any:
    if key not in obj:
        raise InputError(f"{at}: {where}: missing key {key!r}; the entry has {sorted(obj)}")
    return obj[key]


def _int_id(value: Any, at: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not _INT64[0] <= value < _INT64[1]:
        raise InputError(f"{at}: {where}: expected an integer id, got {_kind(value)} {_shown(value)}")
    return value


def _caption(value: Any, at: str, where: str) -> str:
    """The caption stripped of surrounding whitespace; InputError when not a non-empty string."""
    if not isinstance(value, str):
        raise InputError(f"{at}: {where}: expected a caption string, got {_kind(value)} "
                         f"{_shown(value)}")
    if not value.strip():
        raise InputError(f"{at}: {where}: expected a non-empty caption, got {value!r}")
    return value.strip()


def _path_text(value: Any, at: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{at}: {where}: expected a non-empty image path, got {_shown(value)}")
    return value


def _relative(value: str, at: str, where: str) -> str:
    """The image path, normalised, relative to the image folder; refuses absolute paths and escapes."""
    return relative_image_path(value, f"{at}: {where}", "image_dir")


def _uses_key(items: list, key: str) -> bool:
    """Optional ids are used when the first entry has one; every entry must then have one."""
    return bool(items) and isinstance(items[0], dict) and key in items[0]


def _coco_entries(data: dict, at: str) -> list[Entry]:
    """COCO: images in file order, each with its annotations in file order."""
    images = _array(data["images"], at, "images")
    annotations = _array(data["annotations"], at, "annotations")
    heads = []
    for i, value in enumerate(images):
        where = f"images[{i}]"
        image = _object(value, at, where)
        image_id = _int_id(_field(image, "id", at, where), at, f"{where}.id")
        file = _relative(_path_text(_field(image, "file_name", at, where), at,
                                    f"{where}.file_name"), at, f"{where}.file_name")
        heads.append((where, image_id, file))
    _check_unique(at, "image id", [(f"{where}.id", image_id) for where, image_id, _ in heads])
    position = {image_id: k for k, (_, image_id, _) in enumerate(heads)}
    texts: list[list[str]] = [[] for _ in heads]
    ids: list[list[int | str]] = [[] for _ in heads]
    with_ids = _uses_key(annotations, "id")
    given: list[tuple[str, Any]] = []
    for k, value in enumerate(annotations):
        where = f"annotations[{k}]"
        annotation = _object(value, at, where)
        image_id = _int_id(_field(annotation, "image_id", at, where), at, f"{where}.image_id")
        if image_id not in position:
            raise InputError(f"{at}: {where}.image_id: {image_id} is not the id of any entry of "
                             f"'images'")
        text = _caption(_field(annotation, "caption", at, where), at, f"{where}.caption")
        i = position[image_id]
        if with_ids:
            given.append((f"{where}.id", _int_id(_field(annotation, "id", at, where), at,
                                                 f"{where}.id")))
        ids[i].append(given[-1][1] if with_ids else f"{i}:{len(texts[i])}")
        texts[i].append(text)
    _check_unique(at, "annotation id", given)
    return [Entry(i, where, image_id, file, None, tuple(texts[i]), tuple(ids[i]))
            for i, (where, image_id, file) in enumerate(heads)]


def _karpathy_entries(data: dict, at: str) -> list[Entry]:
    """Karpathy: images in file order, ids from 'cocoid' (else 'imgid', else the path), caption
    ids from 'sentid' (else image:caption positions), files at image_dir/filepath/filename."""
    images = _array(data["images"], at, "images")
    id_key = next((k for k in ("cocoid", "imgid") if _uses_key(images, k)), None)
    with_sentids: bool | None = None
    entries, image_ids, sentids = [], [], []
    for i, value in enumerate(images):
        where = f"images[{i}]"
        image = _object(value, at, where)
        name = _path_text(_field(image, "filename", at, where), at, f"{where}.filename")
        folder = image.get("filepath")
        if folder is not None and not isinstance(folder, str):
            raise InputError(f"{at}: {where}.filepath: expected a folder name string, got "
                             f"{_kind(folder)} {_shown(folder)}")
        file = _relative(os.path.join(folder, name) if folder else name, at, f"{where}.filename")
        split = image.get("split")
        if split is not None and not isinstance(split, str):
            raise InputError(f"{at}: {where}.split: expected a split name string, got "
                             f"{_kind(split)} {_shown(split)}")
        image_id = file if id_key is None else _int_id(_field(image, id_key, at, where), at,
                                                       f"{where}.{id_key}")
        image_ids.append((f"{where}.{id_key or 'filename'}", image_id))
        sentences = _array(_field(image, "sentences", at, where), at, f"{where}.sentences")
        texts, ids = [], []
        for j, sentence in enumerate(sentences):
            here = f"{where}.sentences[{j}]"
            obj = _object(sentence, at, here)
            texts.append(_caption(_field(obj, "raw", at, here), at, f"{here}.raw"))
            with_sentids = "sentid" in obj if with_sentids is None else with_sentids
            if with_sentids:
                sentids.append((f"{here}.sentid", _int_id(_field(obj, "sentid", at, here), at,
                                                          f"{here}.sentid")))
            ids.append(sentids[-1][1] if with_sentids else f"{i}:{j}")
        entries.append(Entry(i, where, image_id, file, split, tuple(texts), tuple(ids)))
    _check_unique(at, "image id", image_ids)
    _check_unique(at, "sentence id", sentids)
    return entries


def _list_entries(data: list, at: str) -> list[Entry]:
    """Retrieval list: images in file order, the relative path as id, one or several captions."""
    entries = []
    for i, value in enumerate(data):
        where = f"[{i}]"
        item = _object(value, at, where)
        file = _relative(_path_text(_field(item, "image", at, where), at, f"{where}.image"), at,
                         f"{where}.image")
        caption = _field(item, "caption", at, where)
        if isinstance(caption, str):
            texts = [_caption(caption, at, f"{where}.caption")]
        elif isinstance(caption, list):
            texts = [_caption(c, at, f"{where}.caption[{j}]") for j, c in enumerate(caption)]
        else:
            raise InputError(f"{at}: {where}.caption: expected a caption string or a list of caption "
                             f"strings, got {_kind(caption)} {_shown(caption)}")
        entries.append(Entry(i, where, file, file, None, tuple(texts),
                             tuple(f"{i}:{j}" for j in range(len(texts)))))
    _check_unique(at, "image id", [(f"{e.where}.image", e.image_id) for e in entries])
    return entries


def _check_unique(at: str, what: str, keyed: list[tuple[str, Any]]) -> None:
    """Refuse repeated ids: one InputError listing every repeat and the entry it repeats."""
    first: dict[Any, str] = {}
    problems = []
    for where, key in keyed:
        if key in first:
            problems.append(f"{where}: {key!r} repeats {first[key]}")
        else:
            first[key] = where
    raise_all(problems, f"{at}: {len(problems)} duplicate {what}(s)")


def _check_captioned(at: str, fmt: str, entries: list[Entry]) -> None:
    """Refuse images without a caption: one InputError naming each by JSON path, id and file."""
    problems = [f"{e.where} (id {e.image_id!r}, file {e.file!r}): no caption"
                + (" (no annotation has this image_id)" if fmt == COCO else "")
                for e in entries if not e.captions]
    raise_all(problems, f"{at}: {len(problems)} of {len(entries)} images have no caption")


def _check_files_exist(captions: Captions, entries: tuple[Entry, ...], root: str) -> None:
    """``os.stat`` each selected image once; one InputError naming the first few missing files."""
    present: dict[str, bool] = {}
    problems = []
    for entry in entries:
        path = os.path.join(root, entry.file)
        if path not in present:
            present[path] = os.path.isfile(path)
        if not present[path]:
            problems.append(f"{entry.where}.{captions.file_key}: {path}: no such image file (or not "
                            f"a regular file)")
    raise_all(problems, f"{captions.at}: {len(problems)} of {len(entries)} images name a missing "
                        f"image file under {root}", shown=MISSING_SHOWN)


def _paired(captions: Captions, entries: tuple[Entry, ...], root: str, table: str,
            name: str) -> dict[str, Any]:
    """One row per (image, caption) of the selected images, in file order."""
    rows = [(k, e, j) for k, e in enumerate(entries) for j in range(len(e.captions))]
    if len(rows) < 2:
        raise InputError(f"{captions.at}: expected at least 2 (image, caption) pairs, got {len(rows)}")
    images = CaptionImages(root, tuple(e.file for _, e, _ in rows),
                           tuple(e.index for _, e, _ in rows), table, captions.file_key,
                           prefix="" if captions.format == RETRIEVAL_LIST else "images")
    return {
        "images": images,
        "texts": [e.captions[j] for _, e, j in rows],
        "name": name,
        "groups": np.asarray([k for k, _, _ in rows], dtype=np.int64),
        "image_ids": [e.image_id for _, e, _ in rows],
        "text_ids": [e.caption_ids[j] for _, e, j in rows],
    }
