"""TheHive Cortex: an analyzer (a JSON definition per action, a cortexutils program beside
the plugin core) and TheHive's report templates. <Name> is the plugin's title and <Flavor> the
action's title, each as one CamelCase word.
"""

import json
import re
from html import escape
from pathlib import Path
from typing import Any, Dict, List

from exporters import common
from exporters.common import ExportError
from exporters.flat import kinds_of
from framework.manifest import MANIFEST, Plugin

TITLE = "TheHive Cortex"
MARKER = "CORTEX-EXPORT.md"
HERE = Path(__file__).resolve().parent
# JSON Schema type -> Cortex configuration item type (Cortex knows text, string, number, boolean).
ITEM_TYPES = {"string": "string", "number": "number", "integer": "number", "boolean": "boolean"}
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def names(plugin: Plugin, action_id: str) -> Dict[str, str]:
    base = common.camel(plugin.title)
    name = f"{base}_{common.camel(plugin.actions[action_id].title)}"
    return {"base": base, "name": name, "id": f"{name}_{plugin.version}".replace(".", "_")}


def program(plugin: Plugin) -> str:
    if not NAME.match(plugin.id):
        raise ExportError(f"{MANIFEST}: id: {plugin.id!r} cannot name the analyzer's program.")
    return f"{plugin.id}_analyzer.py"


def configuration_items(plugin: Plugin) -> List[Dict[str, Any]]:
    schema = plugin.asset.schema
    required = set(schema.get("required", []))
    items = []
    for name, field in schema.get("properties", {}).items():
        kinds = {ITEM_TYPES.get(t) for t in kinds_of(field)}
        if len(kinds) != 1 or None in kinds:
            raise ExportError(
                f"{plugin.asset.schema_path}: {name}: no Cortex item type for {kinds_of(field)}."
            )
        title, text = field.get("title", name), field.get("description", "")
        item: Dict[str, Any] = {
            "name": name,
            "description": f"{title}. {text}".strip() if text else title,
            "type": kinds.pop(),
            "multi": False,
            "required": name in required,
        }
        if field.get("default") is not None:
            item["defaultValue"] = field["default"]
        if name in plugin.asset.secrets:
            item["secret"] = True  # ours: Cortex 3 ignores it; the program masks it (README)
        items.append(item)
    return items


def definition(plugin: Plugin, settings: Dict[str, Any], action_id: str) -> Dict[str, Any]:
    known = names(plugin, action_id)
    return {
        "name": known["name"],
        "version": plugin.version,
        "author": plugin.publisher,
        "url": plugin.homepage,
        "license": plugin.license,
        "description": plugin.actions[action_id].description,
        "dataTypeList": list(settings["dataTypeList"]),
        "command": f"{known['base']}/{program(plugin)}",
        "baseConfig": known["base"],
        "config": {"action": action_id},
        "configurationItems": configuration_items(plugin),
    }


def columns(plugin: Plugin, settings: Dict[str, Any], action_id: str) -> List[List[str]]:
    """[name, header] of the events table (a column the event schema lacks is refused)."""
    schema = plugin.actions[action_id].output_schema
    event = schema.get("$defs", {}).get("event", {}).get("properties", {})
    unknown = [c for c in settings.get("columns", []) if c not in event]
    if unknown:
        raise ExportError(f"{MANIFEST}: platforms.cortex.columns: not event fields: {unknown}.")
    return [[name, str(event[name].get("title", name))] for name in settings.get("columns", [])]


def long_html(plugin: Plugin, settings: Dict[str, Any], action_id: str) -> bytes:
    """Text HTML-escaped in ``ng-non-bindable`` elements: AngularJS does not evaluate it there."""
    cols = columns(plugin, settings, action_id)
    return common.fill(
        HERE / "long.html.tmpl",
        title=escape(f"{plugin.title}: {plugin.actions[action_id].title}"),
        count_by=escape(str(settings.get("count_by", "eventType"))),
        heads="".join(f"<th ng-non-bindable>{escape(head)}</th>" for _, head in cols),
        cells="".join("<td>{{event[" + escape(json.dumps(name)) + "]}}</td>" for name, _ in cols),
    ).encode("utf-8")


def readme(plugin: Plugin, settings: Dict[str, Any]) -> bytes:
    items = []
    for i in configuration_items(plugin):
        name = f"`{i['name']}`{' (secret)' if i.get('secret') else ''}"
        need = "yes" if i["required"] else "no"
        items.append([name, i["type"], need, json.dumps(i.get("defaultValue"))])
    return common.render(
        HERE / "README.md.tmpl",
        plugin=plugin,
        settings=settings,
        manifest=MANIFEST,
        flavours="\n".join(
            f"- `{names(plugin, action_id)['name']}`: {action.description}"
            for action_id, action in plugin.actions.items()
        ),
        data_types=", ".join(f"`{t}`" for t in settings["dataTypeList"]),
        items=common.table(["item", "type", "required", "default"], items),
        phrases=", ".join(f"`{p}`" for p in settings.get("secret_phrases", [])),
        count_by=settings.get("count_by", "eventType"),
        base=common.camel(plugin.title),
        predicate=settings.get("predicate", "Events"),
        program=program(plugin),
    )


def build(plugin: Plugin, settings: Dict[str, Any]) -> Dict[str, bytes]:
    folder = f"analyzers/{common.camel(plugin.title)}"
    files = {
        MARKER: common.render(HERE / "CORTEX-EXPORT.md.tmpl", plugin=plugin, manifest=MANIFEST),
        f"{folder}/{program(plugin)}": (HERE / "entry.py").read_bytes(),
        f"{folder}/requirements.txt": common.text_file(
            f"# {settings['runtime']}, then this plugin's pins.",
            settings["runtime"],
            *common.requirements_without(plugin, settings.get("provides", [])),
        ),
        f"{folder}/README.md": readme(plugin, settings),
        **{f"{folder}/{name}": data for name, data in common.license_files(plugin).items()},
        **{f"{folder}/{path}": data for path, data in common.plugin_core(plugin).items()},
    }
    flavours = [names(plugin, action_id)["name"] for action_id in plugin.actions]
    if len(set(flavours)) != len(flavours):
        raise ExportError(f"{MANIFEST}: actions: two action titles give one flavour name.")
    for action_id in plugin.actions:
        known = names(plugin, action_id)
        files[f"{folder}/{known['name']}.json"] = common.dump_json(
            definition(plugin, settings, action_id)
        )
        templates = f"thehive-templates/{known['id']}"
        files[f"{templates}/long.html"] = long_html(plugin, settings, action_id)
        files[f"{templates}/short.html"] = (HERE / "short.html.tmpl").read_bytes()
    return files
