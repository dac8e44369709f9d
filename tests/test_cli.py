"""End to end: ``python -m runtime run`` against the simulator, as the platform runs it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support import SEED_THREAT, TOKEN, run_cli, synthetic_threat, write_json

SEED = Path(__file__).resolve().parent.parent.parent / "shared" / "seed" / "get-threat-events.md"


@pytest.fixture()
def asset_path(asset, tmp_path: Path) -> str:
    return write_json(tmp_path / "asset.json", asset)


def run_events(asset_path: str, tmp_path: Path, inputs, *extra: str):
    path = write_json(tmp_path / "inputs.json", inputs)
    return run_cli("run", "get_threat_events", "--asset", asset_path, "--inputs", path, *extra)


def test_seed_threat_returns_the_seed_events(sim, asset_path, tmp_path, plugin) -> None:
    result = run_events(asset_path, tmp_path, {"path_parameters": {"threat_id": SEED_THREAT}})
    assert result.code == 0
    envelope = result.envelope
    assert list(envelope) == ["status_code", "reason", "json_body", "response_headers"]
    assert envelope["status_code"] == 200
    expected = plugin.actions["get_threat_events"].output_schema["examples"][0]["json_body"]
    assert envelope["json_body"] == expected


def test_seed_example_in_the_schema_is_the_seed_file_verbatim(plugin) -> None:
    if not SEED.exists():
        pytest.skip("shared/seed is not beside this checkout")
    text = SEED.read_text(encoding="utf-8")
    example = json.loads(re.search(r"```json\n(.*?)\n```", text, re.S).group(1))
    assert plugin.actions["get_threat_events"].output_schema["examples"] == example


def test_spec_example_inputs_send_the_spec_query(sim, asset_path, tmp_path) -> None:
    inputs = {
        "path_parameters": {"threat_id": SEED_THREAT},
        "parameters": {"limit": 100, "eventTypes": ["process", "file"], "sortOrder": "desc"},
    }
    result = run_events(asset_path, tmp_path, inputs)
    assert result.code == 0
    seen = sim.requests()
    assert len(seen) == 1
    assert seen[0]["path"] == f"/web/api/v2.1/threats/{SEED_THREAT}/explore/events"
    assert seen[0]["query"] == "limit=100&eventTypes=process,file&sortOrder=desc"


def test_templated_strings_are_encoded_like_typed_values(sim, asset_path, tmp_path) -> None:
    inputs = {
        "path_parameters": {"threat_id": SEED_THREAT},
        "parameters": {
            "limit": "5",
            "skipCount": "true",
            "countOnly": False,
            "eventSubTypes": "PROCESSCREATION,DNS",
            "processName__like": "power shell&x=1",
            "cursor": None,
        },
    }
    assert run_events(asset_path, tmp_path, inputs).code == 0
    seen = sim.requests()[0]
    assert seen["query"] == (
        "limit=5&skipCount=true&countOnly=false&eventSubTypes=PROCESSCREATION,DNS"
        "&processName__like=power%20shell%26x%3D1"
    )
    assert seen["params"]["processName__like"] == ["power shell&x=1"]


def test_yaml_files_and_stdin(sim, asset, tmp_path) -> None:
    asset_yaml = tmp_path / "asset.yaml"
    asset_yaml.write_text(f"url: {asset['url']}\napi_token: {TOKEN}\n", encoding="utf-8")
    result = run_cli(
        "run",
        "get_threat_events",
        "--asset",
        str(asset_yaml),
        "--inputs",
        "-",
        "--pretty",
        stdin=f"path_parameters:\n  threat_id: {SEED_THREAT}\nparameters:\n  limit: 1\n",
    )
    assert result.code == 0
    assert result.stdout.startswith("{\n  ")
    assert len(result.envelope["json_body"]["data"]) == 1


def test_http_errors_exit_0_with_the_envelope(sim, asset, tmp_path) -> None:
    path = write_json(tmp_path / "bad-token.json", {**asset, "api_token": "nope"})
    result = run_events(path, tmp_path, {"path_parameters": {"threat_id": SEED_THREAT}})
    assert result.code == 0
    assert result.envelope["status_code"] == 401
    assert result.envelope["json_body"]["errors"][0]["title"] == "Authentication Failed"


def test_unknown_threat_is_an_empty_page(sim, asset_path, tmp_path) -> None:
    result = run_events(asset_path, tmp_path, {"path_parameters": {"threat_id": "42"}})
    assert result.code == 0
    assert result.envelope["json_body"] == {
        "data": [],
        "pagination": {"nextCursor": None, "totalItems": 0},
    }


def test_validate_output_flag_checks_the_envelope(sim, asset_path, tmp_path) -> None:
    inputs = {"path_parameters": {"threat_id": synthetic_threat(50)}, "parameters": {"limit": 50}}
    result = run_events(asset_path, tmp_path, inputs, "--validate-output")
    assert result.code == 0
    assert len(result.envelope["json_body"]["data"]) == 50


def test_transport_failure_exits_3_with_one_sentence(sim, asset, tmp_path) -> None:
    sim.add_faults([{"kind": "drop", "count": 2}])
    path = write_json(tmp_path / "a.json", {**asset, "max_retries": 1})
    result = run_events(path, tmp_path, {"path_parameters": {"threat_id": SEED_THREAT}})
    assert result.code == 3
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "127.0.0.1" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--asset", "/nonexistent.json"], "--asset: the file /nonexistent.json does not exist"),
        (["--asset", "-", "--inputs", "-"], "invalid option: --asset and --inputs cannot both"),
    ],
)
def test_file_problems_exit_2(args, message) -> None:
    result = run_cli("run", "get_threat_events", *args)
    assert result.code == 2
    assert message in result.stderr


def test_unparseable_file_names_the_place_not_the_content(tmp_path) -> None:
    bad = tmp_path / "asset.yaml"
    bad.write_text(f"url: [unclosed\napi_token: {TOKEN}\n", encoding="utf-8")
    result = run_cli("run", "get_threat_events", "--asset", str(bad))
    assert result.code == 2
    assert "not valid JSON or YAML at line" in result.stderr


def test_unknown_action_exits_2(asset_path) -> None:
    result = run_cli("run", "get_threat_evnts", "--asset", asset_path)
    assert result.code == 2
    assert "not an action of this plugin; known: get_threat_events" in result.stderr


def test_debug_logging_shows_requests_but_no_secret(sim, asset_path, tmp_path) -> None:
    path = write_json(tmp_path / "in.json", {"path_parameters": {"threat_id": SEED_THREAT}})
    result = run_cli("--debug", "run", "get_threat_events", "--asset", asset_path, "--inputs", path)
    assert result.code == 0
    assert "/explore/events" in result.stderr


def test_export_help_lists_the_platforms() -> None:
    from exporters.common import platforms

    result = run_cli("export", "--help")
    assert result.code == 0
    assert f"one of: {', '.join(platforms())}" in " ".join(result.stdout.split())


def test_no_inputs_says_no_inputs_were_given(sim, asset, tmp_path) -> None:
    """Issue 21 (friction): not "path_parameters: missing"; nothing is sent."""
    asset_file = write_json(tmp_path / "asset.json", asset)
    result = run_cli("run", "get_threat_events", "--asset", asset_file)
    assert result.code == 2
    assert result.stderr == (
        "invalid inputs: no inputs were given; get_threat_events needs path_parameters "
        "(--inputs FILE, or - for stdin).\n"
    )
    assert sim.requests() == []


def test_test_asset_quiet_is_quiet(sim, asset, tmp_path) -> None:
    asset_file = write_json(tmp_path / "asset.json", asset)
    loud = run_cli("test-asset", "--asset", asset_file)
    quiet = run_cli("test-asset", "--asset", asset_file, "--quiet")
    assert (loud.code, quiet.code) == (0, 0)
    assert loud.stderr.startswith("Connected:") and quiet.stderr == ""
    assert json.loads(quiet.stdout)["ok"] is True
