"""TLS against the simulator with certificates made at test time (trustme)."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest
import trustme
from urllib3.exceptions import InsecureRequestWarning

import simulator
from framework.errors import AssetError, Cause, TransportError
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


# -- issue 16 item 17, issue 14 item 6: each TLS failure names its own cause -----------------
@pytest.fixture(scope="module")
def bad_certs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Any]]:
    """Simulators with an expired certificate and one for another host, both from a CA whose
    PEM file is ``ca``: with ca_bundle set, the CA is trusted and only the named fault is left."""
    folder = tmp_path_factory.mktemp("badtls")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    now = datetime.now(timezone.utc)
    certs = {
        "expired": ca.issue_cert(
            "127.0.0.1", not_before=now - timedelta(days=30), not_after=now - timedelta(days=1)
        ),
        "wrong_host": ca.issue_cert("console.example"),
    }
    servers = {}
    for name, cert in certs.items():
        cert_path, key_path = folder / f"{name}.pem", folder / f"{name}.key"
        cert.private_key_and_cert_chain_pem.write_to_path(str(cert_path))
        cert.private_key_pem.write_to_path(str(key_path))
        servers[name] = simulator.start(token=TOKEN, tls_cert=str(cert_path), tls_key=str(key_path))
    yield {"ca": str(folder / "ca.pem"), **servers}
    for server in servers.values():
        server.shutdown()


@pytest.mark.parametrize(
    ("server", "cause", "words"),
    [
        ("expired", Cause.TLS_EXPIRED, "has expired or is not valid yet"),
        ("wrong_host", Cause.TLS_HOSTNAME, "is issued for another host name"),
    ],
)
def test_expired_and_wrong_host_certificates_do_not_blame_the_ca(
    bad_certs, make_connector, server, cause, words
) -> None:
    url = bad_certs[server].url
    asset = {"url": url, "api_token": TOKEN, "ca_bundle": bad_certs["ca"], "max_retries": 0}
    with pytest.raises(TransportError) as caught:
        make_connector(asset).request("GET", EVENTS)
    assert caught.value.cause is cause
    assert words in str(caught.value) and url.split("//")[1] in str(caught.value)
    assert "set ca_bundle" not in str(caught.value)
    result = make_connector(asset).test_connection()
    assert (result["cause"], result["diagnosis"]) == (cause.value, str(caught.value))


def test_an_untrusted_ca_is_its_own_cause(tls_sim, make_connector) -> None:
    server, _ = tls_sim
    with pytest.raises(TransportError, match="is not trusted") as caught:
        make_connector({"url": server.url, "api_token": TOKEN}).request("GET", EVENTS)
    assert caught.value.cause is Cause.TLS_UNTRUSTED


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "is empty"),
        (b"\x30\x82\x01\x0a binary DER bytes", "is not a PEM certificate bundle (no -----BEGIN"),
        (
            b"-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n",
            "is not a PEM certificate bundle (a certificate in it cannot be read)",
        ),
    ],
    ids=["empty", "der", "broken-pem"],
)
def test_a_bad_ca_bundle_is_an_asset_error_before_anything_is_sent(
    tls_sim, make_connector, tmp_path: Path, content, words
) -> None:
    server, _ = tls_sim
    server.clear_requests()
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(content)
    with pytest.raises(AssetError, match=r"^invalid asset: ca_bundle: the file .*ca\.pem ") as exc:
        make_connector({"url": server.url, "api_token": TOKEN, "ca_bundle": str(bundle)})
    assert words in str(exc.value)
    assert server.requests() == []


def test_a_fifo_as_ca_bundle_is_refused_without_blocking(make_connector, tmp_path: Path) -> None:
    fifo = tmp_path / "ca.pem"
    os.mkfifo(fifo)  # opening it would wait for a writer forever
    with pytest.raises(AssetError, match=r"^invalid asset: ca_bundle: the file .* is not a file"):
        make_connector({"url": "https://127.0.0.1:9", "api_token": TOKEN, "ca_bundle": str(fifo)})


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_ca_bundle_says_so(tls_sim, make_connector, tmp_path: Path) -> None:
    server, ca_path = tls_sim
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(Path(ca_path).read_bytes())
    bundle.chmod(0)
    unreadable = r"^invalid asset: ca_bundle: cannot read the file .*permission denied"
    with pytest.raises(AssetError, match=unreadable):
        make_connector({"url": server.url, "api_token": TOKEN, "ca_bundle": str(bundle)})


def test_cli_test_asset_with_a_der_ca_bundle_exits_2(tls_sim, tmp_path: Path) -> None:
    server, _ = tls_sim
    bundle = tmp_path / "ca.der"
    bundle.write_bytes(b"\x30\x82\x01\x0a")
    asset = write_json(
        tmp_path / "a.json", {"url": server.url, "api_token": TOKEN, "ca_bundle": str(bundle)}
    )
    result = run_cli("test-asset", "--asset", asset)
    assert result.code == 2
    assert json.loads(result.stdout)["cause"] == "invalid_asset"
    assert "not a PEM certificate bundle" in result.stderr
