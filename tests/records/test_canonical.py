"""Canonical JSON: stable text, plain values, and non-finite numbers refused with their path."""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmgate.errors import InputError
from mmgate.records.canonical import (
    JsonValueError,
    canonical_json,
    canonical_json_line,
    json_value,
    parse_json_strict,
)

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


def test_canonical_json_sorts_keys_indents_keeps_unicode_and_ends_with_newline() -> None:
    assert canonical_json({"b": 1, "a": "é"}) == '{\n  "a": "é",\n  "b": 1\n}\n'
    assert canonical_json_line({"b": [1, 2], "a": None}) == '{"a":null,"b":[1,2]}'


def test_json_value_turns_tuples_and_numpy_values_into_plain_json() -> None:
    value = json_value({"t": (1, 2), "i": np.int64(3), "f": np.float32(0.5), "b": np.bool_(True), "a": np.arange(2)})
    assert value == {"t": [1, 2], "i": 3, "f": 0.5, "b": True, "a": [0, 1]}
    assert type(value["i"]) is int and type(value["b"]) is bool


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, np.float64("nan")])
def test_non_finite_numbers_are_refused_naming_their_json_path(bad: float) -> None:
    with pytest.raises(JsonValueError) as caught:
        canonical_json({"facts": {"measured": [0.1, bad]}})
    assert caught.value.json_path == "$.facts.measured[1]"
    assert isinstance(caught.value, InputError)


def test_non_string_keys_and_foreign_types_are_refused_naming_their_path() -> None:
    with pytest.raises(JsonValueError, match=r"\$\.a"):
        json_value({"a": {1: "x"}})
    with pytest.raises(JsonValueError, match=r"\$\.b\[0\].*set"):
        json_value({"b": [{1, 2}]})


def test_json_value_error_survives_pickling() -> None:
    error = pickle.loads(pickle.dumps(JsonValueError("$.a", "is nan")))
    assert (error.json_path, error.reason, str(error)) == ("$.a", "is nan", "value at $.a is nan")


def test_parse_json_strict_refuses_nan_literals_and_duplicate_keys() -> None:
    assert parse_json_strict('{"a": [1, 2.5]}') == {"a": [1, 2.5]}
    with pytest.raises(ValueError, match="NaN"):
        parse_json_strict('{"a": NaN}')
    with pytest.raises(ValueError, match="duplicate key 'a'"):
        parse_json_strict('{"a": 1, "a": 2}')


@settings(max_examples=60, deadline=None)
@given(JSON_VALUES)
def test_canonical_json_is_a_fixed_point_of_parsing(value: object) -> None:
    text = canonical_json(value)
    assert canonical_json(parse_json_strict(text)) == text
    assert json.loads(canonical_json_line(value)) == json.loads(text)
