"""python -m runtime export cortex: the analyzer tree, its JSON definition from the manifest and
the asset schema, the templates, and the quoting of every manifest value (no cortexutils here:
tests/platforms/test_cortex.py runs the program under it)."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any, Dict

import pytest

from framework.manifest import Plugin
from tests.support import ROOT, copy_plugin, edit_text, run_cli
from tests.support import tree_files as files

FOLDER = "analyzers/ThreatEventsForSentinelOne"
TEMPLATES = "thehive-templates/ThreatEventsForSentinelOne_GetThreatEvents_1_0_0"
TREE = [
    "CORTEX-EXPORT.md",
    f"{FOLDER}/LICENSE",
    f"{FOLDER}/NOTICE",
    f"{FOLDER}/README.md",
    f"{FOLDER}/ThreatEventsForSentinelOne_GetThreatEvents.json",
    f"{FOLDER}/requirements.txt",
    f"{FOLDER}/s1_threat_events_analyzer.py",
    f"{TEMPLATES}/long.html",
    f"{TEMPLATES}/short.html",
]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("export") / "cortex"
    result = run_cli("export", "cortex", "--output", str(folder))
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines() == [
        str(folder),
        str(folder.parent / "cortex-s1_threat_events-1.0.0.zip"),
    ]
    return folder


@pytest.fixture(scope="module")
def definition(tree: Path) -> Dict[str, Any]:
    text = (tree / FOLDER / "ThreatEventsForSentinelOne_GetThreatEvents.json").read_text(
        encoding="utf-8"
    )
    return json.loads(text)


def test_the_tree_is_an_analyzer_folder_with_the_plugin_core(tree: Path) -> None:
    names = sorted(files(tree))
    assert [n for n in names if n in TREE] == TREE
    core = [n[len(FOLDER) + 1 :] for n in names if n not in TREE]
    assert all(n.startswith(f"{FOLDER}/") for n in names if n not in TREE)
    assert {
        "plugin.yaml",
        "framework/runner.py",
        "connectors/sentinelone.py",
        "actions/get_threat_events.py",
        "schemas/asset.schema.json",
    } <= set(core)
    assert not [n for n in core if n.startswith(("runtime/", "tests/", "simulator/", "exporters/"))]
    assert (tree / FOLDER / "plugin.yaml").read_bytes() == (ROOT / "plugin.yaml").read_bytes()
    program = (tree / FOLDER / "s1_threat_events_analyzer.py").read_bytes()
    assert program == (ROOT / "exporters/cortex/entry.py").read_bytes()
    assert program.startswith(b"#!/usr/bin/env python3\n")
    with zipfile.ZipFile(tree.parent / "cortex-s1_threat_events-1.0.0.zip") as archive:
        assert {n: archive.read(n) for n in archive.namelist()} == files(tree)


def test_export_is_byte_reproducible(tree: Path, tmp_path: Path) -> None:
    again = tmp_path / "cortex"
    assert run_cli("export", "cortex", "--output", str(again)).code == 0
    assert files(again) == files(tree)


def test_cortex_is_a_known_platform() -> None:
    from exporters.common import platforms

    assert "cortex" in platforms() and "common" not in platforms()


def test_definition_identity_comes_from_the_manifest(
    definition: Dict[str, Any], plugin: Plugin
) -> None:
    settings = plugin.platforms["cortex"]
    action = plugin.actions["get_threat_events"]
    assert definition["name"] == "ThreatEventsForSentinelOne_GetThreatEvents"
    assert definition["version"] == plugin.version
    assert definition["author"] == plugin.publisher  # ours, not SentinelOne's
    assert definition["description"] == action.description
    assert (definition["license"], definition["url"]) == (plugin.license, plugin.homepage)
    assert definition["dataTypeList"] == settings["dataTypeList"] == ["other"]
    assert definition["command"] == "ThreatEventsForSentinelOne/s1_threat_events_analyzer.py"
    assert definition["baseConfig"] == "ThreatEventsForSentinelOne"
    assert definition["config"] == {"action": "get_threat_events"}


def test_configuration_items_are_the_asset_schema_with_the_token_secret(
    definition: Dict[str, Any], plugin: Plugin
) -> None:
    schema = plugin.asset.schema
    items = definition["configurationItems"]
    assert [i["name"] for i in items] == list(schema["properties"])
    assert {i["name"] for i in items if i["required"]} == set(schema["required"])
    assert {i["name"] for i in items if i.get("secret")} == set(plugin.asset.secrets)
    assert plugin.asset.secrets == ("api_token",)
    by_name = {i["name"]: i for i in items}
    assert by_name["verify_ssl"]["type"] == "boolean" and by_name["verify_ssl"]["defaultValue"]
    assert by_name["max_retries"]["type"] == "number"  # Cortex has no integer
    assert by_name["ca_bundle"]["type"] == "string" and "defaultValue" not in by_name["ca_bundle"]
    assert all(i["multi"] is False and i["description"] for i in items)
    assert all(i["type"] in {"text", "string", "number", "boolean"} for i in items)


def test_requirements_pin_cortexutils_then_ours(tree: Path, plugin: Plugin) -> None:
    lines = (tree / FOLDER / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert lines[1] == plugin.platforms["cortex"]["runtime"] == "cortexutils==2.2.1"
    assert {"requests==2.32.5", "jsonschema==4.25.1", "PyYAML==6.0.3"} <= set(lines)


def test_templates_show_the_events_and_the_counts(tree: Path, plugin: Plugin) -> None:
    long = (tree / TEMPLATES / "long.html").read_text(encoding="utf-8")
    assert 'ng-repeat="event in content.envelope.json_body.data"' in long
    assert 'ng-repeat="row in content.event_types"' in long
    for column in plugin.platforms["cortex"]["columns"]:
        assert "{{event[&quot;" + column + "&quot;]}}" in long
    assert "<th ng-non-bindable>Process name</th>" in long  # the output schema's title
    assert "content.errorMessage" in long
    short = (tree / TEMPLATES / "short.html").read_text(encoding="utf-8")
    assert "t in content.taxonomies" in short


def test_readme_documents_the_configuration_and_the_license(tree: Path) -> None:
    readme = (tree / FOLDER / "README.md").read_text(encoding="utf-8")
    assert "| `api_token` (secret) | string | yes |" in readme
    assert "Apache-2.0: https://www.apache.org/licenses/LICENSE-2.0" in readme
    assert "`full.envelope`" in readme


def test_manifest_values_are_quoted_everywhere(tmp_path: Path) -> None:
    root = copy_plugin(tmp_path / "plugin")
    hostile = 'Evil "one" </span><script>x</script> {{7*7}}'
    # Identity fields are restricted by the meta-schema; an action's title is free text.
    action_title = "    title: Get Threat Events\n"
    edit_text(root / "plugin.yaml", action_title, f"    title: {json.dumps(hostile)}\n")
    edit_text(
        root / "schemas/get_threat_events.output.schema.json",
        '"title": "Process name"',
        '"title": "Process <b>name</b> {{1+1}}"',
    )
    out = tmp_path / "out"
    result = run_cli("export", "cortex", "--root", str(root), "--output", str(out))
    assert result.code == 0, result.stderr
    (folder,) = (out / "analyzers").iterdir()
    assert re.fullmatch(r"[A-Za-z0-9]+", folder.name)
    (spec_path,) = folder.glob("*.json")
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    assert spec["name"].startswith(folder.name + "_")
    (templates,) = (out / "thehive-templates").iterdir()
    long = (templates / "long.html").read_text(encoding="utf-8")
    assert "<script>" not in long and "<b>" not in long
    # Manifest text reaches the page only escaped, inside elements Angular leaves alone.
    for text in re.findall(r"<(?:span|th) ng-non-bindable>(.*?)</", long):
        assert "<" not in text and '"' not in text
    outside = re.sub(r"<(span|th) ng-non-bindable>.*?</\1>", "", long)
    assert "7*7" not in outside and "1+1" not in outside
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert readme.startswith("# Threat Events for SentinelOne 1.0.0: Cortex analyzer\n")


def test_a_column_the_output_schema_does_not_know_is_refused(tmp_path: Path) -> None:
    root = copy_plugin(tmp_path / "plugin")
    edit_text(root / "plugin.yaml", "columns: [createdAt,", "columns: [createdAtt,")
    result = run_cli("export", "cortex", "--root", str(root), "--output", str(tmp_path / "o"))
    assert result.code == 1
    assert "platforms.cortex.columns: not event fields: ['createdAtt']" in result.stderr
