"""Splunk SOAR: an app project for the official ``splunk-soar-sdk`` (its CLI runs and packages it).

The tree (the layout ``soarapps init`` makes)::

    pyproject.toml                  [project] from plugin.yaml, [tool.soar.app], [tool.uv]
    uv.lock                         exporters/splunk_soar/uv.lock (see below)
    README.md, LICENSE, NOTICE      packed into the app by ``soarapps package build``
    .gitignore, tests/test_app.py   as ``soarapps init`` sets a project up (one test that runs)
    logo.svg, logo_dark.svg         plugin.yaml ``icon`` (the same SVG for both themes)
    release_notes/<version>.md      this version's CHANGELOG.md section (+ unreleased.md)
    src/__init__.py                 the project folder is imported as a package by soarapps
    src/app.py                      the App (source: exporters/splunk_soar/entry.py)
    src/soar_mapping.py             schemas -> SOAR fields (exporters/splunk_soar/mapping.py)
    src/flat.py                     inputs <-> flat params (exporters/flat.py)
    src/plugin_data.py              plugin.yaml and the schemas it names, as Python data
    src/framework/, src/connectors/, src/actions/    the plugin's code (.py files only)

SOAR's packager ships only ``.py`` files, so the manifest and schemas reach the app as the
generated ``plugin_data.py`` (read by ``framework.manifest.plugin_from_data``), never as a copy.
``manifest.json`` is not part of the export: ``soarapps manifests create`` makes it from the
code, and needs a ``uv.lock`` beside pyproject.toml. The export cannot run ``uv lock`` (that
needs the package index), so the lock is a file of this repository, ``exporters/splunk_soar/
uv.lock``, made by ``uv lock`` on an export and shipped as it is; ``make platforms`` checks
that it is current (``uv lock --check``) before it builds the app tarball from it.

What only Splunk SOAR needs (the stable app id, the SDK pin, app and action types, which asset
fields besides the secrets are stored encrypted) is plugin.yaml's ``platforms.splunk_soar``
(schema: SETTINGS below).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

from exporters import flat
from exporters.common import (
    ExportError,
    license_files,
    pinned,
    plugin_code,
    plugin_data_module,
    read_file,
    requirements_without,
)
from exporters.common import release_notes as changelog_notes
from exporters.splunk_soar import mapping, readme
from framework.manifest import MANIFEST, Plugin

TITLE = "Splunk SOAR"
MARKER = "pyproject.toml"
HERE = Path(__file__).resolve().parent
SHIPPED = {  # exported as: source
    "src/app.py": HERE / "entry.py",
    "src/soar_mapping.py": HERE / "mapping.py",
    "src/flat.py": Path(flat.__file__),
}
# The platforms uv.lock is resolved for (as `soarapps init` writes them): without them the lock
# carries Windows-only wheels that `soarapps manifests create` cannot place.
LOCK = HERE / "uv.lock"  # `uv lock` of an export: see the module docstring
INDEX = "https://pypi.org/simple"  # the lock's one source, as `soarapps init --uv-index` sets it
TEST_PIN = "pytest==9.0.3"  # the dev group: what tests/test_app.py runs with
ENVIRONMENTS = [
    ("linux", "x86_64"),
    ("linux", "aarch64"),
    ("darwin", "x86_64"),
    ("darwin", "arm64"),
]

SETTINGS = {
    "type": "object",
    "required": [
        "appid",
        "runtime",
        "python",
        "app_type",
        "action_type",
        "sensitive",
        "unneeded",
    ],
    "additionalProperties": False,
    "properties": {
        "appid": {
            "description": "The app's id on the platform: a UUID made once and kept, so a new "
            "version upgrades the installed app instead of adding a second one.",
            "type": "string",
            "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
        },
        "runtime": pinned("The SDK the app is built and run with, pinned (name==version)."),
        "python": {
            "description": "The app's requires-python, e.g. '>=3.13,<3.14' (the SDK's Python).",
            "type": "string",
            "pattern": ">=\\s*[0-9]+\\.[0-9]+",
        },
        "app_type": {"description": "The manifest's app type.", "type": "string", "minLength": 1},
        "action_type": {
            "description": "The manifest's type of every action (investigate, generic, ...).",
            "type": "string",
            "minLength": 1,
        },
        "sensitive": {
            "description": "Asset fields stored encrypted besides asset.secrets (a proxy URL "
            "may carry credentials).",
            "type": "array",
            "items": {"type": "string", "minLength": 1},
        },
        "unneeded": {
            "description": "Projects of requirements.txt the app does not need (PyYAML: the "
            "manifest travels as Python data).",
            "type": "array",
            "items": {"type": "string", "minLength": 1},
        },
    },
}


def dependencies(plugin: Plugin, settings: Dict[str, Any]) -> List[str]:
    """The app's dependencies: the SDK pin and our pinned requirements less the unneeded."""
    return [settings["runtime"], *requirements_without(plugin, settings["unneeded"])]


def toml_list(values: List[str]) -> str:
    return "[\n" + "".join(f"    {json.dumps(value)},\n" for value in values) + "]"


def pyproject(plugin: Plugin, settings: Dict[str, Any]) -> bytes:
    version = mapping.python_version(settings["python"])
    markers = [
        f"sys_platform == '{system}' and platform_machine == '{machine}' and "
        f"python_version == '{version}'"
        for system, machine in ENVIRONMENTS
    ]
    # JSON strings are TOML basic strings (same quoting and escapes).
    text = f"""# Generated from {MANIFEST} by python -m runtime export splunk_soar: do not edit.
[project]
name = {json.dumps(plugin.id)}
version = {json.dumps(plugin.version)}
description = {json.dumps(plugin.description)}
license = {json.dumps(plugin.license)}
requires-python = {json.dumps(settings["python"])}
authors = [{{ name = {json.dumps(plugin.publisher)} }}]
dependencies = {toml_list(dependencies(plugin, settings))}

[tool.soar.app]
main_module = "src.app:app"

[dependency-groups]
dev = {toml_list([TEST_PIN])}

[[tool.uv.index]]
url = {json.dumps(INDEX)}

[tool.uv]
environments = {toml_list(markers)}
required-environments = {toml_list(markers[:1])}
"""
    return text.encode("utf-8")


def release_notes(plugin: Plugin) -> Dict[str, bytes]:
    """This version's CHANGELOG.md section, and the empty unreleased.md ``soarapps init`` makes."""
    notes = f"**v{plugin.version}**\n\n{changelog_notes(plugin)}"
    return {
        f"release_notes/{plugin.version}.md": notes.encode("utf-8"),
        "release_notes/unreleased.md": b"**Unreleased**\n",
    }


GITIGNORE = b"""# What a build or a local run leaves in the project (as soarapps init ignores them)
__pycache__/
*.py[cod]
.venv/
manifest.json
test_asset.json
*.tgz
"""

APP_TEST = b'''"""The app imports, and registers every action of the plugin (run: uv run pytest)."""

from src.app import PLUGIN, app


def test_every_action_is_registered():
    registered = set(app.actions_manager.get_actions())
    assert registered == {*PLUGIN.actions, "test_connectivity"}
'''


def check_mapping(plugin: Plugin, settings: Dict[str, Any]) -> None:
    """What splunk-soar-sdk would refuse at import, as one sentence each, before writing."""
    problems = []
    try:
        sensitive = [*plugin.asset.secrets, *settings["sensitive"]]
        mapping.sensitive_fields(flat.asset_fields(plugin.asset.schema), sensitive)
    except mapping.MappingError as exc:
        problems.append(f"{plugin.asset.schema_path}: {exc}")
    for action in plugin.actions.values():
        try:
            mapping.params(action.input_schema)
        except mapping.MappingError as exc:
            problems.append(f"{action.input_schema_path}: {exc}")
    if problems:
        raise ExportError(problems)


def build(plugin: Plugin, settings: Dict[str, Any]) -> Dict[str, bytes]:
    check_mapping(plugin, settings)
    logo = read_file(plugin, plugin.icon)
    files = {
        MARKER: pyproject(plugin, settings),
        "logo.svg": logo,
        "logo_dark.svg": logo,
        "uv.lock": LOCK.read_bytes(),
        "README.md": readme.text(plugin, settings).encode("utf-8"),
        ".gitignore": GITIGNORE,
        "tests/test_app.py": APP_TEST,
        **release_notes(plugin),
        **license_files(plugin),
        "src/__init__.py": b"",
        "src/plugin_data.py": plugin_data_module(plugin, "splunk_soar"),
    }
    files.update({path: source.read_bytes() for path, source in SHIPPED.items()})
    files.update({f"src/{path}": data for path, data in plugin_code(plugin).items()})
    return files
