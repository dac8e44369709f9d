"""Asset values that pass the schema but cannot be used are asset errors naming the field
(issue 16 item 12), and hosts are shown as people write them (issue 14 item 10)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import pytest

from framework.errors import AssetError, Cause, TransportError
from framework.runner import run_action
from tests.support import TOKEN, run_cli

INPUTS = {"path_parameters": {"threat_id": "1"}}


@pytest.mark.parametrize(
    ("fields", "start"),
    [
        ({"timeout": float("nan")}, "timeout: got nan; expected a number of seconds"),
        ({"max_response_mb": float("nan")}, "max_response_mb: got nan; expected a number of"),
        ({"url": "https://usea1..sentinelone.net"}, "url: the host name"),
        ({"url": "https://.sentinelone.net"}, "url: the host name"),
        ({"url": f"https://{'a' * 64}.sentinelone.net"}, "url: the host name"),
        ({"url": "https://[::1"}, "url: not a valid URL; an IPv6 address needs both brackets"),
        ({"url": "https://[::1]:99999"}, "url: the port of [::1] is not a valid port number"),
        ({"url": "http://127.0.0.1:80\r\n80"}, "url: must not contain spaces"),
        ({"http_proxy": "http://[::1"}, "http_proxy: not a valid URL"),
        ({"http_proxy": "http://proxy..corp:3128"}, "http_proxy: the host name"),
    ],
)
def test_unusable_asset_values_are_asset_errors_naming_the_field(
    sim, plugin, fields: Dict[str, Any], start: str
) -> None:
    asset = {"url": sim.url, "api_token": TOKEN, **fields}
    with pytest.raises(AssetError) as caught:
        run_action(plugin, "get_threat_events", asset, INPUTS)
    assert caught.value.problems[0].startswith(start), str(caught.value)
    assert TOKEN not in str(caught.value)
    assert sim.requests() == []


def test_cli_nan_timeout_from_yaml_exits_2(sim, tmp_path: Path) -> None:
    asset = tmp_path / "a.yaml"
    asset.write_text(f"url: {sim.url}\napi_token: {TOKEN}\ntimeout: .nan\n", encoding="utf-8")
    inputs = tmp_path / "i.yaml"
    inputs.write_text("path_parameters: {threat_id: '1'}\n", encoding="utf-8")
    result = run_cli("run", "get_threat_events", "--asset", str(asset), "--inputs", str(inputs))
    assert result.code == 2, result
    assert "timeout: got nan" in result.stderr and "internal error" not in result.stderr
    assert sim.requests() == []


def test_an_ipv6_host_is_shown_in_brackets(make_connector) -> None:
    connector = make_connector({"url": "http://[::1]:1", "api_token": TOKEN, "max_retries": 0})
    assert connector.host == "[::1]:1"
    with pytest.raises(TransportError) as caught:  # refused, or no IPv6 here: either way
        connector.request("GET", "/web/api/v2.1/threats")
    assert caught.value.cause in (Cause.REFUSED, Cause.CONNECT)
    assert "[::1]:1" in str(caught.value) and "::1:1" not in str(caught.value).replace(
        "[::1]:1", ""
    )
    result = connector.test_connection()
    assert "[::1]:1" in result["diagnosis"]
