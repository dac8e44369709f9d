"""python -m runtime export qradar_soar: the tree, reproducibility, export.res from the schemas,
and every generated value quoted (the vendor run is tests/platforms/test_qradar_soar.py)."""

from __future__ import annotations

import ast
import json
import struct
from pathlib import Path

from exporters import qradar_soar
from exporters.common import fill, platforms, settings_of
from framework.manifest import load_plugin
from tests.support import copy_plugin, edit_text, run_cli, tree_files

PACKAGE = "fn_s1_threat_events"
FUNCTION = "s1_threat_events_get_threat_events"


def exported(folder: Path) -> dict:
    result = run_cli("export", "qradar_soar", "--output", str(folder))
    assert result.code == 0, result.stderr
    return tree_files(folder)


def test_qradar_soar_is_a_known_platform() -> None:
    assert "qradar_soar" in platforms()


def test_tree_and_reproducibility(tmp_path: Path) -> None:
    first = exported(tmp_path / "a" / "qradar_soar")
    second = exported(tmp_path / "b" / "qradar_soar")
    assert first == second
    top = f"{PACKAGE}/{PACKAGE}"
    for path in [
        qradar_soar.MARKER,
        "export.res",
        f"{PACKAGE}/setup.py",
        f"{PACKAGE}/README.md",
        f"{PACKAGE}/apikey_permissions.txt",
        f"{PACKAGE}/icons/app_logo.png",
        f"{PACKAGE}/icons/company_logo.png",
        f"{PACKAGE}/payload_samples/{FUNCTION}/output_json_schema.json",
        f"{PACKAGE}/payload_samples/{FUNCTION}/output_json_example.json",
        f"{top}/LICENSE",
        f"{top}/bridge.py",
        f"{top}/util/config.py",
        f"{top}/util/customize.py",
        f"{top}/components/funct_{FUNCTION}.py",
        f"{top}/plugin/plugin_data.py",
        f"{top}/plugin/framework/runner.py",
    ]:
        assert path in first, path
    # codegen writes these: the export leaves them out
    for path in ["Dockerfile", "MANIFEST.in", "tox.ini", "util/selftest.py", "__init__.py"]:
        assert not any(name.endswith(path) and "/plugin/" not in name for name in first), path
    assert first[f"{top}/LICENSE"].startswith(b"\n                                 Apache License")
    for name, data in first.items():
        if name.endswith(".py"):
            ast.parse(data.decode("utf-8"), name)  # every generated module compiles


def test_icons_have_the_sizes_validate_wants(tmp_path: Path) -> None:
    files = exported(tmp_path / "qradar_soar")
    for name, size in [("app_logo.png", (200, 72)), ("company_logo.png", (100, 100))]:
        data = files[f"{PACKAGE}/icons/{name}"]
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">II", data[16:24]) == size


def test_export_res_fields_come_from_the_schemas() -> None:
    plugin = load_plugin()
    export = qradar_soar.export_res(plugin)
    (function,) = export["functions"]
    assert function["name"] == FUNCTION and function["destination_handle"] == PACKAGE
    assert [d["programmatic_name"] for d in export["message_destinations"]] == [PACKAGE]
    fields = {f["name"]: f for f in export["fields"]}
    assert [v["content"] for v in function["view_items"]] == [f["uuid"] for f in fields.values()]
    schema = plugin.actions["get_threat_events"].input_schema
    query = schema["properties"]["parameters"]["properties"]
    assert fields["s1_threat_events_threat_id"]["required"] == "always"
    assert fields["s1_threat_events_threat_id"]["input_type"] == "text"
    assert fields["s1_threat_events_limit"]["input_type"] == "number"
    assert fields["s1_threat_events_limit"]["tooltip"] == query["limit"]["description"]
    assert fields["s1_threat_events_follow_cursor"]["input_type"] == "boolean"
    assert fields["s1_threat_events_sort_order"]["input_type"] == "select"
    assert [v["label"] for v in fields["s1_threat_events_sort_order"]["values"]] == ["asc", "desc"]
    assert fields["s1_threat_events_event_types"]["input_type"] == "text"
    assert fields["s1_threat_events_cursor"]["required"] == "false"
    assert len(fields) == 1 + len(query) + 2  # threat_id, the query parameters, follow, max
    assert all(f["export_key"] == f"__function/{name}" for name, f in fields.items())


def test_function_table_maps_back_to_our_inputs() -> None:
    plugin = load_plugin()
    settings = settings_of(plugin, "qradar_soar", qradar_soar)
    values = qradar_soar.action_values(plugin, "get_threat_events")
    source = fill(
        qradar_soar.HERE / "function.py.tmpl",
        **qradar_soar.plugin_values(plugin, settings),
        **values,
    )
    tree = ast.parse(source)
    (table,) = [
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and node.targets[0].id == "FIELDS"
    ]
    fields = ast.literal_eval(table)
    assert fields["s1_threat_events_threat_id"] == ("path_parameters", "threat_id")
    assert fields["s1_threat_events_process_name__like"] == ("parameters", "processName__like")
    assert fields["s1_threat_events_follow_cursor"] == (None, "follow_cursor")


def test_values_are_quoted(tmp_path: Path) -> None:
    plugin = load_plugin()
    settings = settings_of(plugin, "qradar_soar", qradar_soar)
    settings["author_email"] = "a\"quoted\nname's@example.org"
    source = fill(qradar_soar.HERE / "setup.py.tmpl", **qradar_soar.plugin_values(plugin, settings))
    ast.parse(source)
    assert json.dumps(settings["author_email"]) in source


def test_a_free_text_action_title_cannot_end_the_functions_docstring(tmp_path: Path) -> None:
    root = copy_plugin(tmp_path / "plugin")
    hostile = 'Get """ \\ events"""'
    edit_text(
        root / "plugin.yaml",
        "    title: Get Threat Events\n",
        f"    title: {json.dumps(hostile)}\n",
    )
    result = run_cli("export", "qradar_soar", "--root", str(root), "--output", str(tmp_path / "q"))
    assert result.code == 0, result.stderr
    source = (
        tmp_path / "q" / PACKAGE / PACKAGE / "components" / f"funct_{FUNCTION}.py"
    ).read_text()
    assert ast.get_docstring(ast.parse(source)).startswith(f"Function {FUNCTION}: {hostile} (")


def test_config_names_the_app_host_secret_never_a_value() -> None:
    plugin = load_plugin()
    section = qradar_soar.app_config(plugin, settings_of(plugin, "qradar_soar", qradar_soar))
    assert section.startswith(f"[{PACKAGE}]\n")
    assert "\napi_token = $API_TOKEN\n" in section
    assert "\nverify_ssl = true\n" in section
    assert "\n#ca_bundle = " in section


def test_the_logos_come_from_plugin_yaml_and_a_missing_one_is_named(tmp_path: Path) -> None:
    root = copy_plugin(tmp_path / "plugin")
    logo = "icons/qradar-app-logo.png"
    assert exported(tmp_path / "a")[f"{PACKAGE}/icons/app_logo.png"] == (root / logo).read_bytes()
    edit_text(root / "plugin.yaml", f"app: {logo}", "app: icons/gone.png")
    result = run_cli("export", "qradar_soar", "--root", str(root), "--output", str(tmp_path / "b"))
    assert result.code == 1, result.stderr  # the plugin is broken: exit 1, as for any export error
    assert "icons/gone.png: cannot be read (no such file or directory)" in result.stderr
    assert not (tmp_path / "b").exists()
