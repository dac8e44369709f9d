"""The asset's connection test (plugin.yaml ``asset.test``, ``python -m runtime test-asset``).

One cheap authenticated read, and exactly one diagnosis per failure, each against a real server
on 127.0.0.1: the simulator, a TLS simulator with a trustme CA, a real forward proxy, a closed
port, and ``nonexistent.invalid`` (a name that never resolves, RFC 6761).
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any, Dict, Iterable

import simulator
from tests.support import TOKEN, run_cli, write_json

RESULT_KEYS = ["ok", "status_code", "cause", "diagnosis", "request_id"]


def closed_port(candidates: Iterable[int] = (0,)) -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    for port in candidates:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise AssertionError("no free port among the candidates")


def check(make_connector: Any, asset: Dict[str, Any]) -> Dict[str, Any]:
    result = make_connector({"max_retries": 0, **asset}).test_connection()
    assert list(result) == RESULT_KEYS
    assert result["diagnosis"].endswith(".") and "\n" not in result["diagnosis"]
    return result


def test_manifest_names_the_connector_method(plugin) -> None:
    assert plugin.asset.test == "test_connection"
    assert callable(getattr(plugin.asset.connector_class, plugin.asset.test))


def test_success_is_one_cheap_threats_read(sim, asset, make_connector) -> None:
    result = check(make_connector, asset)
    assert (result["ok"], result["cause"], result["status_code"]) == (True, "ok", 200)
    (seen,) = sim.requests()
    assert (seen["path"], seen["query"], seen["auth"]) == ("/web/api/v2.1/threats", "limit=1", "ok")
    assert result["request_id"] == seen["rqid"]


def test_401_says_token_invalid_or_expired(sim, asset, make_connector) -> None:
    result = check(make_connector, {**asset, "api_token": "expired-token-123"})
    assert (result["ok"], result["cause"], result["status_code"]) == (False, "token_invalid", 401)
    assert "invalid or expired" in result["diagnosis"] and "6 months" in result["diagnosis"]
    assert result["request_id"]


def test_403_says_the_token_lacks_threats_view(sim, asset, make_connector) -> None:
    result = check(make_connector, {**asset, "api_token": simulator.DEFAULT_VIEWER_TOKEN})
    assert (result["cause"], result["status_code"]) == ("permission", 403)
    assert "Threats.view" in result["diagnosis"]


def test_unexpected_status_quotes_status_and_request_id(sim, asset, make_connector) -> None:
    sim.add_faults([{"kind": "status", "status": 500}])
    result = check(make_connector, asset)
    assert (result["cause"], result["status_code"]) == ("unexpected", 500)
    assert "HTTP 500" in result["diagnosis"]
    assert result["request_id"] and result["request_id"] in result["diagnosis"]


def test_a_200_that_is_not_the_api_is_unexpected(sim, asset, make_connector) -> None:
    page = "<html>Sign in to the corporate portal</html>"
    sim.add_faults([{"kind": "status", "status": 200, "body": page, "content_type": "text/html"}])
    result = check(make_connector, asset)
    assert (result["ok"], result["cause"], result["status_code"]) == (False, "unexpected", 200)


def test_dns_name_not_found(make_connector) -> None:
    result = check(make_connector, {"url": "https://nonexistent.invalid", "api_token": TOKEN})
    assert (result["cause"], result["status_code"]) == ("dns", None)
    assert "nonexistent.invalid" in result["diagnosis"]


def test_connection_refused(make_connector) -> None:
    port = closed_port()
    result = check(make_connector, {"url": f"http://127.0.0.1:{port}", "api_token": TOKEN})
    assert result["cause"] == "refused"
    assert f"127.0.0.1:{port}" in result["diagnosis"]


def test_untrusted_certificate_suggests_ca_bundle(tls_sim, make_connector) -> None:
    server, ca_path = tls_sim
    result = check(make_connector, {"url": server.url, "api_token": TOKEN})
    assert result["cause"] == "tls"
    assert "not trusted" in result["diagnosis"] and "ca_bundle" in result["diagnosis"]
    trusted = check(make_connector, {"url": server.url, "api_token": TOKEN, "ca_bundle": ca_path})
    assert trusted["ok"] is True


def test_proxy_refused(sim, asset, make_connector) -> None:
    port = closed_port(range(40700, 40800))  # "407" in the port is not a 407 status
    result = check(make_connector, {**asset, "http_proxy": f"http://127.0.0.1:{port}"})
    assert result["cause"] == "proxy"
    assert f"proxy 127.0.0.1:{port}" in result["diagnosis"]


def test_proxy_needs_auth_as_a_response(sim, asset, auth_proxy, make_connector) -> None:
    result = check(make_connector, {**asset, "http_proxy": auth_proxy.url()})  # plain http
    assert (result["cause"], result["status_code"]) == ("proxy_auth", 407)
    assert "http_proxy" in result["diagnosis"]
    assert auth_proxy.seen and not sim.requests()  # the console was never reached


def test_proxy_needs_auth_on_connect(tls_sim, auth_proxy, make_connector) -> None:
    server, ca_path = tls_sim
    asset = {"url": server.url, "api_token": TOKEN, "ca_bundle": ca_path}
    result = check(make_connector, {**asset, "http_proxy": auth_proxy.url()})
    assert (result["cause"], result["status_code"]) == ("proxy_auth", None)
    assert auth_proxy.seen[0][0] == "CONNECT"
    with_credentials = {**asset, "http_proxy": auth_proxy.url(with_credentials=True)}
    assert check(make_connector, with_credentials)["ok"] is True


def test_timeout(sim, asset, make_connector) -> None:
    sim.add_faults([{"kind": "delay", "seconds": 30}])  # ends early when the simulator stops
    result = check(make_connector, {**asset, "timeout": 0.3})
    assert (result["cause"], result["status_code"]) == ("timeout", None)
    assert "0.3 s" in result["diagnosis"]


# -- the command ------------------------------------------------------------------------------


def test_cli_success_exit_0_json_on_stdout_one_line_on_stderr(sim, asset, tmp_path) -> None:
    result = run_cli("test-asset", "--asset", write_json(tmp_path / "a.json", asset))
    assert result.code == 0
    assert json.loads(result.stdout)["ok"] is True
    assert result.stderr.startswith("Connected:") and result.stderr.count("\n") == 1


def test_cli_http_failure_exits_4(sim, asset) -> None:
    viewer = json.dumps({**asset, "api_token": simulator.DEFAULT_VIEWER_TOKEN})
    result = run_cli("test-asset", "--asset", "-", stdin=viewer)
    assert result.code == 4
    assert json.loads(result.stdout)["cause"] == "permission"
    assert "Threats.view" in result.stderr


def test_cli_transport_failure_exits_3(tmp_path: Path) -> None:
    asset = {"url": f"http://127.0.0.1:{closed_port()}", "api_token": TOKEN, "max_retries": 0}
    result = run_cli("test-asset", "--asset", write_json(tmp_path / "a.json", asset))
    assert result.code == 3
    assert json.loads(result.stdout)["cause"] == "refused"
    assert result.stderr.startswith("transport error: The connection to 127.0.0.1")
    assert "was refused" in result.stderr and "check the host and port" in result.stderr


def test_cli_invalid_asset_exits_2_and_sends_nothing(sim, asset, tmp_path) -> None:
    bad = {**asset, "timeout": "soon"}
    result = run_cli("test-asset", "--asset", write_json(tmp_path / "a.json", bad), "--pretty")
    assert result.code == 2
    output = json.loads(result.stdout)
    assert (output["ok"], output["cause"]) == (False, "invalid_asset")
    assert 'timeout: got "soon"' in result.stderr
    assert sim.requests() == []


def test_a_token_the_server_echoes_is_not_quoted_in_the_diagnosis(tmp_path: Path) -> None:
    from tests.hostile import HostileServer, response

    digits = "418418418418418418418"
    for token in (TOKEN, digits):  # unquoted in YAML, the digits are read as a number
        echo = response(418, {"ok": False}, {"X-RQID": f"rq-{token}"}, reason=f"ApiToken {token}")
        with HostileServer(default=echo) as server:
            path = tmp_path / "asset.yaml"
            path.write_text(f"url: {server.url}\napi_token: {token}\n", encoding="utf-8")
            result = run_cli("test-asset", "--asset", str(path))
        assert result.code == 4, result.stderr
        tested = json.loads(result.stdout)
        assert tested["cause"] == "unexpected"
        assert "HTTP 418 ApiToken ***, X-RQID rq-***" in tested["diagnosis"]
        assert token not in result.stdout and token not in result.stderr
