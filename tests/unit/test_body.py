"""Body parsing and text: what Python cannot hold as JSON is a body, never an internal error."""

from __future__ import annotations

import json

import pytest

from framework.body import _parse_body, response_text


@pytest.mark.parametrize(
    ("body", "parsed"),
    [
        (b'{"a": 1}', (True, {"a": 1})),
        (b"  ", (False, None)),
        (b"<html>", (False, None)),
        (b'{"a": NaN}', (False, None)),
        (b"[Infinity]", (False, None)),
        (b"[1e999, 2.5]", (True, ["1e999", 2.5])),
        (b"[" * 50_000 + b"]" * 50_000, (False, None)),
        (b'"\\udc80"', (True, "\udc80")),
        (b'{"a": "\xff"}', (False, None)),
    ],
    ids=[
        "json",
        "blank",
        "html",
        "nan",
        "infinity",
        "1e999",
        "deep",
        "surrogate",
        "not-utf8",
    ],
)
def test_parse_body(body: bytes, parsed) -> None:
    assert _parse_body(body) == parsed
    if parsed[0]:
        json.dumps(parsed[1], allow_nan=False)


def test_an_integer_too_long_for_int_keeps_its_digits() -> None:
    ok, value = _parse_body(b"[" + b"9" * 5000 + b", 7]")
    assert ok and [str(item) for item in value] == ["9" * 5000, "7"]
    json.dumps(value)


@pytest.mark.parametrize(
    ("content_type", "text"),
    [
        ("text/plain; charset=iso-8859-1", "caf\u00e9"),
        ('text/plain; charset="latin-1"', "caf\u00e9"),
        ("text/plain; charset=idna", "caf\ufffd"),
        ("text/plain; charset=undefined", "caf\ufffd"),
        ("text/plain; charset=punycode", "caf\ufffd"),
        ("text/plain; charset=rot13", "caf\ufffd"),
        ("text/plain", "caf\ufffd"),
    ],
)
def test_response_text_uses_only_real_charsets(content_type: str, text: str) -> None:
    assert response_text(b"caf\xe9", content_type) == text
