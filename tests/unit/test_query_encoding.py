"""framework.action: query encoding and path building."""

from __future__ import annotations

import pytest

from framework.action import Action, encode_query
from framework.errors import InputError


def test_arrays_are_one_comma_joined_value_and_booleans_are_words() -> None:
    query = encode_query(
        {"eventTypes": ["process", "file"], "skipCount": True, "countOnly": False, "limit": 5}
    )
    assert query == [
        ("eventTypes", "process,file"),
        ("skipCount", "true"),
        ("countOnly", "false"),
        ("limit", "5"),
    ]


def test_null_and_empty_arrays_are_not_sent() -> None:
    assert encode_query({"cursor": None, "eventTypes": [], "eventSubTypes": ()}) == []


def test_order_is_kept() -> None:
    assert [name for name, _ in encode_query({"b": 1, "a": 2})] == ["b", "a"]


def action(path: str) -> Action:
    return Action(None, method="GET", path=path)  # type: ignore[arg-type]


def test_placeholders_are_filled() -> None:
    built = action("/threats/{threat_id}/explore/events").build_path({"threat_id": "123"})
    assert built == "/threats/123/explore/events"


@pytest.mark.parametrize("value", ["../1", "1/2", "1?x=2", "1#x", "%2F", "", None, 5, "a b"])
def test_a_value_that_could_change_the_path_is_refused(value: object) -> None:
    with pytest.raises(InputError, match=r"path_parameters\.threat_id"):
        action("/threats/{threat_id}/events").build_path({"threat_id": value})
