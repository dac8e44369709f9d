"""IBM QRadar SOAR: ``export.res`` (a function per action, its inputs as fields) and the
``fn_<id>/`` app: what IBM's codegen leaves to the author, ``bridge.py`` (entry.py) and the
plugin in ``plugin/``; ``resilient-sdk codegen --reload`` adds the rest and overwrites nothing.
"""

import json
import re
import uuid
from pathlib import Path
from typing import Any, Dict, List, Tuple

from exporters import common
from exporters.common import ExportError, dump_json, fill, py_string
from exporters.flat import Field, input_fields, types_of
from framework.manifest import MANIFEST, Plugin

TITLE = "IBM QRadar SOAR"
MARKER = "QRADAR-SOAR-EXPORT.md"
HERE = Path(__file__).resolve().parent
# Function input types (SOAR's input_type) for our schema types; arrays are comma-separated text.
INPUT_TYPES = {"boolean": "boolean", "integer": "number", "number": "number"}


def package_name(plugin: Plugin) -> str:
    """``fn_<id>``: a valid Python package name, QRadar SOAR's convention for function apps."""
    return "fn_" + re.sub(r"[^a-z0-9]+", "_", plugin.id.lower()).strip("_")


def function_name(plugin: Plugin, action_id: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", f"{plugin.id}_{action_id}".lower()).strip("_")


def stable_uuid(plugin: Plugin, what: str) -> str:
    """The same UUID in every export (an upgrade keeps the objects SOAR has)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:{package_name(plugin)}:{what}"))


def secret_names(plugin: Plugin, settings: Dict[str, Any]) -> Dict[str, str]:
    chosen = dict(settings.get("secrets") or {})
    return {name: chosen.get(name, name.upper()) for name in plugin.asset.secrets}


def inputs_of(plugin: Plugin, action_id: str) -> List[Tuple[str, Field, str, str]]:
    """Each flat input (exporters.flat): (SOAR field ``<id>_<snake>``, it, input type, tooltip)."""
    found = []
    for field in input_fields(plugin.actions[action_id].input_schema):
        snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", field.name).lower()
        types = types_of(field.schema)
        kinds = [INPUT_TYPES[kind] for kind in types if kind in INPUT_TYPES]
        input_type = "select" if field.schema.get("enum") else (kinds or ["text"])[0]
        tooltip = field.schema.get("description") or field.schema.get("title") or field.name
        tooltip += " Comma-separated." if "array" in types else ""
        found.append((f"{plugin.id}_{snake}".lower(), field, input_type, tooltip))
    names = [soar for soar, *_ in found]
    clashes = sorted({name for name in names if names.count(name) > 1})
    if clashes:
        raise ExportError(f"actions.{action_id}: inputs map to one SOAR field: {clashes}.")
    return found


def export_res(plugin: Plugin) -> Dict[str, Any]:
    """The export data codegen reads: an org export (export.res.tmpl) holding only our objects."""
    export = json.loads((HERE / "export.res.tmpl").read_bytes())
    (field_t,), (function_t,) = export["fields"], export["functions"]
    value_t, view_t = field_t["values"][0], function_t["view_items"][0]
    destination = package_name(plugin)
    fields, functions = [], []
    for action_id, action in plugin.actions.items():
        name = function_name(plugin, action_id)
        items = inputs_of(plugin, action_id)
        for soar, field, input_type, tooltip in items:
            index = len(fields) + 1
            labels = [v for v in field.schema.get("enum", []) if v is not None]
            examples = field.schema.get("examples") or []
            fields.append(
                {
                    **field_t,
                    "id": index,
                    "name": soar,
                    "text": field.schema.get("title") or field.name,
                    "tooltip": tooltip,
                    "placeholder": str(examples[0]) if examples else "",
                    "input_type": input_type,
                    "required": "always" if field.required else "false",
                    "blank_option": not field.required,
                    "uuid": stable_uuid(plugin, f"field/{soar}"),
                    "values": [
                        {
                            **value_t,
                            "value": 1000 * index + position,
                            "label": str(label),
                            "uuid": stable_uuid(plugin, f"field/{soar}/{label}"),
                        }
                        for position, label in enumerate(labels)
                    ],
                    "export_key": f"__function/{soar}",
                }
            )
        functions.append(
            {
                **function_t,
                "id": len(functions) + 1,
                "name": name,
                "display_name": f"{plugin.title}: {action.title}",
                "description": {"format": "text", "content": action.description},
                "destination_handle": destination,
                "export_key": name,
                "uuid": stable_uuid(plugin, f"function/{name}"),
                "view_items": [
                    {**view_t, "content": stable_uuid(plugin, f"field/{soar}")}
                    for soar, *_ in items
                ],
            }
        )
    export["message_destinations"] = [
        {
            **export["message_destinations"][0],
            "name": f"{plugin.title} ({destination})",
            "programmatic_name": destination,
            "uuid": stable_uuid(plugin, f"destination/{destination}"),
            "export_key": destination,
        }
    ]
    export.update(fields=fields, functions=functions)
    return export


def action_values(plugin: Plugin, action_id: str) -> Dict[str, str]:
    """The $names of function.py.tmpl (with plugin_values) and README-function.md.tmpl."""
    action, function = plugin.actions[action_id], function_name(plugin, action_id)
    rows = ""
    for soar, field, *_ in inputs_of(plugin, action_id):
        group = "None" if field.group is None else py_string(field.group)
        rows += f"    {py_string(soar)}: ({group}, {py_string(field.name)}),\n"
    return {
        "function": function,
        "function_literal": py_string(function),
        "action_literal": py_string(action_id),
        "action_title": action.title,
        "action_title_doc": py_string(action.title)[1:-1],  # escaped: safe inside any docstring
        "action_description": " ".join(action.description.split()),
        "fields": rows,
        "start_literal": py_string(f"Starting {action.title}"),
        "done_literal": py_string(f"Finished {action.title}"),
    }


def app_config(plugin: Plugin, settings: Dict[str, Any]) -> str:
    """The [package] section: secrets as App Host $SECRETS, optional ones without default as #."""
    secrets = secret_names(plugin, settings)
    required = set(plugin.asset.schema.get("required", []))
    lines = [f"[{package_name(plugin)}]"]
    for name, sub in plugin.asset.schema.get("properties", {}).items():
        lines.append(f"# {sub.get('title') or name}: {sub.get('description', '')}".rstrip())
        example = (sub.get("examples") or [""])[0]
        if name in secrets:
            lines.append(f"{name} = ${secrets[name]}")
        elif name in required:
            lines.append(f"{name} = {example}")
        elif sub.get("default") is not None:
            lines.append(f"{name} = {json.dumps(sub['default'])}")
        else:
            lines.append(f"#{name} = {example}")
    return "\n".join(lines) + "\n"


def plugin_values(plugin: Plugin, settings: Dict[str, Any]) -> Dict[str, str]:
    """The $names of the plugin-wide templates."""
    package, runtime = package_name(plugin), settings["runtime"]
    # Our requirements less those resilient-circuits provides and those the app does not use.
    pins = common.requirements_without(
        plugin, [*settings["provides"], *settings.get("unneeded", [])]
    )
    description = " ".join(plugin.description.split())
    long_description = (
        f"{description} The function runs the plugin's own runner: every HTTP response comes back "
        "as its envelope (status_code, reason, json_body, response_headers)."
    )
    plain = {
        **{key: getattr(plugin, key) for key in ("title", "version", "license")},
        "author": plugin.publisher,
        "email": settings["author_email"],
        "url": plugin.homepage,
        "description": description,
        "long_description": long_description,
        "python": settings["python"],
        "package": package,
    }
    return {
        **plain,
        **{f"{key}_literal": py_string(value) for key, value in plain.items()},
        "runtime": runtime,
        "manifest": MANIFEST,
        "package_repr": common.py_literal(package),
        "functions_repr": common.py_literal([function_name(plugin, a) for a in plugin.actions]),
        "requires_literal": common.py_literal([runtime.replace("==", ">="), *pins]),
        "requirements": ", ".join(f"`{r}`" for r in [runtime, *pins]),
        "section": f'"""{app_config(plugin, settings)}"""',
    }


def readme(plugin: Plugin, settings: Dict[str, Any]) -> bytes:
    secrets = secret_names(plugin, settings)
    required = set(plugin.asset.schema.get("required", []))
    config = ""
    for name, sub in plugin.asset.schema.get("properties", {}).items():
        example = (sub.get("examples") or [sub.get("default", "")])[0]
        example = f"${secrets[name]}" if name in secrets else example
        example = "" if example is None else json.dumps(example).strip('"')
        description = " ".join(str(sub.get("description", "")).split()).replace("|", "/")
        need = "Yes" if name in required else "No"
        config += f"| **{name}** | {need} | `{example}` | {description} |\n"
    config += "\n" + "".join(
        f"`{name}` names the App Host secret `{secret}`: create it under the app's Secrets tab; "
        "the app never logs or returns it.\n"
        for name, secret in secrets.items()
    )
    functions = ""
    for action_id in plugin.actions:
        inputs = ""
        for soar, field, input_type, tooltip in inputs_of(plugin, action_id):
            example = json.dumps((field.schema.get("examples") or [""])[0]).strip('"')
            tooltip = " ".join(tooltip.split()).replace("|", "/")
            need = "Yes" if field.required else "No"
            inputs += f"| `{soar}` | `{input_type}` | {need} | `{example}` | {tooltip} |\n"
        results = json.dumps(payload_example(plugin, action_id), indent=2)[:1500]
        values = {**action_values(plugin, action_id), "inputs": inputs, "results": results}
        functions += fill(HERE / "README-function.md.tmpl", **values)
    toc = "".join(
        f"- [Function - {a.title}](#function---{a.title.lower().replace(' ', '-')})\n"
        for a in plugin.actions.values()
    )
    values = {**plugin_values(plugin, settings), "config": config, "functions": functions}
    return fill(HERE / "README.md.tmpl", toc=toc, **values).encode("utf-8")


def payload_example(plugin: Plugin, action_id: str) -> Dict[str, Any]:
    """The results payload resilient-circuits builds (version 2.0) around the output example."""
    return {
        **json.loads((HERE / "output_json_example.json.tmpl").read_bytes()),
        "content": (plugin.actions[action_id].output_schema.get("examples") or [{}])[0],
    }


def payload_schema(plugin: Plugin, action_id: str) -> Dict[str, Any]:
    """The payload's schema, our output schema as its content (its $defs hoisted)."""
    output = plugin.actions[action_id].output_schema
    envelope = {k: v for k, v in output.items() if k not in ("$schema", "$id", "examples", "$defs")}
    defs = {**output.get("$defs", {}), "envelope": envelope}
    return {**json.loads((HERE / "output_json_schema.json.tmpl").read_bytes()), "$defs": defs}


def build(plugin: Plugin, settings: Dict[str, Any]) -> Dict[str, bytes]:
    package = package_name(plugin)
    top = f"{package}/{package}"
    values = plugin_values(plugin, settings)
    files = {
        MARKER: fill(HERE / "QRADAR-SOAR-EXPORT.md.tmpl", **values).encode("utf-8"),
        "export.res": dump_json(export_res(plugin)),
        f"{package}/setup.py": fill(HERE / "setup.py.tmpl", **values).encode("utf-8"),
        f"{package}/README.md": readme(plugin, settings),
        f"{package}/apikey_permissions.txt": (HERE / "apikey_permissions.txt.tmpl").read_bytes(),
        f"{package}/icons/app_logo.png": common.read_file(plugin, settings["logos"]["app"]),
        f"{package}/icons/company_logo.png": common.read_file(plugin, settings["logos"]["company"]),
        **{f"{top}/{name}": data for name, data in common.license_files(plugin).items()},
        f"{top}/bridge.py": (HERE / "entry.py").read_bytes(),
        f"{top}/util/config.py": fill(HERE / "config.py.tmpl", **values).encode("utf-8"),
        f"{top}/util/customize.py": fill(HERE / "customize.py.tmpl", **values).encode("utf-8"),
        f"{top}/plugin/__init__.py": b'"""The plugin core (put on sys.path by bridge.py)."""\n',
        f"{top}/plugin/plugin_data.py": common.plugin_data_module(plugin, "qradar_soar"),
    }
    for action_id in plugin.actions:
        name = function_name(plugin, action_id)
        function = fill(HERE / "function.py.tmpl", **values, **action_values(plugin, action_id))
        files[f"{top}/components/funct_{name}.py"] = function.encode("utf-8")
        samples = f"{package}/payload_samples/{name}"
        files[f"{samples}/output_json_example.json"] = dump_json(payload_example(plugin, action_id))
        files[f"{samples}/output_json_schema.json"] = dump_json(payload_schema(plugin, action_id))
    for path, data in common.plugin_code(plugin).items():
        files[f"{top}/plugin/{path}"] = data
    return files
