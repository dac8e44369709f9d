"""The connector against the simulator over real HTTP: envelopes, retries, transport failures."""

from __future__ import annotations

import json
import re
import socket

import pytest

from connectors.sentinelone import normalize_url
from framework.errors import AssetError, ConnectionLost, TransportError
from tests.support import SEED_THREAT, TOKEN

EVENTS = f"/web/api/v2.1/threats/{SEED_THREAT}/explore/events"


def test_success_envelope_is_the_response_unchanged(sim, asset, make_connector) -> None:
    envelope = make_connector(asset).request("GET", EVENTS, [("limit", "10")])
    assert list(envelope) == ["status_code", "reason", "json_body", "response_headers"]
    assert envelope["status_code"] == 200
    assert envelope["reason"] == "OK"
    assert envelope["json_body"]["pagination"] == {"nextCursor": None, "totalItems": 2}
    assert [e["id"] for e in envelope["json_body"]["data"]] == [
        "1569749506546751259",
        "1569749506538362650",
    ]
    assert envelope["response_headers"]["Content-Type"].startswith("application/json")
    assert envelope["response_headers"]["X-RQID"]


def test_request_carries_auth_accept_user_agent_and_gzip(
    sim, asset, make_connector, plugin
) -> None:
    envelope = make_connector(asset).request("GET", EVENTS)
    seen = sim.requests()[-1]
    assert seen["auth"] == "ok"
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["accept"] == "application/json"
    assert headers["user-agent"] == f"{plugin.id}/{plugin.version}"
    assert "gzip" in headers["accept-encoding"]
    assert envelope["response_headers"].get("Content-Encoding") == "gzip"


@pytest.mark.parametrize(
    ("token", "status", "code"),
    [("wrong-token", 401, 4010010), ("simulator-viewer-token", 403, 4030010)],
)
def test_4xx_are_envelopes_with_sentinelone_errors(sim, asset, make_connector, token, status, code):
    envelope = make_connector({**asset, "api_token": token}).request("GET", EVENTS)
    assert envelope["status_code"] == status
    assert envelope["json_body"]["errors"][0]["code"] == code


def test_400_validation_error_is_returned_not_raised(sim, asset, make_connector) -> None:
    envelope = make_connector(asset).request("GET", EVENTS, [("cursor", "garbage")])
    assert envelope["status_code"] == 400
    assert envelope["json_body"]["errors"][0]["detail"] == "Invalid cursor value received"


def test_5xx_html_page_gives_null_json_and_text(sim, asset, make_connector) -> None:
    page = "<html><body><h1>500 Internal Server Error</h1></body></html>"
    sim.add_faults([{"kind": "status", "status": 500, "body": page, "content_type": "text/html"}])
    envelope = make_connector(asset).request("GET", EVENTS)
    assert envelope["status_code"] == 500
    assert envelope["json_body"] is None
    assert envelope["response_text"] == page


def test_non_json_text_is_capped_at_64_kib(sim, asset, make_connector) -> None:
    sim.add_faults(
        [{"kind": "status", "status": 200, "body": "x" * 100_000, "content_type": "text/plain"}]
    )
    envelope = make_connector(asset).request("GET", EVENTS)
    assert envelope["json_body"] is None
    assert len(envelope["response_text"]) == 64 * 1024


@pytest.mark.parametrize(
    ("fault", "json_body", "text"),
    [
        ({"kind": "status", "status": 204, "body": ""}, None, ""),
        ({"kind": "status", "status": 200, "body": ""}, None, ""),
        ({"kind": "status", "status": 200, "body": '"just a string"'}, "just a string", None),
        ({"kind": "status", "status": 200, "body": "[1, 2]"}, [1, 2], None),
        (
            {"kind": "status", "status": 200, "body_b64": "eyJhIjogIv8ifQ=="},
            None,
            '{"a": "\ufffd"}',
        ),
    ],
)
def test_odd_bodies(sim, asset, make_connector, fault, json_body, text) -> None:
    sim.add_faults([fault])
    envelope = make_connector(asset).request("GET", EVENTS)
    assert envelope["json_body"] == json_body
    assert envelope.get("response_text") == text


def test_redirects_are_returned_not_followed(sim, asset, make_connector) -> None:
    sim.add_faults(
        [
            {
                "kind": "status",
                "status": 302,
                "headers": {"Location": "http://127.0.0.2:9/steal"},
                "body": "",
            }
        ]
    )
    envelope = make_connector(asset).request("GET", EVENTS)
    assert envelope["status_code"] == 302
    assert envelope["response_headers"]["Location"] == "http://127.0.0.2:9/steal"
    assert len(sim.requests()) == 1


# -- retries ----------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_retryable_statuses_are_retried_then_succeed(sim, asset, make_connector, status) -> None:
    sim.add_faults(
        [{"kind": "status", "status": status, "headers": {"Retry-After": "0"}, "count": 2}]
    )
    envelope = make_connector(asset).request("GET", EVENTS)
    assert envelope["status_code"] == 200
    assert len(sim.requests()) == 3


def test_when_retries_run_out_the_last_envelope_is_returned(sim, asset, make_connector) -> None:
    sim.add_faults(
        [
            {
                "kind": "status",
                "status": 503,
                "headers": {"Retry-After": "0"},
                "body": "busy",
                "count": 5,
            }
        ]
    )
    envelope = make_connector({**asset, "max_retries": 2}).request("GET", EVENTS)
    assert envelope["status_code"] == 503
    assert envelope["response_text"] == "busy"
    assert len(sim.requests()) == 3


def test_max_retries_zero_sends_once(sim, asset, make_connector) -> None:
    sim.add_faults([{"kind": "status", "status": 429, "headers": {"Retry-After": "0"}}])
    envelope = make_connector({**asset, "max_retries": 0}).request("GET", EVENTS)
    assert envelope["status_code"] == 429
    assert len(sim.requests()) == 1


def test_without_retry_after_backoff_is_used(sim, asset, make_connector) -> None:
    sim.add_faults([{"kind": "status", "status": 502, "count": 3}])
    envelope = make_connector(asset).request("GET", EVENTS)
    assert envelope["status_code"] == 200
    assert len(sim.requests()) == 4


def test_retry_after_beyond_the_cap_waits_only_the_cap(sim, asset, make_connector) -> None:
    sim.add_faults([{"kind": "status", "status": 429, "headers": {"Retry-After": "86400"}}])
    envelope = make_connector(asset, retry_after_max=0.2).request("GET", EVENTS)
    assert envelope["status_code"] == 200
    assert len(sim.requests()) == 2


def test_absurd_retry_after_stops_at_the_wait_budget(sim, asset, make_connector) -> None:
    sim.add_faults(
        [{"kind": "status", "status": 429, "headers": {"Retry-After": "86400"}, "count": 20}]
    )
    connector = make_connector({**asset, "max_retries": 10}, retry_after_max=0.4, wait_budget=1.0)
    envelope = connector.request("GET", EVENTS)
    assert envelope["status_code"] == 429
    assert envelope["response_headers"]["Retry-After"] == "86400"
    assert 2 <= len(sim.requests()) <= 3  # the budget, not max_retries, ended it


def test_non_retryable_statuses_are_not_retried(sim, asset, make_connector) -> None:
    sim.add_faults([{"kind": "status", "status": 500, "count": 3}])
    assert make_connector(asset).request("GET", EVENTS)["status_code"] == 500
    assert len(sim.requests()) == 1


@pytest.mark.parametrize("kind", ["drop", "reset"])
def test_connection_resets_are_retried(sim, asset, make_connector, kind) -> None:
    sim.add_faults([{"kind": kind, "count": 2}])
    assert make_connector(asset).request("GET", EVENTS)["status_code"] == 200
    assert len(sim.requests()) == 3


def test_reset_mid_body_is_retried(sim, asset, make_connector) -> None:
    sim.add_faults([{"kind": "reset_mid_body"}])
    assert make_connector(asset).request("GET", EVENTS)["status_code"] == 200
    assert len(sim.requests()) == 2


def test_resets_beyond_max_retries_raise_a_clear_error(sim, asset, make_connector) -> None:
    sim.add_faults([{"kind": "drop", "count": 5}])
    with pytest.raises(ConnectionLost, match=r"127\.0\.0\.1"):
        make_connector({**asset, "max_retries": 1}).request("GET", EVENTS)
    assert len(sim.requests()) == 2


def test_timeout_is_a_clear_transport_error(sim, asset, make_connector) -> None:
    sim.add_faults([{"kind": "delay", "seconds": 3}])
    with pytest.raises(TransportError, match=r"within the timeout of 0\.5 s"):
        make_connector({**asset, "timeout": 0.5}).request("GET", EVENTS)


def test_refused_connection_is_a_clear_transport_error(make_connector) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(TransportError, match=re.escape(f"127.0.0.1:{port} was refused")):
        make_connector({"url": f"http://127.0.0.1:{port}", "api_token": TOKEN}).request(
            "GET", EVENTS
        )


def test_dns_failure_is_a_clear_transport_error(make_connector) -> None:
    with pytest.raises(TransportError, match=r"nonexistent\.invalid could not be resolved"):
        make_connector({"url": "https://nonexistent.invalid", "api_token": TOKEN}).request(
            "GET", EVENTS
        )


def test_oversized_response_is_refused(sim, asset, make_connector) -> None:
    sim.add_faults([{"kind": "huge", "megabytes": 3}])
    with pytest.raises(TransportError, match=r"larger than max_response_mb \(1 MB\)"):
        make_connector({**asset, "max_response_mb": 1}).request("GET", EVENTS)


def test_gzip_body_is_decoded(sim, asset, make_connector) -> None:
    body = json.dumps({"data": [], "pagination": {"nextCursor": None, "totalItems": 0}})
    sim.add_faults(
        [
            {
                "kind": "status",
                "status": 200,
                "body": body,
                "content_type": "application/json",
                "gzip": True,
            }
        ]
    )
    envelope = make_connector(asset).request("GET", EVENTS)
    assert envelope["json_body"] == json.loads(body)
    assert envelope["response_headers"]["Content-Encoding"] == "gzip"


# -- URL handling -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("given", "base"),
    [
        ("https://usea1-acme.sentinelone.net", "https://usea1-acme.sentinelone.net"),
        ("https://usea1-acme.sentinelone.net/", "https://usea1-acme.sentinelone.net"),
        (
            " https://usea1-acme.sentinelone.net/web/api/v2.1/ ",
            "https://usea1-acme.sentinelone.net",
        ),
        ("HTTPS://Console.Example:8443/web/api/v2.1", "https://Console.Example:8443"),
        ("http://127.0.0.1:8080/web/api/v2.0", "http://127.0.0.1:8080"),
        ("http://localhost:1", "http://localhost:1"),
        ("http://[::1]:1/", "http://[::1]:1"),
        ("https://Console.Example/WEB/API/", "https://Console.Example"),
    ],
)
def test_url_normalisation(given: str, base: str) -> None:
    assert normalize_url(given) == base


@pytest.mark.parametrize(
    "path",
    [
        "/../x",
        "/x",
        "/s1/web/api/v2.1",
        "/web/api/../../x",
        "/web/api/v2.1/threats",
        "/./",
        "/%2F",
        "/web/api/v2.1%2F..",
        "//",
        "/web//api",
    ],
)
def test_a_console_url_has_no_path(path: str) -> None:
    # The value is quoted (issue 21, friction): credentials were refused before this check.
    given = re.escape(repr(f"http://127.0.0.1:1{path}"))
    no_path = rf"^invalid asset: url: got {given}; expected the console's base URL with no path"
    with pytest.raises(AssetError, match=no_path):
        normalize_url(f"http://127.0.0.1:1{path}")


def test_repr_of_connector_and_auth_hide_the_token(asset, make_connector) -> None:
    connector = make_connector(asset)
    assert TOKEN not in repr(connector)
    assert TOKEN not in repr(connector.session.auth)
    assert TOKEN not in repr(connector.session.headers)
