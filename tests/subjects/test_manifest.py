"""Specification of canaries from files: ``PairedSet.from_manifest`` over CSV and JSONL tables, lazy
``ImageFiles`` decoding, byte fingerprints, groups, and every bad input named by file, row and column."""

from __future__ import annotations

import ast
import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from mmgate.errors import ConfigError, InputError
from mmgate.subjects import lazy_images
from mmgate.subjects.lazy_images import ImageFiles
from mmgate.subjects.paired import PairedSet, row_slice, rows_of

Image = pytest.importorskip("PIL.Image")

COLORS = {"red.png": (255, 0, 0), "green.png": (0, 255, 0), "blue.png": (0, 0, 255),
          "gray.png": (128, 128, 128)}


def write_png(path: Path, color: tuple[int, int, int], size: tuple[int, int] = (6, 4),
              mode: str = "RGB") -> Path:
    """A solid ``color`` image of ``size`` (W, H) saved as ``path`` in ``mode``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).convert(mode).save(path)
    return path


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def images_dir(tmp_path: Path) -> Path:
    for name, color in COLORS.items():
        write_png(tmp_path / "img" / name, color)
    return tmp_path


def simple_csv(root: Path) -> Path:
    return write_csv(root / "canary.csv", ["image", "caption"], [
        ["img/red.png", "a red square"], ["img/green.png", "a green square"],
        ["img/blue.png", "a blue square"]])


def test_csv_manifest_pairs_rows_and_decodes_rgb_uint8(images_dir: Path) -> None:
    paired = PairedSet.from_manifest(simple_csv(images_dir))
    assert len(paired) == 3 and paired.name == "canary" and paired.groups is None
    assert paired.texts == ["a red square", "a green square", "a blue square"]
    first = paired.images[0]
    assert first.dtype == np.uint8 and first.shape == (4, 6, 3) and first.flags.writeable
    assert tuple(first[0, 0]) == (255, 0, 0) and tuple(paired.images[-1][0, 0]) == (0, 0, 255)


def test_jsonl_manifest_reads_factors_confounders_and_custom_columns(images_dir: Path) -> None:
    table = write_jsonl(images_dir / "set.jsonl", [
        {"file": "img/red.png", "text": "red", "hue": 0, "site": "1"},
        {"file": "./img/green.png", "text": "green", "hue": 1, "site": "2"},
        {"file": "img/../img/blue.png", "text": "blue", "hue": 2, "site": "-1"}])
    paired = PairedSet.from_manifest(table, image_column="file", text_column="text",
                                     factor_columns=["hue"], confounder_columns=["site"], name="n")
    assert paired.name == "n" and paired.images.files[2] == str(Path("img/blue.png"))
    assert paired.factors["hue"].tolist() == [0, 1, 2]
    assert paired.confounders["site"].tolist() == [1, 2, -1]


def test_coco_style_string_ids_become_groups_by_first_appearance(images_dir: Path) -> None:
    rows = [[f"img/{name}", f"caption {k} of {name}", f"COCO_{900 - i}"]
            for i, name in enumerate(["green.png", "red.png"]) for k in range(5)]
    paired = PairedSet.from_manifest(write_csv(images_dir / "coco.csv", ["image", "caption", "id"], rows),
                                     group_column="id")
    assert paired.groups.tolist() == [0] * 5 + [1] * 5
    assert paired.groups.dtype == np.int64 and not paired.groups.flags.writeable


def test_integer_class_labels_are_kept_as_groups(images_dir: Path) -> None:
    table = write_jsonl(images_dir / "cls.jsonl", [
        {"image": f"img/{n}", "caption": n, "label": lab}
        for n, lab in zip(COLORS, [7, 3, 7, 3])])
    assert PairedSet.from_manifest(table, group_column="label").groups.tolist() == [7, 3, 7, 3]


def test_building_and_slicing_decodes_only_the_batch(images_dir: Path, opens: list[str]) -> None:
    paired = PairedSet.from_manifest(simple_csv(images_dir))
    assert opens == []
    batch = row_slice(paired.images, 1, 3)
    assert [tuple(b[0, 0]) for b in batch] == [(0, 255, 0), (0, 0, 255)] and len(opens) == 2
    assert [tuple(b[0, 0]) for b in paired.images[0:1]] == [(255, 0, 0)] and len(opens) == 3
    assert len(paired.images[[2, 0]]) == 2 and len(opens) == 5


def test_take_and_rows_of_stay_lazy(images_dir: Path, opens: list[str]) -> None:
    paired = PairedSet.from_manifest(simple_csv(images_dir))
    taken = paired.take([2, 2, 0])
    assert isinstance(taken.images, ImageFiles) and isinstance(rows_of(paired.images, [1]), ImageFiles)
    assert taken.images.rows == (3, 3, 1) and opens == []
    assert tuple(taken.images[0][0, 0]) == (0, 0, 255)


def test_fingerprint_hashes_bytes_without_decoding_and_tracks_changes(images_dir: Path,
                                                                      opens: list[str]) -> None:
    table = simple_csv(images_dir)
    paired = PairedSet.from_manifest(table)
    before = paired.fingerprint()
    assert opens == [] and PairedSet.from_manifest(table).fingerprint() == before
    write_png(images_dir / "img" / "green.png", (0, 254, 0), size=(7, 4))
    assert paired.fingerprint() != before
    assert PairedSet.from_manifest(table).fingerprint() == paired.fingerprint()


def test_fingerprint_hashes_each_distinct_file_once(images_dir: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    hashed: list[str] = []
    real = lazy_images.file_digest
    monkeypatch.setattr(lazy_images, "file_digest", lambda p: hashed.append(p) or real(p))
    paired = PairedSet.from_manifest(simple_csv(images_dir)).take([0, 1, 0, 1, 2])
    paired.fingerprint()
    paired.fingerprint()
    assert len(hashed) == 3


def test_groups_enter_the_fingerprint_and_are_validated(images_dir: Path) -> None:
    images = np.zeros((3, 2, 2))
    plain = PairedSet(images, ["a", "b", "c"])
    grouped = PairedSet(images, ["a", "b", "c"], groups=[0, 0, 1])
    assert plain.fingerprint() != grouped.fingerprint()
    assert grouped.take([2, 0]).groups.tolist() == [1, 0]
    with pytest.raises(InputError, match="PairedSet.groups"):
        PairedSet(images, ["a", "b", "c"], groups=[0.5, 1, 2])
    with pytest.raises(InputError, match="length 3"):
        PairedSet(images, ["a", "b", "c"], groups=[0, 1])


def test_twenty_thousand_rows_build_without_decoding(images_dir: Path, opens: list[str]) -> None:
    names = list(COLORS)
    rows = [[f"img/{names[i % 4]}", f"caption {i}", i // 5] for i in range(20_000)]
    paired = PairedSet.from_manifest(write_csv(images_dir / "big.csv", ["image", "caption", "g"], rows),
                                     group_column="g")
    assert len(paired) == 20_000 and paired.groups[-1] == 3999 and opens == []
    assert len(paired.fingerprint()) == 64 and opens == []
    assert len(row_slice(paired.images, 19_990, 20_000)) == 10 and len(opens) == 10


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "LA", "1"])
def test_eight_bit_modes_are_converted_to_rgb(tmp_path: Path, mode: str) -> None:
    write_png(tmp_path / "a.png", (200, 200, 200), mode=mode)
    write_png(tmp_path / "b.png", (0, 0, 0), mode=mode)
    table = write_csv(tmp_path / "m.csv", ["image", "caption"], [["a.png", "x"], ["b.png", "y"]])
    decoded = PairedSet.from_manifest(table).images[0]
    assert decoded.shape == (4, 6, 3) and decoded.dtype == np.uint8


def test_sixteen_bit_and_cmyk_images_are_refused_naming_row(tmp_path: Path) -> None:
    Image.fromarray(np.full((4, 6), 40000, dtype=np.uint16)).save(tmp_path / "deep.png")
    Image.new("CMYK", (6, 4)).save(tmp_path / "ink.jpg")
    write_png(tmp_path / "ok.png", (1, 2, 3))
    table = write_csv(tmp_path / "m.csv", ["image", "caption"],
                      [["ok.png", "x"], ["deep.png", "y"], ["ink.jpg", "z"]])
    paired = PairedSet.from_manifest(table)
    with pytest.raises(InputError, match=r"m\.csv: row 2, column 'image'.*deep\.png.*mode 'I;16"):
        paired.images[1]
    with pytest.raises(InputError, match=r"row 3, column .image.: .*ink\.jpg.*mode 'CMYK'"):
        paired.images[2]
    with pytest.raises(InputError, match=r"2 of 3 images are unreadable(.|\n)*deep(.|\n)*ink"):
        paired.images.validate()


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_images_fail_at_decode_and_in_validate(tmp_path: Path, damage: str) -> None:
    write_png(tmp_path / "ok.png", (1, 2, 3))
    bad = write_png(tmp_path / "bad.png", (9, 9, 9), size=(64, 64))
    data = bad.read_bytes()
    bad.write_bytes(b"not an image at all" if damage == "garbage" else data[: len(data) // 2])
    table = write_csv(tmp_path / "m.csv", ["image", "caption"], [["ok.png", "x"], ["bad.png", "y"]])
    paired = PairedSet.from_manifest(table)
    assert paired.images[0].shape == (4, 6, 3)
    with pytest.raises(InputError, match=r"m\.csv: row 2, column 'image'.*bad\.png.*cannot decode"):
        paired.images[1]
    with pytest.raises(InputError, match=r"1 of 2 images are unreadable(.|\n)*row 2"):
        paired.images.validate()


def test_validate_passes_on_good_images(images_dir: Path) -> None:
    PairedSet.from_manifest(simple_csv(images_dir)).images.validate()


def test_missing_table_and_unsupported_extension(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.csv: manifest not found"):
        PairedSet.from_manifest(tmp_path / "nope.csv")
    (tmp_path / "t.tsv").write_text("image\tcaption\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"t\.tsv: unsupported manifest format '\.tsv'.*\.csv"):
        PairedSet.from_manifest(tmp_path / "t.tsv")


def test_missing_columns_are_named_with_the_header(images_dir: Path) -> None:
    table = simple_csv(images_dir)
    with pytest.raises(ConfigError, match=r"missing column\(s\) \['label', 'hue'\]; the header has "
                                          r"\['image', 'caption'\]"):
        PairedSet.from_manifest(table, group_column="label", factor_columns=["hue"])
    jsonl = write_jsonl(images_dir / "j.jsonl", [{"image": "img/red.png", "caption": "r"},
                                                 {"image": "img/blue.png"}])
    with pytest.raises(ConfigError, match=r"j\.jsonl: row 2 \(line 2\): missing column\(s\) "
                                          r"\['caption'\]; the row has \['image'\]"):
        PairedSet.from_manifest(jsonl)


def test_repeated_column_roles_are_a_config_error(images_dir: Path) -> None:
    with pytest.raises(ConfigError, match="one role"):
        PairedSet.from_manifest(simple_csv(images_dir), factor_columns=["caption"])


@pytest.mark.parametrize("rows, message", [
    ([["img/red.png", "ok"], ["img/blue.png", "  "]], r"row 2 \(line 3\), column 'caption': expected a non-empty caption"),
    ([["img/red.png", "ok"], ["", "x"]], r"row 2 \(line 3\), column 'image': expected a non-empty image path"),
    ([["img/red.png", "ok"], ["/etc/passwd", "x"]], r"row 2 \(line 3\), column 'image': '/etc/passwd' is absolute"),
    ([["img/red.png", "ok"], ["img/../../x.png", "x"]], r"row 2 \(line 3\), column 'image': 'img/\.\./\.\./x\.png' escapes"),
    ([["img/red.png", "ok"], ["img/red.png", "other"], ["./img/red.png", "ok"]],
     r"1 duplicate row\(s\)(.|\n)*row 3 \(line 4\) repeats row 1 \(line 2\)"),
    ([["img/red.png", "ok"], ["img/none.png", "x"], ["img/gone.png", "y"]],
     (r"2 of 3 rows name a missing image file(.|\n)*row 2, column 'image': .*none\.png: no such image"
      r"(.|\n)*row 3, column 'image'.*gone\.png")),
    ([["img/red.png", "ok"]], r"expected at least 2 data rows, got 1"),
    ([["img/red.png", "ok"], ["img/blue.png"]], r"row 2 \(line 3\): expected 2 fields"),
])
def test_bad_rows_are_named_by_file_row_and_column(images_dir: Path, rows, message) -> None:
    table = write_csv(images_dir / "bad.csv", ["image", "caption"], rows)
    with pytest.raises(InputError, match=r"bad\.csv(: |.*)" + message):
        PairedSet.from_manifest(table)


@pytest.mark.parametrize("column, value, message", [
    ("hue", "x", r"row 2 \(line 3\), column 'hue': expected an integer label, got 'x'"),
    ("hue", "1.5", r"row 2 \(line 3\), column 'hue': expected an integer label, got '1\.5'"),
    ("grp", "", r"row 2 \(line 3\), column 'grp': expected an integer or a non-empty string group"),
])
def test_bad_label_values_are_named(images_dir: Path, column: str, value: str, message: str) -> None:
    good = {"hue": "0", "grp": "a"}
    bad = {**good, column: value}
    table = write_csv(images_dir / "lab.csv", ["image", "caption", "hue", "grp"], [
        ["img/red.png", "r", *good.values()], ["img/blue.png", "b", *bad.values()]])
    with pytest.raises(InputError, match=r"lab\.csv: " + message):
        PairedSet.from_manifest(table, group_column="grp", factor_columns=["hue"])


def test_undecodable_table_is_named(tmp_path: Path) -> None:
    (tmp_path / "bin.csv").write_bytes(b"image,caption\n\xff\xfe\x00,x\n")
    with pytest.raises(InputError, match=r"bin\.csv: cannot read the table as UTF-8 CSV"):
        PairedSet.from_manifest(tmp_path / "bin.csv")


def test_jsonl_bad_lines_are_named(images_dir: Path) -> None:
    table = images_dir / "broken.jsonl"
    table.write_text('{"image": "img/red.png", "caption": "r"}\n\n{"image": \n', encoding="utf-8")
    with pytest.raises(InputError, match=r"broken\.jsonl: row 2 \(line 3\): invalid JSON"):
        PairedSet.from_manifest(table)
    table.write_text('{"image": "img/red.png", "caption": "r"}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"row 2 \(line 2\): expected a JSON object, got list"):
        PairedSet.from_manifest(table)
    table.write_text('{"image": "img/red.png", "caption": "r", "g": 1}\n'
                     '{"image": "img/blue.png", "caption": "b", "g": 1.0}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"row 2 \(line 2\), column 'g': expected an integer or"):
        PairedSet.from_manifest(table, group_column="g")


def test_missing_pillow_names_the_extra(images_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paired = PairedSet.from_manifest(simple_csv(images_dir))
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ConfigError, match=r"mmgate\[images\].*Pillow"):
        paired.images[0]


def test_pillow_is_imported_only_inside_functions() -> None:
    for module in (lazy_images, sys.modules["mmgate.subjects.paired"]):
        tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
        top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        names = [a.name for n in top for a in n.names] + [n.module or "" for n in top
                                                           if isinstance(n, ast.ImportFrom)]
        assert not any(name.split(".")[0] == "PIL" for name in names)
