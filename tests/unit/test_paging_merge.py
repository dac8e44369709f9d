"""actions.get_threat_events: how pages merge into one envelope (the loop: end to end)."""

from __future__ import annotations

from actions.get_threat_events import _no_page, _with_items

PAGE = {
    "status_code": 200,
    "reason": "OK",
    "json_body": {"data": [{"id": "3"}], "pagination": {"nextCursor": "c3", "totalItems": 9}},
    "response_headers": {"X-RQID": "r3"},
}


def test_the_last_page_carries_every_item_and_the_resume_cursor() -> None:
    merged = _with_items(PAGE, [{"id": "1"}, {"id": "2"}, {"id": "3"}], "c3", 9)
    assert merged["json_body"]["data"] == [{"id": "1"}, {"id": "2"}, {"id": "3"}]
    assert merged["json_body"]["pagination"] == {"nextCursor": "c3", "totalItems": 9}
    assert (merged["status_code"], merged["response_headers"]) == (200, {"X-RQID": "r3"})
    assert "errors" not in merged["json_body"]


def test_merging_leaves_the_page_itself_alone() -> None:
    _with_items(PAGE, [], None, 0, errors=[{"title": "x"}])
    assert PAGE["json_body"]["data"] == [{"id": "3"}]
    assert PAGE["json_body"]["pagination"]["nextCursor"] == "c3"


def test_a_failed_page_keeps_its_status_its_errors_and_the_items_before_it() -> None:
    failed = {
        "status_code": 500,
        "reason": "Internal Server Error",
        "json_body": {"errors": [{"code": 5000010, "title": "Internal server error"}]},
        "response_headers": {},
    }
    assert _no_page(500, failed["json_body"]) is None  # SentinelOne's own errors stay
    merged = _with_items(failed, [{"id": "1"}], "c2", 9, errors=_no_page(500, failed["json_body"]))
    assert merged["status_code"] == 500
    assert merged["json_body"]["errors"] == [{"code": 5000010, "title": "Internal server error"}]
    assert merged["json_body"]["data"] == [{"id": "1"}]
    assert merged["json_body"]["pagination"]["nextCursor"] == "c2"


def test_a_body_that_is_not_a_page_gets_one_errors_entry_saying_so() -> None:
    assert _no_page(200, {"surprise": True}) == [
        {"code": None, "title": "Unexpected response", "detail": "HTTP 200: not a page of events"}
    ]
    assert _no_page(502, None)[0]["title"] == "HTTP Error"
    merged = _with_items({"status_code": 502, "json_body": None}, [], "c1", None)
    assert merged["json_body"] == {
        "data": [],
        "pagination": {"nextCursor": "c1", "totalItems": None},
    }
