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
import keyword
import re
from pathlib import Path
from typing import Any, Dict

from exporters import flat
from exporters.common import (
    ExportError,
    dump_yaml,
    largest_icon,
    license_files,
    pinned,
    plugin_core,
    py_literal,
    read_file,
    release_notes,
    requirements_without,
)
from exporters.flat import Field, asset_fields, clashes, input_fields, types_of
from exporters.shuffle.entry import FILE_ADVICE, takes_sentinel
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


# A sentence ends at a period followed by a space (or the end), but not in "e.g." or "i.e.".
SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)\.(?:\s|$)")


def first_sentence(text: str) -> str:
    """The first sentence of ``text``, one line, without its final period."""
    line = " ".join(str(text).split())
    end = SENTENCE_END.search(line)
    return (line[: end.start()] if end else line).rstrip(".")


def described(schema: Dict[str, Any], *notes: str) -> str:
    """A parameter's description: one sentence (the schema's first, else its title), with short
    notes after a semicolon; the long text is in the export's README and the docs."""
    text = first_sentence(schema.get("description") or schema.get("title") or "")
    text = FILE_ADVICE.sub("", text)  # advice for YAML and JSON files: a Shuffle value is text
    return "; ".join([text, *notes]) + "." if text else "; ".join(notes) + "."


def auth_parameter(field: Field, masked: bool, not_set: str) -> Dict[str, Any]:
    """An authentication parameter: no options (Shuffle drops them), every optional field
    prefilled, since the dialog refuses an empty one."""
    schema = field.schema
    notes = []
    if "boolean" in types_of(schema):
        notes.append("true or false")
    elif "enum" in schema:
        notes.append("one of " + ", ".join(text(v) for v in schema["enum"] if v is not None))
    if takes_sentinel(field):
        notes.append(f'"{not_set}" (prefilled) means not set')
    description = described(schema, *notes)
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
            "description": first_sentence(action.description) + ".",
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
        "        # The action's parameters are api.yaml's, in its order.\n"
        "        values = dict(locals())\n"
        '        del values["self"]\n'
        f"        return run(HERE, {py_literal(action_id)}, values)\n"
    )


APP_PY = '''"""The Shuffle app of this plugin, generated by `python -m runtime export shuffle` from
plugin.yaml and schemas/ (do not edit). Its name and version are the class attributes below.

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
        cls=class_name(plugin),
        version_literal=py_literal(plugin.version),
        title_literal=py_literal(plugin.title),
        methods="\n".join(method(plugin, action_id) for action_id in plugin.actions),
    )
    return source.encode("utf-8")


def dockerfile(settings: Dict[str, Any]) -> bytes:
    """Shuffle's own app Dockerfile (its backend's GetBaseDockerfile): a builder stage with
    the Alpine build packages, for a dependency that must compile on musl, then the app on the
    SDK image. CMD without ``--log-level DEBUG``: the SDK then logs every parameter."""
    lines = [
        f"FROM {settings['base_image']} AS base",
        "",
        "# A builder stage, so the build tools stay out of the app's image.",
        "FROM base AS builder",
        "",
        "# Alpine build tools, for a pip dependency without a musllinux wheel.",
        "RUN apk --no-cache add --update alpine-sdk libffi libffi-dev musl-dev openssl-dev git",
        "",
        "RUN mkdir /install",
        "WORKDIR /install",
        "COPY requirements.txt /requirements.txt",
        'RUN pip install --no-cache-dir --prefix="/install" -r /requirements.txt',
        "",
        "# The app on the SDK image (which holds shuffle-sdk, requests and urllib3).",
        "FROM base",
        "COPY --from=builder /install /usr/local",
        "COPY src /app",
        "",
        "WORKDIR /app",
        'CMD ["python", "app.py"]',
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def requirements(plugin: Plugin, settings: Dict[str, Any]) -> bytes:
    """This plugin's pins less what the SDK image provides. shuffle-sdk itself is not pinned:
    the base image holds it, and a pin would reinstall it and its requests and urllib3."""
    provided = ", ".join(settings["provides"])
    lines = [
        f"# {settings['base_image']} provides {settings['runtime']} and {provided};",
        "# these are this plugin's own pins.",
        *requirements_without(plugin, [*settings["provides"], "shuffle-sdk"]),
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def readme(plugin: Plugin, folder: str) -> bytes:
    """SHUFFLE-EXPORT.md, the export's marker: what the folder is; the README says the rest."""
    lines = [
        f"# {plugin.title} {plugin.version} for Shuffle",
        "",
        f"Generated by `python -m runtime export shuffle` from this plugin's {MANIFEST}.",
        f"`{folder}/` is the Shuffle app folder (api.yaml, Dockerfile, requirements.txt, src/,",
        f"LICENSE, NOTICE); `{plugin.id}/README.md` says how to load it, what it takes and",
        "returns, and how failures show up.",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _cell(value: str) -> str:
    return " ".join(str(value).split()).replace("|", "\\|")


def app_readme(plugin: Plugin, settings: Dict[str, Any], api: Dict[str, Any]) -> bytes:
    """<id>/README.md: loading the app, its authentication and action parameters, its result,
    how failures show up in a workflow, what was checked, and the release notes."""
    folder = f"{plugin.id}/{plugin.version}"
    image = f"frikky/shuffle:{plugin.id.lower()}_{plugin.version}"
    lines = [
        f"# {plugin.title} (Shuffle app)",
        "",
        f"{' '.join(plugin.description.split())} A community app by {plugin.publisher}"
        f" ({plugin.homepage}), not {plugin.vendor}'s official integration.",
        "",
        "## Loading the app",
        "",
        "Shuffle builds the app from its folder (Dockerfile, api.yaml, src/app.py):",
        "",
        f"- self-hosted: copy `{plugin.id}/` into the backend's app folder"
        " (`SHUFFLE_APP_HOTLOAD_FOLDER`, `./shuffle-apps` in Shuffle's docker-compose setup)"
        " and reload the apps (Apps page, or `GET /api/v1/apps/run_hotload`);",
        "- or push this folder to a git repository and load it with *Download from URL* on the"
        " Apps page;",
        f"- or build the image where the workers run: `docker build -t {image} {folder}`.",
        "",
        "## Authentication",
        "",
        "One authentication per console; Shuffle passes these to every action first.",
        "",
        "| parameter | required | prefilled | description |",
        "|---|---|---|---|",
    ]
    for item in api["authentication"]["parameters"]:
        lines.append(
            f"| `{item['name']}` | {'yes' if item['required'] else 'no'} |"
            f" {_cell(item.get('value', ''))} | {_cell(item['description'])} |"
        )
    for action in api["actions"]:
        lines += ["", f"## Action `{action['name']}`", "", _cell(action["description"]), ""]
        lines += ["Every value is a string; an empty one is not set.", ""]
        lines += ["| parameter | required | options | description |", "|---|---|---|---|"]
        for item in action["parameters"]:
            options = ", ".join(o.split("||")[0] for o in item.get("options", []))
            lines.append(
                f"| `{item['name']}` | {'yes' if item['required'] else 'no'} |"
                f" {_cell(options)} | {_cell(item['description'])} |"
            )
    lines += [
        "",
        "## Result, and how failures show up",
        "",
        "- Any HTTP response, 401, 403 and 429 included, is the result: the response envelope as"
        " JSON (`status_code`, `reason`, `response_headers`, `json_body`, and `response_text`"
        " when the body is not JSON). A workflow branches on `$<node>.status_code`.",
        "- No response (invalid parameters or authentication: nothing sent; or the console not"
        ' reached): `{"success": false, "reason": "<one sentence>", "cause": "<code>"}`, the'
        " reason naming the parameter; a `follow_cursor` walk broken midway adds `envelope`,"
        " the events read so far.",
        "- The node's status is SUCCESS either way (shuffle-sdk marks FAILURE only for its own"
        " problems): test `success` and `status_code`, not the node status.",
        "- Never run Shuffle apps with `DEBUG=true`: shuffle-sdk then logs every parameter, the"
        " API token included.",
        "",
        "## What was checked",
        "",
        f"Run under {settings['runtime']} as published (its own venv, with this app's"
        " `requirements.txt`): standalone and worker mode against a SentinelOne API simulator"
        " on 127.0.0.1, no secret in any output. Not checked: Shuffle's own upload, hotload and"
        " image build (no Docker), and its UI.",
        "",
        "## Release notes",
        "",
        f"### {plugin.version}",
        "",
        release_notes(plugin).rstrip(),
        "",
        "## License",
        "",
        f"{plugin.license}: see `{folder}/LICENSE` and `{folder}/NOTICE`.",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def build(plugin: Plugin, settings: Dict[str, Any]) -> Dict[str, bytes]:
    check_names(plugin)
    folder = f"{plugin.id}/{plugin.version}"
    api = api_yaml(plugin, settings)
    files = {
        MARKER: readme(plugin, folder),
        f"{plugin.id}/README.md": app_readme(plugin, settings, api),
        f"{folder}/api.yaml": dump_yaml(api),
        f"{folder}/Dockerfile": dockerfile(settings),
        f"{folder}/requirements.txt": requirements(plugin, settings),
        f"{folder}/src/app.py": app_py(plugin),
    }
    for name, data in license_files(plugin).items():
        files[f"{folder}/{name}"] = data
    for name, source in SHIPPED.items():
        files[f"{folder}/src/{name}"] = source.read_bytes()
    for path, data in plugin_core(plugin).items():
        files[f"{folder}/src/{path}"] = data
    return files
