"""python -m runtime export PLATFORM: the shared machinery and the Swimlane tree (no vendor code:
tests/platforms/ runs the vendors' runtimes)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import yaml

from exporters.common import epoch, platforms
from framework.manifest import Plugin, plugin_from_data
from tests.support import ROOT, copy_plugin, run_cli
from tests.support import tree_files as files

CORE = "connector/src/plugin_core"
# The plugin's code as shipped: actions/get_threat_events.py under another file name.
SHIPPED_CODE = sorted(
    f"{CORE}/"
    + p.relative_to(ROOT).as_posix().replace("get_threat_events.py", "get_threat_events_action.py")
    for package in ("framework", "connectors", "actions")
    for p in (ROOT / package).glob("*.py")
)
SWIMLANE_TREE = sorted(
    [
        "LICENSE",
        "NOTICE",
        "README.md",
        "connector.yaml",
        "connector/config/actions/get_threat_events.yaml",
        "connector/config/assets/apikey.yaml",
        "connector/src/get_threat_events.py",
        f"{CORE}/plugin_data.json",
        *SHIPPED_CODE,
        "docs/actions/get_threat_events.md",
        "docs/configuration.md",
        "docs/overview.md",
        "docs/release_notes.md",
        "image/logo.png",
        "requirements.txt",
    ]
)


def export(folder: Path, *extra: str) -> Path:
    result = run_cli("export", "swimlane", "--output", str(folder), *extra)
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines() == [str(folder), str(archive_of(folder))]
    return folder


def archive_of(folder: Path) -> Path:
    return folder.parent / "swimlane-s1_threat_events-1.0.0.zip"


def load(folder: Path, name: str) -> dict:
    return yaml.safe_load((folder / name).read_text(encoding="utf-8"))


def test_swimlane_export_writes_exactly_the_tree(tmp_path: Path) -> None:
    folder = export(tmp_path / "swimlane")
    assert sorted(files(folder)) == SWIMLANE_TREE
    with zipfile.ZipFile(archive_of(folder)) as archive:
        assert sorted(archive.namelist()) == SWIMLANE_TREE
        assert {n: archive.read(n) for n in archive.namelist()} == files(folder)


def test_default_output_is_dist_platforms(tmp_path: Path) -> None:
    root = copy_plugin(tmp_path / "plugin")
    result = run_cli("export", "swimlane", "--root", str(root))
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines() == [
        str(root / "dist/platforms/swimlane"),
        str(root / "dist/platforms/swimlane-s1_threat_events-1.0.0.zip"),
    ]


def test_export_is_byte_reproducible(tmp_path: Path) -> None:
    first = export(tmp_path / "a" / "swimlane")
    second = export(tmp_path / "b" / "swimlane")
    again = export(first)  # over an earlier export: replaced, same bytes
    assert files(first) == files(second) == files(again)
    assert archive_of(first).read_bytes() == archive_of(second).read_bytes()
    for path in [*first.rglob("*"), archive_of(first)]:
        mode = path.stat().st_mode & 0o777
        assert mode == (0o755 if path.is_dir() else 0o644), path
        assert path.stat().st_mtime == epoch(), path  # 1980-01-01 unless SOURCE_DATE_EPOCH


def test_exactly_one_file_per_action_name_matches_the_entry_scripts_glob(tmp_path: Path) -> None:
    folder = export(tmp_path / "swimlane")
    assert [p.relative_to(folder).as_posix() for p in folder.glob("**/get_threat_events.py")] == [
        "connector/src/get_threat_events.py"
    ]
    # The plugin's own actions/get_threat_events.py travels as ordinary files, renamed.
    shipped = folder / CORE / "actions/get_threat_events_action.py"
    assert shipped.read_bytes() == (ROOT / "actions/get_threat_events.py").read_bytes()
    assert not list(folder.glob("**/runner_override.py"))
    assert not list(folder.glob("**/*.zip"))


def test_the_shipped_code_rebuilds_the_plugin_with_the_renamed_class(
    tmp_path: Path, plugin: Plugin
) -> None:
    folder = export(tmp_path / "swimlane")
    data = json.loads((folder / CORE / "plugin_data.json").read_text(encoding="utf-8"))
    again = plugin_from_data(data["manifest"], data["documents"], folder / CORE)
    spec = again.actions["get_threat_events"]
    assert spec.class_ref == "actions.get_threat_events_action:GetThreatEvents"
    assert spec.input_schema == plugin.actions["get_threat_events"].input_schema
    assert again.asset.schema == plugin.asset.schema and again.asset.secrets == plugin.asset.secrets


def walk(value: object) -> list:
    """Every (key, value) pair of a nested document."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.append((key, item))
            found += walk(item)
    elif isinstance(value, list):
        for item in value:
            found += walk(item)
    return found


# What connector-def-runner's README and its examples use in inputs and output schemas.
RUNNER_KEYWORDS = {
    "type", "title", "description", "default", "format", "properties", "required",
    "additionalProperties", "items", "examples",
}  # fmt: skip


def test_definitions_keep_to_the_runners_documented_vocabulary(tmp_path: Path) -> None:
    folder = export(tmp_path / "swimlane")
    asset = load(folder, "connector/config/assets/apikey.yaml")
    action = load(folder, "connector/config/actions/get_threat_events.yaml")
    for schema in (asset["inputs"], action["inputs"], action["output"]):
        pairs = walk(schema)
        keys = set()
        for key, value in pairs:
            if key == "properties":
                continue
            if key == "type":
                assert isinstance(value, str), value  # no unions
            keys.add(key)
        # property names are free; every other key is a keyword of the runner's README
        schema_keys = {k for k, _ in walk_schema_keywords(schema)}
        assert schema_keys <= RUNNER_KEYWORDS, schema_keys - RUNNER_KEYWORDS
    text = json.dumps([asset, action])
    assert "$ref" not in text and "$defs" not in text.replace("($defs/", "(")
    assert "plugins.example" not in text and '"x-' not in text
    body = action["output"]["properties"]["json_body"]
    assert {"data", "pagination", "errors"} <= set(body["properties"])  # both branches merged
    sort = action["inputs"]["properties"]["parameters"]["properties"]["sortOrder"]
    assert sort["type"] == "string" and sort["description"].endswith("One of: asc, desc.")


def walk_schema_keywords(schema: object) -> list:
    """(keyword, value) of a schema and its subschemas (property names are not keywords)."""
    found = []
    if isinstance(schema, dict):
        for key, item in schema.items():
            found.append((key, item))
            if key == "properties":
                for sub in item.values():
                    found += walk_schema_keywords(sub)
            elif key == "items":
                found += walk_schema_keywords(item)
    return found


def test_readme_docs_license_and_release_notes(tmp_path: Path, plugin: Plugin) -> None:
    folder = export(tmp_path / "swimlane")
    assert (folder / "LICENSE").read_bytes() == (ROOT / "LICENSE").read_bytes()
    assert (folder / "NOTICE").read_bytes() == (ROOT / "NOTICE").read_bytes()
    notes = (folder / "docs/release_notes.md").read_text(encoding="utf-8")
    assert "## 1.0.0" in notes and "follow_cursor" in notes
    page = (folder / "docs/actions/get_threat_events.md").read_text(encoding="utf-8")
    assert "`path_parameters.threat_id`" in page and "`status_code`" in page
    assert "InputError" in page and "401" in page
    config = (folder / "docs/configuration.md").read_text(encoding="utf-8")
    assert "`api_token`" in config and "`ca_bundle`" in config
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert "connector-def-runner==2.3.18" in readme and "Not verified" in readme
    for text in (readme, page, config):
        assert "phantom_sentinelone" not in text and "bb05c97e" not in text


def test_definitions_come_from_the_manifest(tmp_path: Path, plugin: Plugin) -> None:
    folder = export(tmp_path / "swimlane")
    settings = plugin.platforms["swimlane"]
    connector = load(folder, "connector.yaml")
    assert (connector["name"], connector["title"], connector["version"]) == (
        plugin.id,
        plugin.title,
        plugin.version,
    )
    asset = load(folder, "connector/config/assets/apikey.yaml")
    assert asset["schema"] == "asset/1" and asset["name"] == settings["auth"] == "apikey"
    assert list(asset["inputs"]["properties"]) == list(plugin.asset.schema["properties"])
    assert asset["inputs"]["required"] == plugin.asset.schema["required"]
    assert asset["inputs"]["properties"]["api_token"]["format"] == "password"
    assert asset["meta"]["security"] == {
        "type": "apiKey",
        "name": "Authorization",
        "in": "header",
        "format": "ApiToken {{api_token}}",
    }
    action = load(folder, "connector/config/actions/get_threat_events.yaml")
    spec = plugin.actions["get_threat_events"]
    assert action["schema"] == "action/1" and action["name"] == "get_threat_events"
    assert (action["title"], action["description"]) == (spec.title, spec.description)
    assert list(action["inputs"]["properties"]) == list(spec.input_schema["properties"])
    assert list(action["output"]["properties"]) == list(spec.output_schema["properties"])
    assert action["meta"] == {
        "endpoint": "/web/api/v2.1/threats/{{threat_id}}/explore/events",
        "method": "GET",
    }
    logo = (ROOT / "icons/sentinelone-256.png").read_bytes()  # the largest of plugin.yaml icons
    assert (folder / "image/logo.png").read_bytes() == logo
    requirements = (folder / "requirements.txt").read_text(encoding="utf-8")
    assert "jsonschema==4.25.1" in requirements
    assert "requests==" not in requirements  # the vendor runtime pins its own


def test_unknown_platform_lists_the_known_ones(tmp_path: Path) -> None:
    result = run_cli("export", "nosuch", "--output", str(tmp_path / "out"))
    assert result.code == 2  # a bad option (issue 21, friction)
    assert "'nosuch' is not a known platform; known: " in result.stderr
    assert "swimlane" in result.stderr
    assert "common" not in platforms() and "swimlane" in platforms()
    assert not (tmp_path / "out").exists()
    typo = run_cli("export", "swimlan", "--output", str(tmp_path / "out"))
    assert typo.code == 2
    assert "'swimlan' is not a known platform (did you mean swimlane?); known: " in typo.stderr


def test_an_invalid_plugin_exports_nothing(tmp_path: Path) -> None:
    root = copy_plugin(tmp_path / "plugin")
    schema = root / "schemas/get_threat_events.input.schema.json"
    broken = json.loads(schema.read_text(encoding="utf-8"))
    broken["properties"]["max_events"]["maximum"] = "many"
    schema.write_text(json.dumps(broken), encoding="utf-8")
    result = run_cli("export", "swimlane", "--root", str(root), "--output", str(tmp_path / "out"))
    assert result.code == 1
    assert "the plugin does not validate" in result.stderr
    assert "max_events" in result.stderr
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob("*.zip"))


def test_platform_settings_are_checked(tmp_path: Path) -> None:
    root = copy_plugin(tmp_path / "plugin")
    manifest = (root / "plugin.yaml").read_text(encoding="utf-8")
    (root / "plugin.yaml").write_text(manifest.replace("    auth: apikey\n", ""), encoding="utf-8")
    result = run_cli("export", "swimlane", "--root", str(root), "--output", str(tmp_path / "out"))
    assert result.code == 1
    assert "plugin.yaml: platforms.swimlane: 'auth' is a required property" in result.stderr
    assert not (tmp_path / "out").exists()


def test_an_unrelated_output_folder_is_left_alone(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me", encoding="utf-8")
    result = run_cli("export", "swimlane", "--output", str(folder))
    assert result.code == 1
    assert "is not an earlier export" in result.stderr
    assert os.listdir(folder) == ["notes.txt"]


def test_the_archive_is_a_plain_zip_of_the_tree(tmp_path: Path) -> None:
    folder = export(tmp_path / "swimlane")
    data = archive_of(folder).read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {time.gmtime(epoch())[:6]}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}


def test_runtime_run_never_imports_the_exporters() -> None:
    code = (
        "import sys, runtime.cli as c; c.build_parser().parse_args(['run', 'x', '--asset', 'a']);"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('exporters', 'yaml')))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert proc.stdout.strip() == "[]"


def test_platform_python_versions_are_matched_by_number() -> None:
    from tests.platforms.venvs import _numbers, satisfies

    assert satisfies((3, 11, 7), ">=3.10") and not satisfies((3, 9, 18), ">=3.10")
    assert satisfies((3, 13, 0), ">=3.13,<3.14") and not satisfies((3, 14, 0), ">=3.13,<3.14")
    paths = [f"/p/versions/{v}/bin/python3" for v in ("3.9.18", "3.13.0", "3.12.1")]
    assert sorted(paths, key=_numbers, reverse=True)[0] == "/p/versions/3.13.0/bin/python3"


def test_a_python_project_as_output_is_refused_whatever_files_it_holds(tmp_path: Path) -> None:
    # pyproject.toml, plugin.spec.yaml and connector.yaml are the platforms' own top files, and
    # ordinary projects hold them too: none of them makes a folder an earlier export.
    for platform, name in [
        ("splunk_soar", "pyproject.toml"),
        ("insightconnect", "plugin.spec.yaml"),
        ("swimlane", "connector.yaml"),
    ]:
        project = tmp_path / platform
        (project / "src").mkdir(parents=True)
        (project / name).write_text("[project]\nname = 'mine'\n", encoding="utf-8")
        (project / "src" / "main.py").write_text("print('keep me')\n", encoding="utf-8")
        result = run_cli("export", platform, "--output", str(project))
        assert result.code == 1, result.stderr
        assert "is not an earlier export" in result.stderr
        assert sorted(files(project)) == [name, "src/main.py"]


def test_an_earlier_export_is_replaced_only_by_the_same_platform(tmp_path: Path) -> None:
    folder = export(tmp_path / "out")
    stamp = json.loads((folder / ".runtime-export.json").read_text(encoding="utf-8"))
    assert stamp == {"platform": "swimlane", "plugin": "s1_threat_events"}
    assert ".runtime-export.json" not in zipfile.ZipFile(archive_of(folder)).namelist()
    result = run_cli("export", "shuffle", "--output", str(folder))
    assert result.code == 1 and "is not an earlier export" in result.stderr
    assert sorted(files(folder)) == SWIMLANE_TREE


def test_a_file_where_the_archive_goes_is_replaced_only_if_an_earlier_export_wrote_it(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "out"
    archive_of(folder).write_bytes(b"someone's notes, not a zip\n")
    result = run_cli("export", "swimlane", "--output", str(folder))
    assert result.code == 1
    assert "exists and is not an earlier export's archive" in result.stderr
    assert archive_of(folder).read_bytes() == b"someone's notes, not a zip\n"
    assert not folder.exists()  # refused before anything was written
    archive_of(folder).unlink()
    export(folder)
    export(folder)  # its own archive, from an earlier run: replaced
    assert "connector.yaml" in zipfile.ZipFile(archive_of(folder)).namelist()


def test_the_current_directory_and_the_plugin_root_are_never_replaced(
    tmp_path: Path, monkeypatch: Any
) -> None:
    from exporters.common import ExportError
    from exporters.common import export as export_to

    root = copy_plugin(tmp_path / "plugin")
    before = sorted(files(root))
    # Even when it holds the stamp of an earlier export, a folder the run stands in is kept.
    (root / ".runtime-export.json").write_text(
        '{"platform": "splunk_soar", "plugin": "s1_threat_events"}\n', encoding="utf-8"
    )
    monkeypatch.chdir(root / "actions")
    for output in (root / "actions", root, tmp_path):
        try:
            export_to("splunk_soar", root, output)
        except ExportError as exc:
            assert "is the current directory, the plugin folder or a parent" in str(exc)
        else:
            raise AssertionError(f"{output} was replaced")
        assert sorted(files(root)) == before and (root / ".runtime-export.json").is_file()


def test_an_export_ships_only_the_plugins_own_code(tmp_path: Path) -> None:
    root = copy_plugin(tmp_path / "plugin")
    (root / "actions" / "token.bak").write_text("s1-token-in-a-backup\n", encoding="utf-8")
    (root / "connectors" / "notes.txt").write_text("private\n", encoding="utf-8")
    out = tmp_path / "out"
    result = run_cli("export", "splunk_soar", "--root", str(root), "--output", str(out))
    assert result.code == 0, result.stderr
    shipped = files(out)
    assert "src/actions/get_threat_events.py" in shipped
    assert not [name for name in shipped if name.endswith(("token.bak", "notes.txt"))]
    # Only .py files travel, as in the bundle: a filled-in asset beside the code stays out.
    (root / "connectors" / "asset.local.py").write_text("", encoding="utf-8")
    (root / "connectors" / "asset.local.json").write_text(
        '{"url": "https://x.example", "api_token": "eyJrIjoiZmlsbGVkLWluIn0"}', encoding="utf-8"
    )
    result = run_cli("export", "swimlane", "--root", str(root), "--output", str(tmp_path / "b"))
    assert result.code == 0, result.stderr
    core = files(tmp_path / "b")  # the plugin core travels as files under connector/src/
    assert "connector/src/plugin_core/connectors/asset.local.py" in core
    assert not [name for name in core if name.endswith("asset.local.json")]


def test_an_export_from_a_checkout_ships_only_tracked_files(tmp_path: Path) -> None:
    root = copy_plugin(tmp_path / "plugin")
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "plugin"], check=True)
    (root / "actions" / "scratch.py").write_text("TOKEN = 'pasted'\n", encoding="utf-8")
    result = run_cli("export", "swimlane", "--root", str(root), "--output", str(tmp_path / "o"))
    assert result.code == 0, result.stderr
    core = files(tmp_path / "o")  # the plugin core travels as files under connector/src/
    assert "connector/src/plugin_core/actions/get_threat_events_action.py" in core
    assert not [name for name in core if name.endswith("scratch.py")]
