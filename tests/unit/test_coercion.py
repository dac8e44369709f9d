"""framework.coerce and framework.messages, unit by unit: coercion of templated values, depth,
and the explainer."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from framework.coerce import coerce, too_deep
from framework.messages import expected, explain

NULLABLE_TEXT = {"type": ["string", "null"], "minLength": 1}
CURSOR = {"type": ["string", "null"], "minLength": 1, "x-template-null": True}
TEXT = {"type": "string"}
NULLABLE_INT = {"type": ["integer", "null"]}
LIST = {"type": ["array", "null"], "items": {"type": "string"}}


@pytest.mark.parametrize(
    ("value", "schema", "result"),
    [
        (" 123 ", TEXT, "123"),
        ("\t123\n", TEXT, "123"),
        ("", NULLABLE_TEXT, None),
        ("null", NULLABLE_TEXT, "null"),  # a text search for "null" stays text
        ("None", NULLABLE_TEXT, "None"),
        ("null", CURSOR, None),  # an opaque cursor or a path: what a template renders for null
        ("None", CURSOR, None),
        (" None ", CURSOR, None),
        ("NULL", CURSOR, "NULL"),  # only what templates render
        ("", TEXT, ""),  # not nullable: left for the schema to refuse ("is empty")
        ("null", TEXT, "null"),
        ("", NULLABLE_INT, None),
        (" 7 ", NULLABLE_INT, 7),
        ("None", LIST, None),
        ("a, b,,", LIST, ["a", "b"]),
        ('["a", "b"]', LIST, ["a", "b"]),
        ([" a "], LIST, ["a"]),
        (1569749506546751259, TEXT, "1569749506546751259"),
    ],
)
def test_coerce(value: Any, schema: Any, result: Any) -> None:
    assert coerce(value, schema) == result


def test_too_deep_counts_levels_without_recursion() -> None:
    deep: Any = 1
    for _ in range(200_000):
        deep = {"k": [deep]}
    assert too_deep(deep)
    assert not too_deep({"a": {"b": [1, {"c": []}]}}, limit=5)  # five levels of containers
    assert too_deep({"a": {"b": [1, {"c": []}]}}, limit=4)


SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["alpha", "beta"],
    "additionalProperties": False,
    "properties": {
        "alpha": {"type": "string", "pattern": "^a+$", "x-expected": "one or more a's"},
        "beta": {"type": "integer"},
        "gamma": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
    },
}


def test_required_names_come_from_the_error_fields_not_its_text() -> None:
    error = explain(Draft202012Validator(SCHEMA), {}, "inputs")
    assert error is not None
    assert error.problems == [
        "alpha: missing; expected one or more a's.",
        "beta: missing; expected an integer.",
    ]


def test_one_sentence_per_field_and_words_from_the_schema() -> None:
    error = explain(Draft202012Validator(SCHEMA), {"alpha": "b", "beta": 1}, "inputs")
    assert error is not None and error.problems == ['alpha: got "b"; expected one or more a\'s.']


def test_lists_are_described_with_or_without_coercion() -> None:
    schema = SCHEMA["properties"]["gamma"]
    assert expected(schema) == "a list of strings (or one comma-separated string)"
    assert expected(schema, coercion=False) == "a list of strings"
    error = explain(
        Draft202012Validator(SCHEMA), {"alpha": "a", "beta": 1, "gamma": ["x"] * 3}, "inputs"
    )
    assert error is not None and error.problems == [
        "gamma: got a list of 3 items; expected at most 2."
    ]


def test_advice_replaces_what_jsonschema_says_about_that_field() -> None:
    advice = {"alpha": "alpha: a better sentence."}
    error = explain(Draft202012Validator(SCHEMA), {"alpha": "b", "beta": 1}, "x", advice=advice)
    assert error is not None and error.problems == ["alpha: a better sentence."]
