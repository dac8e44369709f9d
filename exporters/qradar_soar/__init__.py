"""IBM QRadar SOAR (formerly Resilient): an app package for ``resilient-sdk`` and
``resilient-circuits`` (an App Host app: a Python package of function components).

IBM's codegen writes the boilerplate; this export gives it what it needs and what it leaves as
placeholders. The tree::

    QRADAR-SOAR-EXPORT.md               what this is, and the codegen command (the marker)
    export.res                          the export data codegen reads: one function per action,
                                        its inputs as function fields, the message destination
    <package>/setup.py, README.md, apikey_permissions.txt, icons/, payload_samples/<function>/
    <package>/<package>/LICENSE         the plugin's LICENSE (and NOTICE)
    <package>/<package>/util/customize.py   the codegen reload parameters (codegen replaces it)
    <package>/<package>/util/config.py  the app.config section: the asset fields, the token as
                                        the App Host secret $API_TOKEN
    <package>/<package>/components/funct_<function>.py   the function (generated)
    <package>/<package>/bridge.py       what it calls (source: exporters/qradar_soar/entry.py)
    <package>/<package>/plugin/         framework/, connectors/, actions/ and plugin_data.py

``cd <package> && resilient-sdk codegen --reload -p . -e ../export.res`` (offline) then adds
what codegen owns and we leave out: export.res and customize.py inside the package, selftest.py,
the __init__ files, Dockerfile, MANIFEST.in, tox.ini, tests/, doc/screenshots. Codegen never
overwrites a file that exists, so our files stay as written. The package name is
``fn_<plugin id>``; every name in export.res derives from plugin.yaml's id, never a vendor's.
"""

from __future__ import annotations

import json
import re
import struct
import uuid
import zlib
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from exporters.common import (
    ExportError,
    dump_json,
    largest_icon,
    license_files,
    pinned,
    plugin_code,
    plugin_data_module,
    read_file,
    requirements_without,
)
from framework.manifest import MANIFEST, Plugin

TITLE = "IBM QRadar SOAR"
MARKER = "QRADAR-SOAR-EXPORT.md"
HERE = Path(__file__).resolve().parent
ENTRY = HERE / "entry.py"

SETTINGS = {
    "type": "object",
    "required": ["runtime", "sdk", "tests", "python", "provides", "author_email"],
    "additionalProperties": False,
    "properties": {
        "runtime": pinned("resilient-circuits, which runs the app in App Host"),
        "sdk": pinned("resilient-sdk: codegen, validate, package"),
        "tests": pinned("pytest-resilient-circuits: the function tests"),
        "python": {"type": "string", "minLength": 1},
        "provides": {
            "description": "projects resilient-circuits pins itself (left out of install_requires)",
            "type": "array",
            "items": {"type": "string", "minLength": 1},
        },
        "unneeded": {
            "description": "our requirements the app does not use (the manifest travels as data)",
            "type": "array",
            "items": {"type": "string", "minLength": 1},
        },
        "author_email": {"type": "string", "pattern": "^[^@\\s]+@[^@\\s]+$"},
        "secrets": {
            "description": "asset field -> the App Host secret its app.config value names",
            "type": "object",
            "additionalProperties": {"type": "string", "pattern": "^[A-Z][A-Z0-9_]*$"},
        },
    },
}

# Function input types (SOAR's input_type) for our schema types; arrays are comma-separated text.
INPUT_TYPES = {"boolean": "boolean", "integer": "number", "number": "number"}
SERVER_VERSION = {"major": 51, "minor": 0, "build_number": 0, "version": "51.0.0"}


# --- names --------------------------------------------------------------------------------------


def package_name(plugin: Plugin) -> str:
    """``fn_<id>``: a valid Python package name, QRadar SOAR's convention for function apps."""
    return "fn_" + re.sub(r"[^a-z0-9]+", "_", plugin.id.lower()).strip("_")


def function_name(plugin: Plugin, action_id: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", f"{plugin.id}_{action_id}".lower()).strip("_")


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def stable_uuid(plugin: Plugin, what: str) -> str:
    """The same UUID in every export (an upgrade keeps the objects SOAR has)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:{package_name(plugin)}:{what}"))


def secret_names(plugin: Plugin, settings: Dict[str, Any]) -> Dict[str, str]:
    chosen = dict(settings.get("secrets") or {})
    return {name: chosen.get(name, name.upper()) for name in plugin.asset.secrets}


def dropped(settings: Dict[str, Any]) -> List[str]:
    """Requirements left out of install_requires: provided by the runtime, or unneeded."""
    return [*settings["provides"], *settings.get("unneeded", [])]


# --- the function inputs ------------------------------------------------------------------------


class Input:
    """One function input: SOAR field name, where it goes in our inputs, its schema."""

    def __init__(self, plugin: Plugin, group: Optional[str], name: str, schema: Dict, required):
        self.soar = f"{plugin.id}_{snake(name)}".lower()
        self.group, self.name, self.schema, self.required = group, name, schema, required

    @property
    def types(self) -> List[str]:
        declared = self.schema.get("type", [])
        return [declared] if isinstance(declared, str) else list(declared)

    @property
    def input_type(self) -> str:
        if self.schema.get("enum"):
            return "select"
        for kind in self.types:
            if kind in INPUT_TYPES:
                return INPUT_TYPES[kind]
        return "text"


def inputs_of(plugin: Plugin, action_id: str) -> List[Input]:
    """The action's inputs flattened in schema order (path parameters, query parameters, then
    the rest), each a function field ``<id>_<snake_case name>``; names must not collide."""
    schema = plugin.actions[action_id].input_schema
    required = set(schema.get("required", []))
    found: List[Input] = []
    for key, sub in schema.get("properties", {}).items():
        if "properties" in sub:
            inner = set(sub.get("required", []))
            for name, leaf in sub["properties"].items():
                found.append(Input(plugin, key, name, leaf, key in required and name in inner))
        else:
            found.append(Input(plugin, None, key, sub, key in required))
    names = [item.soar for item in found]
    clashes = sorted({name for name in names if names.count(name) > 1})
    if clashes:
        raise ExportError([f"actions.{action_id}: inputs map to one SOAR field: {clashes}."])
    return found


def tooltip(item: Input) -> str:
    text = item.schema.get("description") or item.schema.get("title") or item.name
    if "array" in item.types:
        text += " Comma-separated."
    return text


def field(plugin: Plugin, item: Input, index: int) -> Dict[str, Any]:
    values = [
        {
            "value": 1000 * index + position,
            "label": str(label),
            "enabled": True,
            "properties": None,
            "uuid": stable_uuid(plugin, f"field/{item.soar}/{label}"),
            "hidden": False,
            "default": False,
        }
        for position, label in enumerate(v for v in item.schema.get("enum", []) if v is not None)
    ]
    examples = item.schema.get("examples") or []
    return {
        "id": index,
        "name": item.soar,
        "text": item.schema.get("title") or item.name,
        "prefix": None,
        "type_id": 11,
        "tooltip": tooltip(item),
        "placeholder": str(examples[0]) if examples else "",
        "input_type": item.input_type,
        "required": "always" if item.required else "false",
        "hide_notification": False,
        "chosen": False,
        "default_chosen_by_server": False,
        "blank_option": not item.required,
        "internal": False,
        "uuid": stable_uuid(plugin, f"field/{item.soar}"),
        "operations": [],
        "operation_perms": {},
        "values": values,
        "read_only": False,
        "changeable": True,
        "rich_text": False,
        "export_key": f"__function/{item.soar}",
        "templates": [],
        "deprecated": False,
        "tags": [],
    }


def export_res(plugin: Plugin) -> Dict[str, Any]:
    """The export data codegen reads (an org export holding only our objects)."""
    destination = package_name(plugin)
    fields, functions = [], []
    for action_id, action in plugin.actions.items():
        name = function_name(plugin, action_id)
        items = inputs_of(plugin, action_id)
        start = len(fields) + 1
        fields += [field(plugin, item, start + i) for i, item in enumerate(items)]
        functions.append(
            {
                "id": len(functions) + 1,
                "name": name,
                "display_name": f"{plugin.title}: {action.title}",
                "description": {"format": "text", "content": action.description},
                "destination_handle": destination,
                "export_key": name,
                "uuid": stable_uuid(plugin, f"function/{name}"),
                "version": 1,
                "view_items": [
                    {
                        "step_label": None,
                        "show_if": None,
                        "element": "field_uuid",
                        "field_type": "__function",
                        "show_link_header": False,
                        "content": stable_uuid(plugin, f"field/{item.soar}"),
                    }
                    for item in items
                ],
                "workflows": [],
                "tags": [],
            }
        )
    return {
        "server_version": SERVER_VERSION,
        "export_format_version": 2,
        "id": 1,
        "export_date": 0,
        "fields": fields,
        "functions": functions,
        "message_destinations": [
            {
                "name": f"{plugin.title} ({destination})",
                "programmatic_name": destination,
                "destination_type": 0,
                "expect_ack": True,
                "users": [],
                "uuid": stable_uuid(plugin, f"destination/{destination}"),
                "export_key": destination,
                "tags": [],
                "api_keys": [],
            }
        ],
        **{
            key: []
            for key in (
                "actions",
                "automatic_tasks",
                "incident_artifact_types",
                "incident_types",
                "layouts",
                "phases",
                "playbooks",
                "roles",
                "scripts",
                "types",
                "workflows",
                "workspaces",
            )
        },
    }


# --- the generated Python -----------------------------------------------------------------------

FUNCTION = '''# -*- coding: utf-8 -*-
"""Function {name}: {title} ({plugin_title} {version}), generated by
`python -m runtime export qradar_soar` from plugin.yaml and schemas/ (do not edit)."""

from resilient_circuits import AppFunctionComponent, FunctionResult, app_function
from resilient_lib import IntegrationError

from {package} import bridge

PACKAGE_NAME = {package_literal}
FN_NAME = {name_literal}
ACTION = {action_literal}
# SOAR function field -> (input group or None, our input name)
FIELDS = {{
{fields}}}


class FunctionComponent(AppFunctionComponent):
    """Component that implements function {name}."""

    def __init__(self, opts):
        super(FunctionComponent, self).__init__(opts, PACKAGE_NAME)

    @app_function(FN_NAME)
    def _app_function(self, fn_inputs):
        """Runs the action through the plugin's own runner (bridge.run); the envelope is the
        payload's content, unchanged."""
        yield self.status_message({start_literal})
        outcome = bridge.run(ACTION, FIELDS, self.app_configs, fn_inputs._asdict())
        if outcome.error is not None:
            raise IntegrationError(outcome.error)
        yield self.status_message({done_literal})
        yield FunctionResult(outcome.content, success=outcome.success, reason=outcome.reason)
'''


def function_py(plugin: Plugin, action_id: str) -> bytes:
    action = plugin.actions[action_id]
    name = function_name(plugin, action_id)
    rows = "".join(
        f"    {json.dumps(item.soar)}: ({json.dumps(item.group)}, {json.dumps(item.name)}),\n"
        for item in inputs_of(plugin, action_id)
    ).replace("null", "None")
    source = FUNCTION.format(
        name=name,
        title=action.title,
        plugin_title=plugin.title,
        version=plugin.version,
        package=package_name(plugin),
        package_literal=json.dumps(package_name(plugin)),
        name_literal=json.dumps(name),
        action_literal=json.dumps(action_id),
        fields=rows,
        start_literal=json.dumps(f"Starting {action.title}"),
        done_literal=json.dumps(f"Finished {action.title}"),
    )
    return source.encode("utf-8")


def app_config(plugin: Plugin, settings: Dict[str, Any]) -> str:
    """The [package] section: each asset field, its description as a comment; secrets as
    App Host secrets ($NAME), optional fields without a default commented out."""
    secrets = secret_names(plugin, settings)
    schema = plugin.asset.schema
    required = set(schema.get("required", []))
    lines = [f"[{package_name(plugin)}]"]
    for name, sub in schema.get("properties", {}).items():
        lines.append(f"# {sub.get('title') or name}: {sub.get('description', '')}".rstrip())
        if name in secrets:
            lines.append(f"{name} = ${secrets[name]}")
        elif name in required:
            examples = sub.get("examples") or [""]
            lines.append(f"{name} = {examples[0]}")
        elif sub.get("default") is not None:
            lines.append(f"{name} = {json.dumps(sub['default'])}")
        else:
            examples = sub.get("examples") or [""]
            lines.append(f"#{name} = {examples[0]}")
    return "\n".join(lines) + "\n"


CONFIG = '''# -*- coding: utf-8 -*-
"""The app.config section of {package} (`resilient-circuits config -u`, and App Host's app
settings), generated by `python -m runtime export qradar_soar` (do not edit)."""


def config_section_data():
    """The default [{package}] section: the SentinelOne console asset fields."""
    return {section}
'''

CUSTOMIZE = '''# -*- coding: utf-8 -*-
"""The reload parameters for `resilient-sdk codegen --reload` (generated by `python -m runtime
export qradar_soar`): codegen renames this file to customize.py.bak and writes its own."""


def codegen_reload_data():
    return {data}
'''


def customize_py(plugin: Plugin) -> bytes:
    data = {
        "package": package_name(plugin),
        "message_destinations": [package_name(plugin)],
        "functions": [function_name(plugin, action_id) for action_id in plugin.actions],
        "workflows": [],
        "actions": [],
        "incident_fields": [],
        "incident_artifact_types": [],
        "incident_types": [],
        "datatables": [],
        "automatic_tasks": [],
        "scripts": [],
        "playbooks": [],
    }
    return CUSTOMIZE.format(data=repr(data)).encode("utf-8")


SETUP = '''#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""{title} {version} for IBM QRadar SOAR, generated by `python -m runtime export qradar_soar`
from plugin.yaml (do not edit). The entry points are those resilient-sdk codegen writes."""

import glob
import ntpath

from setuptools import find_packages, setup


def get_module_name(module_path):
    return ntpath.split(module_path)[1].split(".")[0]


def snake_to_camel(word):
    return "".join(x.capitalize() or "_" for x in word.split("_"))


setup(
    name={package_literal},
    display_name={display_literal},
    version={version_literal},
    license={license_literal},
    author={author_literal},
    author_email={email_literal},
    url={url_literal},
    description={description_literal},
    long_description={long_literal},
    install_requires={requires_literal},
    python_requires={python_literal},
    packages=find_packages(),
    include_package_data=True,
    platforms="any",
    classifiers=["Programming Language :: Python"],
    entry_points={{
        "resilient.circuits.components": [
            # one line: resilient-sdk reads setup() line by line, skipping lines with calls
            {components}
        ],
        "resilient.circuits.configsection": [
            "gen_config = {package}.util.config:config_section_data"
        ],
        "resilient.circuits.customize": [
            "customize = {package}.util.customize:customization_data"
        ],
        "resilient.circuits.selftest": [
            "selftest = {package}.util.selftest:selftest_function"
        ],
    }},
)
'''


# codegen's entry point for every module of components/ (one line, as codegen writes it)
COMPONENTS = (
    '"{}FunctionComponent = PACKAGE.components.{}:FunctionComponent".format('
    "snake_to_camel(get_module_name(filename)), get_module_name(filename)) "
    'for filename in glob.glob("./PACKAGE/components/[a-zA-Z]*.py")'
)


def setup_py(plugin: Plugin, settings: Dict[str, Any]) -> bytes:
    runtime = settings["runtime"].replace("==", ">=")
    requires = [runtime, *requirements_without(plugin, dropped(settings))]
    description = " ".join(plugin.description.split())
    values = {
        "package_literal": json.dumps(package_name(plugin)),
        "display_literal": json.dumps(plugin.title),
        "version_literal": json.dumps(plugin.version),
        "license_literal": json.dumps(plugin.license),
        "author_literal": json.dumps(plugin.publisher),
        "email_literal": json.dumps(settings["author_email"]),
        "url_literal": json.dumps(plugin.homepage),
        "description_literal": json.dumps(description),
        "long_literal": json.dumps(
            f"{description} The function runs the plugin's own runner: every HTTP response "
            "comes back as its envelope (status_code, reason, json_body, response_headers)."
        ),
        "requires_literal": repr(requires),
        "python_literal": json.dumps(settings["python"]),
        "title": plugin.title,
        "version": plugin.version,
        "package": package_name(plugin),
        "components": COMPONENTS.replace("PACKAGE", package_name(plugin)),
    }
    return SETUP.format(**values).encode("utf-8")


# --- README (IBM's app docs form), payload samples, icons ---------------------------------------


def readme(plugin: Plugin, settings: Dict[str, Any]) -> bytes:
    package = package_name(plugin)
    secrets = secret_names(plugin, settings)
    lines = [
        f"# {plugin.title}",
        "",
        "## Table of Contents",
        "- [Release Notes](#release-notes)",
        "- [Overview](#overview)",
        "- [Requirements](#requirements)",
        "- [Installation](#installation)",
        *(
            f"- [Function - {a.title}](#function---{a.title.lower().replace(' ', '-')})"
            for a in plugin.actions.values()
        ),
        "- [Troubleshooting & Support](#troubleshooting--support)",
        "",
        "---",
        "",
        "## Release Notes",
        "| Version | Date | Notes |",
        "| ------- | ---- | ----- |",
        f"| {plugin.version} | | Generated from the plugin's manifest, version {plugin.version} |",
        "",
        "---",
        "",
        "## Overview",
        f"**{plugin.title} functions for IBM QRadar SOAR**",
        "",
        " ".join(plugin.description.split()),
        "",
        "### Key Features",
        "* One function per plugin action, run by the plugin's own runner (input validation, "
        "TLS and ca_bundle, proxy, timeouts, retries, follow_cursor).",
        "* Every HTTP response is the results payload's content, unchanged: status_code, reason, "
        "json_body, response_headers. A non-2xx answer sets success to false with the "
        "console's error detail as the reason.",
        "* Invalid inputs and transport failures fail the function with one sentence; no "
        "secret appears in a result, a log line or an error.",
        "",
        "---",
        "",
        "## Requirements",
        "### SOAR platform",
        f"IBM QRadar SOAR with App Host; the app runs on {settings['runtime']} "
        f"(Python {settings['python']}).",
        "",
        "### Cloud Pak for Security",
        "Not tested.",
        "",
        "### Proxy Server",
        "The app ignores the proxy environment variables of App Host: set `http_proxy` in the "
        "app configuration (credentials in it are treated as secrets).",
        "",
        "### Python Environment",
        f"Python {settings['python']}; install requirements: "
        + ", ".join(
            f"`{r}`"
            for r in [settings["runtime"], *requirements_without(plugin, dropped(settings))]
        )
        + ".",
        "",
        "---",
        "",
        "## Installation",
        "### Install",
        f"Import `app-{package}-{plugin.version}.zip` in SOAR (Administrator Settings > Apps > "
        "Install) and deploy it to App Host.",
        "",
        "### App Configuration",
        "The app.config section, as App Host shows it under the app's Configuration tab:",
        "",
        "| Config | Required | Example | Description |",
        "| ------ | :------: | ------- | ----------- |",
    ]
    schema = plugin.asset.schema
    required = set(schema.get("required", []))
    for name, sub in schema.get("properties", {}).items():
        example = (
            f"${secrets[name]}"
            if name in secrets
            else ((sub.get("examples") or [sub.get("default", "")])[0])
        )
        example = "" if example is None else json.dumps(example).strip('"')
        description = " ".join(str(sub.get("description", "")).split()).replace("|", "/")
        lines.append(
            f"| **{name}** | {'Yes' if name in required else 'No'} | `{example}` | {description} |"
        )
    lines.append("")
    for name, secret in secrets.items():
        lines.append(
            f"`{name}` names the App Host secret `{secret}`: create it under the app's Secrets "
            f"tab; the app never logs or returns it."
        )
    lines += ["", "---", ""]
    for action_id, action in plugin.actions.items():
        lines += [
            f"## Function - {action.title}",
            " ".join(action.description.split()),
            "",
            f"API name: `{function_name(plugin, action_id)}`",
            "",
            "<details><summary>Inputs:</summary>",
            "<p>",
            "",
            "| Name | Type | Required | Example | Tooltip |",
            "| ---- | :--: | :------: | ------- | ------- |",
        ]
        for item in inputs_of(plugin, action_id):
            examples = item.schema.get("examples") or [""]
            lines.append(
                f"| `{item.soar}` | `{item.input_type}` | {'Yes' if item.required else 'No'} | "
                f"`{json.dumps(examples[0]).strip(chr(34))}` | "
                f"{' '.join(tooltip(item).split()).replace('|', '/')} |"
            )
        lines += [
            "",
            "</p>",
            "</details>",
            "",
            "<details><summary>Outputs:</summary>",
            "<p>",
            "",
            "`results.content` is the envelope: `status_code`, `reason`, `json_body` (the "
            "console's body, unchanged), `response_headers`. `results.success` is false for a "
            "non-2xx status, with the console's error detail in `results.reason`.",
            "",
            "```python",
            "results = " + json.dumps(payload_example(plugin, action_id), indent=2)[:1500] + "...",
            "```",
            "",
            "</p>",
            "</details>",
            "",
            "---",
            "",
        ]
    lines += [
        "## Troubleshooting & Support",
        "A 401 means the API token is invalid or expired; a 403 means its user may not view "
        "threats. Invalid inputs are refused with one sentence naming the field and the value, "
        "and nothing is sent. The function's log is in App Host (the app's Logs tab).",
        "",
        f"This app is maintained by {plugin.publisher}; it is not an IBM-supported app.",
        "",
    ]
    return "\n".join(lines).encode("utf-8")


def payload(content: Any, success: bool, reason: Optional[str]) -> Dict[str, Any]:
    """The results payload resilient-circuits builds around the content (version 2.0)."""
    return {
        "version": 2.0,
        "success": success,
        "reason": reason,
        "content": content,
        "raw": None,
        "inputs": {},
        "metrics": {
            "version": "1.0",
            "package": "",
            "package_version": "",
            "host": "",
            "execution_time_ms": 0,
            "timestamp": "",
        },
    }


def payload_example(plugin: Plugin, action_id: str) -> Dict[str, Any]:
    examples = plugin.actions[action_id].output_schema.get("examples") or [{}]
    return payload(examples[0], True, None)


def payload_schema(plugin: Plugin, action_id: str) -> Dict[str, Any]:
    """The payload's schema, our output schema as its content (its $defs hoisted)."""
    output = dict(plugin.actions[action_id].output_schema)
    defs = dict(output.pop("$defs", {}))
    for key in ("$schema", "$id", "examples"):
        output.pop(key, None)
    defs["envelope"] = output
    return {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "object",
        "properties": {
            "version": {"type": "number"},
            "success": {"type": "boolean"},
            "reason": {"type": ["string", "null"]},
            "content": {"$ref": "#/$defs/envelope"},
            "raw": {},
            "inputs": {"type": "object"},
            "metrics": {"type": "object"},
        },
        "required": ["version", "success", "reason", "content"],
        "$defs": defs,
    }


def _png_rows(data: bytes) -> Tuple[int, int, List[bytes]]:
    """The RGBA rows of an 8-bit RGBA, non-interlaced PNG (what plugin.yaml icons are)."""
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", data[16:29])
    if (depth, color, interlace) != (8, 6, 0):
        raise ExportError([f"{MANIFEST}: icons: an 8-bit RGBA PNG is needed for QRadar SOAR."])
    chunks, pos = b"", 8
    while pos < len(data):
        (size,) = struct.unpack(">I", data[pos : pos + 4])
        if data[pos + 4 : pos + 8] == b"IDAT":
            chunks += data[pos + 8 : pos + 8 + size]
        pos += 12 + size
    raw, stride, rows, prior = zlib.decompress(chunks), width * 4, [], bytearray(width * 4)
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):
            left = line[i - 4] if i >= 4 else 0
            up, corner = prior[i], prior[i - 4] if i >= 4 else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (
                    line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)
                ) & 255
        rows.append(bytes(line))
        prior = line
    return width, height, rows


def icon(plugin: Plugin, width: int, height: int) -> bytes:
    """The largest icon scaled (nearest pixel) to a height x height square, centred on a
    transparent width x height PNG: App Host's app_logo (200x72) and company_logo (100x100)."""
    size, _, rows = _png_rows(read_file(plugin, largest_icon(plugin)))
    left = (width - height) // 2
    out = []
    for y in range(height):
        source = rows[y * size // height]
        line = bytearray(4 * width)
        for x in range(height):
            sx = x * size // height
            line[4 * (left + x) : 4 * (left + x) + 4] = source[4 * sx : 4 * sx + 4]
        out.append(b"\x00" + bytes(line))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(out), 9))
        + chunk(b"IEND", b"")
    )


APIKEY_PERMISSIONS = """# The permissions of the API key App Host makes for this app: the base set
# only (the app makes no SOAR REST call of its own).
##START_BASE_PERMISSIONS - DO NOT CHANGE##
read_data
read_function
##END_BASE_PERMISSIONS - DO NOT CHANGE##
"""


def marker(plugin: Plugin) -> bytes:
    package = package_name(plugin)
    lines = [
        f"# {plugin.title} {plugin.version} for IBM QRadar SOAR",
        "",
        f"Generated by `python -m runtime export qradar_soar` from this plugin's {MANIFEST}.",
        "`export.res` holds the function(s), their inputs and the message destination;",
        f"`{package}/` holds the files IBM's codegen leaves to the app's author (setup.py,",
        "README, LICENSE, config, the function, icons, payload samples) and the plugin's code.",
        "Let codegen add its boilerplate (offline), then validate and package with resilient-sdk:",
        "",
        "```sh",
        f"cd {package} && resilient-sdk codegen --reload -p . -e ../export.res",
        "resilient-sdk validate -p . --validate     # the selftest step needs a SOAR server",
        f"resilient-sdk package -p .                 # dist/app-{package}-{plugin.version}.zip",
        "```",
        "",
        "See docs/platforms/qradar_soar.md in the plugin's repository.",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def build(plugin: Plugin, settings: Dict[str, Any]) -> Dict[str, bytes]:
    package = package_name(plugin)
    top = f"{package}/{package}"
    files = {
        MARKER: marker(plugin),
        "export.res": dump_json(export_res(plugin)),
        f"{package}/setup.py": setup_py(plugin, settings),
        f"{package}/README.md": readme(plugin, settings),
        f"{package}/apikey_permissions.txt": APIKEY_PERMISSIONS.encode("utf-8"),
        f"{package}/icons/app_logo.png": icon(plugin, 200, 72),
        f"{package}/icons/company_logo.png": icon(plugin, 100, 100),
        **{f"{top}/{name}": data for name, data in license_files(plugin).items()},
        f"{top}/bridge.py": ENTRY.read_bytes(),
        f"{top}/util/config.py": CONFIG.format(
            package=package, section=f'"""{app_config(plugin, settings)}"""'
        ).encode("utf-8"),
        f"{top}/util/customize.py": customize_py(plugin),
        f"{top}/plugin/__init__.py": b'"""The plugin core (put on sys.path by bridge.py)."""\n',
        f"{top}/plugin/plugin_data.py": plugin_data_module(plugin, "qradar_soar"),
    }
    for action_id in plugin.actions:
        name = function_name(plugin, action_id)
        files[f"{top}/components/funct_{name}.py"] = function_py(plugin, action_id)
        samples = f"{package}/payload_samples/{name}"
        files[f"{samples}/output_json_example.json"] = dump_json(payload_example(plugin, action_id))
        files[f"{samples}/output_json_schema.json"] = dump_json(payload_schema(plugin, action_id))
    for path, data in plugin_code(plugin).items():
        files[f"{top}/plugin/{path}"] = data
    return files
