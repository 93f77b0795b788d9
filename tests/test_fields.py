"""Field definitions and record checks (pure functions)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.errors import ValidationFailed
from server.fields import check_record, parse_definitions, parse_spec

ORDERS = parse_definitions(
    [
        {"name": "customer", "type": "string", "required": True, "max_length": 5},
        {"name": "amount", "type": "number", "required": True, "min": 0, "max": 100},
        {"name": "count", "type": "integer"},
        {"name": "paid", "type": "boolean"},
        {"name": "at", "type": "datetime"},
        {"name": "email", "type": "email"},
        {"name": "site", "type": "url"},
        {"name": "extra", "type": "json"},
    ]
)


def problems(data, **kwargs):
    with pytest.raises(ValidationFailed) as caught:
        check_record(ORDERS, data, **kwargs)
    return caught.value.extensions["fields"]


def test_a_good_record_is_returned_as_stored():
    data = {"customer": "Ada", "amount": 1.5, "count": 3, "paid": True, "at": "2026-12-04T17:00:00Z",
            "email": "ada@example.com", "site": "https://example.com/x", "extra": {"a": [1, None]}}
    assert check_record(ORDERS, data) == data


def test_every_problem_is_reported_at_once():
    assert problems({"customer": 5, "bogus": 1}) == {
        "customer": "must be a string",
        "bogus": "is not a field of this endpoint",
        "amount": "is required",
    }


@pytest.mark.parametrize(
    ("name", "value", "why"),
    [
        ("customer", "toolong", "must be at most 5 characters"),
        ("amount", -1, "must be at least 0"),
        ("amount", 101, "must be at most 100"),
        ("amount", True, "must be a number"),
        ("amount", "1", "must be a number"),
        ("count", 1.5, "must be an integer"),
        ("count", False, "must be an integer"),
        ("paid", 1, "must be true or false"),
        ("at", "2026-12-04T17:00:00", "must be an ISO 8601 date-time with a time zone, like 2026-12-04T17:00:00Z"),
        ("at", "yesterday", "must be an ISO 8601 date-time with a time zone, like 2026-12-04T17:00:00Z"),
        ("email", "not-an-email", "must be an email address"),
        ("email", "a@b", "must be an email address"),
        ("site", "ftp://example.com", "must be an http or https URL"),
        ("site", "https://", "must be an http or https URL"),
    ],
)
def test_each_type_refuses_what_does_not_fit(name, value, why):
    assert problems({"customer": "Ada", "amount": 1, name: value}) == {name: why}


def test_null_drops_an_optional_field_and_fails_a_required_one():
    assert check_record(ORDERS, {"customer": "Ada", "amount": 1, "paid": None}) == {"customer": "Ada", "amount": 1}
    assert problems({"customer": None, "amount": 1}) == {"customer": "is required"}


def test_partial_keeps_nulls_for_the_merge_and_skips_required():
    assert check_record(ORDERS, {"paid": None}, partial=True) == {"paid": None}


def test_a_record_must_be_an_object():
    assert problems([1, 2]) == {"data": "must be a JSON object"}


@pytest.mark.parametrize(
    ("definitions", "where"),
    [
        ([], "fields"),
        ([{"name": "1x", "type": "string"}], "fields[0]"),
        ([{"name": "a", "type": "string"}, {"name": "a", "type": "number"}], "a"),
        ([{"name": "a", "type": "money"}], "a"),
        ([{"name": "a", "type": "string", "min": 1}], "a"),
        ([{"name": "a", "type": "number", "min": 5, "max": 1}], "a"),
        ([{"name": "a", "type": "string", "colour": "red"}], "a"),
        ([{"name": "a", "type": "string", "required": "yes"}], "a"),
    ],
)
def test_bad_definitions_are_refused_with_the_field_named(definitions, where):
    with pytest.raises(ValidationFailed) as caught:
        parse_definitions(definitions)
    assert where in caught.value.extensions["fields"]


def test_command_line_field_spec():
    assert parse_spec("amount:number:required") == {"name": "amount", "type": "number", "required": True}
    assert parse_spec("note:string") == {"name": "note", "type": "string", "required": False}
    with pytest.raises(ValidationFailed):
        parse_spec("amount:number:optional")


def test_definitions_round_trip_through_json():
    assert parse_definitions([d.as_json() for d in ORDERS]) == ORDERS


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)


@given(st.dictionaries(st.sampled_from([d.name for d in ORDERS] + ["other"]), json_values, max_size=8))
def test_check_record_either_accepts_a_valid_record_or_names_each_problem(data):
    try:
        clean = check_record(ORDERS, data)
    except ValidationFailed as error:
        fields = error.extensions["fields"]
        assert fields and all(isinstance(why, str) for why in fields.values())
        assert set(fields) <= set(data) | {d.name for d in ORDERS if d.required}
    else:
        # Accepted: every stored value fits its definition and nothing unknown slipped in.
        by_name = {d.name: d for d in ORDERS}
        assert set(clean) <= set(by_name)
        assert all(by_name[name].check(value) is None for name, value in clean.items())
        assert all(d.name in clean for d in ORDERS if d.required)
