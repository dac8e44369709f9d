"""Hostile and broken servers on 127.0.0.1 (tests/hostile.py, raw sockets): every answer ends
as an envelope or one clear TransportError, within the timeout, with nothing lost that arrived.
"""

from __future__ import annotations

import gzip
import json
import logging
import tracemalloc
import zlib
from pathlib import Path
from typing import Any, Dict, List

import pytest

from framework.errors import Cause, TransportError
from framework.runner import run_action
from tests.hostile import HostileServer, Send, Trickle, events, page, response
from tests.support import TOKEN, run_cli, write_json

PATH = "/web/api/v2.1/threats/1/explore/events"
FOLLOW = {"path_parameters": {"threat_id": "1"}, "follow_cursor": True}


@pytest.fixture()
def hostile():
    servers: List[HostileServer] = []

    def start(*steps: Any, default: Any = None) -> HostileServer:
        server = HostileServer(steps, default=default)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def asset_for(server: HostileServer, **fields: Any) -> Dict[str, Any]:
    return {"url": server.url, "api_token": TOKEN, "max_retries": 0, "timeout": 1, **fields}


# -- issue 16 item 1: the timeout bounds the whole exchange ----------------------------------
HEAD_TRICKLE = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 200 + b"\r\n\r\n"
CHUNK_TRICKLE = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"0" * 200
BODY_TRICKLE = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"x" * 200


@pytest.mark.parametrize(
    "answer", [HEAD_TRICKLE, CHUNK_TRICKLE, BODY_TRICKLE], ids=["head", "chunk-size", "body"]
)
def test_a_trickle_anywhere_in_the_response_ends_at_the_timeout(
    hostile, make_connector, answer
) -> None:
    server = hostile(default=Trickle(answer, interval=0.1))  # 20 s of bytes, 10 a second
    with pytest.raises(TransportError, match=r"within the timeout of 1 s") as caught:
        make_connector(asset_for(server)).request("GET", PATH)
    assert caught.value.cause is Cause.TIMEOUT


def test_a_proxy_answering_connect_slowly_ends_at_the_timeout(hostile, make_connector) -> None:
    proxy = hostile(default=Trickle(b"HTTP/1.1 200 Connection established\r\n\r\n", 0.5))
    asset = {"url": "https://127.0.0.1:9", "api_token": TOKEN, "http_proxy": proxy.url}
    with pytest.raises(TransportError, match=r"within the timeout of 1 s"):
        make_connector({**asset, "max_retries": 0, "timeout": 1}).request("GET", PATH)
    assert proxy.requests == ["CONNECT 127.0.0.1:9 HTTP/1.0"]


# -- issue 16 item 9: response-head oddities -----------------------------------------------
OK_TAIL = b"Content-Length: 2\r\nConnection: close\r\n\r\n{}"


@pytest.mark.parametrize(
    ("answer", "detail"),
    [
        (b"HTTP/1.1 200 OK\r\nX-A: 1\r\nno colon here\r\nX-B: 2\r\n" + OK_TAIL, "without a colon"),
        (b"HTTP/1.1 200 OK\r\nX-A: 1\rno colon\r\nX-B: 2\r\n" + OK_TAIL, "stray line break"),
        (b"HTTP/1.1 200 OK\r\nX-A: 1\nno colon\r\nX-B: 2\r\n" + OK_TAIL, "stray line break"),
        (
            b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: 1\r\n" % n for n in range(150)) + OK_TAIL,
            "more than 100 header lines",
        ),
        (b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 70_000 + b"\r\n" + OK_TAIL, "longer than 64 KiB"),
        (b'{"data": [], "pagination": {}}', "no status line"),  # HTTP/0.9: a body, no head
        (b"HTTP/1.1 99999 Odd\r\n" + OK_TAIL, "no status line"),
    ],
    ids=[
        "no-colon",
        "bare-cr",
        "bare-lf",
        "too-many-headers",
        "long-line",
        "http-0.9",
        "status-99999",
    ],
)
def test_a_malformed_head_is_one_accurate_sentence_and_not_retried(
    hostile, make_connector, caplog, answer, detail
) -> None:
    server = hostile(default=answer)
    with pytest.raises(TransportError) as caught:
        make_connector(asset_for(server, max_retries=3)).request("GET", PATH)
    assert caught.value.cause is Cause.PROTOCOL
    message = str(caught.value)
    assert message.startswith(f"127.0.0.1:{server.port} sent a response that is not valid HTTP")
    assert detail in message and "closed before a response arrived" not in message
    assert len(server.requests) == 1  # a broken server does not get better by asking again
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING]


def test_cli_malformed_head_prints_one_line_and_no_traceback(hostile, tmp_path: Path) -> None:
    server = hostile(default=b"HTTP/1.1 200 OK\r\nno colon\r\n" + OK_TAIL)
    inputs = write_json(tmp_path / "i.json", {"path_parameters": {"threat_id": "1"}})
    asset = write_json(tmp_path / "a.json", asset_for(server))
    result = run_cli("run", "get_threat_events", "--asset", asset, "--inputs", inputs)
    assert result.code == 3 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "not valid HTTP" in result.stderr


# -- issue 16 item 15: informational responses ------------------------------------------------
def test_103_early_hints_are_skipped(hostile, make_connector) -> None:
    threats = json.dumps({"data": [{"id": "1"}], "pagination": {"nextCursor": None}}).encode()
    answer = (
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
        b"HTTP/1.1 102 Processing\r\n\r\n" + response(200, threats).data
    )
    server = hostile(default=answer)
    envelope = make_connector(asset_for(server)).request("GET", PATH)
    assert (envelope["status_code"], envelope["json_body"]["data"]) == (200, [{"id": "1"}])
    assert "Link" not in envelope["response_headers"]
    result = make_connector(asset_for(server)).test_connection()
    assert (result["ok"], result["status_code"]) == (True, 200)


# -- issue 16 item 16: empty bodies with Content-Encoding: gzip --------------------------------
@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 204 No Content\r\nContent-Encoding: gzip\r\nConnection: close\r\n\r\n",
        b"HTTP/1.1 304 Not Modified\r\nContent-Encoding: gzip\r\nConnection: close\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 0\r\n"
        b"Connection: close\r\n\r\n",
    ],
    ids=["204", "304", "content-length-0"],
)
def test_an_empty_gzip_body_is_an_envelope(hostile, make_connector, head) -> None:
    server = hostile(default=head)
    envelope = make_connector(asset_for(server, max_retries=2)).request("GET", PATH)
    assert envelope["json_body"] is None and envelope["response_text"] == ""
    assert envelope["response_headers"]["Content-Encoding"] == "gzip"
    assert len(server.requests) == 1


# -- compressed bodies: decoded as sent; a stream cut short or corrupt is one clear error --------
EVENTS_JSON = b'{"data": [1, 2]}'


@pytest.mark.parametrize(
    ("encoding", "data"),
    [
        ("gzip", gzip.compress(EVENTS_JSON[:9]) + gzip.compress(EVENTS_JSON[9:])),
        ("x-gzip", gzip.compress(EVENTS_JSON)),
        ("deflate", zlib.compress(EVENTS_JSON)),
    ],
    ids=["gzip-two-members", "x-gzip", "deflate"],
)
def test_a_compressed_body_is_decoded(hostile, make_connector, encoding, data) -> None:
    server = hostile(default=response(200, data, {"Content-Encoding": encoding}))
    envelope = make_connector(asset_for(server)).request("GET", PATH)
    assert envelope["json_body"] == {"data": [1, 2]}


@pytest.mark.parametrize(
    ("data", "cause"),
    [
        (gzip.compress(b'{"data": []}' * 1000)[:60], Cause.CUT_SHORT),
        (b"definitely not gzip", Cause.BROKEN),
    ],
    ids=["cut-short", "corrupt"],
)
def test_a_gzip_body_cut_short_or_corrupt_is_an_error(hostile, make_connector, data, cause):
    server = hostile(default=response(200, data, {"Content-Encoding": "gzip"}))
    with pytest.raises(TransportError) as caught:
        make_connector(asset_for(server)).request("GET", PATH)
    assert caught.value.cause is cause


# -- issue 16 item 10: charsets that are not text charsets -------------------------------------
@pytest.mark.parametrize("charset", ["idna", "undefined", "punycode", "base64", "no-such"])
def test_a_codec_that_is_not_a_charset_falls_back_to_utf8(hostile, make_connector, charset):
    body = "caf\u00e9 \u2603".encode()
    headers = {"Content-Type": f"text/plain; charset={charset}"}
    server = hostile(default=response(200, body, headers))
    envelope = make_connector(asset_for(server)).request("GET", PATH)
    assert envelope["json_body"] is None
    assert envelope["response_text"] == "caf\u00e9 \u2603"


def test_a_real_charset_is_still_used(hostile, make_connector) -> None:
    headers = {"Content-Type": "text/plain; charset=iso-8859-1"}
    server = hostile(default=response(200, b"caf\xe9", headers))
    assert make_connector(asset_for(server)).request("GET", PATH)["response_text"] == "caf\u00e9"


# -- issue 16 items 6 and 7, and non-standard JSON: bodies Python cannot hold as they are ------
def test_deep_json_is_a_body_not_an_internal_error(hostile, make_connector) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    server = hostile(default=response(200, body))
    envelope = make_connector(asset_for(server)).request("GET", PATH)
    assert envelope["json_body"] is None
    assert envelope["response_text"] == body[: 64 * 1024].decode()


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(hostile, make_connector, literal) -> None:
    body = f'{{"data": [{{"score": {literal}}}]}}'
    server = hostile(default=response(200, body))
    envelope = make_connector(asset_for(server)).request("GET", PATH)
    assert envelope["json_body"] is None and envelope["response_text"] == body
    json.dumps(envelope, allow_nan=False)  # what is printed is standard JSON


def test_numbers_python_cannot_hold_keep_their_digits(hostile, make_connector) -> None:
    digits = "7" * 5000  # beyond Python 3.11's int max_str_digits (4300)
    body = f'{{"data": [{{"big": {digits}, "huge": 1e999, "small": 12, "pi": 3.5}}]}}'
    server = hostile(default=response(200, body))
    envelope = make_connector(asset_for(server)).request("GET", PATH)
    (event,) = envelope["json_body"]["data"]
    assert str(event.pop("big")) == digits  # its digits (an int where Python has no digit limit)
    assert event == {"huge": "1e999", "small": 12, "pi": 3.5}
    json.dumps(envelope, allow_nan=False)  # to anything else, text: valid JSON (a platform's SDK)


def test_every_number_reaches_the_output_exactly_as_written(hostile, tmp_path) -> None:
    """Issue 21 item 18: the CLI's outputs write each number back as SentinelOne sent it."""
    digits = "7" * 5000
    numbers = f"{digits}, 1e400, 0.10000000000000000555, 1.50, 1E5, -2.5e-3, 12, 3.5"
    body = '{"data": [{"id": "1", "n": [' + numbers + ']}], "pagination": {"nextCursor": null}}'
    server = hostile(default=response(200, body))
    asset_file = write_json(tmp_path / "a.json", asset_for(server))
    inputs = write_json(tmp_path / "i.json", {"path_parameters": {"threat_id": "1"}})
    envelope = run_cli("run", "get_threat_events", "--asset", asset_file, "--inputs", inputs)
    assert envelope.code == 0
    assert f'"n": [{numbers}]' in envelope.stdout
    out = tmp_path / "events.ndjson"
    ndjson = run_cli(
        *["run", "get_threat_events", "--asset", asset_file, "--inputs", inputs],
        *["--format", "ndjson", "--output", str(out)],
    )
    assert ndjson.code == 0
    assert out.read_text() == '{"id": "1", "n": [' + numbers + "]}\n"


def test_a_lone_surrogate_escape_is_kept_as_sent(hostile, make_connector) -> None:
    server = hostile(default=response(200, b'{"data": ["a\\udc80b"]}'))
    envelope = make_connector(asset_for(server)).request("GET", PATH)
    assert envelope["json_body"]["data"] == ["a\udc80b"]
    assert json.loads(json.dumps(envelope)) == envelope  # prints back as the same JSON


def test_a_page_python_cannot_parse_ends_the_follow_keeping_what_was_read(plugin, hostile) -> None:
    deep = b'{"data": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}"
    server = hostile(page(events(3), cursor="c1"), response(200, deep, keep_open=True))
    envelope = run_action(plugin, "get_threat_events", asset_for(server), FOLLOW)
    body = envelope["json_body"]
    assert [e["id"] for e in body["data"]] == ["0", "1", "2"]
    assert body["pagination"]["nextCursor"] == "c1"  # resume at the page that failed
    assert body["errors"][0]["detail"] == "HTTP 200: not a page of events"
    assert envelope["response_text"].startswith('{"data": [[[[')


# -- issue 16, minor: stuck cursors ------------------------------------------------------------
def test_a_server_repeating_the_same_cursor_is_stopped(plugin, hostile) -> None:
    server = hostile(default=page(events(2), cursor="same"))
    envelope = run_action(plugin, "get_threat_events", asset_for(server), FOLLOW)
    body = envelope["json_body"]
    assert len(server.requests) == 2
    assert len(body["data"]) == 4  # both pages, as the server sent them
    assert body["errors"][0]["title"] == "Cursor loop"
    assert body["pagination"]["nextCursor"] == "same"


def test_a_cursor_cycle_is_stopped(plugin, hostile) -> None:
    server = hostile(
        page(events(1, 0), cursor="A"),
        page(events(1, 1), cursor="B"),
        default=page(events(1, 2), cursor="A"),
    )
    envelope = run_action(plugin, "get_threat_events", asset_for(server), FOLLOW)
    assert len(server.requests) == 3
    assert [e["id"] for e in envelope["json_body"]["data"]] == ["0", "1", "2"]
    assert envelope["json_body"]["errors"][0]["title"] == "Cursor loop"


@pytest.mark.parametrize("cursor", [123, {"next": "x"}, ["a"], True])
def test_a_cursor_that_is_not_a_string_is_an_error_entry(plugin, hostile, cursor) -> None:
    server = hostile(default=page(events(2), cursor=cursor))
    envelope = run_action(plugin, "get_threat_events", asset_for(server), FOLLOW)
    body = envelope["json_body"]
    assert len(server.requests) == 1  # its repr was never sent as a cursor
    assert len(body["data"]) == 2 and body["pagination"]["nextCursor"] is None
    assert body["errors"][0]["title"] == "Invalid cursor"
    assert "not a string" in body["errors"][0]["detail"]


# -- issue 16 item 8: a byte budget on the in-memory follow --------------------------------------
def test_max_response_mb_caps_the_events_a_follow_holds(plugin, hostile) -> None:
    # Each page is about 4 KB of JSON; 0.01 MB (10,485 bytes) holds two pages, not three.
    pages = [page(events(100, 100 * n), cursor=f"c{n + 1}") for n in range(6)]
    server = hostile(*pages, default=page([], cursor=None))
    size = len(pages[0].data.split(b"\r\n\r\n", 1)[1])
    assert 2 * size < 0.01 * 1024 * 1024 < 3 * size
    envelope = run_action(
        plugin, "get_threat_events", asset_for(server, max_response_mb=0.01), FOLLOW
    )
    body = envelope["json_body"]
    assert len(body["data"]) == 200  # two pages held; the third was not kept
    assert body["pagination"]["nextCursor"] == "c2"  # resume exactly at the third page
    assert "errors" not in body  # the budget ends a follow like max_events does
    assert len(server.requests) == 3


# -- issue 16 item 14: one retry budget for the whole run -----------------------------------------
def test_the_retry_budget_covers_every_page_of_a_run(plugin, hostile, make_connector) -> None:
    throttled = response(429, {"errors": []}, {"Retry-After": "86400"}, "Too Many", True)
    server = hostile(throttled, page(events(2), cursor="c1"), throttled, page(events(2)))
    # One wait of 0.3 s (Retry-After, capped) fits in the 0.5 s budget; a second does not.
    connector = make_connector(
        asset_for(server, max_retries=3), retry_after_max=0.3, wait_budget=0.5
    )
    spec = plugin.actions["get_threat_events"]
    action = spec.action_class(connector, method=spec.method, path=spec.path)
    envelope = action.run(FOLLOW)
    assert envelope["status_code"] == 429  # page 2's throttle: not waited for again
    assert [e["id"] for e in envelope["json_body"]["data"]] == ["0", "1"]
    assert envelope["json_body"]["pagination"]["nextCursor"] == "c1"
    assert len(server.requests) == 3


def test_each_request_has_its_own_deadline_on_a_kept_alive_connection(
    hostile, make_connector
) -> None:
    # 15 answers 0.1 s each over one connection: together longer than one timeout of 1 s.
    server = hostile(default=Send(page(events(1)).data, keep_open=True, delay=0.1))
    connector = make_connector(asset_for(server, timeout=1))
    statuses = {connector.request("GET", PATH)["status_code"] for _ in range(15)}
    assert statuses == {200}
    assert (len(server.requests), server.connections) == (15, 1)


def test_a_retry_wait_does_not_eat_the_next_attempts_timeout(hostile, make_connector) -> None:
    # A 1 s Retry-After, then an answer 0.5 s late: each attempt has its own 1 s deadline.
    busy = response(503, {"errors": []}, {"Retry-After": "1"}, "Busy", keep_open=True)
    server = hostile(busy, default=Send(page(events(1)).data, keep_open=True, delay=0.5))
    connector = make_connector(asset_for(server, max_retries=1, timeout=1))
    assert connector.request("GET", PATH)["status_code"] == 200
    assert len(server.requests) == 2


def test_a_huge_answer_that_is_retried_is_drained_with_bounded_memory(hostile, make_connector):
    busy = response(503, b"x" * (40 * 1024 * 1024), {"Retry-After": "0"}, "Busy", True)
    server = hostile(busy, default=page(events(1)))
    connector = make_connector(asset_for(server, max_retries=1, timeout=30))
    tracemalloc.start()
    try:
        assert connector.request("GET", PATH)["status_code"] == 200
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024  # read buffers, not the 40 MB body
    assert (len(server.requests), server.connections) == (2, 1)  # drained: the connection kept


# -- issue 21 item 19: repeated headers stay apart ---------------------------------------------
REPEATED = (
    b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
    b"X-RQID: first-id\r\nSet-Cookie: a=1; Path=/; Expires=Wed, 21 Oct 2015 07:28:00 GMT\r\n"
    b"X-RQID: second-id\r\nSet-Cookie: b=2\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
)


def test_repeated_headers_are_a_list_and_the_rqid_is_the_first(hostile, tmp_path: Path) -> None:
    server = hostile(default=REPEATED)
    asset = write_json(tmp_path / "a.json", asset_for(server))
    inputs = write_json(tmp_path / "i.json", {"path_parameters": {"threat_id": "1"}})
    args = ("run", "get_threat_events", "--asset", asset, "--inputs", inputs, "--validate-output")
    result = run_cli(*args, terminal=True)
    assert result.code == 0, result.stderr
    headers = result.envelope["response_headers"]
    assert headers["X-RQID"] == ["first-id", "second-id"]
    assert headers["Set-Cookie"] == ["a=1; Path=/; Expires=Wed, 21 Oct 2015 07:28:00 GMT", "b=2"]
    assert headers["Content-Type"] == "application/json"
    assert result.stderr.endswith("(X-RQID first-id)\n")
    follow = write_json(tmp_path / "f.json", FOLLOW)
    out = tmp_path / "events.ndjson"
    args = ("run", "get_threat_events", "--asset", asset, "--inputs", follow)
    result = run_cli(*args, "--format", "ndjson", "--output", str(out), terminal=True)
    assert result.code == 0, result.stderr
    assert "HTTP 500 Internal Server Error, X-RQID first-id;" in result.stderr
    sidecar = json.loads((tmp_path / "events.ndjson.meta.json").read_text(encoding="utf-8"))
    assert sidecar["response_headers"]["X-RQID"] == ["first-id", "second-id"]
    tested = run_cli("test-asset", "--asset", asset)
    assert tested.code == 4 and json.loads(tested.stdout)["request_id"] == "first-id"
