"""Swimlane Turbine: a connector tree run by Swimlane's ``connector-def-runner``. Its entry
script globs for ``<action>.py`` and falls back silently when several match: plugin code the glob
would match ships as ``<name>_action.py`` (its class reference adjusted in ``plugin_data.json``).
"""

import json
import re
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from exporters import common
from exporters.flat import branch_properties, kinds_of, resolve
from framework.manifest import ActionSpec, Plugin

TITLE = "Swimlane Turbine"
MARKER = "connector.yaml"
HERE = Path(__file__).resolve().parent
CORE = "connector/src/plugin_core"  # on sys.path in the override
DATA = "plugin_data.json"  # in CORE; the override reads it by this name
# Names the entry script's recursive globs look for besides <action>.py.
GLOBBED = {"runner_override.py"}
# What the schemas keep in the small vocabulary connector-def-runner's README shows.
KEPT = ("title", "description", "default", "format", "examples")


def _merge(schemas: List[Mapping[str, Any]], root: Mapping[str, Any]) -> Dict[str, Any]:
    """One schema from several descriptions of a property: the first's words, every property."""
    merged: Dict[str, Any] = {}
    for schema in schemas:
        for key, value in schema.items():
            if key == "properties":
                merged.setdefault("properties", {})
                for name, sub in value.items():
                    merged["properties"].setdefault(name, []).append(resolve(sub, root))
            elif key == "required":
                merged.setdefault("required", [])
                merged["required"] += [n for n in value if n not in merged["required"]]
            else:
                merged.setdefault(key, value)
    if "properties" in merged:
        merged["properties"] = {n: _merge(subs, root) for n, subs in merged["properties"].items()}
    return merged


def turbine_schema(schema: Mapping[str, Any], root: Optional[Mapping[str, Any]] = None) -> Any:
    root = schema if root is None else root
    schema = resolve(schema, root)
    out: Dict[str, Any] = {key: schema[key] for key in KEPT if key in schema}
    enum = [value for value in schema.get("enum") or [] if value is not None]
    if enum:
        listed = ", ".join(str(value) for value in enum)
        out["description"] = f"{out.get('description', '').rstrip()} One of: {listed}.".lstrip()
    properties = branch_properties(schema, root)
    types = kinds_of(schema) or (["object"] if properties else [])
    if types:  # one type: string when it is one of several
        out["type"] = "string" if len(types) > 1 and "string" in types else types[0]
    if properties:
        out["properties"] = {
            name: turbine_schema(_merge(subs, root), root) for name, subs in properties.items()
        }
    if "required" in schema:
        out["required"] = list(schema["required"])
    extra = schema.get("additionalProperties")
    if extra is not None:
        out["additionalProperties"] = extra if isinstance(extra, bool) else True
    if isinstance(schema.get("items"), Mapping):
        out["items"] = turbine_schema(schema["items"], root)
    return out


def asset_yaml(plugin: Plugin, settings: Dict[str, Any]) -> Dict[str, Any]:
    """The asset/1 inputs; plugin.yaml's secrets are ``format: password`` (Turbine masks them)."""
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


def action_yaml(action: ActionSpec) -> Dict[str, Any]:
    # /a/{name} as Turbine's mustache endpoint template /a/{{name}}
    endpoint = re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", r"{{\1}}", action.path)
    return {
        "schema": "action/1",
        "name": action.id,
        "title": action.title,
        "description": action.description,
        "inputs": turbine_schema(action.input_schema),
        "output": turbine_schema(action.output_schema),
        "meta": {"endpoint": endpoint, "method": action.method},
    }


def shipped_code(plugin: Plugin) -> Dict[str, bytes]:
    """The plugin's code under CORE, modules the glob would match renamed ``<name>_action.py``."""
    data = common.plugin_data(plugin)
    targets = {f"{action_id}.py" for action_id in plugin.actions} | GLOBBED
    code = common.plugin_code(plugin)
    renamed: Dict[str, str] = {}
    for spec in data["manifest"]["actions"].values():
        module, _, cls = spec["class"].partition(":")
        path = module.replace(".", "/") + ".py"
        if path.rsplit("/", 1)[-1] in targets:
            renamed[path] = path[: -len(".py")] + "_action.py"
            spec["class"] = f"{module}_action:{cls}"
    files = {}
    for path, body in code.items():
        shipped = renamed.get(path, path)
        if shipped.rsplit("/", 1)[-1] in targets or (shipped != path and shipped in code):
            raise common.ExportError(f"{path}: its file name would hide the action's override.")
        files[f"{CORE}/{shipped}"] = body
    files[f"{CORE}/{DATA}"] = common.dump_json(data)
    return files


def field_table(schema: Mapping[str, Any], prefix: str = "") -> List[str]:
    """One row per property as Turbine sees it; an inputs group as ``group.name`` rows."""
    rows = [common.table(["field", "type", "required", "default", "description"], [])]
    required = set(schema.get("required") or [])
    for name, sub in (schema.get("properties") or {}).items():
        inner = sub.get("properties") if sub.get("type") == "object" else None
        if inner and prefix == "" and name in ("path_parameters", "parameters"):
            rows += field_table(sub, f"{name}.")
            continue
        kind = sub.get("type", "any")
        if kind == "array":
            kind = f"array of {sub.get('items', {}).get('type', 'any')}"
        default = common.cell(sub["default"]) if "default" in sub else ""
        text = common.cell(sub.get("description", sub.get("title", "")))
        need = "yes" if name in required else ""
        rows.append(common.row([f"`{prefix}{name}`", kind, need, default, text]))
    return rows


def fields(schema: Mapping[str, Any]) -> str:
    return "\n".join(field_table(turbine_schema(schema)))


def docs(plugin: Plugin, settings: Dict[str, Any]) -> Dict[str, bytes]:
    actions = "\n".join(
        f"- [{a.title}](actions/{a.id}.md): {a.description}" for a in plugin.actions.values()
    )
    files = {
        "README.md": common.render(HERE / "README.md.tmpl", plugin=plugin, settings=settings),
        "docs/overview.md": common.render(
            HERE / "overview.md.tmpl", plugin=plugin, actions=actions
        ),
        "docs/configuration.md": common.render(
            HERE / "configuration.md.tmpl",
            plugin=plugin,
            settings=settings,
            header=settings["security"],
            header_format=settings["security"].get("format", ""),
            fields=fields(plugin.asset.schema),
        ),
        "docs/release_notes.md": common.text_file(
            f"# Release notes\n\n## {plugin.version}\n\n{common.release_notes(plugin)}"
        ),
    }
    for action in plugin.actions.values():
        files[f"docs/actions/{action.id}.md"] = common.render(
            HERE / "action.md.tmpl",
            action=action,
            inputs=fields(action.input_schema),
            output=fields(action.output_schema),
        )
    return files


def build(plugin: Plugin, settings: Dict[str, Any]) -> Dict[str, bytes]:
    override = (HERE / "entry.py").read_bytes()
    connector = {
        "schema": "connector/1",
        "name": plugin.id,
        **{key: getattr(plugin, key) for key in ("title", "description", "version", "vendor")},
        "author": plugin.publisher,
        "product": plugin.title,
        "logo": "image/logo.png",
    }
    files = {
        MARKER: common.dump_yaml(connector),
        f"connector/config/assets/{settings['auth']}.yaml": common.dump_yaml(
            asset_yaml(plugin, settings)
        ),
        "image/logo.png": common.largest_icon(plugin),
        "requirements.txt": common.text_file(
            f"# Installed beside {settings['runtime']} (Python {settings['python']}), which "
            f"provides {', '.join(settings['provides'])}.",
            *common.requirements_without(plugin, settings["provides"]),
        ),
        **shipped_code(plugin),
        **common.license_files(plugin),
        **docs(plugin, settings),
    }
    for action in plugin.actions.values():
        files[f"connector/config/actions/{action.id}.yaml"] = common.dump_yaml(action_yaml(action))
        files[f"connector/src/{action.id}.py"] = override
    return files
