"""The manifest model: complete, frozen, side-effect free, and the same from files or data."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from framework.manifest import (
    ManifestError,
    import_class,
    load_plugin,
    plugin_from_data,
    read_documents,
)
from tests.support import ROOT, copy_plugin


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "plugin.yaml", tmp_path / "plugin.yaml")
    shutil.copytree(ROOT / "schemas", tmp_path / "schemas")
    return tmp_path


def test_the_model_carries_everything_plugin_yaml_says() -> None:
    manifest, documents = read_documents(ROOT)
    plugin = load_plugin(ROOT)
    for key in ("id", "title", "version", "vendor", "description", "icon"):
        assert getattr(plugin, key) == manifest[key]
    assert {str(size): path for size, path in plugin.icons.items()} == manifest["icons"]
    asset = manifest["asset"]
    assert (plugin.asset.id, plugin.asset.title, plugin.asset.description) == (
        asset["id"],
        asset["title"],
        asset["description"],
    )
    assert plugin.asset.schema == documents[asset["schema"]]
    assert plugin.asset.secrets == tuple(asset["secrets"]) and plugin.asset.test == asset["test"]
    for action_id, spec in manifest["actions"].items():
        action = plugin.actions[action_id]
        assert (action.method, action.path, action.class_ref) == (
            spec["method"],
            spec["path"],
            spec["class"],
        )
        assert action.input_schema_path == spec["input_schema"]
        assert action.output_schema == documents[spec["output_schema"]]
    assert dict(plugin.platforms) == dict(manifest.get("platforms") or {})
    assert plugin.user_agent == f"{manifest['id']}/{manifest['version']}"


def test_the_model_is_frozen() -> None:
    plugin = load_plugin(ROOT)
    with pytest.raises(AttributeError):
        plugin.version = "9.9.9"  # type: ignore[misc]
    with pytest.raises(TypeError):
        plugin.actions["x"] = plugin.actions["get_threat_events"]  # type: ignore[index]
    with pytest.raises(AttributeError):
        plugin.asset.secrets = ()  # type: ignore[misc]


def test_the_same_model_from_data_as_from_files() -> None:
    manifest, documents = read_documents(ROOT)
    assert plugin_from_data(manifest, documents, ROOT) == load_plugin(ROOT)


def test_data_is_validated_like_files() -> None:
    manifest, documents = read_documents(ROOT)
    with pytest.raises(ManifestError, match="version"):
        plugin_from_data({**manifest, "version": "one"}, documents)
    missing = {k: v for k, v in documents.items() if not k.endswith("output.schema.json")}
    with pytest.raises(ManifestError, match=r"output\.schema\.json does not exist"):
        plugin_from_data(manifest, missing)


def test_loading_edits_neither_sys_path_nor_sys_modules(tmp_path: Path) -> None:
    copy = copy_plugin(tmp_path / "plugin")
    code = (
        "import sys\n"
        "import framework.manifest as m\n"
        "path, modules = list(sys.path), set(sys.modules)\n"
        f"plugin = m.load_plugin({str(copy)!r})\n"
        "assert sys.path == path, 'sys.path changed'\n"
        "new = {name for name in set(sys.modules) - modules if not name.startswith(('yaml', '_yaml'))}\n"  # noqa: E501
        "assert not {n for n in new if n.split('.')[0] in ('actions', 'connectors')}, new\n"
        "cls = plugin.asset.connector_class\n"
        "assert sys.path == path, 'import_class changed sys.path'\n"
        f"assert sys.modules['connectors'].__file__.startswith({str(copy)!r})\n"
        "print(cls.__name__)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "SentinelOneConnector"


def test_import_class_names_what_is_missing() -> None:
    with pytest.raises(AttributeError):
        import_class(ROOT, "connectors.sentinelone:NoSuchClass")
    with pytest.raises(ModuleNotFoundError):
        import_class(ROOT, "no_such_package_here.module:Class")


def test_an_edited_manifest_is_read_again_and_validated(root: Path) -> None:
    load_plugin(root)
    text = (root / "plugin.yaml").read_text()
    (root / "plugin.yaml").write_text(
        text.replace("title: Threat Events for SentinelOne\n", "title: S1\n")
    )
    assert load_plugin(root).title == "S1"
    (root / "plugin.yaml").write_text(text.replace("version: 1.0.0", "version: one"))
    with pytest.raises(ManifestError, match="version"):
        load_plugin(root)


def test_nothing_is_written_beside_the_manifest_without_bytecode(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    load_plugin(root)
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before


def test_invalid_yaml_is_reported_with_its_location(root: Path) -> None:
    (root / "plugin.yaml").write_text("id: [unclosed\n")
    with pytest.raises(ManifestError, match="not valid YAML at line"):
        load_plugin(root)
