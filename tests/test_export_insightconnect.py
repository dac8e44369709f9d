"""python -m runtime export insightconnect: the tree and what it says, without InsightConnect's
code (tests/platforms/test_insightconnect.py runs the vendor's runtime and validators)."""

from __future__ import annotations

import ast
import hashlib
import json
import re
from pathlib import Path
from typing import Any, Dict

import jsonschema
import yaml

from exporters.insightconnect import schema_of
from framework.manifest import Plugin
from tests.support import ROOT, copy_plugin, edit_text, run_cli
from tests.support import tree_files as files

PACKAGE = "icon_s1_threat_events"
TREE = [
    ".CHECKSUM",
    ".dockerignore",
    "Dockerfile",
    "LICENSE",
    "Makefile",
    "NOTICE",
    f"bin/{PACKAGE}",
    "extension.png",
    "help.md",
    "icon.png",
    f"{PACKAGE}/__init__.py",
    f"{PACKAGE}/actions/__init__.py",
    f"{PACKAGE}/actions/get_threat_events/__init__.py",
    f"{PACKAGE}/actions/get_threat_events/action.py",
    f"{PACKAGE}/actions/get_threat_events/schema.py",
    f"{PACKAGE}/connection/__init__.py",
    f"{PACKAGE}/connection/connection.py",
    f"{PACKAGE}/connection/schema.py",
    f"{PACKAGE}/tasks/__init__.py",
    f"{PACKAGE}/triggers/__init__.py",
    f"{PACKAGE}/util/__init__.py",
    f"{PACKAGE}/util/bridge.py",
    f"{PACKAGE}/util/plugin_data.py",
    "plugin.spec.yaml",
    "requirements.txt",
    "setup.py",
    "unit_test/__init__.py",
    "unit_test/test_get_threat_events.py",
]
CORE = f"{PACKAGE}/util/"  # the plugin's code: framework/, connectors/, actions/
SCHEMA_BLOCK = re.compile(r'"""(.*?)"""', re.DOTALL)  # how OutputValidator reads schema.py


def export(folder: Path, *extra: str) -> Path:
    result = run_cli("export", "insightconnect", "--output", str(folder), *extra)
    assert result.code == 0, result.stderr
    return folder


def spec_of(folder: Path) -> Dict[str, Any]:
    return yaml.safe_load((folder / "plugin.spec.yaml").read_text(encoding="ascii"))


def schemas_in(path: Path) -> list:
    return [json.loads(block) for block in SCHEMA_BLOCK.findall(path.read_text(encoding="utf-8"))]


def test_the_tree_is_the_insight_plugin_layout_plus_the_core(tmp_path: Path) -> None:
    folder = export(tmp_path / "sentinelone")
    names = sorted(files(folder))
    code = ("framework/", "connectors/", "actions/")
    core = [n for n in names if n.startswith(tuple(CORE + c for c in code))]
    assert [n for n in names if n not in core] == TREE
    assert {f"{CORE}framework/runner.py", f"{CORE}connectors/sentinelone.py"} <= set(core)
    # Packages find_packages() installs with the plugin: every folder has its __init__.py.
    for package in {n.rsplit("/", 1)[0] for n in core}:
        assert f"{package}/__init__.py" in names, package
    # plugin.yaml and the schemas travel as Python (the vendor's .dockerignore drops *.json).
    assert not [n for n in names if n.endswith((".json", ".yaml")) and n != "plugin.spec.yaml"]
    assert (folder / "LICENSE").read_bytes() == (ROOT / "LICENSE").read_bytes()
    # insight-plugin's tools take every schema.py for one of theirs: the core holds none.
    assert [n for n in names if n.endswith("schema.py")] == [
        f"{PACKAGE}/actions/get_threat_events/schema.py",
        f"{PACKAGE}/connection/schema.py",
    ]
    assert (tmp_path / "insightconnect-s1_threat_events-1.0.0.zip").is_file()


def test_export_is_byte_reproducible(tmp_path: Path) -> None:
    first = export(tmp_path / "a" / "sentinelone")
    second = export(tmp_path / "b" / "sentinelone")
    assert files(first) == files(second)


def test_the_connection_is_the_asset_schema(tmp_path: Path, plugin: Plugin) -> None:
    spec = spec_of(export(tmp_path / "sentinelone"))
    connection = spec["connection"]
    assert list(connection) == list(plugin.asset.schema["properties"])
    assert connection["api_token"]["type"] == "credential_secret_key"
    assert connection["api_token"]["title"] == "API Token"
    assert [k for k, f in connection.items() if f["required"]] == ["url", "api_token"]
    # A proxy URL may carry a password: stored as a credential, like the token.
    assert connection["http_proxy"]["type"] == "credential_secret_key"
    assert connection["http_proxy"]["required"] is False
    assert connection["timeout"]["type"] == "float" and connection["timeout"]["default"] == 30
    assert connection["max_retries"]["type"] == "integer"
    assert connection["verify_ssl"] == {
        **connection["verify_ssl"],
        "type": "boolean",
        "default": True,
    }
    assert connection["url"]["example"] == "https://usea1-acme.sentinelone.net"
    # Acronyms in capitals where the validator looks: whole words ("https," is not one).
    assert "used for both HTTP and https," in connection["http_proxy"]["description"]


def test_the_action_input_and_output_come_from_its_schemas(tmp_path: Path, plugin: Plugin) -> None:
    spec = spec_of(export(tmp_path / "sentinelone"))
    action = spec["actions"]["get_threat_events"]
    schema = plugin.actions["get_threat_events"]
    assert action["title"] == schema.title
    assert action["description"] == " ".join(schema.description.split())[:-1]  # no final period
    assert list(action["input"]) == list(schema.input_schema["properties"])
    assert action["input"]["path_parameters"]["type"] == "path_parameters"
    assert action["input"]["path_parameters"]["required"] is True
    assert action["input"]["path_parameters"]["example"] == {"threat_id": "1569749506546751259"}
    assert action["input"]["follow_cursor"]["default"] is False
    types = spec["types"]
    assert list(types["parameters"]) == list(
        schema.input_schema["properties"]["parameters"]["properties"]
    )
    assert types["parameters"]["eventTypes"]["type"] == "[]string"
    assert types["parameters"]["limit"]["type"] == "integer"
    # Enums lose null; an optional enum also accepts "" (left empty in the UI).
    assert types["parameters"]["sortOrder"]["enum"] == ["asc", "desc", ""]
    assert types["parameters"]["sortOrder"]["example"] == "asc"
    assert types["path_parameters"]["threat_id"]["required"] is True
    output = action["output"]
    assert list(output) == list(schema.output_schema["properties"])
    # What the envelope may hold as null is not required (the bridge leaves a null out).
    assert [k for k, f in output.items() if f["required"]] == ["status_code", "response_headers"]
    assert output["json_body"]["type"] == output["response_headers"]["type"] == "object"


def test_spec_texts_follow_the_validators_rules(tmp_path: Path) -> None:
    spec = spec_of(export(tmp_path / "sentinelone"))
    fields = [*spec["connection"].values()]
    for action in spec["actions"].values():
        fields += [action, *action["input"].values(), *action["output"].values()]
    for fields_of_type in spec["types"].values():
        fields += fields_of_type.values()
    for field in fields:
        assert not field["description"].endswith("."), field["description"]
        assert field["description"][0].isupper() and len(field["description"]) <= 500
        assert field["title"][0].isupper() and len(field["title"].split()) <= 7
        assert "null" not in json.dumps(field.get("enum", []))
    assert spec["sdk"]["version"] == "6.6.0"
    assert "help" not in spec


def test_schema_modules_hold_the_spec_as_json_schema(tmp_path: Path) -> None:
    folder = export(tmp_path / "sentinelone")
    spec = spec_of(folder)
    action = spec["actions"]["get_threat_events"]
    inputs, outputs = schemas_in(folder / PACKAGE / "actions/get_threat_events/schema.py")
    assert inputs == schema_of(action["input"], spec["types"])
    assert outputs == schema_of(action["output"], spec["types"])
    assert inputs["required"] == ["path_parameters"]
    assert inputs["properties"]["parameters"] == {
        "$ref": "#/definitions/parameters",
        "title": "Query Parameters",
        "description": (
            "Optional filters, sorting and paging. Absent or null parameters are not sent"
        ),
        "order": 2,
    }
    (connection,) = schemas_in(folder / PACKAGE / "connection/schema.py")
    assert connection["definitions"]["credential_secret_key"]["required"] == ["secretKey"]
    # Every example the spec gives is valid for the schema the vendor runtime checks with.
    jsonschema.validate({k: f["example"] for k, f in action["input"].items()}, inputs)
    jsonschema.validate({k: f["example"] for k, f in spec["connection"].items()}, connection)
    # A string for an integer is not: the vendor runtime refuses it before our code runs.
    bad = {"path_parameters": {"threat_id": "1"}, "max_events": "100"}
    assert not jsonschema.Draft202012Validator(inputs).is_valid(bad)


def test_checksum_holds_the_hashes_of_the_generated_files(tmp_path: Path) -> None:
    folder = export(tmp_path / "sentinelone")
    checksum = json.loads((folder / ".CHECKSUM").read_text(encoding="utf-8"))

    def md5(name: str) -> str:
        return hashlib.md5((folder / name).read_bytes()).hexdigest()  # noqa: S324 - the format's

    assert checksum["spec"] == md5("plugin.spec.yaml")
    assert checksum["manifest"] == md5(f"bin/{PACKAGE}")
    assert checksum["setup"] == md5("setup.py")
    assert checksum["schemas"] == [
        {
            "identifier": "get_threat_events/schema.py",
            "hash": md5(f"{PACKAGE}/actions/get_threat_events/schema.py"),
        },
        {"identifier": "connection/schema.py", "hash": md5(f"{PACKAGE}/connection/schema.py")},
    ]


def test_help_is_generated_from_the_spec(tmp_path: Path) -> None:
    folder = export(tmp_path / "sentinelone")
    spec = spec_of(folder)
    text = (folder / "help.md").read_text(encoding="ascii")
    assert text.startswith(f"# Description\n\n{spec['description']}\n")
    assert "#### Get Threat Events\n" in text
    assert text.index("### Actions") < text.index("### Triggers") < text.index("## Troubleshooting")
    for feature in spec["key_features"] + spec["troubleshooting"]:
        assert f"* {feature}\n" in text
    follow = spec["actions"]["get_threat_events"]["input"]["follow_cursor"]
    assert (
        f"|follow_cursor|boolean|False|False|{follow['description']}|None|False|None|None|" in text
    )
    # The release notes of CHANGELOG.md; the spec's first line is the validators' own.
    assert spec["version_history"] == ["1.0.0 - Initial plugin"]
    assert "* 1.0.0 - Initial plugin: Get Threat Events: the events of a SentinelOne" in text
    # What a workflow sees on failure, how to build and import, what was checked.
    assert "fails the step with the plugin runtime's preset cause" in text
    assert "run insight-plugin export in this folder" in text


def test_the_spec_carries_what_the_hub_needs(tmp_path: Path, plugin: Plugin) -> None:
    spec = spec_of(export(tmp_path / "sentinelone"))
    assert spec["name"] == plugin.id != "sentinelone"  # the official plugin's name
    assert spec["cloud_ready"] is True
    assert spec["support"] == "community"
    assert spec["resources"]["source_url"] == plugin.homepage
    assert spec["resources"]["license_url"].startswith("https://")


def test_settings_are_checked(tmp_path: Path) -> None:
    root = copy_plugin(tmp_path / "plugin")
    edit_text(root / "plugin.yaml", "    support: community\n", "    support: anyone\n")
    result = run_cli(
        "export", "insightconnect", "--root", str(root), "--output", str(tmp_path / "o")
    )
    assert result.code == 1
    assert "platforms.insightconnect.support" in result.stderr
    assert not (tmp_path / "o").exists()


HOSTILE = 'into a "SOAR" playbook\\"); import os #'


def test_a_hostile_description_is_quoted_in_every_generated_file(tmp_path: Path) -> None:
    # A double quote and a backslash in the manifest's description and action title (free
    # text for the meta-schema): every generated Python file still parses, and holds the value
    # as a string, not as code.
    root = copy_plugin(tmp_path / "plugin")
    edit_text(root / "plugin.yaml", "into a SOAR playbook", HOSTILE)
    edit_text(root / "plugin.yaml", "title: Get Threat Events", 'title: Get "Threat\\" Events')
    folder = export(tmp_path / "o", "--root", str(root))
    spec = spec_of(folder)
    assert HOSTILE in spec["description"]
    for path in [folder / f"bin/{PACKAGE}", *folder.rglob("*.py")]:
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source, str(path))
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Import) and n.names[0].name == "os"]
        assert not [c for c in calls if c.col_offset > 0], path  # no injected statement
    launcher = ast.parse((folder / f"bin/{PACKAGE}").read_text(encoding="utf-8"))
    values = {
        node.targets[0].id: node.value.value
        for node in launcher.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
    }
    assert values["Description"] == spec["description"]
    assert values["Name"] == spec["title"]
    setup = (folder / "setup.py").read_text(encoding="utf-8")
    assert json.dumps(spec["description"]) in setup
    schema = (folder / f"{PACKAGE}/actions/get_threat_events/schema.py").read_text(encoding="utf-8")
    assert (
        f"DESCRIPTION = {json.dumps(spec['actions']['get_threat_events']['description'])}" in schema
    )
    # The Makefile is insight-plugin's own: it reads the spec when it runs, nothing is pasted.
    assert HOSTILE not in (folder / "Makefile").read_text(encoding="utf-8")
    assert "Threat" not in (folder / "Dockerfile").read_text(encoding="utf-8")


def test_a_description_with_both_quote_kinds_is_refused_before_the_validator_sees_it() -> None:
    from exporters.common import ExportError
    from exporters.insightconnect import sentence

    assert sentence("The page's cursor.", "x") == "The page's cursor"
    try:
        sentence('The page\'s cursor, or "null".', "parameters.cursor")
    except ExportError as exc:
        assert "holds both" in str(exc)
    else:
        raise AssertionError("a description the validator cannot read was accepted")
