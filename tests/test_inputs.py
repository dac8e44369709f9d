"""Input and asset validation: coercion of templated strings, one clear sentence per problem."""

from __future__ import annotations

from typing import Any, Dict

import pytest

from framework.errors import InputError
from framework.runner import prepare_asset, prepare_inputs, run_action
from tests.support import SEED_THREAT, TOKEN, run_cli, write_json


def inputs(**parameters: Any) -> Dict[str, Any]:
    return {"path_parameters": {"threat_id": SEED_THREAT}, "parameters": parameters}


@pytest.fixture()
def action(plugin):
    return plugin.actions["get_threat_events"]


def test_templated_strings_are_converted(action) -> None:
    got = prepare_inputs(
        action,
        inputs(
            limit="100",
            skip=" 5 ",
            skipCount="true",
            countOnly="FALSE",
            eventTypes="process, file",
            eventSubTypes='["DNS", "TCPV4"]',
        ),
    )
    assert got["parameters"] == {
        "limit": 100,
        "skip": 5,
        "skipCount": True,
        "countOnly": False,
        "eventTypes": ["process", "file"],
        "eventSubTypes": ["DNS", "TCPV4"],
    }


def test_typed_values_and_nulls_pass_unchanged(action) -> None:
    value = inputs(limit=10, sortOrder="asc", cursor=None, eventTypes=["process"], skipCount=False)
    assert prepare_inputs(action, value) == value


def test_integer_threat_id_from_yaml_becomes_its_exact_digits(action) -> None:
    got = prepare_inputs(action, {"path_parameters": {"threat_id": 1569749506546751259}})
    assert got["path_parameters"]["threat_id"] == "1569749506546751259"


def test_whole_float_becomes_integer_but_fraction_is_refused(action) -> None:
    assert prepare_inputs(action, inputs(limit=100.0))["parameters"]["limit"] == 100
    with pytest.raises(InputError, match=r"parameters\.limit: got 10\.5 \(number\)"):
        prepare_inputs(action, inputs(limit=10.5))


@pytest.mark.parametrize(
    ("value", "field", "expectation"),
    [
        (inputs(limit="abc"), "parameters.limit", "an integer from 1 to 1000"),
        (inputs(limit=0), "parameters.limit", "an integer from 1 to 1000"),
        (inputs(limit=1001), "parameters.limit", "an integer from 1 to 1000"),
        (inputs(limit=True), "parameters.limit", "an integer from 1 to 1000"),
        (inputs(skip=1001), "parameters.skip", "an integer from 0 to 1000"),
        (inputs(sortOrder="up"), "parameters.sortOrder", "one of asc, desc"),
        (inputs(sortBy="name"), "parameters.sortBy", "one of id, createdAt"),
        (inputs(skipCount="yes"), "parameters.skipCount", "true or false"),
        (inputs(countOnly=1), "parameters.countOnly", "true or false"),
        (inputs(eventTypes={"a": 1}), "parameters.eventTypes", "a list of event type names"),
        (inputs(eventTypes=["a,b"]), "parameters.eventTypes[0]", "without commas"),
        (inputs(bogus=1), "parameters.bogus", "unknown input"),
        ({"path_parameters": {"threat_id": SEED_THREAT}, "extra": 1}, "extra", "unknown input"),
        ({"parameters": {}}, "path_parameters", "missing"),
        ({"path_parameters": {}}, "path_parameters.threat_id", "missing"),
        ([1, 2], "the inputs", "must be a mapping of field names to values; got a list."),
    ],
)
def test_bad_inputs_name_field_value_and_expectation(action, value, field, expectation) -> None:
    with pytest.raises(InputError) as caught:
        prepare_inputs(action, value)
    message = str(caught.value)
    assert f"invalid inputs: {field}" in message
    assert expectation in message


@pytest.mark.parametrize(
    "threat_id",
    ["../1", "1/2", "1%2F2", "1?x=1", "1#x", "1\n2", " 1 2", "\u0661\u0662", 1.5e18, True],
)
def test_threat_ids_that_could_change_the_path_are_refused(plugin, asset, threat_id) -> None:
    with pytest.raises(InputError) as caught:
        run_action(
            plugin, "get_threat_events", asset, {"path_parameters": {"threat_id": threat_id}}
        )
    assert "path_parameters.threat_id: got " in str(caught.value)
    assert "a decimal digit string" in str(caught.value)


def test_every_problem_is_reported_at_once(action) -> None:
    with pytest.raises(InputError) as caught:
        prepare_inputs(action, inputs(limit="x", sortOrder="up", bogus=1))
    assert len(caught.value.problems) == 3


def test_asset_defaults_and_coercion(plugin) -> None:
    got = prepare_asset(
        plugin,
        {"url": "https://x.example", "api_token": TOKEN, "timeout": "12.5", "verify_ssl": "false"},
    )
    assert got["timeout"] == 12.5
    assert got["verify_ssl"] is False
    assert got["max_retries"] == 3
    assert got["max_response_mb"] == 64


@pytest.mark.parametrize(
    ("asset", "field", "expectation"),
    [
        ({"api_token": TOKEN}, "url", "missing"),
        ({"url": "https://x.example"}, "api_token", "missing"),
        ({"url": "ftp://x.example", "api_token": TOKEN}, "url", "a URL starting with https://"),
        ({"url": "https://x.example", "api_token": ""}, "api_token", "api_token is empty"),
        (
            {"url": "https://x.example", "api_token": TOKEN, "max_retries": 11},
            "max_retries",
            "0 to 10",
        ),
        (
            {"url": "https://x.example", "api_token": TOKEN, "timeout": 0},
            "timeout",
            "greater than 0",
        ),
        (  # an asset key is an asset field (issue 21, friction)
            {"url": "https://x.example", "api_token": TOKEN, "verify": 1},
            "verify",
            "unknown asset field",
        ),
    ],
)
def test_bad_assets_are_refused(plugin, asset, field, expectation) -> None:
    with pytest.raises(InputError) as caught:
        prepare_asset(plugin, asset)
    assert f"invalid asset: {field}" in str(caught.value)
    assert expectation in str(caught.value)


def test_secret_values_are_never_shown_in_asset_errors(plugin) -> None:
    with pytest.raises(InputError) as caught:
        prepare_asset(plugin, {"url": "https://x.example", "api_token": [TOKEN]})
    assert TOKEN not in str(caught.value)
    assert "api_token: got a hidden value" in str(caught.value)


@pytest.mark.parametrize(
    "bad",
    [
        {"limit": "many"},
        {"eventTypes": ["a,b"]},
        {"unknown": 1},
    ],
)
def test_cli_input_errors_exit_2_and_send_nothing(sim, asset, tmp_path, bad) -> None:
    result = run_cli(
        "run",
        "get_threat_events",
        "--asset",
        write_json(tmp_path / "asset.json", asset),
        "--inputs",
        write_json(
            tmp_path / "in.json", {"path_parameters": {"threat_id": SEED_THREAT}, "parameters": bad}
        ),
    )
    assert result.code == 2
    assert result.stdout == ""
    assert "invalid inputs: parameters." in result.stderr
    assert sim.requests() == []


@pytest.mark.parametrize(
    ("asset_change", "message"),
    [
        ({"url": "http://console.example"}, "plain http:// is refused"),
        ({"url": "https://user:hunter2secret@console.example"}, "must not contain credentials"),
        ({"ca_bundle": "/nonexistent/ca.pem"}, "ca_bundle: the file /nonexistent/ca.pem"),
        ({"http_proxy": "socks5://127.0.0.1:1080"}, "http_proxy"),
    ],
)
def test_cli_asset_errors_exit_2_and_send_nothing(
    sim, asset, tmp_path, asset_change, message
) -> None:
    result = run_cli(
        "run",
        "get_threat_events",
        "--asset",
        write_json(tmp_path / "asset.json", {**asset, **asset_change}),
        "--inputs",
        write_json(tmp_path / "in.json", {"path_parameters": {"threat_id": SEED_THREAT}}),
    )
    assert result.code == 2, result
    assert message in result.stderr
    assert "hunter2secret" not in result.stderr
    assert sim.requests() == []
