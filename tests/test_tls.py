"""TLS against the simulator with certificates made at test time (trustme)."""

from __future__ import annotations

from pathlib import Path

import pytest
from urllib3.exceptions import InsecureRequestWarning

from framework.errors import TransportError
from tests.support import SEED_THREAT, TOKEN, run_cli, write_json

EVENTS = f"/web/api/v2.1/threats/{SEED_THREAT}/explore/events"


def test_untrusted_certificate_fails_with_a_ca_bundle_hint(tls_sim, make_connector) -> None:
    server, _ = tls_sim
    with pytest.raises(TransportError, match="set ca_bundle"):
        make_connector({"url": server.url, "api_token": TOKEN}).request("GET", EVENTS)


def test_ca_bundle_makes_the_private_ca_trusted(tls_sim, make_connector) -> None:
    server, ca_path = tls_sim
    connector = make_connector({"url": server.url, "api_token": TOKEN, "ca_bundle": ca_path})
    assert connector.request("GET", EVENTS)["status_code"] == 200


def test_verify_off_connects_without_trust(tls_sim, make_connector) -> None:
    server, _ = tls_sim
    connector = make_connector({"url": server.url, "api_token": TOKEN, "verify_ssl": False})
    with pytest.warns(InsecureRequestWarning):  # never silenced: verify off stays visible
        assert connector.request("GET", EVENTS)["status_code"] == 200


def test_cli_tls_failure_exits_3_and_ca_bundle_exits_0(tls_sim, tmp_path: Path) -> None:
    server, ca_path = tls_sim
    inputs = write_json(tmp_path / "in.json", {"path_parameters": {"threat_id": SEED_THREAT}})
    untrusted = write_json(tmp_path / "a.json", {"url": server.url, "api_token": TOKEN})
    result = run_cli("run", "get_threat_events", "--asset", untrusted, "--inputs", inputs)
    assert result.code == 3
    assert "certificate" in result.stderr and "ca_bundle" in result.stderr
    trusted = write_json(
        tmp_path / "b.json", {"url": server.url, "api_token": TOKEN, "ca_bundle": ca_path}
    )
    result = run_cli("run", "get_threat_events", "--asset", trusted, "--inputs", inputs)
    assert result.code == 0
    assert result.envelope["status_code"] == 200


def test_https_to_http_redirect_is_not_followed(tls_sim, sim, make_connector) -> None:
    server, ca_path = tls_sim
    server.clear_requests()
    target = f"{sim.url}{EVENTS}"  # plain http on another port
    server.add_faults(
        [{"kind": "status", "status": 302, "headers": {"Location": target}, "body": ""}]
    )
    connector = make_connector({"url": server.url, "api_token": TOKEN, "ca_bundle": ca_path})
    envelope = connector.request("GET", EVENTS)
    assert envelope["status_code"] == 302
    assert sim.requests() == []
    assert len(server.requests()) == 1
