"""plugin.yaml, its meta-schema, the schemas it references, and the output schema's reach."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from framework.manifest import ManifestError, load_plugin
from runtime.lint import lint_plugin
from tests.support import copy_plugin


def test_the_plugin_is_valid() -> None:
    assert lint_plugin() == []


def test_manifest_references_resolve(plugin) -> None:
    from framework.action import Action
    from framework.connector import HttpConnector

    assert issubclass(plugin.asset.connector_class, HttpConnector)
    for action in plugin.actions.values():
        assert issubclass(action.action_class, Action)
        assert action.input_schema["$schema"] == action.output_schema["$schema"]


@pytest.fixture()
def plugin_copy(tmp_path: Path) -> Path:
    return copy_plugin(tmp_path / "plugin")


def test_every_manifest_problem_is_reported_with_its_location(plugin_copy: Path) -> None:
    text = (plugin_copy / "plugin.yaml").read_text()
    text = text.replace("version: 1.0.0", "version: one").replace("method: GET", "method: FETCH")
    (plugin_copy / "plugin.yaml").write_text(text)
    with pytest.raises(ManifestError) as caught:
        load_plugin(plugin_copy)
    problems = caught.value.problems
    assert any(p.startswith("plugin.yaml: version:") for p in problems)
    assert any(p.startswith("plugin.yaml: actions.get_threat_events.method:") for p in problems)


def test_missing_schema_file_is_reported(plugin_copy: Path) -> None:
    (plugin_copy / "schemas" / "asset.schema.json").unlink()
    assert any("asset.schema.json does not exist" in p for p in lint_plugin(str(plugin_copy)))


def test_output_schema_accepts_real_world_variation(plugin) -> None:
    action = plugin.actions["get_threat_events"]
    envelope = copy.deepcopy(action.output_schema["examples"][0])
    event = envelope["json_body"]["data"][0]
    event.update({"pid": 22566, "dstPort": "443", "fileSize": 1024, "brandNewField": {"x": [1]}})
    envelope["json_body"]["data"][1]["agentIp"] = None
    assert list(action.output_validator.iter_errors(envelope)) == []
    html = {
        "status_code": 502,
        "reason": "Bad Gateway",
        "json_body": None,
        "response_headers": {},
        "response_text": "<html></html>",
    }
    assert list(action.output_validator.iter_errors(html)) == []


@pytest.mark.parametrize(
    "breakage",
    [
        lambda e: e.pop("status_code"),
        lambda e: e.update(status_code="200"),
        lambda e: e.update(response_headers=["Content-Type"]),
        lambda e: e.update(response_headers={"X-RQID": 5}),
        lambda e: e["json_body"].update(data={"not": "a list"}),
        lambda e: e.update(surprise=1),
    ],
)
def test_output_schema_rejects_malformed_envelopes(plugin, breakage) -> None:
    action = plugin.actions["get_threat_events"]
    envelope = copy.deepcopy(action.output_schema["examples"][0])
    breakage(envelope)
    assert list(action.output_validator.iter_errors(envelope))
