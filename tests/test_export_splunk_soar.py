"""python -m runtime export splunk_soar, without the SDK: the tree, the generated plugin data, and
the mapping of our schemas onto Splunk SOAR's flat fields (tests/platforms/test_splunk_soar.py
runs the export under splunk-soar-sdk itself)."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any, Dict

import pytest

from exporters import flat
from exporters.splunk_soar import mapping
from framework.manifest import Plugin, plugin_from_data, read_documents
from tests.support import ROOT, copy_plugin, edit_text, run_cli
from tests.support import tree_files as files

CODE = sorted(
    f"src/{p.relative_to(ROOT).as_posix()}"
    for package in ("framework", "connectors", "actions")
    for p in (ROOT / package).glob("*.py")
)
TREE = sorted(
    [
        ".gitignore",
        "LICENSE",
        "NOTICE",
        "README.md",
        "logo.svg",
        "logo_dark.svg",
        "pyproject.toml",
        "release_notes/1.0.0.md",
        "release_notes/unreleased.md",
        "tests/test_app.py",
        "uv.lock",
        "src/__init__.py",
        "src/app.py",
        "src/flat.py",
        "src/plugin_data.py",
        "src/soar_mapping.py",
        *CODE,
    ]
)


def export(folder: Path, root: Path = ROOT) -> Path:
    result = run_cli("export", "splunk_soar", "--root", str(root), "--output", str(folder))
    assert result.code == 0, result.stderr
    return folder


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export(tmp_path_factory.mktemp("soar") / "splunk_soar")


def test_the_export_writes_exactly_the_tree(tree: Path) -> None:
    assert sorted(files(tree)) == TREE
    exported = files(tree)
    for path in CODE:  # the plugin's code as it is
        assert exported[path] == (ROOT / path[len("src/") :]).read_bytes(), path
    assert exported["src/app.py"] == (ROOT / "exporters/splunk_soar/entry.py").read_bytes()
    assert (
        exported["src/soar_mapping.py"] == (ROOT / "exporters/splunk_soar/mapping.py").read_bytes()
    )
    assert exported["src/flat.py"] == (ROOT / "exporters/flat.py").read_bytes()
    assert (
        exported["logo.svg"]
        == exported["logo_dark.svg"]
        == (ROOT / "icons/sentinelone.svg").read_bytes()
    )


def test_export_is_byte_reproducible(tree: Path, tmp_path: Path) -> None:
    assert files(export(tmp_path / "splunk_soar")) == files(tree)


def test_plugin_data_is_plugin_yaml_and_its_schemas(tree: Path, plugin: Plugin) -> None:
    data = runpy.run_path(str(tree / "src/plugin_data.py"))
    manifest, documents = read_documents(ROOT)
    assert data["MANIFEST"] == manifest
    assert data["DOCUMENTS"] == documents
    assert set(documents) == {"schemas/plugin.schema.json", *plugin.schema_paths}
    again = plugin_from_data(data["MANIFEST"], data["DOCUMENTS"], tree / "src")
    assert again.actions["get_threat_events"].input_schema == (
        plugin.actions["get_threat_events"].input_schema
    )
    assert again.platforms["splunk_soar"]["appid"] == plugin.platforms["splunk_soar"]["appid"]


def test_pyproject_comes_from_the_manifest(tree: Path, plugin: Plugin) -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((tree / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["name"] == plugin.id
    assert project["project"]["version"] == plugin.version
    assert project["project"]["description"] == plugin.description
    assert project["project"]["requires-python"] == ">=3.13,<3.14"
    deps = project["project"]["dependencies"]
    assert deps[0] == "splunk-soar-sdk==7.0.3"
    assert "jsonschema==4.25.1" in deps and "requests==2.32.5" in deps
    assert not [d for d in deps if d.lower().startswith("pyyaml")]  # the data is Python
    assert project["tool"]["soar"]["app"]["main_module"] == "src.app:app"
    assert project["project"]["authors"] == [{"name": plugin.publisher}]
    assert project["tool"]["uv"]["index"] == [{"url": "https://pypi.org/simple"}]
    assert project["dependency-groups"]["dev"] == ["pytest==9.0.3"]
    assert project["tool"]["uv"]["required-environments"] == [
        "sys_platform == 'linux' and platform_machine == 'x86_64' and python_version == '3.13'"
    ]


def test_params_are_flat_with_one_type_and_titled_descriptions(plugin: Plugin) -> None:
    fields = {f.name: f for f in mapping.params(plugin.actions["get_threat_events"].input_schema)}
    soar = {name: mapping.soar_field(field) for name, field in fields.items()}
    assert list(fields)[:2] == ["threat_id", "eventId"] and len(fields) == 14
    assert fields["threat_id"].group == "path_parameters" and fields["threat_id"].required
    assert (fields["limit"].name, fields["limit"].group) == ("limit", "parameters")
    assert soar["limit"] == {
        "kind": "integer",
        "required": False,
        "default": None,
        "description": "Limit: Number of events per page (1 to 1000; the API's default is 10).",
        "value_list": None,
        "allow_list": False,
    }
    assert (soar["eventTypes"]["kind"], soar["eventTypes"]["allow_list"]) == ("string", True)
    assert soar["sortOrder"]["value_list"] == ["asc", "desc"]  # null left out
    assert (fields["follow_cursor"].group, soar["follow_cursor"]["default"]) == (None, False)
    assert not [f for f in fields.values() if f.required and f.name != "threat_id"]


def test_flat_values_go_back_into_their_groups(plugin: Plugin) -> None:
    fields = mapping.params(plugin.actions["get_threat_events"].input_schema)
    values = {"threat_id": "1", "limit": 5, "eventTypes": "process,file", "follow_cursor": True}
    values.update({"cursor": None, "max_events": None})
    assert flat.nest(fields, values) == {
        "path_parameters": {"threat_id": "1"},
        "parameters": {"limit": 5, "eventTypes": "process,file"},
        "follow_cursor": True,
    }


def test_multi_typed_properties_collapse_to_one_type() -> None:
    assert mapping.kind_of({"type": ["integer", "string", "null"]}) == "string"
    assert mapping.kind_of({"type": ["number", "boolean"]}) == "number"
    assert mapping.kind_of({"type": ["array", "null"]}) == "string"
    assert mapping.kind_of({}) == "string"


def test_asset_fields_mark_the_secret_and_the_proxy_sensitive(plugin: Plugin) -> None:
    sensitive = [*plugin.asset.secrets, *plugin.platforms["splunk_soar"]["sensitive"]]
    fields = flat.asset_fields(plugin.asset.schema)
    assert set(mapping.sensitive_fields(fields, sensitive)) == {"api_token", "http_proxy"}
    timeout = mapping.soar_field({f.name: f for f in fields}["timeout"])
    assert timeout["kind"] == "number" and timeout["default"] == 30
    with pytest.raises(mapping.MappingError, match="asset field timeout: a sensitive field"):
        mapping.sensitive_fields(fields, ["timeout"])


def test_output_datapaths_follow_the_schema(plugin: Plugin) -> None:
    tree = mapping.output_tree(plugin.actions["get_threat_events"].output_schema)
    top = tree["object"]
    assert top["status_code"] == "integer" and top["reason"] == "string"
    assert "response_headers" not in top  # free keys: no datapath (the data stays)
    body = top["json_body"]["object"]
    assert body["pagination"]["object"] == {"nextCursor": "string", "totalItems": "integer"}
    assert body["data"]["list"]["object"]["processName"] == "string"  # through $defs/event
    assert body["errors"]["list"]["object"]["detail"] == "string"  # untyped: a string


@pytest.mark.parametrize(
    ("envelope", "expected"),
    [
        (
            {"status_code": 200, "json_body": {"data": [{}, {}], "pagination": {"totalItems": 9}}},
            (
                True,
                "HTTP 200: 2 events",
                {"events_returned": 2, "total_items": 9, "next_cursor": None},
            ),
        ),
        (
            {"status_code": 200, "json_body": {"data": [{}], "pagination": {"nextCursor": "c"}}},
            (
                True,
                "HTTP 200: 1 event",
                {"events_returned": 1, "total_items": None, "next_cursor": "c"},
            ),
        ),
        (
            {
                "status_code": 400,
                "json_body": {"errors": [{"code": 1, "detail": {"limit": ["bad"]}}]},
            },
            (
                False,
                'HTTP 400: {"limit": ["bad"]}',
                {"events_returned": 0, "total_items": None, "next_cursor": None},
            ),
        ),
        (
            {
                "status_code": 401,
                "json_body": {"errors": [{"detail": None, "title": "Authentication Failed"}]},
            },
            (
                False,
                "HTTP 401: Authentication Failed",
                {"events_returned": 0, "total_items": None, "next_cursor": None},
            ),
        ),
        (
            {
                "status_code": 502,
                "reason": "Bad Gateway",
                "json_body": None,
                "response_text": "<html>",
            },
            (
                False,
                "HTTP 502: Bad Gateway",
                {"events_returned": 0, "total_items": None, "next_cursor": None},
            ),
        ),
    ],
)
def test_outcome_message_and_summary(envelope: Dict[str, Any], expected: Any) -> None:
    assert mapping.outcome(envelope) == expected


def test_two_params_with_one_flat_name_are_refused(tmp_path: Path) -> None:
    root = copy_plugin(tmp_path / "plugin")
    extra = '"limit": {"title": "Limit", "description": "Again.", "type": "integer"}, '
    schema = root / "schemas/get_threat_events.input.schema.json"
    edit_text(schema, '"max_events": {', extra + '"max_events": {')
    result = run_cli(
        "export", "splunk_soar", "--root", str(root), "--output", str(tmp_path / "out")
    )
    assert result.code == 1
    assert (
        "schemas/get_threat_events.input.schema.json: params parameters.limit and limit: both "
        "would be the flat param limit; Splunk SOAR params need distinct names."
    ) in result.stderr
    assert not (tmp_path / "out").exists()


def test_the_app_id_must_be_a_uuid(tmp_path: Path) -> None:
    root = copy_plugin(tmp_path / "plugin")
    manifest = (root / "plugin.yaml").read_text(encoding="utf-8")
    appid = "b750034e-1e7a-489a-b852-296ceff8abc6"
    assert appid in manifest
    (root / "plugin.yaml").write_text(manifest.replace(appid, "my-app"), encoding="utf-8")
    result = run_cli(
        "export", "splunk_soar", "--root", str(root), "--output", str(tmp_path / "out")
    )
    assert result.code == 1
    assert "plugin.yaml: platforms.splunk_soar.appid: 'my-app' does not match" in result.stderr


def test_readme_release_notes_lock_and_no_official_names(tree: Path, plugin: Plugin) -> None:
    exported = files(tree)
    assert exported["uv.lock"] == (ROOT / "exporters/splunk_soar/uv.lock").read_bytes()
    lock = exported["uv.lock"].decode("utf-8")
    assert 'name = "s1-threat-events"' in lock and 'version = "1.0.0"' in lock
    notes = exported["release_notes/1.0.0.md"].decode("utf-8")
    assert notes.startswith("**v1.0.0**") and "follow_cursor" in notes
    readme = exported["README.md"].decode("utf-8")
    for needle in ("`threat_id`", "`api_token` | password", "soarapps package build", "fails"):
        assert needle in readme, needle
    assert exported["LICENSE"] == (ROOT / "LICENSE").read_bytes()
    for path, data in exported.items():
        text = data.decode("utf-8", "replace")
        assert "phantom_sentinelone" not in text and "bb05c97e" not in text, path


def test_input_errors_name_soars_flat_params(plugin: Plugin) -> None:
    fields = mapping.params(plugin.actions["get_threat_events"].input_schema)
    message = (
        'invalid inputs: path_parameters.threat_id: got "../1"; expected a decimal digit string '
        "of 1 to 32 digits (quote it in YAML and JSON), e.g. 1.\n"
        "invalid inputs: parameters.limit: got 5000 (integer); expected an integer from 1 to 1000."
    )
    assert mapping.soar_message(message, fields) == (
        'invalid parameters: threat_id: got "../1"; expected a decimal digit string of 1 to 32 '
        "digits (a string param: digits only, as SentinelOne shows it), e.g. 1.\n"
        "invalid parameters: limit: got 5000 (integer); expected an integer from 1 to 1000."
    )
