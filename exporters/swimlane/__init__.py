"""Swimlane Turbine: a connector tree run by Swimlane's ``connector-def-runner``.

The tree (paths as Turbine's connector templates lay them out)::

    connector.yaml                              the connector's metadata (from plugin.yaml)
    connector/config/assets/<auth>.yaml         schema: asset/1, the asset schema + meta.security
    connector/config/actions/<action>.yaml      schema: action/1, input/output schemas + meta
    connector/src/<action>.py                   RunnerOverride: the action through our runtime
    connector/src/plugin_core/                  the plugin the override runs (see below)
    docs/                                       overview, configuration, one page per action,
                                                release notes (from CHANGELOG.md)
    image/logo.png                              the largest PNG of plugin.yaml icons
    requirements.txt                            our pins less what the vendor runtime provides
    README.md, LICENSE, NOTICE

The definitions' schemas keep to what the runner's README shows (schema.py). Turbine's entry
script finds an action's override by a recursive glob for ``<action>.py`` and silently falls
back to the declarative Runner when more than one file matches. The plugin's code travels as
ordinary files under ``connector/src/plugin_core/`` (the override puts that folder on sys.path),
and an action module whose file name the glob would match (our ``actions/get_threat_events.py``)
is shipped as ``<name>_action.py``, the manifest's class reference adjusted in the shipped
``plugin_data.json`` (plugin.yaml and its schemas, for ``framework.manifest.plugin_from_data``).

Every value comes from plugin.yaml and schemas/; what only Turbine needs (the asset's auth type,
its ``meta.security``, the vendor runtime and the projects it provides) is plugin.yaml's
``platforms.swimlane`` (schema: SETTINGS below).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict

from exporters.common import (
    ExportError,
    dump_json,
    dump_yaml,
    largest_icon,
    license_files,
    pinned,
    plugin_code,
    plugin_data,
    read_file,
    requirements_without,
)
from exporters.swimlane import docs
from exporters.swimlane.schema import turbine_schema
from framework.manifest import Plugin

TITLE = "Swimlane Turbine"
MARKER = "connector.yaml"
CORE = "connector/src/plugin_core"  # on sys.path in the override
DATA = "plugin_data.json"  # in CORE; the override reads it by this name
# Names the entry script's recursive globs look for besides <action>.py.
GLOBBED = {"runner_override.py"}
ENTRY = Path(__file__).with_name("entry.py")  # shipped as connector/src/<action>.py

SETTINGS = {
    "type": "object",
    "required": ["runtime", "python", "provides", "auth", "security"],
    "additionalProperties": False,
    "properties": {
        "runtime": pinned("The vendor runtime the connector runs on, pinned (name==version)."),
        "python": {
            "description": "The Python versions that runtime supports, e.g. '>=3.10'.",
            "type": "string",
            "minLength": 1,
        },
        "provides": {
            "description": "Projects the runtime installs itself: left out of requirements.txt.",
            "type": "array",
            "items": {"type": "string", "minLength": 1},
        },
        "auth": {
            "description": "The asset/1 name: the runner's authentication method (apikey, ...).",
            "type": "string",
            "pattern": "^[a-z][a-z0-9_]*$",
        },
        "security": {
            "description": "The asset's meta.security, e.g. a header rendered from asset fields.",
            "type": "object",
            "required": ["type", "name", "in"],
            "properties": {
                "type": {"const": "apiKey"},
                "name": {"type": "string", "minLength": 1},
                "in": {"enum": ["header", "query", "cookie"]},
                "format": {"type": "string"},
            },
        },
    },
}


def mustache(path: str) -> str:
    """``/a/{name}/b`` as Turbine's mustache endpoint template ``/a/{{name}}/b``."""
    return re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", r"{{\1}}", path)


def connector_yaml(plugin: Plugin) -> Dict[str, Any]:
    return {
        "schema": "connector/1",
        "name": plugin.id,
        "title": plugin.title,
        "description": plugin.description,
        "version": plugin.version,
        "vendor": plugin.vendor,
        "author": plugin.publisher,
        "product": plugin.title,
        "logo": "image/logo.png",
    }


def asset_yaml(plugin: Plugin, settings: Dict[str, Any]) -> Dict[str, Any]:
    """The asset schema as the asset/1 inputs; plugin.yaml's secrets are ``format: password``
    (Turbine masks those fields) whatever their schema says."""
    schema = json.loads(json.dumps(plugin.asset.schema))
    for name in plugin.asset.secrets:
        schema["properties"][name]["format"] = "password"
    return {
        "schema": "asset/1",
        "name": settings["auth"],
        "title": plugin.asset.title,
        "description": plugin.asset.description,
        "inputs": turbine_schema(schema),
        "meta": {"security": settings["security"]},
    }


def action_yaml(plugin: Plugin, action_id: str) -> Dict[str, Any]:
    action = plugin.actions[action_id]
    return {
        "schema": "action/1",
        "name": action.id,
        "title": action.title,
        "description": action.description,
        "inputs": turbine_schema(action.input_schema),
        "output": turbine_schema(action.output_schema),
        "meta": {"endpoint": mustache(action.path), "method": action.method},
    }


def requirements(plugin: Plugin, settings: Dict[str, Any]) -> bytes:
    provided = ", ".join(settings["provides"])
    lines = [
        f"# Installed beside {settings['runtime']} (Python {settings['python']}), which "
        f"provides {provided}.",
        *requirements_without(plugin, settings["provides"]),
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def shipped_code(plugin: Plugin) -> Dict[str, bytes]:
    """The plugin's code and data under CORE: a module the entry script's glob would match
    (``<action>.py``, ``runner_override.py``) is renamed ``<name>_action.py`` and plugin.yaml's
    class reference follows it, so exactly one file per action matches: the override."""
    data = plugin_data(plugin)
    targets = {f"{action_id}.py" for action_id in plugin.actions} | GLOBBED
    code = plugin_code(plugin)
    renamed: Dict[str, str] = {}
    for spec in data["manifest"]["actions"].values():
        module, _, cls = spec["class"].partition(":")
        path = module.replace(".", "/") + ".py"
        if path.rsplit("/", 1)[-1] in targets:
            new = module + "_action"
            renamed[path] = new.replace(".", "/") + ".py"
            spec["class"] = f"{new}:{cls}"
    files = {}
    for path, body in code.items():
        shipped = renamed.get(path, path)
        if shipped.rsplit("/", 1)[-1] in targets or (shipped != path and shipped in code):
            raise ExportError([f"{path}: its file name would hide the action's override."])
        files[f"{CORE}/{shipped}"] = body
    files[f"{CORE}/{DATA}"] = dump_json(data)
    return files


def build(plugin: Plugin, settings: Dict[str, Any]) -> Dict[str, bytes]:
    override = ENTRY.read_bytes()
    files = {
        MARKER: dump_yaml(connector_yaml(plugin)),
        f"connector/config/assets/{settings['auth']}.yaml": dump_yaml(asset_yaml(plugin, settings)),
        "image/logo.png": read_file(plugin, largest_icon(plugin)),
        "requirements.txt": requirements(plugin, settings),
        **shipped_code(plugin),
        **license_files(plugin),
        **docs.pages(plugin, settings),
    }
    for action_id in plugin.actions:
        files[f"connector/config/actions/{action_id}.yaml"] = dump_yaml(
            action_yaml(plugin, action_id)
        )
        files[f"connector/src/{action_id}.py"] = override
    return files
