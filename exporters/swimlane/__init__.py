"""Swimlane Turbine: a connector tree run by Swimlane's ``connector-def-runner``.

The tree (paths as Turbine's connector templates lay them out)::

    connector.yaml                              the connector's metadata (from plugin.yaml)
    connector/config/assets/<auth>.yaml         schema: asset/1, the asset schema + meta.security
    connector/config/actions/<action>.yaml      schema: action/1, input/output schemas + meta
    connector/src/<action>.py                   RunnerOverride: the action through our runtime
    connector/src/plugin_core.zip               the plugin the override runs (see below)
    image/logo.png                              the largest PNG of plugin.yaml icons
    requirements.txt                            our pins less what the vendor runtime provides

Turbine's entry script finds an action's override by a recursive glob for ``<action>.py`` and
silently falls back to the declarative Runner when more than one file matches. Our own
``actions/get_threat_events.py`` would be such a second file, so the plugin travels as one
archive, ``plugin_core.zip``: its Python packages, imported from the archive itself
(zipimport), and ``plugin_data.json``, plugin.yaml and its schemas as data for
``framework.manifest.plugin_from_data``. Nothing is unpacked or written at run time.

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
    dump_json,
    dump_yaml,
    largest_icon,
    pinned,
    plugin_code,
    plugin_data,
    read_file,
    requirements_without,
    zip_bytes,
)
from framework.manifest import Plugin

TITLE = "Swimlane Turbine"
MARKER = "connector.yaml"
CORE = "connector/src/plugin_core.zip"
DATA = "plugin_data.json"  # in CORE; the override reads it by this name
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
            "required": ["name", "in"],
            "properties": {
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
        "inputs": schema,
        "meta": {"security": settings["security"]},
    }


def action_yaml(plugin: Plugin, action_id: str) -> Dict[str, Any]:
    action = plugin.actions[action_id]
    return {
        "schema": "action/1",
        "name": action.id,
        "title": action.title,
        "description": action.description,
        "inputs": action.input_schema,
        "output": action.output_schema,
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


def build(plugin: Plugin, settings: Dict[str, Any]) -> Dict[str, bytes]:
    override = ENTRY.read_bytes()
    files = {
        MARKER: dump_yaml(connector_yaml(plugin)),
        f"connector/config/assets/{settings['auth']}.yaml": dump_yaml(asset_yaml(plugin, settings)),
        CORE: zip_bytes({**plugin_code(plugin), DATA: dump_json(plugin_data(plugin))}),
        "image/logo.png": read_file(plugin, largest_icon(plugin)),
        "requirements.txt": requirements(plugin, settings),
    }
    for action_id in plugin.actions:
        files[f"connector/config/actions/{action_id}.yaml"] = dump_yaml(
            action_yaml(plugin, action_id)
        )
        files[f"connector/src/{action_id}.py"] = override
    return files
