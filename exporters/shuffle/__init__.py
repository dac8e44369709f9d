"""Shuffle: a Python app (WALKOFF ``api.yaml`` + ``src/app.py``) run by ``shuffle-sdk``.

The tree, as Shuffle's app folders lay it out (its hotload and "Download from URL" walk a
folder for ``<app>/<version>/`` holding a Dockerfile, ``api.yaml`` and ``src/app.py``)::

    SHUFFLE-EXPORT.md                    what this is and how to load it (the export's marker)
    <id>/<version>/api.yaml              the app: authentication = the asset fields, one action
                                         per plugin action with its inputs as flat parameters
    <id>/<version>/Dockerfile            FROM the SDK's base image (platforms.shuffle.base_image)
    <id>/<version>/requirements.txt      the SDK pin, then our pins less what the SDK pins itself
    <id>/<version>/src/app.py            the AppBase subclass: one method per action, its keyword
                                         arguments = the api.yaml parameters, each default ""
    <id>/<version>/src/shuffle_adapter.py   flat strings -> asset + inputs -> our runner -> JSON
                                         (source: exporters/shuffle/entry.py)
    <id>/<version>/src/flat.py           inputs <-> flat parameters (exporters/flat.py)
    <id>/<version>/src/...               the plugin core (plugin.yaml, schemas, framework, ...)

Every parameter is a string: Shuffle passes strings and our coercion does the typing. Enums and
booleans of the action become ``options``; Shuffle's editor preselects ``options[0]`` for an
empty value, so the schema default goes first, and an optional one without a default starts
with ``Not set||`` (label||value: the SDK turns it into "", i.e. not sent). Authentication
parameters cannot have options and the dialog refuses empty fields: optional ones are prefilled
(``value``) with their default, or with the not-set sentinel (``platforms.shuffle.not_set``)
when they have none. The asset's secrets and ``platforms.shuffle.masked`` get an example with
``***``, which makes the dialog a password input.

What only Shuffle needs (SDK pin, base image, tags, categories, the sentinel, extra masked
fields, the contact URL) is plugin.yaml's ``platforms.shuffle`` (schema: SETTINGS below).
"""

from __future__ import annotations

import base64
import json
import keyword
import re
from pathlib import Path
from typing import Any, Dict

from exporters import flat
from exporters.common import (
    ExportError,
    dump_yaml,
    largest_icon,
    pinned,
    plugin_core,
    read_file,
    requirements_without,
)
from exporters.flat import Field, asset_fields, clashes, input_fields, types_of
from exporters.shuffle.entry import takes_sentinel
from framework.manifest import MANIFEST, Plugin

TITLE = "Shuffle"
MARKER = "SHUFFLE-EXPORT.md"
HERE = Path(__file__).resolve().parent
SHIPPED = {"shuffle_adapter.py": HERE / "entry.py", "flat.py": Path(flat.__file__)}  # in src/
NOT_SET = "Not set||"  # an option labelled "Not set" whose value is "" for the SDK
MASK = "*****"  # an example containing *** makes Shuffle's authentication input a password field
# Keyword names shuffle-sdk consumes or special-cases, and the names the generated method uses.
RESERVED = set(
    "shuffle_authorization shuffle_execution_id shuffle_executionid shuffle_url "
    "shuffle_action_logs body self values run HERE".split()
)

SETTINGS = {
    "type": "object",
    "required": ["runtime", "python", "provides", "base_image", "not_set"],
    "additionalProperties": False,
    "properties": {
        "runtime": pinned("The SDK the app runs on, pinned (name==version)."),
        "python": {
            "description": "The Python versions of the SDK's base image, e.g. '>=3.11'.",
            "type": "string",
            "minLength": 1,
        },
        "provides": {
            "description": "Projects the SDK pins itself: left out of requirements.txt.",
            "type": "array",
            "items": {"type": "string", "minLength": 1},
        },
        "base_image": {
            "description": "The Dockerfile's base image: Shuffle's app SDK image.",
            "type": "string",
            "pattern": "^[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9._-]+)?$",
        },
        "not_set": {
            "description": "What an optional authentication field without a default is "
            "prefilled with; the app treats it (any case) as not set.",
            "type": "string",
            "pattern": "^[A-Za-z][A-Za-z ()_-]*$",
        },
        "masked": {
            "description": "Asset fields shown as password inputs besides the asset's secrets.",
            "type": "array",
            "items": {"type": "string", "minLength": 1},
        },
        "tags": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "categories": {"type": "array", "items": {"type": "string", "minLength": 1}},
    },
}


def text(value: Any) -> str:
    """A schema value as the string Shuffle passes (lists comma-separated, as we accept them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(text(item) for item in value)
    return "" if value is None else str(value)


def class_name(plugin: Plugin) -> str:
    words = re.findall(r"[A-Za-z0-9]+", plugin.title)
    name = "".join(word[:1].upper() + word[1:] for word in words) or "App"
    return name if name[0].isalpha() else f"App{name}"


def described(schema: Dict[str, Any]) -> str:
    title, description = schema.get("title"), schema.get("description", "")
    return f"{title}. {description}" if title and description else title or description


def auth_parameter(field: Field, masked: bool, not_set: str) -> Dict[str, Any]:
    """An authentication parameter: no options (Shuffle drops them), every optional field
    prefilled, since the dialog refuses an empty one."""
    schema = field.schema
    description = described(schema)
    if "boolean" in types_of(schema):
        description += " true or false."
    elif "enum" in schema:
        description += " One of: " + ", ".join(text(v) for v in schema["enum"] if v is not None)
    examples = schema.get("examples") or [""]
    parameter = {
        "name": field.name,
        "description": description,
        "required": field.required,
        "multiline": False,
        "example": MASK if masked else text(examples[0]),
        "schema": {"type": "string"},
    }
    if takes_sentinel(field):
        parameter["description"] += f' "{not_set}" (prefilled) means not set.'
        parameter["value"] = not_set
    elif not field.required and schema.get("default") is not None:
        parameter["value"] = text(schema["default"])
    return parameter


def action_parameter(field: Field) -> Dict[str, Any]:
    """An action parameter: enums and booleans as options, the preselected one first."""
    schema = field.schema
    examples = schema.get("examples") or [""]
    parameter: Dict[str, Any] = {
        "name": field.name,
        "description": described(schema),
        "required": field.required,
        "multiline": False,
        "example": text(examples[0]),
        "schema": {"type": "string"},
    }
    if "enum" in schema or "boolean" in types_of(schema):
        choices = schema.get("enum") or [True, False]
        options = [text(value) for value in choices if value is not None]
        default = schema.get("default")
        if default is not None:
            options.remove(text(default))
            options.insert(0, text(default))
        elif not field.required:
            options.insert(0, NOT_SET)
        parameter["options"] = options
    return parameter


def check_names(plugin: Plugin) -> None:
    """Every method's keyword names: identifiers, unique, none the SDK or the method reserves."""
    problems = []
    auth = asset_fields(plugin.asset.schema)
    for action_id, action in plugin.actions.items():
        if not action_id.isidentifier() or keyword.iskeyword(action_id):
            problems.append(f"actions.{action_id}: not a Python method name, as Shuffle needs.")
        fields = auth + input_fields(action.input_schema)
        repeated = {id(later) for _, later in clashes(fields)}
        for field in fields:
            name = field.name
            if id(field) in repeated:
                problems.append(
                    f"actions.{action_id}: parameter {name!r} occurs twice among the asset "
                    "fields and the flattened inputs; Shuffle's parameters are flat."
                )
            elif not name.isidentifier() or keyword.iskeyword(name) or name in RESERVED:
                problems.append(
                    f"actions.{action_id}: parameter {name!r} cannot be a keyword argument of "
                    "the app's method (not an identifier, a Python keyword, or reserved)."
                )
    if problems:
        raise ExportError(problems)


def api_yaml(plugin: Plugin, settings: Dict[str, Any]) -> Dict[str, Any]:
    masked = {*plugin.asset.secrets, *settings.get("masked", [])}
    auth = [
        auth_parameter(field, field.name in masked, settings["not_set"])
        for field in asset_fields(plugin.asset.schema)
    ]
    actions = [
        {
            "name": action_id,
            "description": action.description,
            "parameters": [action_parameter(field) for field in input_fields(action.input_schema)],
            "returns": {"schema": {"type": "string"}},
        }
        for action_id, action in plugin.actions.items()
    ]
    contact = {"name": plugin.publisher, "url": plugin.homepage}
    icon = base64.b64encode(read_file(plugin, largest_icon(plugin))).decode("ascii")
    return {
        "app_version": plugin.version,
        "name": plugin.title,
        "description": plugin.description,
        "contact_info": contact,
        "tags": list(settings.get("tags", [])),
        "categories": list(settings.get("categories", [])),
        # required: true makes Shuffle prepend these to every action's parameters.
        "authentication": {"required": True, "parameters": auth},
        "actions": actions,
        "large_image": f"data:image/png;base64,{icon}",
    }


def method(plugin: Plugin, action_id: str) -> str:
    action = plugin.actions[action_id]
    names = [field.name for field in asset_fields(plugin.asset.schema)]
    names += [field.name for field in input_fields(action.input_schema)]
    arguments = "".join(f'        {name}="",\n' for name in names)
    return (
        f"    def {action_id}(\n"
        "        self,\n"
        f"{arguments}"
        "    ):\n"
        f'        """{action.title}: see api.yaml for the parameters."""\n'
        "        values = dict(locals())\n"
        '        del values["self"]\n'
        f"        return run(HERE, {json.dumps(action_id)}, values)\n"
    )


APP_PY = '''"""{title} {version} for Shuffle, generated by `python -m runtime export shuffle` from
plugin.yaml and schemas/ (do not edit).

shuffle-sdk calls one method per action with the api.yaml parameters as keyword arguments
(authentication first, every default ""); shuffle_adapter.run does the rest.
"""

from pathlib import Path

from shuffle_sdk import AppBase

from shuffle_adapter import run

HERE = Path(__file__).resolve().parent  # the plugin root: plugin.yaml is beside this file


class {cls}(AppBase):
    __version__ = {version_literal}  # api.yaml app_version
    app_name = {title_literal}  # api.yaml name

{methods}

if __name__ == "__main__":
    {cls}.run()
'''


def app_py(plugin: Plugin) -> bytes:
    source = APP_PY.format(
        title=plugin.title,
        version=plugin.version,
        cls=class_name(plugin),
        version_literal=json.dumps(plugin.version),
        title_literal=json.dumps(plugin.title),
        methods="\n".join(method(plugin, action_id) for action_id in plugin.actions),
    )
    return source.encode("utf-8")


def dockerfile(settings: Dict[str, Any]) -> bytes:
    lines = [
        f"FROM {settings['base_image']} AS base",
        "FROM base AS builder",
        "RUN mkdir /install",
        "WORKDIR /install",
        "COPY requirements.txt /requirements.txt",
        'RUN pip install --no-cache-dir --prefix="/install" -r /requirements.txt',
        "FROM base",
        "COPY --from=builder /install /usr/local",
        "COPY src /app",
        "WORKDIR /app",
        'CMD ["python", "app.py"]',
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def requirements(plugin: Plugin, settings: Dict[str, Any]) -> bytes:
    provided = ", ".join(settings["provides"])
    lines = [
        f"# {settings['runtime']} pins {provided} itself; the rest are this plugin's pins.",
        settings["runtime"],
        *requirements_without(plugin, settings["provides"]),
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def readme(plugin: Plugin, folder: str) -> bytes:
    lines = [
        f"# {plugin.title} {plugin.version} for Shuffle",
        "",
        f"Generated by `python -m runtime export shuffle` from this plugin's {MANIFEST}.",
        f"`{folder}/` is a Shuffle app folder (api.yaml, Dockerfile, requirements.txt, src/):",
        "copy this folder's contents into Shuffle's app hotload folder",
        "(SHUFFLE_APP_HOTLOAD_FOLDER) and reload the apps, or push them to a git repository",
        'and load it with "Download from URL". See the plugin README, "Importing into your',
        'SOAR platform" > Shuffle.',
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def build(plugin: Plugin, settings: Dict[str, Any]) -> Dict[str, bytes]:
    check_names(plugin)
    folder = f"{plugin.id}/{plugin.version}"
    files = {
        MARKER: readme(plugin, folder),
        f"{folder}/api.yaml": dump_yaml(api_yaml(plugin, settings)),
        f"{folder}/Dockerfile": dockerfile(settings),
        f"{folder}/requirements.txt": requirements(plugin, settings),
        f"{folder}/src/app.py": app_py(plugin),
    }
    for name, source in SHIPPED.items():
        files[f"{folder}/src/{name}"] = source.read_bytes()
    for path, data in plugin_core(plugin).items():
        files[f"{folder}/src/{path}"] = data
    return files
