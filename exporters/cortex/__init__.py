"""TheHive Cortex: an analyzer (JSON definition + a cortexutils program) and TheHive's templates.

The tree, as TheHive-Project's Cortex-Analyzers repository lays it out (Cortex reads every
``analyzers/*/*.json``; TheHive imports the report templates folder by folder)::

    CORTEX-EXPORT.md                                what this is and how to load it (the marker)
    analyzers/<Name>/<Name>_<Flavor>.json           one flavour per plugin action: identity,
                                                    dataTypeList, command, baseConfig, config
                                                    {"action": ...}, configurationItems = the
                                                    asset's fields (secrets marked)
    analyzers/<Name>/<id>_analyzer.py               the program: exporters/cortex/entry.py
    analyzers/<Name>/requirements.txt               cortexutils, then this plugin's pins
    analyzers/<Name>/README.md                      the analyzer's documentation and licence
    analyzers/<Name>/...                            the plugin core the program runs
    thehive-templates/<Name>_<Flavor>_<version>/long.html, short.html

<Name> is the plugin's title and <Flavor> the action's title, each as one CamelCase word.
What only Cortex needs (the cortexutils pin, dataTypeList, the observable's input, the secret
phrases, the taxonomy's predicate, the template's columns) is plugin.yaml's ``platforms.cortex``
(schema: SETTINGS below).
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any, Dict, List, Mapping

from exporters.common import (
    ExportError,
    dump_json,
    license_files,
    pinned,
    plugin_core,
    requirements_without,
)
from framework.manifest import MANIFEST, Plugin

TITLE = "TheHive Cortex"
MARKER = "CORTEX-EXPORT.md"
ENTRY = Path(__file__).with_name("entry.py")
LICENSE_URL = "https://www.apache.org/licenses/LICENSE-2.0"
# JSON Schema type -> Cortex configuration item type (Cortex knows text, string, number, boolean).
ITEM_TYPES = {"string": "string", "number": "number", "integer": "number", "boolean": "boolean"}
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

SETTINGS = {
    "type": "object",
    "required": ["runtime", "python", "dataTypeList", "observable"],
    "additionalProperties": False,
    "properties": {
        "runtime": pinned("The analyzer library the program runs on, pinned (name==version)."),
        "python": {"description": "Python versions, e.g. '>=3.9'.", "type": "string"},
        "provides": {
            "description": "Projects the analyzer's image provides: left out of requirements.txt.",
            "type": "array",
            "items": {"type": "string", "minLength": 1},
        },
        "dataTypeList": {
            "description": "The observable types the analyzer accepts (Cortex's data types).",
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "pattern": "^[a-z][a-z0-9_-]*$"},
        },
        "observable": {
            "description": "The input the observable's data fills: a name or group.name.",
            "type": "string",
            "pattern": "^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)?$",
        },
        "secret_phrases": {
            "description": "cortexutils masks config values whose names hold one of these.",
            "type": "array",
            "items": {"type": "string", "pattern": "^[a-z0-9_]+$"},
        },
        "namespace": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"},
        "predicate": {"type": "string", "pattern": "^[A-Za-z0-9_ -]+$"},
        "count_by": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
        "columns": {
            "type": "array",
            "items": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
        },
    },
}


def camel(text: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", text)
    name = "".join(word[:1].upper() + word[1:] for word in words)
    return name if name[:1].isalpha() else f"A{name}"


def names(plugin: Plugin, action_id: str) -> Dict[str, str]:
    base = camel(plugin.title)
    name = f"{base}_{camel(plugin.actions[action_id].title)}"
    return {"base": base, "name": name, "id": f"{name}_{plugin.version}".replace(".", "_")}


def program(plugin: Plugin) -> str:
    if not NAME.match(plugin.id):
        raise ExportError([f"{MANIFEST}: id: {plugin.id!r} cannot name the analyzer's program."])
    return f"{plugin.id}_analyzer.py"


def types_of(schema: Mapping[str, Any]) -> List[str]:
    declared = schema.get("type", [])
    return [t for t in ([declared] if isinstance(declared, str) else declared) if t != "null"]


def configuration_items(plugin: Plugin) -> List[Dict[str, Any]]:
    """The asset's fields, in schema order, as Cortex configuration items."""
    schema = plugin.asset.schema
    required = set(schema.get("required", []))
    items = []
    for name, field in schema.get("properties", {}).items():
        kinds = {ITEM_TYPES.get(t) for t in types_of(field)}
        if len(kinds) != 1 or None in kinds:
            raise ExportError(
                [f"{plugin.asset.schema_path}: {name}: no Cortex item type for {types_of(field)}."]
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
    """[name, header] of the events table: ``platforms.cortex.columns`` titled by the output
    schema (an event property it does not know is refused)."""
    schema = plugin.actions[action_id].output_schema
    event = schema.get("$defs", {}).get("event", {}).get("properties", {})
    unknown = [c for c in settings.get("columns", []) if c not in event]
    if unknown:
        raise ExportError([f"{MANIFEST}: platforms.cortex.columns: not event fields: {unknown}."])
    return [[name, str(event[name].get("title", name))] for name in settings.get("columns", [])]


def escaped(text: str) -> str:
    """Text from the manifest inside a template: HTML-escaped; the element carrying it is
    ``ng-non-bindable``, so TheHive's AngularJS does not evaluate ``{{...}}`` in it."""
    return html.escape(text, quote=True)


def long_html(plugin: Plugin, settings: Dict[str, Any], action_id: str) -> bytes:
    title = escaped(f"{plugin.title}: {plugin.actions[action_id].title}")
    count_by = escaped(str(settings.get("count_by", "eventType")))
    table = columns(plugin, settings, action_id)
    heads = "".join(f"<th ng-non-bindable>{escaped(head)}</th>" for _, head in table)
    cells = "".join("<td>{{event[" + escaped(json.dumps(name)) + "]}}</td>" for name, _ in table)
    lines = [
        '<div class="panel panel-info" ng-if="success">',
        f'  <div class="panel-heading"><span ng-non-bindable>{title}</span>:',
        "    <strong>{{(artifact.data || artifact.attachment.name) | fang}}</strong></div>",
        '  <div class="panel-body">',
        "    <p>{{content.events}} events, HTTP {{content.envelope.status_code}}"
        "{{content.envelope.json_body.pagination.totalItems != null ? '; ' +"
        " content.envelope.json_body.pagination.totalItems + ' in total' : ''}}.</p>",
        f"    <h4>By <span ng-non-bindable>{count_by}</span></h4>",
        '    <table class="table table-hover table-condensed">',
        "      <thead><tr><th>Type</th><th>Count</th></tr></thead>",
        '      <tbody><tr ng-repeat="row in content.event_types">'
        "<td>{{row.type}}</td><td>{{row.count}}</td></tr></tbody>",
        "    </table>",
        "    <h4>Events</h4>",
        '    <table class="table table-hover table-condensed">',
        f"      <thead><tr>{heads}</tr></thead>",
        '      <tbody><tr ng-repeat="event in content.envelope.json_body.data">'
        f"{cells}</tr></tbody>",
        "    </table>",
        "  </div>",
        "</div>",
        '<div class="panel panel-danger" ng-if="!success">',
        f'  <div class="panel-heading"><span ng-non-bindable>{title}</span>:',
        "    <strong>{{(artifact.data || artifact.attachment.name) | fang}}</strong></div>",
        '  <div class="panel-body"><pre>{{content.errorMessage}}</pre></div>',
        "</div>",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


SHORT_HTML = """<span class="label" ng-repeat="t in content.taxonomies"
  ng-class="{'info': 'label-info', 'safe': 'label-success', 'suspicious': 'label-warning',
  'malicious': 'label-danger'}[t.level]">{{t.namespace}}:{{t.predicate}}="{{t.value}}"</span>
"""


def requirements(plugin: Plugin, settings: Dict[str, Any]) -> bytes:
    lines = [
        f"# {settings['runtime']}, then this plugin's pins.",
        settings["runtime"],
        *requirements_without(plugin, settings.get("provides", [])),
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def readme(plugin: Plugin, settings: Dict[str, Any]) -> bytes:
    base = camel(plugin.title)
    flavours = [names(plugin, action_id) for action_id in plugin.actions]
    items = configuration_items(plugin)
    lines = [
        f"# {plugin.title} {plugin.version}: Cortex analyzer",
        "",
        plugin.description,
        "",
        f"Generated by `python -m runtime export cortex` from this plugin's {MANIFEST}.",
        "",
        "## Flavours",
        "",
        *(
            f"- `{known['name']}`: {plugin.actions[action_id].description}"
            for known, action_id in zip(flavours, plugin.actions)
        ),
        "",
        f"Data types: {', '.join(f'`{t}`' for t in settings['dataTypeList'])}. The observable's",
        f"data is `{settings['observable']}`; job parameters give the other inputs by name",
        "(a parameter of that name wins over the observable).",
        "",
        "## Configuration",
        "",
        "| item | type | required | default |",
        "|---|---|---|---|",
        *(
            f"| `{i['name']}`{' (secret)' if i.get('secret') else ''} | {i['type']} | "
            f"{'yes' if i['required'] else 'no'} | {json.dumps(i.get('defaultValue'))} |"
            for i in items
        ),
        "",
        "Secrets: the program masks every configuration value whose name contains one of",
        f"{', '.join(f'`{p}`' for p in settings.get('secret_phrases', []))} or is a secret field,",
        "and removes every secret value from anything it writes (reports and errors).",
        "",
        "## Report",
        "",
        "`full.envelope` is the HTTP envelope, unchanged; `full.events` the number of events,",
        f"`full.event_types` the counts by `{settings.get('count_by', 'eventType')}`. The summary",
        f"is one taxonomy: `{base}:{settings.get('predicate', 'Events')}` = the event count.",
        "Any answer that is not 2xx, and any run without one, is an analyzer error.",
        "",
        "## Requirements",
        "",
        f"`{settings['runtime']}` and this plugin's pins (requirements.txt), Python",
        f"`{settings['python']}`. Cortex's process runner executes the program: give it its",
        f"executable bit after unpacking (`chmod +x {base}/{program(plugin)}`).",
        "",
        "## License",
        "",
        f"{plugin.license}: {LICENSE_URL}",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def marker(plugin: Plugin) -> bytes:
    lines = [
        f"# {plugin.title} {plugin.version} for TheHive Cortex",
        "",
        f"Generated by `python -m runtime export cortex` from this plugin's {MANIFEST}.",
        "`analyzers/` is a Cortex analyzers folder: add it to Cortex's `analyzer.urls`",
        "(application.conf), refresh the analyzers, then enable and configure the flavour under",
        "Organization > Analyzers. `thehive-templates/` holds TheHive's report templates.",
        "See the plugin's docs/platforms/cortex.md.",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def build(plugin: Plugin, settings: Dict[str, Any]) -> Dict[str, bytes]:
    base = camel(plugin.title)
    folder = f"analyzers/{base}"
    files = {
        MARKER: marker(plugin),
        f"{folder}/{program(plugin)}": ENTRY.read_bytes(),
        f"{folder}/requirements.txt": requirements(plugin, settings),
        f"{folder}/README.md": readme(plugin, settings),
        **{f"{folder}/{name}": data for name, data in license_files(plugin).items()},
    }
    flavours = [names(plugin, action_id)["name"] for action_id in plugin.actions]
    if len(set(flavours)) != len(flavours):
        raise ExportError([f"{MANIFEST}: actions: two action titles give one flavour name."])
    for action_id in plugin.actions:
        known = names(plugin, action_id)
        files[f"{folder}/{known['name']}.json"] = dump_json(definition(plugin, settings, action_id))
        templates = f"thehive-templates/{known['id']}"
        files[f"{templates}/long.html"] = long_html(plugin, settings, action_id)
        files[f"{templates}/short.html"] = SHORT_HTML.encode("utf-8")
    for path, data in plugin_core(plugin).items():
        files[f"{folder}/{path}"] = data
    return files
