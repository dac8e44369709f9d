"""examples/: every file validates against the schemas, and every input runs against the simulator.

The asset template runs with the simulator's URL and token put in for its placeholders; the
playbook's action inputs run with its templates rendered from a sample incident.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml

from framework.errors import InputError
from framework.runner import check_output, prepare_asset, prepare_inputs, run_action
from tests.support import ROOT, SEED_THREAT, TOKEN, run_cli, synthetic_threat, write_json

EXAMPLES = ROOT / "examples"
INPUTS = sorted((EXAMPLES / "inputs").glob("*.yaml"))
TEMPLATE = re.compile(r"\{\{\s*incident\.(\w+)\s*\}\}")


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture()
def asset_file(sim, tmp_path: Path) -> str:
    """The asset template with the simulator's URL and token in place of the placeholders."""
    asset = {**load(EXAMPLES / "asset.example.yaml"), "url": sim.url, "api_token": TOKEN}
    return write_json(tmp_path / "asset.json", asset)


def test_the_common_cases_are_there() -> None:
    assert [path.name for path in INPUTS] == [
        "count-only.yaml",
        "first-page.yaml",
        "follow-all.yaml",
        "process-events-by-created-at.yaml",
    ]


def test_asset_template_is_valid_and_holds_only_placeholders(plugin) -> None:
    template = load(EXAMPLES / "asset.example.yaml")
    assert set(template) <= set(plugin.asset.schema["properties"])
    with pytest.raises(InputError) as caught:  # untouched, it says so instead of going to DNS
        prepare_asset(plugin, template)
    assert caught.value.problems == [
        "url and api_token still hold the template's placeholder; fill in url and api_token."
    ]
    filled = {**template, "url": "https://acme.sentinelone.net", "api_token": "t0k"}
    assert prepare_asset(plugin, filled)["url"] == filled["url"]


def test_asset_template_passes_the_connection_test(asset_file) -> None:
    result = run_cli("test-asset", "--asset", asset_file)
    assert result.code == 0, result.stderr


@pytest.mark.parametrize("path", INPUTS, ids=[path.stem for path in INPUTS])
def test_example_inputs_validate_and_run(path, plugin, sim, asset_file) -> None:
    spec = plugin.actions["get_threat_events"]
    inputs = prepare_inputs(spec, load(path))  # raises InputError naming the problem
    result = run_cli(
        "run", "get_threat_events", "--asset", asset_file, "--inputs", str(path),
        "--validate-output",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    envelope = result.envelope
    assert envelope["status_code"] == 200
    body = envelope["json_body"]
    parameters = inputs.get("parameters") or {}
    if parameters.get("countOnly"):
        assert body["data"] == [] and body["pagination"]["totalItems"] == 2
    else:
        assert 1 <= len(body["data"]) <= parameters.get("limit", 10)
    if parameters.get("eventTypes"):
        assert {event["objectType"] for event in body["data"]} <= set(parameters["eventTypes"])
    if parameters.get("sortBy") == "createdAt":
        created = [event["createdAt"] for event in body["data"]]
        assert created == sorted(created, reverse=parameters.get("sortOrder") == "desc")
    if inputs.get("follow_cursor"):
        assert body["pagination"]["nextCursor"] is None
    assert sim.requests()


def playbook_steps(steps: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Every step of the playbook, nested ones (switch cases, conditions) included."""
    found = []
    for step in steps:
        found.append(step)
        for case in (step.get("cases") or {}).values():
            found.extend(playbook_steps(case))
        found.extend(playbook_steps(step.get("then") or []))
    return found


def render(value: Any, incident: Dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {key: render(item, incident) for key, item in value.items()}
    if isinstance(value, str):
        return TEMPLATE.sub(lambda match: incident[match.group(1)], value)
    return value


def test_playbook_uses_the_plugin_and_branches_on_status_code(plugin, sim, asset) -> None:
    playbook = load(EXAMPLES / "playbook.example.yaml")
    steps = playbook_steps(playbook["steps"])
    calls = [step for step in steps if step.get("action")]
    assert calls, "the playbook calls no action"
    for call in calls:
        assert call["plugin"] == plugin.id
        assert call["action"] in plugin.actions
        assert call["asset"] == plugin.asset.id
    (switch,) = [step for step in steps if step.get("type") == "switch"]
    assert switch["value"] == "{{ steps.get_events.output.status_code }}"
    assert "status_code" in plugin.actions["get_threat_events"].output_schema["required"]
    assert {200, 401, 403} <= set(switch["cases"])

    for incident_threat in (SEED_THREAT, synthetic_threat(1500)):
        incident = {"sentinelone_threat_id": incident_threat}
        for call in calls:
            spec = plugin.actions[call["action"]]
            inputs = render(call["inputs"], incident)
            prepare_inputs(spec, inputs)  # templated strings ("true", "1000") are accepted
            envelope = run_action(plugin, call["action"], asset, inputs)
            assert envelope["status_code"] == 200
            assert check_output(spec, envelope) is None
            assert envelope["json_body"]["pagination"]["nextCursor"] is None
    assert len(envelope["json_body"]["data"]) == 1500


# --- per-platform playbooks: each matches what its platform's export shows a playbook ---------


def test_swimlane_playbook_reads_401_403_429_from_the_failed_task(plugin, sim, asset) -> None:
    playbook = load(EXAMPLES / "playbooks" / "swimlane.yaml")
    steps = playbook_steps(playbook["steps"])
    (call,) = [step for step in steps if step.get("action")]
    assert (call["plugin"], call["action"], call["asset"]) == (
        plugin.id, "get_threat_events", plugin.asset.id,
    )  # fmt: skip
    by_id = {step["id"]: step for step in steps if "id" in step}
    switch = by_id[call["on_failure"]]
    assert switch["value"] == "{{ steps.get_events.error.status_code }}"
    assert {401, 403, 429} <= set(switch["cases"])
    success = by_id[call["on_success"]]
    assert "status_code" not in str(success)  # a successful task is always < 400
    inputs = render(call["inputs"], {"sentinelone_threat_id": SEED_THREAT})
    envelope = run_action(plugin, "get_threat_events", asset, inputs)
    assert envelope["status_code"] == 200


def test_splunk_soar_playbook_uses_the_apps_params_and_datapaths(plugin) -> None:
    from exporters.splunk_soar import mapping

    playbook = load(EXAMPLES / "playbooks" / "splunk_soar.yaml")
    assert playbook["app"] == plugin.title
    spec = plugin.actions["get_threat_events"]
    names = {field.name for field in mapping.params(spec.input_schema)}
    calls = [b for b in playbook["blocks"] if b["type"] == "action"]
    assert calls
    for block in calls:
        assert block["action"] == spec.title.lower()
        assert set(block["parameters"]) <= names
    top = mapping.output_tree(spec.output_schema)["object"]

    def known(path: str) -> bool:
        parts = path.split(":", 1)[1].split(".")
        assert parts[0] == "action_result", path
        if parts[1] in ("status", "message"):
            return True
        if parts[1] == "summary":
            return parts[2] in mapping.SUMMARY_FIELDS
        node: object = {"list": {"object": top}}
        for part in parts[2:]:
            node = node["list"] if part == "*" else node["object"][part]
        return True

    datapaths = [c["if"][0] for b in playbook["blocks"] for c in b.get("conditions", [])]
    datapaths += [d for b in playbook["blocks"] for d in b.get("datapaths", [])]
    assert all(known(path) for path in datapaths)
    (decision,) = [b for b in playbook["blocks"] if b["type"] == "decision"]
    statuses = {
        c["if"][2] for c in decision["conditions"] if c["if"][0].endswith("data.*.status_code")
    }
    assert statuses == {401, 403, 429}
    assert decision["conditions"][0]["if"] == ["get_events:action_result.status", "==", "success"]


PLAYBOOKS = EXAMPLES / "playbooks"


def test_insightconnect_playbook_matches_what_insightconnect_does(plugin, sim, asset) -> None:
    # InsightConnect fails the step on 401/403/404/429/5xx (the envelope in exception.data):
    # the output's status_code never holds them, the failure branch does. Inputs are typed by
    # the spec: no templated "1000" or "true" (the vendor runtime refuses them).
    playbook = load(PLAYBOOKS / "insightconnect.yaml")
    assert playbook["platform"] == "insightconnect"
    steps = playbook_steps(playbook["steps"])
    (call,) = [step for step in steps if step.get("action")]
    assert call["plugin"] == plugin.id != "sentinelone"  # the official plugin's name
    assert call["action"] in plugin.actions and call["connection"] == plugin.asset.id
    spec = plugin.actions[call["action"]]
    inputs = call["inputs"]
    assert isinstance(inputs["parameters"]["limit"], int)
    assert inputs["follow_cursor"] is True and isinstance(inputs["max_events"], int)
    decisions = {step["id"]: step for step in steps if step.get("type") == "decision"}
    on_output = decisions[call["next"]]
    on_failure = decisions[call["on_failure"]]
    assert "status_code" in on_output["value"] and "exception" not in on_output["value"]
    assert not set(on_output["cases"]) & set(STATUS_PRESETS)  # they fail the step instead
    assert "[exception].[data]" in on_failure["value"]
    assert {401, 403, 429} <= set(on_failure["cases"]) <= set(STATUS_PRESETS) | {"default"}

    threat = TEMPLATE_IC.sub(SEED_THREAT, inputs["path_parameters"]["threat_id"])
    rendered = {**inputs, "path_parameters": {"threat_id": threat}}
    envelope = run_action(plugin, call["action"], asset, prepare_inputs(spec, rendered))
    assert envelope["status_code"] == 200 and check_output(spec, envelope) is None


# The statuses the InsightConnect export fails the step on (exporters/insightconnect/entry.py,
# which imports the vendor runtime: not importable here).
STATUS_PRESETS = {401, 403, 404, 429, 500, 502, 503, 504}
TEMPLATE_IC = re.compile(r'\{\{\["Trigger"\]\.\[threat_id\]\}\}')


def test_shuffle_playbook_matches_what_shuffle_does(plugin, sim) -> None:
    # Shuffle returns every HTTP response as the result: the switch on status_code holds
    # 401/403/429; our own failures are success: false. Parameters are flat strings named as
    # api.yaml names them.
    from exporters.flat import asset_fields, input_fields
    from exporters.shuffle.entry import run

    playbook = load(PLAYBOOKS / "shuffle.yaml")
    assert playbook["platform"] == "shuffle"
    steps = playbook_steps(playbook["steps"])
    for step in list(steps):
        steps += playbook_steps(step.get("else") or [])
    (call,) = [step for step in steps if step.get("action")]
    assert call["app"] == plugin.id and call["action"] in plugin.actions
    spec = plugin.actions[call["action"]]
    names = {field.name for field in input_fields(spec.input_schema)}
    assert set(call["parameters"]) <= names
    assert all(isinstance(value, str) for value in call["parameters"].values())
    (condition,) = [step for step in steps if step.get("type") == "condition"]
    assert condition["if"].startswith("$get_events.success")
    (switch,) = [step for step in steps if step.get("type") == "switch"]
    assert switch["value"] == "$get_events.status_code"
    assert {200, 401, 403, 429} <= set(switch["cases"])

    values = {field.name: "" for field in asset_fields(plugin.asset.schema)}
    values.update(url=sim.url, api_token=TOKEN)
    values.update(
        {k: v.replace("$exec.threat_id", SEED_THREAT) for k, v in call["parameters"].items()}
    )
    envelope = yaml.safe_load(run(ROOT, call["action"], values))
    assert envelope["status_code"] == 200 and check_output(spec, envelope) is None
