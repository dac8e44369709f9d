"""runtime.documents.parse: JSON first, then a bounded YAML that never changes an id."""

from __future__ import annotations

import pytest

from runtime.documents import DocumentError, parse


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("id: 0123", "0123"),
        ("id: 0x1F", "0x1F"),
        ("id: 0o17", "0o17"),
        ("id: 1_000", "1_000"),
        ("id: 190:20:30", "190:20:30"),
        ("id: +12", "+12"),
        ("id: 1569749506546751259", 1569749506546751259),
        ("id: -5", -5),
        ("id: 0", 0),
        ("id: '0123'", "0123"),
        ("id: 1.5", 1.5),
        ("id: true", True),
    ],
)
def test_yaml_integers_are_plain_decimal_or_kept_as_written(text: str, value: object) -> None:
    assert parse(text) == {"id": value}


def test_json_is_parsed_as_json() -> None:
    assert parse('{"id": 0123}'.replace("0123", "123")) == {"id": 123}


@pytest.mark.parametrize(
    "text",
    [
        "[" * 33 + "]" * 33,
        "- " * 33 + "x",
        "a:\n" + "".join(" " * i + "b:\n" for i in range(1, 34)),
    ],
)
def test_nesting_beyond_the_limit_is_refused(text: str) -> None:
    with pytest.raises(DocumentError, match="nests deeper than 32 levels"):
        parse(text)


def test_nesting_up_to_the_limit_is_read() -> None:
    assert parse("[" * 32 + "]" * 32) is not None
    assert parse("- " * 32 + "x") is not None


@pytest.mark.parametrize(
    ("text", "line"), [("a: &x 1\nb: *x\n", 2), ("a: &x {k: 1}\nb:\n  <<: *x\n", 3)]
)
def test_aliases_are_refused(text: str, line: int) -> None:
    with pytest.raises(DocumentError, match=f"uses a YAML alias at line {line}"):
        parse(text)
