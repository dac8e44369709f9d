"""The SentinelOne simulator over real HTTP, independently of the plugin's code.

Every request here goes through ``requests`` or ``http.client`` straight to the simulator on
127.0.0.1, so a bug shared by the plugin and the simulator cannot hide.
"""

from __future__ import annotations

import base64
import errno
import gzip
import hashlib
import http.client
import json
import re
import signal
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest
import requests

import simulator
from simulator import (
    DEFAULT_TOKEN,
    DEFAULT_VIEWER_TOKEN,
    EVENT_KEYS,
    EVENT_SUBTYPES,
    SEED_EVENTS,
    SEED_THREAT_ID,
    FaultError,
    synthetic_threat_id,
)

ROOT = Path(__file__).resolve().parent.parent
INVALID_CURSOR = "Invalid cursor value received"
SEED_SHA256 = "e8d1ce89995f67fad62e59eae50089d5dde2eda50328123b9fe8facc9b538c6e"
AUTH = {"Authorization": f"ApiToken {DEFAULT_TOKEN}"}


def events_path(threat_id: str) -> str:
    return f"/web/api/v2.1/threats/{threat_id}/explore/events"


@pytest.fixture(scope="module")
def server() -> Iterator[simulator.SimulatorServer]:
    with simulator.start() as running:
        yield running


@pytest.fixture(autouse=True)
def clean(request: pytest.FixtureRequest) -> None:
    if "server" in request.fixturenames:
        request.getfixturevalue("server").reset()


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as shared:
        yield shared


def get(
    server: Any,
    session: requests.Session,
    threat_id: str = SEED_THREAT_ID,
    params: Optional[Dict[str, Any]] = None,
    headers: Optional[Dict[str, str]] = None,
) -> requests.Response:
    return session.get(
        server.url + events_path(threat_id),
        params=params,
        headers=AUTH if headers is None else headers,
        timeout=10,
    )


def all_events(server: Any, session: requests.Session, threat_id: str, **params: Any) -> List:
    """Every event of a threat, by cursor, checking the pagination on the way."""
    events: List[Dict[str, Any]] = []
    query: Dict[str, Any] = {"limit": 1000, **params}
    while True:
        response = get(server, session, threat_id, query)
        assert response.status_code == 200, response.text
        body = response.json()
        events += body["data"]
        cursor = body["pagination"]["nextCursor"]
        if cursor is None:
            return events
        query["cursor"] = cursor


@pytest.fixture()
def raw() -> Iterator[Callable[..., http.client.HTTPResponse]]:
    """``raw(server, path, headers=AUTH, method="GET")``: one request on its own connection."""
    opened: List[http.client.HTTPConnection] = []

    def request(
        target: Any, path: str, headers: Optional[Dict[str, str]] = None, method: str = "GET"
    ) -> http.client.HTTPResponse:
        connection = http.client.HTTPConnection("127.0.0.1", target.port, timeout=10)
        opened.append(connection)
        connection.request(method, path, headers=AUTH if headers is None else headers)
        return connection.getresponse()

    yield request
    for connection in opened:
        connection.close()


def assert_error(response: requests.Response, status: int, code: int, title: str) -> str:
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("application/json")
    (error,) = response.json()["errors"]
    assert error["code"] == code
    assert error["title"] == title
    return error["detail"]


# -- the seed threat, headers, auth -------------------------------------------------------------


def test_seed_threat_serves_the_captured_events_verbatim(server, session) -> None:
    response = get(server, session)
    assert response.status_code == 200
    body = response.json()
    assert body["pagination"] == {"nextCursor": None, "totalItems": 2}
    assert body["data"] == SEED_EVENTS
    # Pinned to the capture in the seed document (sha256 of the events as sorted-key JSON), so an
    # edit of seed.py cannot pass unnoticed.
    canonical = json.dumps(body["data"], sort_keys=True).encode()
    assert hashlib.sha256(canonical).hexdigest() == SEED_SHA256
    first, second = body["data"]
    assert (first["id"], second["id"]) == ("1569749506546751259", "1569749506538362650")
    assert (first["createdAt"], second["createdAt"]) == (
        "2021-12-14T20:23:45.999000Z",
        "2021-12-14T20:23:46Z",
    )
    assert second["fileFullName"] == "/home/swimlane-host/eicar.com"
    assert (first["processRoot"], second["verifiedStatus"], first["pid"]) == ("True", "", "22566")
    assert len(first) == len(second) == len(EVENT_KEYS) == 89


def test_response_headers(server, session) -> None:
    first, second = get(server, session), get(server, session)
    for response in (first, second):
        headers = response.headers
        assert headers["Content-Type"].startswith("application/json")
        assert uuid.UUID(headers["X-RQID"]).version == 4
        assert headers["Server"] == "nginx"
        assert headers["Date"].endswith("GMT")
        assert headers["Strict-Transport-Security"].startswith("max-age=")
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Cache-Control"] == "no-store"
    assert first.headers["X-RQID"] != second.headers["X-RQID"]


def test_gzip_only_when_asked(raw, server) -> None:
    zipped = raw(server, events_path(SEED_THREAT_ID), {**AUTH, "Accept-Encoding": "gzip"})
    payload = zipped.read()
    assert zipped.getheader("Content-Encoding") == "gzip"
    assert "Accept-Encoding" in zipped.getheader("Vary")
    assert int(zipped.getheader("Content-Length")) == len(payload)
    assert json.loads(gzip.decompress(payload))["data"] == SEED_EVENTS

    for accept in ({}, {"Accept-Encoding": "identity"}, {"Accept-Encoding": "gzip;q=0"}):
        plain = raw(server, events_path(SEED_THREAT_ID), {**AUTH, **accept})
        payload = plain.read()
        assert plain.getheader("Content-Encoding") is None
        assert int(plain.getheader("Content-Length")) == len(payload)
        assert json.loads(payload)["data"] == SEED_EVENTS


def test_keep_alive_serves_many_pages_on_one_connection(server) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("GET", events_path(SEED_THREAT_ID), headers=AUTH)
    connection.getresponse().read()
    sock = connection.sock
    for _ in range(5):
        connection.request("GET", events_path(SEED_THREAT_ID), headers=AUTH)
        response = connection.getresponse()
        assert response.status == 200
        assert json.loads(response.read())["pagination"]["totalItems"] == 2
        assert connection.sock is sock  # not reconnected
    connection.close()


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "ApiToken wrong"}, {"Authorization": f"Bearer {DEFAULT_TOKEN}"}],
)
def test_missing_or_wrong_token_is_401(server, session, headers) -> None:
    response = get(server, session, headers=headers)
    assert response.status_code == 401
    assert response.json() == {
        "errors": [{"code": 4010010, "detail": None, "title": "Authentication Failed"}]
    }


def test_viewer_token_is_403_on_threats_but_may_read_system_info(server, session) -> None:
    viewer = {"Authorization": f"ApiToken {DEFAULT_VIEWER_TOKEN}"}
    response = get(server, session, headers=viewer)
    assert response.status_code == 403
    assert response.json() == {
        "errors": [{"code": 4030010, "detail": "Insufficient permissions", "title": "Forbidden"}]
    }
    info = session.get(f"{server.url}/web/api/v2.1/system/info", headers=viewer, timeout=10)
    assert info.status_code == 200
    assert info.json()["data"]["version"] == "23.4.2"


def test_system_info_needs_a_token(server, session) -> None:
    url = f"{server.url}/web/api/v2.1/system/info"
    assert session.get(url, headers=AUTH, timeout=10).json()["data"]["build"]
    bad = session.get(url, headers={"Authorization": "ApiToken nope"}, timeout=10)
    assert_error(bad, 401, 4010010, "Authentication Failed")


def test_threat_list_is_a_cheap_read_that_needs_the_threats_permission(server, session) -> None:
    url = f"{server.url}/web/api/v2.1/threats"
    listed = session.get(url, params={"limit": 1}, headers=AUTH, timeout=10)
    assert listed.status_code == 200
    body = listed.json()
    assert [threat["id"] for threat in body["data"]] == [SEED_THREAT_ID]
    assert body["pagination"] == {"nextCursor": None, "totalItems": 1}
    assert listed.headers["X-RQID"]
    viewer = {"Authorization": f"ApiToken {DEFAULT_VIEWER_TOKEN}"}
    denied = session.get(url, params={"limit": 1}, headers=viewer, timeout=10)
    assert_error(denied, 403, 4030010, "Forbidden")
    wrong = session.get(url, headers={"Authorization": "ApiToken nope"}, timeout=10)
    assert_error(wrong, 401, 4010010, "Authentication Failed")
    too_many = session.get(url, params={"limit": 1001}, headers=AUTH, timeout=10)
    assert too_many.status_code == 400
    counted = session.get(url, params={"countOnly": "true"}, headers=AUTH, timeout=10).json()
    assert counted == {"data": [], "pagination": {"nextCursor": None, "totalItems": 1}}
    session.get(url, params={"limit": 1, "sortBy": "createdAt"}, headers=AUTH, timeout=10)
    assert server.requests()[-1]["ignored_params"] == ["sortBy"]


def test_unknown_api_path_is_404_and_wrong_method_is_405(server, session) -> None:
    missing = session.get(f"{server.url}/web/api/v2.1/agents", headers=AUTH, timeout=10)
    assert missing.json() == {
        "errors": [{"code": 4040010, "detail": "Not found", "title": "Resource not found"}]
    }
    assert missing.status_code == 404
    posted = session.post(server.url + events_path(SEED_THREAT_ID), json={}, headers=AUTH)
    assert posted.status_code == 405
    assert posted.json()["errors"][0]["code"] == 4050010
    assert "GET" in posted.headers["Allow"]


# -- parameters ---------------------------------------------------------------------------------


def test_default_limit_is_10(server, session) -> None:
    body = get(server, session, synthetic_threat_id(25)).json()
    assert len(body["data"]) == 10
    assert body["pagination"]["totalItems"] == 25
    assert body["pagination"]["nextCursor"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("limit", "0"),
        ("limit", "1001"),
        ("limit", "ten"),
        ("limit", "-1"),
        ("limit", "1.5"),
        ("limit", ""),
        ("skip", "-1"),
        ("skip", "x"),
        ("sortOrder", "up"),
        ("sortOrder", "ASC"),
        ("sortBy", "name"),
        ("skipCount", "yes"),
        ("skipCount", "True"),
        ("countOnly", "1"),
        ("eventTypes", "process,bogus"),
    ],
)
def test_invalid_parameters_are_400_naming_the_parameter(server, session, name, value) -> None:
    response = get(server, session, params={name: value})
    detail = assert_error(response, 400, 4000010, "Validation Error")
    assert name in detail


def test_skip_beyond_1000_requires_a_cursor(server, session) -> None:
    assert get(server, session, params={"skip": 1000}).status_code == 200
    detail = assert_error(
        get(server, session, params={"skip": 1001}), 400, 4000010, "Validation Error"
    )
    assert "skip" in detail
    assert "cursor" in detail


def test_limit_and_skip_select_a_window(server, session) -> None:
    threat = synthetic_threat_id(30)
    everything = get(server, session, threat, {"limit": 30}).json()["data"]
    window = get(server, session, threat, {"limit": 5, "skip": 7}).json()["data"]
    assert window == everything[7:12]


def test_bad_cursors_are_rejected(server, session) -> None:
    threat = synthetic_threat_id(50)
    cursor = get(server, session, threat, {"limit": 10}).json()["pagination"]["nextCursor"]
    assert get(server, session, threat, {"limit": 10, "cursor": cursor}).status_code == 200

    payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    payload["o"] += 5
    tampered = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    flipped = cursor[:5] + ("A" if cursor[5] != "A" else "B") + cursor[6:]
    attempts = [
        (threat, {"cursor": "garbage"}),
        (threat, {"cursor": ""}),
        (threat, {"cursor": "bm90IGpzb24"}),  # base64 of "not json"
        (threat, {"cursor": tampered}),
        (threat, {"cursor": flipped}),
        (synthetic_threat_id(51), {"cursor": cursor}),  # another threat
        (threat, {"cursor": cursor, "eventTypes": "file"}),  # other filters
        (threat, {"cursor": cursor, "sortOrder": "desc"}),  # other order
    ]
    for threat_id, params in attempts:
        response = get(server, session, threat_id, {"limit": 10, **params})
        detail = assert_error(response, 400, 4000010, "Validation Error")
        assert detail == INVALID_CURSOR, params


def test_cursor_paging_yields_every_event_once(server, session) -> None:
    threat = synthetic_threat_id(2500)
    pages = []
    query: Dict[str, Any] = {"limit": 1000}
    while True:
        body = get(server, session, threat, query).json()
        pages.append(body)
        if body["pagination"]["nextCursor"] is None:
            break
        query = {"limit": 1000, "cursor": body["pagination"]["nextCursor"], "skip": 3}
    assert [len(page["data"]) for page in pages] == [1000, 1000, 500]
    assert {page["pagination"]["totalItems"] for page in pages} == {2500}
    events = [event for page in pages for event in page["data"]]
    ids = [event["id"] for event in events]
    assert len(set(ids)) == 2500
    assert all(re.fullmatch(r"[1-9][0-9]{18}", event_id) for event_id in ids)
    order = [(event["createdAt"].rstrip("Z"), int(event["id"])) for event in events]
    assert order == sorted(order)  # default: createdAt ascending, then id


@pytest.mark.parametrize("count", [0, 10])
def test_small_threats_fit_one_default_page(server, session, count) -> None:
    body = get(server, session, synthetic_threat_id(count)).json()
    assert len(body["data"]) == count
    assert body["pagination"] == {"nextCursor": None, "totalItems": count}


def test_synthetic_events_look_like_sentinelone_events(server, session) -> None:
    events = all_events(server, session, synthetic_threat_id(1500))
    assert all(tuple(event) == EVENT_KEYS for event in events)
    kinds = Counter(event["objectType"] for event in events)
    assert {"process", "file", "ip", "dns", "registry", "url"} <= set(kinds)
    assert all(isinstance(event["pid"], str) and event["pid"].isdigit() for event in events)
    assert all(
        re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z", e["createdAt"]) for e in events
    )
    names = {event["processName"] for event in events}
    assert {"powershell.exe", "cmd.exe", "svchost.exe"} <= names
    for event in events:
        assert event["eventType"] in EVENT_SUBTYPES
        if event["objectType"] == "dns":
            assert event["dnsRequest"]
        if event["objectType"] == "registry":
            assert event["registryPath"]
        if event["eventType"] == "IP Connect":
            assert event["dstIp"] and event["srcIp"] and int(event["dstPort"]) > 0
    # Fields that are null in some events are set in others.
    for key in ("fileFullName", "processCmd", "parentPid", "dstPort", "registryPath"):
        values = [event[key] for event in events]
        assert None in values and any(value is not None for value in values), key


def test_count_only_and_skip_count(server, session) -> None:
    threat = synthetic_threat_id(300)
    counted = get(server, session, threat, {"countOnly": "true"}).json()
    assert counted == {"data": [], "pagination": {"nextCursor": None, "totalItems": 300}}
    files = get(server, session, threat, {"countOnly": "true", "eventTypes": "file"}).json()
    expected = sum(e["objectType"] == "file" for e in all_events(server, session, threat))
    assert files["pagination"]["totalItems"] == expected > 0

    skipped = get(server, session, threat, {"skipCount": "true"}).json()
    assert len(skipped["data"]) == 10
    assert skipped["pagination"]["totalItems"] is None
    assert skipped["pagination"]["nextCursor"]
    counted_too = get(server, session, threat, {"skipCount": "false"}).json()
    assert counted_too["pagination"]["totalItems"] == 300


def test_filters(server, session) -> None:
    threat = synthetic_threat_id(600)
    everything = all_events(server, session, threat)

    by_type = all_events(server, session, threat, eventTypes="process,file")
    assert {e["objectType"] for e in by_type} == {"process", "file"}
    assert len(by_type) == sum(e["objectType"] in ("process", "file") for e in everything)
    repeated = session.get(
        f"{server.url}{events_path(threat)}?eventTypes=process&eventTypes=file&limit=1000",
        headers=AUTH,
    ).json()["data"]
    assert repeated == by_type

    codes = {"PROCESSCREATION", "DNS"}
    by_code = all_events(server, session, threat, eventSubTypes="PROCESSCREATION,DNS")
    assert by_code
    assert {EVENT_SUBTYPES[e["eventType"]] for e in by_code} == codes
    assert len(by_code) == sum(EVENT_SUBTYPES[e["eventType"]] in codes for e in everything)

    by_name = all_events(server, session, threat, processName__like="SHELL")
    assert by_name
    assert all("shell" in e["processName"].lower() for e in by_name)
    assert len(by_name) == sum("shell" in e["processName"].lower() for e in everything)

    target = everything[123]
    assert all_events(server, session, threat, eventId=target["id"]) == [target]
    assert all_events(server, session, threat, eventId="1") == []

    both = all_events(server, session, threat, eventTypes="file", processName__like="exe")
    assert both == [
        e for e in by_type if e["objectType"] == "file" and "exe" in e["processName"].lower()
    ]


def test_sorting(server, session) -> None:
    threat = synthetic_threat_id(400)
    ascending = all_events(server, session, threat, sortBy="createdAt", sortOrder="asc")
    descending = all_events(server, session, threat, sortBy="createdAt", sortOrder="desc")
    times = [e["createdAt"].rstrip("Z") for e in ascending]
    assert times == sorted(times)
    assert [e["createdAt"].rstrip("Z") for e in descending] == sorted(times, reverse=True)
    assert sorted(e["id"] for e in ascending) == sorted(e["id"] for e in descending)

    by_pid = all_events(server, session, threat, sortBy="pid")
    assert [int(e["pid"]) for e in by_pid] == sorted(int(e["pid"]) for e in by_pid)
    by_pid_desc = all_events(server, session, threat, sortBy="pid", sortOrder="desc")
    assert [int(e["pid"]) for e in by_pid_desc] == sorted(
        (int(e["pid"]) for e in by_pid), reverse=True
    )

    by_size = all_events(server, session, threat, sortBy="fileSize", sortOrder="desc")
    sizes = [e["fileSize"] for e in by_size]
    known = [size for size in sizes if size is not None]
    assert known and None in sizes
    assert sizes == sorted(known, reverse=True) + [None] * (len(sizes) - len(known))  # nulls last

    by_id = all_events(server, session, threat, sortBy="id")
    assert [int(e["id"]) for e in by_id] == sorted(int(e["id"]) for e in by_id)


def test_pages_are_deterministic(server, session) -> None:
    threat = synthetic_threat_id(120)
    params = {"limit": 50, "skip": 20, "sortBy": "processName"}
    first = get(server, session, threat, params)
    again = get(server, session, threat, params)
    assert first.json() == again.json()
    with simulator.start() as other:  # a fresh process-state: same events
        assert get(other, session, threat, params).json() == first.json()


def test_unknown_threat_is_an_empty_200_and_a_non_digit_id_is_400(raw, server, session) -> None:
    empty = get(server, session, "1234567890123456789")
    assert empty.status_code == 200
    assert empty.json() == {"data": [], "pagination": {"nextCursor": None, "totalItems": 0}}
    for bad in ("abc", "12%2F34", "%2E%2E", "12 34"):
        response = raw(server, events_path(bad.replace(" ", "%20")))
        assert response.status == 400, bad
        error = json.loads(response.read())["errors"][0]
        assert (error["code"], error["title"]) == (4000010, "Validation Error")
        assert "threat_id" in error["detail"]


# -- faults ---------------------------------------------------------------------------------


def test_status_fault_returns_the_given_status_headers_and_body(raw, server, session) -> None:
    page = "<html><body>Bad gateway</body></html>"
    server.add_faults(
        [
            {
                "kind": "status",
                "status": 503,
                "headers": {"Retry-After": "1"},
                "body": page,
                "content_type": "text/html",
            },
            {"kind": "status", "status": 502},
            {"kind": "status", "status": 302, "headers": {"Location": "https://elsewhere/"}},
            {"kind": "status", "status": 200, "body_b64": base64.b64encode(b"\xff\xfe{").decode()},
            {"kind": "status", "status": 204},
            {"kind": "status", "status": 200, "body": '"a string"', "gzip": True},
        ]
    )
    first = get(server, session)
    assert (first.status_code, first.text) == (503, page)
    assert first.headers["Retry-After"] == "1"
    assert first.headers["Content-Type"] == "text/html"
    assert uuid.UUID(first.headers["X-RQID"])

    second = get(server, session)
    assert second.status_code == 502
    assert second.json()["errors"][0]["code"] == 5020010

    moved = session.get(
        server.url + events_path(SEED_THREAT_ID), headers=AUTH, allow_redirects=False
    )
    assert (moved.status_code, moved.headers["Location"], moved.content) == (
        302,
        "https://elsewhere/",
        b"",
    )
    assert get(server, session).content == b"\xff\xfe{"
    no_content = get(server, session)
    assert (no_content.status_code, no_content.content) == (204, b"")
    forced = raw(server, events_path(SEED_THREAT_ID))  # no Accept-Encoding
    assert forced.getheader("Content-Encoding") == "gzip"
    assert gzip.decompress(forced.read()) == b'"a string"'
    assert get(server, session).json()["data"] == SEED_EVENTS  # queue drained


def test_fault_count_and_fifo_order(server, session) -> None:
    server.add_faults(
        [{"kind": "status", "status": 429, "count": 2}, {"kind": "status", "status": 504}]
    )
    assert [get(server, session).status_code for _ in range(4)] == [429, 429, 504, 200]


def test_pass_fault_lets_requests_through_before_the_next_fault(server, session) -> None:
    server.add_faults([{"kind": "pass", "count": 2}, {"kind": "status", "status": 500}])
    statuses = [get(server, session).status_code for _ in range(4)]
    assert statuses == [200, 200, 500, 200]
    assert get(server, session).json()["data"] == SEED_EVENTS


def test_faults_do_not_apply_to_control_paths(server, session) -> None:
    posted = session.post(
        f"{server.url}/_sim/faults", json={"faults": [{"kind": "status", "status": 500}]}
    )
    assert posted.status_code == 200
    listed = session.get(f"{server.url}/_sim/faults").json()["faults"]
    assert [fault["status"] for fault in listed] == [500]
    assert session.get(f"{server.url}/_sim/requests").status_code == 200
    assert get(server, session).status_code == 500
    assert get(server, session).status_code == 200

    session.post(f"{server.url}/_sim/faults", json={"faults": [{"kind": "drop"}]})
    assert session.delete(f"{server.url}/_sim/faults").status_code == 200
    assert get(server, session).status_code == 200


def test_invalid_faults_are_refused(server, session) -> None:
    for fault in ({"kind": "explode"}, {"kind": "status"}, {"kind": "drop", "count": 0}):
        response = session.post(f"{server.url}/_sim/faults", json={"faults": [fault]})
        assert response.status_code == 400
        with pytest.raises(FaultError):
            server.add_faults([fault])
    assert session.get(f"{server.url}/_sim/faults").json() == {"faults": []}


def test_delay_then_answers(server, session) -> None:
    server.add_faults(
        [
            {"kind": "delay", "seconds": 0.05},
            {"kind": "delay", "seconds": 0.05, "then": {"kind": "status", "status": 418}},
        ]
    )
    assert get(server, session).json()["data"] == SEED_EVENTS
    assert get(server, session).status_code == 418


def test_drop_closes_without_a_byte(raw, server) -> None:
    server.add_faults([{"kind": "drop"}])
    with pytest.raises(http.client.RemoteDisconnected):
        raw(server, events_path(SEED_THREAT_ID))
    assert raw(server, events_path(SEED_THREAT_ID)).status == 200


def test_reset_sends_a_tcp_rst(raw, server, session) -> None:
    server.add_faults([{"kind": "reset", "count": 2}])
    with pytest.raises(ConnectionResetError) as caught:
        raw(server, events_path(SEED_THREAT_ID))
    assert caught.value.errno == errno.ECONNRESET  # a real RST, not an orderly close
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + events_path(SEED_THREAT_ID), headers=AUTH, timeout=10)


def test_reset_mid_body_fails_while_reading_the_body(raw, server) -> None:
    server.add_faults([{"kind": "reset_mid_body"}])
    response = raw(server, events_path(synthetic_threat_id(50)) + "?limit=50")
    assert response.status == 200
    assert int(response.getheader("Content-Length")) > 0
    with pytest.raises((http.client.IncompleteRead, ConnectionResetError)):
        response.read()


def test_truncated_gzip(raw, server) -> None:
    server.add_faults([{"kind": "truncated_gzip"}])
    response = raw(server, events_path(SEED_THREAT_ID))
    payload = response.read()
    assert response.getheader("Content-Encoding") == "gzip"
    assert int(response.getheader("Content-Length")) == len(payload)
    with pytest.raises(EOFError):
        gzip.decompress(payload)


def test_huge_body_is_valid_json_of_the_requested_size(raw, server) -> None:
    server.add_faults([{"kind": "huge", "megabytes": 1.5}])
    response = raw(server, events_path(SEED_THREAT_ID))
    payload = response.read()
    assert int(response.getheader("Content-Length")) == len(payload) == int(1.5 * 2**20)
    body = json.loads(payload)
    assert body["pagination"]["totalItems"] == len(body["data"]) > 100
    assert body["data"][-1] == SEED_EVENTS[0]


def test_trickle_sends_the_body_slowly_and_padded(raw, server) -> None:
    server.add_faults([{"kind": "trickle", "bytes_per_second": 8000, "total_bytes": 6000}])
    response = raw(server, events_path(SEED_THREAT_ID), {**AUTH, "Accept-Encoding": "gzip"})
    payload = response.read()
    assert len(payload) == 6000 == int(response.getheader("Content-Length"))
    assert response.getheader("Content-Encoding") is None
    assert json.loads(payload)["data"] == SEED_EVENTS  # padded with spaces


def test_shutdown_is_not_blocked_by_a_trickle(raw) -> None:
    running = simulator.start()
    running.add_faults([{"kind": "trickle", "bytes_per_second": 1, "total_bytes": 200}])
    response = raw(running, events_path(SEED_THREAT_ID))
    assert response.status == 200
    running.shutdown()  # returns although 200 s of trickle remain
    with pytest.raises(http.client.IncompleteRead):
        response.read()


# -- the request log --------------------------------------------------------------------------


def test_request_log_records_raw_paths_and_redacts_the_token(server, session) -> None:
    raw_path = "/web/api/v2.1/threats/%31%35%36/explore/events"
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("GET", f"{raw_path}?limit=5&foo=bar&foo=baz", headers=AUTH)
    assert connection.getresponse().read()
    connection.close()
    get(server, session, headers={"Authorization": f"ApiToken {DEFAULT_VIEWER_TOKEN}"})
    get(server, session, headers={"Authorization": "ApiToken nope"})
    get(server, session, headers={})
    session.get(f"{server.url}/_sim/faults")  # control requests are not logged

    logged = session.get(f"{server.url}/_sim/requests").json()["requests"]
    assert logged == server.requests()
    assert [entry["auth"] for entry in logged] == ["ok", "viewer", "wrong", "missing"]
    first = logged[0]
    assert first["method"] == "GET"
    assert first["path"] == raw_path
    assert first["query"] == "limit=5&foo=bar&foo=baz"
    assert first["params"] == {"limit": ["5"], "foo": ["bar", "baz"]}
    assert first["ignored_params"] == ["foo"]
    assert first["headers"]["Authorization"] == "<redacted>"
    assert DEFAULT_TOKEN not in json.dumps(logged)
    assert DEFAULT_VIEWER_TOKEN not in json.dumps(logged)

    assert session.delete(f"{server.url}/_sim/requests").status_code == 200
    assert server.requests() == []


def test_reset_endpoint_clears_faults_and_log(server, session) -> None:
    server.add_faults([{"kind": "status", "status": 500, "count": 3}])
    get(server, session)
    assert session.post(f"{server.url}/_sim/reset").status_code == 200
    assert server.requests() == []
    assert get(server, session).status_code == 200


# -- rate limiting, TLS, command line ---------------------------------------------------------


def test_rate_limit_answers_429_beyond_the_burst() -> None:
    with simulator.start(rate=0.01, burst=3) as limited:
        url = f"{limited.url}/web/api/v2.1/system/info"
        with requests.Session() as client:
            assert [client.get(url, headers=AUTH).status_code for _ in range(3)] == [200] * 3
            refused = client.get(url, headers=AUTH)
            assert_error(refused, 429, 4290010, "Too Many Requests")
            assert int(refused.headers["Retry-After"]) >= 1
            viewer = {"Authorization": f"ApiToken {DEFAULT_VIEWER_TOKEN}"}
            assert client.get(url, headers=viewer).status_code == 200  # its own bucket
            limited.reset()
            assert client.get(url, headers=AUTH).status_code == 200


def test_tls(tmp_path) -> None:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    certificate = ca.issue_cert("127.0.0.1")
    cert, key, bundle = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    certificate.cert_chain_pems[0].write_to_path(str(cert))
    certificate.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(bundle))
    with simulator.start(tls_cert=str(cert), tls_key=str(key)) as secure:
        assert secure.url == f"https://127.0.0.1:{secure.port}"
        response = requests.get(
            secure.url + events_path(SEED_THREAT_ID), headers=AUTH, verify=str(bundle), timeout=10
        )
        assert response.json()["data"] == SEED_EVENTS
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(secure.url + events_path(SEED_THREAT_ID), headers=AUTH, timeout=10)


def test_command_line_prints_the_url_and_stops_cleanly_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        match = re.fullmatch(r"SIMULATOR_URL=(http://127\.0\.0\.1:\d+)\n", line)
        assert match, line
        info = requests.get(f"{match.group(1)}/web/api/v2.1/system/info", headers=AUTH, timeout=10)
        assert info.status_code == 200
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert (out, err) == ("", "")


def test_command_line_refuses_a_remote_host() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "simulator", "--host", "0.0.0.0", "--port", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "--allow-remote" in result.stderr
