"""The asset's proxy is really used (plain and CONNECT), and its credentials never leak."""

from __future__ import annotations

from pathlib import Path

import pytest

from framework.errors import TransportError
from tests.support import PROXY_PASSWORD, SEED_THREAT, TOKEN, run_cli, write_json

EVENTS = f"/web/api/v2.1/threats/{SEED_THREAT}/explore/events"


def test_requests_go_through_the_proxy(sim, asset, proxy, make_connector) -> None:
    connector = make_connector({**asset, "http_proxy": proxy.url()})
    assert connector.request("GET", EVENTS)["status_code"] == 200
    assert proxy.seen and proxy.seen[0][0] == "GET"
    assert proxy.seen[0][1].startswith(f"{sim.url}{EVENTS}")
    assert sim.requests()[-1]["auth"] == "ok"


def test_proxy_credentials_are_sent_and_never_shown(sim, asset, auth_proxy, make_connector) -> None:
    connector = make_connector({**asset, "http_proxy": auth_proxy.url(with_credentials=True)})
    assert connector.request("GET", EVENTS)["status_code"] == 200
    assert PROXY_PASSWORD not in repr(connector.session.proxies)
    assert PROXY_PASSWORD not in repr(connector)


def test_dead_proxy_is_a_clear_error_naming_the_proxy(asset, make_connector) -> None:
    connector = make_connector({**asset, "http_proxy": "http://127.0.0.1:9"})
    with pytest.raises(TransportError, match=r"proxy 127\.0\.0\.1:9"):
        connector.request("GET", EVENTS)


def test_cli_through_proxy_with_credentials(sim, asset, auth_proxy, tmp_path: Path) -> None:
    asset_path = write_json(
        tmp_path / "a.json", {**asset, "http_proxy": auth_proxy.url(with_credentials=True)}
    )
    inputs = write_json(tmp_path / "in.json", {"path_parameters": {"threat_id": SEED_THREAT}})
    result = run_cli(
        "--debug", "run", "get_threat_events", "--asset", asset_path, "--inputs", inputs
    )
    assert result.code == 0
    assert result.envelope["status_code"] == 200
    assert auth_proxy.seen


def test_https_through_a_proxy_that_wants_credentials_says_407(tls_sim, auth_proxy, make_connector):
    server, ca_path = tls_sim
    connector = make_connector(
        {
            "url": server.url,
            "api_token": TOKEN,
            "ca_bundle": ca_path,
            "http_proxy": auth_proxy.url(),
        }
    )
    with pytest.raises(TransportError, match=r"requires authentication \(HTTP 407\)") as caught:
        connector.request("GET", EVENTS)
    assert caught.value.cause == "proxy_auth"
    assert auth_proxy.seen[0][0] == "CONNECT"


def test_https_through_the_proxy_with_credentials_tunnels(tls_sim, auth_proxy, make_connector):
    server, ca_path = tls_sim
    proxy_url = auth_proxy.url(with_credentials=True)
    connector = make_connector(
        {"url": server.url, "api_token": TOKEN, "ca_bundle": ca_path, "http_proxy": proxy_url}
    )
    assert connector.request("GET", EVENTS)["status_code"] == 200
    assert auth_proxy.seen == [("CONNECT", f"127.0.0.1:{server.port}")]
