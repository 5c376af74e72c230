"""Specification of canaries from retrieval captions JSON: ``PairedSet.from_coco`` over COCO captions,
Karpathy splits and the retrieval list, in the COCO layout (one row per caption, groups per image),
images decoded lazily, and every bad entry named by file, format and JSON path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mmgate.errors import ConfigError, InputError
from mmgate.subjects import coco
from mmgate.subjects.coco import CaptionImages
from mmgate.subjects.items import canary_items
from mmgate.subjects.paired import PairedSet, row_slice, rows_of

Image = pytest.importorskip("PIL.Image")

COLORS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (128, 128, 128)]


def write_png(path: Path, color: tuple[int, int, int], size: tuple[int, int] = (6, 4)) -> Path:
    """A solid ``color`` RGB image of ``size`` (W, H) saved as ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)
    return path


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


COCO_IDS = [42, 7, 19]


def coco_data(n_captions: int = 5) -> dict:
    """Three images (ids 42, 7, 19) with ``n_captions`` captions each, the annotations interleaved
    across images as in the real files; caption k of image i reads ``" img{i} cap{k} "``."""
    images = [{"id": image_id, "file_name": f"{image_id:012d}.png", "height": 4, "width": 6}
              for image_id in COCO_IDS]
    annotations = [{"image_id": image_id, "id": 1000 + 10 * i + k, "caption": f" img{i} cap{k} "}
                   for k in range(n_captions) for i, image_id in enumerate(COCO_IDS)]
    return {"info": {}, "images": images, "annotations": annotations}


@pytest.fixture
def coco_dir(tmp_path: Path) -> Path:
    """``val2017/`` holding the three COCO images, colored red, green, blue in images order."""
    for image_id, color in zip(COCO_IDS, COLORS):
        write_png(tmp_path / "val2017" / f"{image_id:012d}.png", color)
    return tmp_path


def coco_file(root: Path, data: dict | None = None) -> Path:
    return write_json(root / "captions_val2017.json", coco_data() if data is None else data)


def karpathy_data() -> dict:
    """Four images over splits train, test, restval, test, in two filepath folders."""
    splits = ["train", "test", "restval", "test"]
    images = [{"filepath": f"val2014" if i % 2 else "train2014", "filename": f"im{i}.png",
               "imgid": i, "cocoid": 500 + i, "split": split,
               "sentences": [{"raw": f"k{i} s{j}\n", "sentid": 10 * i + j, "imgid": i,
                              "tokens": ["k", "s"]} for j in range(2 + i)]}
              for i, split in enumerate(splits)]
    return {"dataset": "coco", "images": images}


@pytest.fixture
def karpathy_dir(tmp_path: Path) -> Path:
    for i, color in enumerate(COLORS):
        write_png(tmp_path / "coco" / ("val2014" if i % 2 else "train2014") / f"im{i}.png", color)
    return tmp_path


def karpathy_file(root: Path, data: dict | None = None) -> Path:
    return write_json(root / "dataset_coco.json", karpathy_data() if data is None else data)


def list_data() -> list:
    return [{"image": "val2014/a.png", "caption": ["a one", " a two ", "a three"]},
            {"image": "val2014/b.png", "caption": "b only"},
            {"image": "val2014/c.png", "caption": ["c one", "c two"], "image_id": "ignored"}]


@pytest.fixture
def list_dir(tmp_path: Path) -> Path:
    for name, color in zip("abc", COLORS):
        write_png(tmp_path / "coco" / "val2014" / f"{name}.png", color)
    return tmp_path


def list_file(root: Path, data: list | None = None) -> Path:
    return write_json(root / "coco_karpathy_test.json", list_data() if data is None else data)


def corner(pixels: np.ndarray) -> tuple[int, ...]:
    return tuple(int(v) for v in pixels[0, 0])


def test_coco_captions_rows_follow_images_order_with_annotations_grouped(coco_dir: Path) -> None:
    paired = PairedSet.from_coco(coco_file(coco_dir), coco_dir / "val2017")
    assert len(paired) == 15 and paired.name == "captions_val2017"
    assert paired.texts == [f"img{i} cap{k}" for i in range(3) for k in range(5)]
    assert paired.groups.tolist() == [0] * 5 + [1] * 5 + [2] * 5
    assert paired.image_ids.tolist() == [42] * 5 + [7] * 5 + [19] * 5
    assert paired.image_ids.dtype == np.int64
    assert paired.text_ids.tolist() == [1000 + 10 * i + k for i in range(3) for k in range(5)]
    assert isinstance(paired.images, CaptionImages)
    assert paired.images.files[5] == "000000000007.png" and paired.images.rows[5] == 1
    assert [corner(paired.images[r]) for r in (0, 4, 5, 14)] == [COLORS[0], COLORS[0], COLORS[1],
                                                                 COLORS[2]]
    assert paired.images[0].dtype == np.uint8 and paired.images[0].shape == (4, 6, 3)


def test_coco_annotations_without_ids_get_position_ids(coco_dir: Path) -> None:
    data = coco_data(n_captions=2)
    for annotation in data["annotations"]:
        del annotation["id"]
    paired = PairedSet.from_coco(coco_file(coco_dir, data), coco_dir / "val2017", name="mini")
    assert paired.name == "mini"
    assert paired.text_ids.tolist() == ["0:0", "0:1", "1:0", "1:1", "2:0", "2:1"]


def test_karpathy_split_resolves_filepath_and_uses_cocoid_and_sentid(karpathy_dir: Path) -> None:
    paired = PairedSet.from_coco(karpathy_file(karpathy_dir), karpathy_dir / "coco")
    assert len(paired) == 2 + 3 + 4 + 5 and paired.name == "dataset_coco"
    assert paired.texts[:3] == ["k0 s0", "k0 s1", "k1 s0"]
    assert paired.groups.tolist() == [0] * 2 + [1] * 3 + [2] * 4 + [3] * 5
    assert paired.image_ids.tolist() == [500] * 2 + [501] * 3 + [502] * 4 + [503] * 5
    assert paired.text_ids.tolist()[:6] == [0, 1, 10, 11, 12, 20]
    assert paired.images.files[2] == str(Path("val2014/im1.png"))
    assert corner(paired.images[2]) == COLORS[1] and corner(paired.images[-1]) == COLORS[3]


def test_karpathy_ids_fall_back_to_imgid_then_the_path(karpathy_dir: Path) -> None:
    data = karpathy_data()
    for image in data["images"]:
        del image["cocoid"]
    assert PairedSet.from_coco(karpathy_file(karpathy_dir, data),
                               karpathy_dir / "coco").image_ids.tolist()[:3] == [0, 0, 1]
    for image in data["images"]:
        del image["imgid"]
        for sentence in image["sentences"]:
            del sentence["sentid"]
    paired = PairedSet.from_coco(karpathy_file(karpathy_dir, data), karpathy_dir / "coco")
    assert paired.image_ids.tolist()[:3] == [str(Path("train2014/im0.png"))] * 2 + [
        str(Path("val2014/im1.png"))]
    assert paired.text_ids.tolist()[:3] == ["0:0", "0:1", "1:0"]


def test_split_keeps_only_those_images_numbered_densely(karpathy_dir: Path) -> None:
    table = karpathy_file(karpathy_dir)
    test = PairedSet.from_coco(table, karpathy_dir / "coco", split="test")
    assert test.name == "dataset_coco-test" and len(test) == 3 + 5
    assert test.groups.tolist() == [0] * 3 + [1] * 5
    assert test.image_ids.tolist() == [501] * 3 + [503] * 5
    assert test.images.rows == (1,) * 3 + (3,) * 5
    train = PairedSet.from_coco(table, karpathy_dir / "coco", split=["train", "restval"])
    assert train.image_ids.tolist() == [500] * 2 + [502] * 4


def test_retrieval_list_takes_a_caption_or_a_list_and_uses_paths_as_ids(list_dir: Path) -> None:
    paired = PairedSet.from_coco(list_file(list_dir), list_dir / "coco")
    assert paired.texts == ["a one", "a two", "a three", "b only", "c one", "c two"]
    assert paired.groups.tolist() == [0, 0, 0, 1, 2, 2]
    assert paired.image_ids.tolist() == [str(Path("val2014/a.png"))] * 3 + [
        str(Path("val2014/b.png"))] + [str(Path("val2014/c.png"))] * 2
    assert paired.text_ids.tolist() == ["0:0", "0:1", "0:2", "1:0", "2:0", "2:1"]
    assert corner(paired.images[3]) == COLORS[1]


def test_limit_images_takes_the_first_images_with_all_their_captions(karpathy_dir: Path) -> None:
    (karpathy_dir / "coco" / "val2014" / "im3.png").unlink()
    table = karpathy_file(karpathy_dir)
    first = PairedSet.from_coco(table, karpathy_dir / "coco", limit_images=2)
    assert first.groups.tolist() == [0] * 2 + [1] * 3 and first.image_ids.tolist()[-1] == 501
    assert PairedSet.from_coco(table, karpathy_dir / "coco", split="test",
                               limit_images=1).image_ids.tolist() == [501] * 3
    with pytest.raises(InputError, match=r"1 of 4 images name a missing image file"):
        PairedSet.from_coco(table, karpathy_dir / "coco")


def test_loading_fingerprinting_and_taking_decode_nothing(coco_dir: Path, opens: list[str]) -> None:
    table = coco_file(coco_dir)
    paired = PairedSet.from_coco(table, coco_dir / "val2017")
    assert opens == []
    assert len(paired.fingerprint()) == 64 and opens == []
    assert PairedSet.from_coco(table, coco_dir / "val2017").fingerprint() == paired.fingerprint()
    taken = paired.take([14, 0])
    assert isinstance(taken.images, CaptionImages) and isinstance(rows_of(paired.images, [1]),
                                                                  CaptionImages)
    assert taken.images.rows == (2, 0) and taken.image_ids.tolist() == [19, 42] and opens == []
    batch = row_slice(paired.images, 4, 6)
    assert [corner(b) for b in batch] == [COLORS[0], COLORS[1]] and len(opens) == 2
    assert corner(taken.images[0]) == COLORS[2] and len(opens) == 3


def test_decode_errors_name_the_json_path(coco_dir: Path) -> None:
    (coco_dir / "val2017" / "000000000007.png").write_bytes(b"not an image at all")
    paired = PairedSet.from_coco(coco_file(coco_dir), coco_dir / "val2017")
    with pytest.raises(InputError, match=r"captions_val2017\.json: images\[1\]\.file_name: .*"
                                         r"000000000007\.png: cannot decode"):
        paired.images[5]
    with pytest.raises(InputError, match=r"images\[1\]\.file_name"):
        paired.take([5, 0]).images[0]
    with pytest.raises(InputError, match=r"5 of 15 images are unreadable"):
        paired.images.validate()


@pytest.mark.parametrize("fmt", ["coco", "karpathy", "list"])
def test_canary_items_count_each_image_once_and_each_caption_for_its_image(
        fmt: str, coco_dir: Path, karpathy_dir: Path, list_dir: Path) -> None:
    paired = {"coco": lambda: PairedSet.from_coco(coco_file(coco_dir), coco_dir / "val2017"),
              "karpathy": lambda: PairedSet.from_coco(karpathy_file(karpathy_dir),
                                                      karpathy_dir / "coco"),
              "list": lambda: PairedSet.from_coco(list_file(list_dir), list_dir / "coco")}[fmt]()
    n_images = int(paired.groups.max()) + 1
    items = canary_items(paired)
    assert items.images.count == n_images and items.texts.count == len(paired)
    assert items.images.labels.tolist() == list(range(n_images))
    assert items.texts.labels[items.texts.of_row].tolist() == paired.groups.tolist()
    assert items.images.of_row.tolist() == paired.groups.tolist()
    assert not items.one_to_one and items.incomplete_components == 0


def test_equal_captions_of_different_images_stay_separate_texts(coco_dir: Path) -> None:
    data = coco_data(n_captions=2)
    for annotation in data["annotations"]:
        annotation["caption"] = "a photo"
    items = canary_items(PairedSet.from_coco(coco_file(coco_dir, data), coco_dir / "val2017"))
    assert items.texts.count == 6 and items.texts.labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert items.incomplete_components == 0


# --- bad input, each named by file, format and JSON path -----------------------------------------


def coco_with(change) -> dict:
    data = coco_data(n_captions=2)
    change(data)
    return data


def _set(path: list, value: Any):
    def change(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


@pytest.mark.parametrize("change, message", [
    (_set(["annotations", 4, "image_id"], 99),
     r"annotations\[4\]\.image_id: 99 is not the id of any entry of 'images'"),
    (_set(["annotations", 3, "caption"], "   "),
     r"annotations\[3\]\.caption: expected a non-empty caption, got '   '"),
    (_set(["annotations", 2, "caption"], ["two", "captions"]),
     r"annotations\[2\]\.caption: expected a caption string, got array \['two', 'captions'\]"),
    (_set(["annotations", 1, "caption"], 5), r"annotations\[1\]\.caption: expected a caption string, "
                                             r"got number 5"),
    (_set(["images", 2, "id"], 42),
     r"1 duplicate image id\(s\):\n  images\[2\]\.id: 42 repeats images\[0\]\.id"),
    (_set(["annotations", 5, "id"], 1000),
     r"1 duplicate annotation id\(s\):\n  annotations\[5\]\.id: 1000 repeats annotations\[0\]\.id"),
    (_set(["images", 1, "id"], "7"), r"images\[1\]\.id: expected an integer id, got string '7'"),
    (_set(["images", 1, "file_name"], ""), r"images\[1\]\.file_name: expected a non-empty image path"),
    (_set(["images", 1, "file_name"], "/etc/passwd"), r"images\[1\]\.file_name: '/etc/passwd' is "
                                                      r"absolute"),
    (_set(["images", 1, "file_name"], "../x.png"), r"images\[1\]\.file_name: '\.\./x\.png' escapes "
                                                   r"image_dir"),
    (lambda d: d["images"][1].pop("file_name"),
     r"images\[1\]: missing key 'file_name'; the entry has \['height', 'id', 'width'\]"),
    (lambda d: d["annotations"][3].pop("id"), r"annotations\[3\]: missing key 'id'"),
    (_set(["annotations", 2], "caption"), r"annotations\[2\]: expected a JSON object, got string"),
    (_set(["annotations"], {}), r"annotations: expected a JSON array, got object"),
    (lambda d: d["images"].append({"id": 5, "file_name": "five.png"}),
     r"1 of 4 images have no caption:\n  images\[3\] \(id 5, file 'five\.png'\): no caption"),
])
def test_bad_coco_entries_are_named_by_json_path(coco_dir: Path, change, message: str) -> None:
    table = coco_file(coco_dir, coco_with(change))
    with pytest.raises(InputError, match=r"captions_val2017\.json \(COCO captions\): " + message):
        PairedSet.from_coco(table, coco_dir / "val2017")


def karpathy_with(change) -> dict:
    data = karpathy_data()
    change(data)
    return data


@pytest.mark.parametrize("change, message", [
    (_set(["images", 1, "sentences", 2, "raw"], None),
     r"images\[1\]\.sentences\[2\]\.raw: expected a caption string, got null None"),
    (_set(["images", 2, "sentences", 0, "raw"], "\n"),
     r"images\[2\]\.sentences\[0\]\.raw: expected a non-empty caption"),
    (_set(["images", 3, "sentences"], []), r"1 of 4 images have no caption:\n  images\[3\] \(id 503, "
                                           r"file '.*im3\.png'\): no caption"),
    (_set(["images", 3, "cocoid"], 501),
     r"1 duplicate image id\(s\):\n  images\[3\]\.cocoid: 501 repeats images\[1\]\.cocoid"),
    (_set(["images", 3, "sentences", 0, "sentid"], 0),
     r"1 duplicate sentence id\(s\):\n  images\[3\]\.sentences\[0\]\.sentid: 0 repeats "
     r"images\[0\]\.sentences\[0\]\.sentid"),
    (lambda d: d["images"][2].pop("cocoid"), r"images\[2\]: missing key 'cocoid'"),
    (_set(["images", 1, "filepath"], 3), r"images\[1\]\.filepath: expected a folder name string"),
    (_set(["images", 1, "filepath"], ".."), r"images\[1\]\.filename: '\.\./im1\.png' escapes"),
])
def test_bad_karpathy_entries_are_named_by_json_path(karpathy_dir: Path, change, message: str) -> None:
    table = karpathy_file(karpathy_dir, karpathy_with(change))
    with pytest.raises(InputError, match=r"dataset_coco\.json \(Karpathy split\): " + message):
        PairedSet.from_coco(table, karpathy_dir / "coco")


@pytest.mark.parametrize("data, message", [
    ([{"image": "val2014/a.png", "caption": ["ok", 7]}],
     r"\[0\]\.caption\[1\]: expected a caption string, got number 7"),
    ([{"image": "val2014/a.png", "caption": "ok"}, {"image": "val2014/b.png", "caption": " "}],
     r"\[1\]\.caption: expected a non-empty caption"),
    ([{"image": "val2014/a.png", "caption": {"en": "x"}}],
     r"\[0\]\.caption: expected a caption string or a list of caption strings, got object"),
    ([{"image": "val2014/a.png", "caption": []}, {"image": "val2014/b.png", "caption": "b"}],
     r"1 of 2 images have no caption:\n  \[0\] \(id '.*a\.png', file '.*a\.png'\): no caption"),
    ([{"image": "val2014/a.png", "caption": "x"}, {"image": "./val2014/a.png", "caption": "y"}],
     r"1 duplicate image id\(s\):\n  \[1\]\.image: '.*a\.png' repeats \[0\]\.image"),
    ([{"file": "val2014/a.png", "caption": "x"}], r"\[0\]: missing key 'image'; the entry has "
                                                  r"\['caption', 'file'\]"),
    (["val2014/a.png"], r"\[0\]: expected a JSON object, got string"),
    ([{"image": "val2014/a.png", "caption": "only one"}],
     r"expected at least 2 \(image, caption\) pairs, got 1"),
])
def test_bad_retrieval_list_entries_are_named_by_json_path(list_dir: Path, data: list,
                                                           message: str) -> None:
    with pytest.raises(InputError, match=r"coco_karpathy_test\.json \(retrieval list\): " + message):
        PairedSet.from_coco(list_file(list_dir, data), list_dir / "coco")


def test_missing_and_unparsable_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.json: captions file not found"):
        PairedSet.from_coco(tmp_path / "nope.json", tmp_path)
    (tmp_path / "broken.json").write_text('{"images": [\n  {"id": 1,}\n]}', encoding="utf-8")
    with pytest.raises(InputError, match=r"broken\.json: not valid JSON: .* at line 2, column 12"):
        PairedSet.from_coco(tmp_path / "broken.json", tmp_path)
    (tmp_path / "bin.json").write_bytes(b'{"images": "\xff\xfe"}')
    with pytest.raises(InputError, match=r"bin\.json: cannot read the captions file as UTF-8"):
        PairedSet.from_coco(tmp_path / "bin.json", tmp_path)


@pytest.mark.parametrize("data, seen", [
    ({"images": [{"id": 1, "file_name": "a.png"}]},
     r"an object with keys \['images'\], images\[0\] with keys \['file_name', 'id'\]"),
    ({"image_paths": ["a.png"], "annotations": ["x"]}, r"an object with keys \['annotations', "
                                                       r"'image_paths'\]"),
    ("just a string", r"the document is a JSON string"),
])
def test_unknown_structure_names_what_each_format_expects(tmp_path: Path, data: Any, seen: str) -> None:
    with pytest.raises(InputError, match=(
            r"odd\.json: unknown captions format \(" + seen + r"\); expected one of:\n"
            r"  COCO captions: an object with 'images' \[\{'id', 'file_name'\}\] and 'annotations'"
            r".*\n  Karpathy split: .*'sentences' \[\{'raw', 'sentid'\}\].*\n"
            r"  retrieval list: an array of \{'image', 'caption'")):
        PairedSet.from_coco(write_json(tmp_path / "odd.json", data), tmp_path)


def test_missing_image_files_are_counted_and_the_first_few_named(tmp_path: Path) -> None:
    data = [{"image": f"img/{i:02d}.png", "caption": f"c{i}"} for i in range(14)]
    write_png(tmp_path / "img" / "03.png", COLORS[0])
    table = write_json(tmp_path / "list.json", data)
    with pytest.raises(InputError) as caught:
        PairedSet.from_coco(table, tmp_path)
    message = str(caught.value)
    assert "list.json (retrieval list): 13 of 14 images name a missing image file under" in message
    assert "\n  [0].image: " in message and "00.png: no such image file" in message
    assert "[3].image" not in message and "[10].image" in message and "[11].image" not in message
    assert message.endswith("... and 3 more")
    assert coco.MISSING_SHOWN == 10


def test_missing_image_folder_is_named(coco_dir: Path) -> None:
    with pytest.raises(InputError, match=r"\(COCO captions\): image folder '.*nowhere' not found"):
        PairedSet.from_coco(coco_file(coco_dir), coco_dir / "nowhere")


def test_split_matching_no_image_lists_the_splits_present(karpathy_dir: Path) -> None:
    table = karpathy_file(karpathy_dir)
    with pytest.raises(ConfigError, match=r"\(Karpathy split\): split \['val'\] matches no image; "
                                          r"the splits present are \['restval', 'test', 'train'\]"):
        PairedSet.from_coco(table, karpathy_dir / "coco", split="val")
    with pytest.raises(ConfigError, match=r"split \['tset'\] matches no image"):
        PairedSet.from_coco(table, karpathy_dir / "coco", split=("test", "tset"))
    data = karpathy_data()
    del data["images"][2]["split"]
    with pytest.raises(InputError, match=r"images\[2\]: missing key 'split' \(needed by "
                                         r"split=\['test'\]\)"):
        PairedSet.from_coco(karpathy_file(karpathy_dir, data), karpathy_dir / "coco", split="test")
    assert len(PairedSet.from_coco(karpathy_file(karpathy_dir, data), karpathy_dir / "coco")) == 14


def test_split_applies_to_the_karpathy_format_only(coco_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"\(COCO captions\): split=\['test'\] applies to the "
                                          r"Karpathy split format only"):
        PairedSet.from_coco(coco_file(coco_dir), coco_dir / "val2017", split="test")


@pytest.mark.parametrize("kwargs, message", [
    ({"limit_images": 0}, r"limit_images: expected a positive integer or None, got 0"),
    ({"limit_images": True}, r"limit_images: expected a positive integer or None, got True"),
    ({"limit_images": 2.0}, r"limit_images: expected a positive integer"),
    ({"split": ""}, r"split: expected a split name or a non-empty sequence"),
    ({"split": []}, r"split: expected a split name or a non-empty sequence"),
    ({"split": ["test", 3]}, r"split: expected a split name"),
])
def test_bad_arguments_are_config_errors(coco_dir: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PairedSet.from_coco(coco_file(coco_dir), coco_dir / "val2017", **kwargs)
