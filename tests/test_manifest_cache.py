"""The parsed plugin.yaml cache: used only for the exact bytes it was made from, never trusted
beyond that, never in the way; and the manifest is validated on every load, cached or not."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import framework.manifest as manifest_module
from framework.manifest import ManifestError, load_plugin
from tests.support import ROOT


@pytest.fixture()
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copy(ROOT / "plugin.yaml", tmp_path / "plugin.yaml")
    shutil.copytree(ROOT / "schemas", tmp_path / "schemas")
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    return tmp_path


def cache_files(root: Path) -> list:
    return sorted((root / "__pycache__").glob("plugin.yaml.*.json"))


def test_the_parsed_manifest_is_cached_and_used_without_pyyaml(root: Path) -> None:
    first = load_plugin(root)
    (cache,) = cache_files(root)
    assert json.loads(cache.read_text())["manifest"]["version"] == first.version
    code = (
        "import sys\n"
        "from framework.manifest import load_plugin\n"
        f"plugin = load_plugin({str(root)!r})\n"
        "assert plugin.id == 'sentinelone'\n"
        "assert 'yaml' not in sys.modules, 'the cache was not used'\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_an_edited_manifest_is_read_again_and_validated(root: Path) -> None:
    load_plugin(root)
    text = (root / "plugin.yaml").read_text()
    (root / "plugin.yaml").write_text(text.replace("title: SentinelOne\n", "title: S1\n"))
    assert load_plugin(root).title == "S1"
    assert len(cache_files(root)) == 1  # the old entry is gone
    (root / "plugin.yaml").write_text(text.replace("version: 1.0.0", "version: one"))
    with pytest.raises(ManifestError, match="version"):
        load_plugin(root)


def test_a_cached_manifest_is_still_validated(root: Path) -> None:
    load_plugin(root)
    (cache,) = cache_files(root)
    entry = json.loads(cache.read_text())
    entry["manifest"]["version"] = "one"  # a cache that lies is caught by validation
    cache.write_text(json.dumps(entry))
    with pytest.raises(ManifestError, match="version"):
        load_plugin(root)


@pytest.mark.parametrize("content", ["{not json", "[]", '{"sha256": "0", "manifest": {}}', ""])
def test_a_broken_or_foreign_cache_entry_is_ignored(root: Path, content: str) -> None:
    load_plugin(root)
    (cache,) = cache_files(root)
    cache.write_text(content)
    assert load_plugin(root).id == "sentinelone"


def test_nothing_is_cached_that_json_does_not_keep(root: Path) -> None:
    text = (root / "plugin.yaml").read_text()
    (root / "plugin.yaml").write_text(text.replace('"48": icons', "48: icons"))
    assert 48 in load_plugin(root).icons  # an int key: JSON would have made it "48"
    assert cache_files(root) == []


def test_no_cache_when_bytecode_writing_is_off_or_impossible(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    assert load_plugin(root).id == "sentinelone"
    assert not (root / "__pycache__").exists()
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    (root / "__pycache__").write_text("a file where the folder would be")
    assert load_plugin(root).id == "sentinelone"


def test_invalid_yaml_is_still_reported_with_its_location(root: Path) -> None:
    (root / "plugin.yaml").write_text("id: [unclosed\n")
    with pytest.raises(ManifestError, match="not valid YAML at line"):
        load_plugin(root)
    assert manifest_module.PARSED_CACHE.startswith("__pycache__/")


def test_the_lint_reads_plugin_yaml_not_the_cache(root: Path) -> None:
    load_plugin(root)
    (cache,) = cache_files(root)
    entry = json.loads(cache.read_text())
    entry["manifest"]["actions"]["get_threat_events"]["path"] = "/elsewhere/{threat_id}"
    cache.write_text(json.dumps(entry))  # valid, but not what plugin.yaml says
    assert load_plugin(root, cached=False).actions["get_threat_events"].path.startswith("/web/")


def test_a_fifo_at_the_cache_path_does_not_hang(root: Path) -> None:
    load_plugin(root)
    (cache,) = cache_files(root)
    cache.unlink()
    os.mkfifo(cache)  # no writer: a blocking open would wait forever
    assert load_plugin(root).id == "sentinelone"


def test_stale_temporary_files_are_removed(root: Path) -> None:
    (root / "__pycache__").mkdir()
    stale = root / "__pycache__" / "plugin.yaml.0123.json.999.tmp"
    stale.write_text("{")
    os.utime(stale, (0, 0))
    load_plugin(root)
    assert not stale.exists()
    assert len(cache_files(root)) == 1
