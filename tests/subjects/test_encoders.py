"""Specification of the subject contract: DualEncoder, PairedSet, Subject and subject factories."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmgate.errors import ConfigError, InputError, MmgateError
from mmgate.subjects.encoder import DualEncoder
from mmgate.subjects.paired import PairedSet
from mmgate.subjects.subject import (
    Subject,
    SubjectError,
    build_subject,
    declared_temperature,
    load_subject_factory,
    make_subject,
)


class RowEncoder:
    """Embeds item i as a fixed vector; enough to satisfy the protocol."""

    def embed_images(self, batch):
        return np.ones((len(batch), 3))

    def embed_texts(self, batch):
        return np.ones((len(batch), 3))


class NamedEncoder(RowEncoder):
    def identity(self):
        return {"name": "clip-small", "version": "1.2", "weights_sha256": "ab" * 32}


def images(n: int) -> np.ndarray:
    return np.arange(n * 4, dtype=np.float32).reshape(n, 2, 2)


def texts(n: int) -> list[str]:
    return [f"caption {i}" for i in range(n)]


# PairedSet -----------------------------------------------------------------------------------

def test_a_paired_set_holds_numpy_images_and_string_texts() -> None:
    ps = PairedSet(images(5), texts(5), factors={"shape": [0, 1, 0, 1, 2]})
    assert len(ps) == 5 and ps.name == "canary"
    assert ps.factors["shape"].dtype == np.int64 and ps.confounders == {}


def test_a_paired_set_accepts_lists_of_paths_and_tuples() -> None:
    paths = [Path(f"img{i}.png") for i in range(3)]
    ps = PairedSet(paths, ("a", "b", "c"))
    assert len(ps) == 3
    # the items are kept as given (paths are not opened, the tuple is not converted) ...
    assert ps.images == paths and ps.texts == ("a", "b", "c")
    assert ps.factors == {} and ps.confounders == {} and ps.groups is None
    # ... and row i of one still goes with row i of the other
    sub = ps.take([2, 0])
    assert sub.images == [Path("img2.png"), Path("img0.png")] and list(sub.texts) == ["c", "a"]


def test_mismatched_lengths_are_rejected_naming_both() -> None:
    with pytest.raises(InputError, match="4 images and 3 texts"):
        PairedSet(images(4), texts(3))


def test_fewer_than_two_pairs_are_rejected() -> None:
    with pytest.raises(InputError, match="at least 2 pairs, got 1"):
        PairedSet(images(1), texts(1))


@pytest.mark.parametrize("items", ["one string", {"a": 1}, 7, np.float64(1.0), {1, 2}])
def test_items_must_be_a_row_indexed_sequence(items: object) -> None:
    with pytest.raises(InputError, match="PairedSet.texts"):
        PairedSet(images(3), items)


@pytest.mark.parametrize("labels, problem", [
    ({"shape": [0, 1]}, "length 3"),
    ({"shape": [0.0, 1.0, 2.0]}, "dtype float64"),
    ({"shape": [[0], [1], [2]]}, r"shape \(3, 1\)"),
    ({"shape": [True, False, True]}, "dtype bool"),
])
def test_label_arrays_must_be_1d_integer_of_length_n_naming_the_factor(labels, problem) -> None:
    with pytest.raises(InputError, match=rf"factors\['shape'\].*{problem}"):
        PairedSet(images(3), texts(3), factors=labels)


def test_confounder_labels_are_validated_by_name_too() -> None:
    with pytest.raises(InputError, match=r"confounders\['parity'\]"):
        PairedSet(images(3), texts(3), confounders={"parity": [0, 1]})


def test_label_and_set_names_must_be_non_empty() -> None:
    with pytest.raises(InputError, match="factors"):
        PairedSet(images(3), texts(3), factors={"": [0, 1, 2]})
    with pytest.raises(InputError, match="PairedSet.name"):
        PairedSet(images(3), texts(3), name="")


def test_labels_are_copied_and_read_only() -> None:
    source = np.array([0, 1, 2])
    ps = PairedSet(images(3), texts(3), factors={"shape": source})
    source[0] = 9
    assert ps.factors["shape"][0] == 0
    with pytest.raises(ValueError):
        ps.factors["shape"][0] = 5


def test_take_preserves_pairing_for_arrays_lists_and_labels() -> None:
    n = 6
    ps = PairedSet(images(n), texts(n), factors={"f": np.arange(n) * 10},
                   confounders={"c": np.arange(n) % 2}, name="held")
    sub = ps.take([4, 1, 4])
    assert len(sub) == 3 and sub.name == "held"
    np.testing.assert_array_equal(sub.images, images(n)[[4, 1, 4]])
    assert sub.texts == ["caption 4", "caption 1", "caption 4"]
    np.testing.assert_array_equal(sub.factors["f"], [40, 10, 40])
    np.testing.assert_array_equal(sub.confounders["c"], [0, 1, 0])


def test_take_slices_tuples_and_other_sequences_into_lists() -> None:
    ps = PairedSet(range(5), tuple("abcde"))
    sub = ps.take(np.array([3, 0]))
    assert sub.images == [3, 0] and sub.texts == ["d", "a"]


@pytest.mark.parametrize("indices, problem", [([0, 7], r"\[0, 4\)"), ([-1, 0], r"\[0, 4\)"),
                                              ([0.0, 1.0], "integer"), ([[0, 1]], "1-D")])
def test_take_rejects_bad_indices(indices, problem) -> None:
    with pytest.raises(InputError, match=problem):
        PairedSet(images(4), texts(4)).take(indices)


def test_the_fingerprint_depends_on_content_not_on_the_name() -> None:
    a = PairedSet(images(4), texts(4), factors={"f": [0, 1, 0, 1]}, name="a")
    b = PairedSet(images(4).copy(), list(texts(4)), factors={"f": [0, 1, 0, 1]}, name="b")
    assert a.fingerprint() == b.fingerprint()
    assert len(a.fingerprint()) == 64


@pytest.mark.parametrize("other", [
    lambda: PairedSet(images(4) + 1, texts(4), factors={"f": [0, 1, 0, 1]}),
    lambda: PairedSet(images(4).astype(np.float64), texts(4), factors={"f": [0, 1, 0, 1]}),
    lambda: PairedSet(images(4).reshape(4, 4), texts(4), factors={"f": [0, 1, 0, 1]}),
    lambda: PairedSet(images(4), texts(3) + ["other"], factors={"f": [0, 1, 0, 1]}),
    lambda: PairedSet(images(4), texts(4), factors={"f": [0, 1, 1, 1]}),
    lambda: PairedSet(images(4), texts(4), factors={"g": [0, 1, 0, 1]}),
    lambda: PairedSet(images(4), texts(4), confounders={"f": [0, 1, 0, 1]}),
    lambda: PairedSet(images(4), texts(4)),
])
def test_the_fingerprint_changes_with_pixels_dtype_shape_texts_or_labels(other) -> None:
    base = PairedSet(images(4), texts(4), factors={"f": [0, 1, 0, 1]})
    assert other().fingerprint() != base.fingerprint()


def test_the_fingerprint_frames_strings_so_boundaries_matter() -> None:
    a = PairedSet(images(2), ["ab", "c"])
    b = PairedSet(images(2), ["a", "bc"])
    assert a.fingerprint() != b.fingerprint()


def test_paths_fingerprint_as_their_strings_but_differ_from_plain_strings() -> None:
    a = PairedSet([Path("x.png"), Path("y.png")], texts(2))
    b = PairedSet([Path("x.png"), Path("y.png")], texts(2))
    c = PairedSet(["x.png", "y.png"], texts(2))
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()


def test_object_arrays_fingerprint_by_value_not_by_pointer() -> None:
    a = np.array(["p", "q"], dtype=object)
    b = np.array(["".join(["p"]), "".join(["q"])], dtype=object)
    assert PairedSet(a, texts(2)).fingerprint() == PairedSet(b, texts(2)).fingerprint()


def test_unfingerprintable_items_are_an_error_naming_the_row() -> None:
    ps = PairedSet([object(), object()], texts(2))
    with pytest.raises(InputError, match=r"canary.images\[0\].*object"):
        ps.fingerprint()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(max_size=8), min_size=2, max_size=12), st.data())
def test_take_of_a_permutation_keeps_each_text_with_its_image(words, data) -> None:
    n = len(words)
    ps = PairedSet(np.arange(n), words, factors={"row": np.arange(n)})
    perm = data.draw(st.permutations(range(n)))
    sub = ps.take(perm)
    for img, txt, row in zip(sub.images, sub.texts, sub.factors["row"]):
        assert words[img] == txt and img == row


# Subject -------------------------------------------------------------------------------------

def test_an_encoder_with_both_methods_is_a_dual_encoder() -> None:
    assert isinstance(RowEncoder(), DualEncoder)
    assert not isinstance(object(), DualEncoder)


def test_a_subject_is_frozen() -> None:
    s = Subject("m", RowEncoder(), PairedSet(images(2), texts(2)))
    with pytest.raises(AttributeError):
        s.name = "other"


def test_a_subject_needs_both_encoder_methods() -> None:
    class HalfEncoder:
        def embed_images(self, batch):
            return np.ones((len(batch), 3))

    with pytest.raises(SubjectError, match="HalfEncoder lacks callable embed_texts"):
        Subject("m", HalfEncoder(), PairedSet(images(2), texts(2)))


def test_a_subject_needs_a_paired_set_and_a_name() -> None:
    with pytest.raises(SubjectError, match="Subject.canary"):
        Subject("m", RowEncoder(), (images(2), texts(2)))
    with pytest.raises(SubjectError, match="Subject.name"):
        Subject("", RowEncoder(), PairedSet(images(2), texts(2)))


def test_training_pairs_are_optional_but_must_be_a_paired_set() -> None:
    assert Subject("m", RowEncoder(), PairedSet(images(2), texts(2))).training is None
    training = PairedSet(images(3), texts(3), name="train")
    assert Subject("m", RowEncoder(), PairedSet(images(2), texts(2)), training).training is training
    with pytest.raises(SubjectError, match="Subject.training: expected a PairedSet"):
        Subject("m", RowEncoder(), PairedSet(images(2), texts(2)), (images(3), texts(3)))


def test_the_scoring_temperature_is_what_the_encoder_declares() -> None:
    class Tempered(RowEncoder):
        temperature = 0.07

    canary = PairedSet(images(2), texts(2))
    assert declared_temperature(Subject("m", Tempered(), canary)) == 0.07
    assert declared_temperature(Subject("m", RowEncoder(), canary)) is None


@pytest.mark.parametrize("value", [0.0, -1.0, float("nan"), True, "0.1"])
def test_a_declared_temperature_must_be_a_positive_number(value: object) -> None:
    encoder = RowEncoder()
    encoder.temperature = value
    with pytest.raises(SubjectError, match="encoder.temperature: expected a finite number > 0"):
        declared_temperature(Subject("m", encoder, PairedSet(images(2), texts(2))))


def test_identity_comes_from_the_encoder_when_it_has_one() -> None:
    s = Subject("m", NamedEncoder(), PairedSet(images(2), texts(2)))
    assert s.identity()["name"] == "clip-small"


def test_identity_defaults_to_the_encoder_type_name() -> None:
    s = Subject("m", RowEncoder(), PairedSet(images(2), texts(2)))
    assert s.identity() == {"name": "RowEncoder"}


@pytest.mark.parametrize("returned", [["a"], {"w": np.zeros(2)}, {1: "x"}, {"x": float("nan")}])
def test_identity_must_be_a_json_ready_dict(returned) -> None:
    class Odd(RowEncoder):
        def identity(self):
            return returned

    with pytest.raises(SubjectError, match="JSON-ready dict"):
        Subject("m", Odd(), PairedSet(images(2), texts(2))).identity()


def test_an_identity_that_raises_is_reported() -> None:
    class Broken(RowEncoder):
        def identity(self):
            raise KeyError("version")

    with pytest.raises(SubjectError, match="identity\\(\\) raised KeyError"):
        Subject("m", Broken(), PairedSet(images(2), texts(2))).identity()


# factories -----------------------------------------------------------------------------------

FACTORY_MODULE = """
import numpy as np
from mmgate.subjects.paired import PairedSet
from mmgate.subjects.subject import Subject

class Enc:
    def embed_images(self, batch):
        return np.ones((len(batch), 2))
    def embed_texts(self, batch):
        return np.ones((len(batch), 2))

class Half:
    def embed_images(self, batch):
        return np.ones((len(batch), 2))

def good():
    return Subject("fake", Enc(), PairedSet(np.zeros((3, 2)), ["a", "b", "c"]))

class Holder:
    @staticmethod
    def make():
        return good()

def boom():
    raise RuntimeError("weights not found")

def wrong():
    return (Enc(), None)

def half():
    return Subject("half", Half(), PairedSet(np.zeros((3, 2)), ["a", "b", "c"]))

NOT_CALLABLE = 3
"""


@pytest.fixture
def factories(tmp_path, monkeypatch) -> str:
    name = "mmgate_fake_subjects"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(FACTORY_MODULE))
    (tmp_path / "mmgate_broken_subjects.py").write_text("import not_a_real_module_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)
    sys.modules.pop("mmgate_broken_subjects", None)


def test_build_subject_calls_the_named_factory(factories: str) -> None:
    subject = build_subject(f"{factories}:good")
    assert subject.name == "fake" and len(subject.canary) == 3


def test_the_callable_may_be_a_dotted_attribute(factories: str) -> None:
    assert build_subject(f"{factories}:Holder.make").name == "fake"


def test_load_subject_factory_returns_the_callable_without_calling_it(factories: str) -> None:
    factory = load_subject_factory(f"{factories}:boom")
    assert callable(factory) and factory.__name__ == "boom"


@pytest.mark.parametrize("spec", ["no_colon_here", "a:b:c", ":good", "mod:", 3])
def test_a_malformed_spec_is_rejected(spec) -> None:
    with pytest.raises(SubjectError, match="module:callable"):
        load_subject_factory(spec)


def test_an_unimportable_module_reports_the_import_error(factories: str) -> None:
    with pytest.raises(SubjectError, match="No module named 'not_a_real_module_xyz'"):
        load_subject_factory("mmgate_broken_subjects:make")
    with pytest.raises(SubjectError, match="cannot import module 'nowhere_pkg_abc'"):
        load_subject_factory("nowhere_pkg_abc:make")


def test_a_missing_attribute_is_named(factories: str) -> None:
    with pytest.raises(SubjectError, match="has no attribute 'absent'"):
        load_subject_factory(f"{factories}:absent")


def test_a_non_callable_attribute_is_rejected(factories: str) -> None:
    with pytest.raises(SubjectError, match="'NOT_CALLABLE' is not callable"):
        load_subject_factory(f"{factories}:NOT_CALLABLE")


def test_a_raising_factory_reports_the_exception_type_and_message(factories: str) -> None:
    with pytest.raises(SubjectError, match="RuntimeError: weights not found") as info:
        build_subject(f"{factories}:boom")
    assert isinstance(info.value.__cause__, RuntimeError)


def test_a_factory_returning_a_non_subject_is_rejected(factories: str) -> None:
    with pytest.raises(SubjectError, match="returned tuple; expected mmgate.Subject"):
        build_subject(f"{factories}:wrong")


def test_a_factory_whose_encoder_lacks_a_method_is_rejected(factories: str) -> None:
    with pytest.raises(SubjectError, match="lacks callable embed_texts"):
        build_subject(f"{factories}:half")


def test_make_subject_names_the_origin_in_errors() -> None:
    with pytest.raises(SubjectError, match="'built-in reference'"):
        make_subject(lambda: None, "built-in reference")


def test_subject_errors_are_mmgate_config_errors() -> None:
    assert issubclass(SubjectError, ConfigError) and issubclass(SubjectError, MmgateError)
