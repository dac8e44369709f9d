"""Shuffle: an app folder ``<id>/<version>/`` (WALKOFF ``api.yaml``, Dockerfile, ``src/app.py``
and the plugin core) run by ``shuffle-sdk``. Every parameter is a string; enums and booleans of
an action become ``options``, the preselected one first. The authentication dialog has no
options and refuses empty fields: optional ones are prefilled (default, else the not-set value).
"""

import base64
import keyword
import re
from pathlib import Path
from typing import Any, Callable, Dict, List

from exporters import common, flat
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
# A sentence ends at a period followed by a space (or the end), but not in "e.g." or "i.e.".
SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)\.(?:\s|$)")


def text(value: Any) -> str:
    """A schema value as the string Shuffle passes (lists comma-separated, as we accept them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(text(item) for item in value)
    return "" if value is None else str(value)


def first_sentence(text: str) -> str:
    """The first sentence of ``text``, one line, without its final period."""
    line = " ".join(str(text).split())
    end = SENTENCE_END.search(line)
    return (line[: end.start()] if end else line).rstrip(".")


def parameter(field: Field, *notes: str, example: str = "") -> Dict[str, Any]:
    """A parameter in one sentence (without YAML/JSON advice), notes after a semicolon."""
    schema = field.schema
    line = FILE_ADVICE.sub(
        "", first_sentence(schema.get("description") or schema.get("title") or "")
    )
    return {
        "name": field.name,
        "description": "; ".join([line, *notes] if line else notes) + ".",
        "required": field.required,
        "multiline": False,
        "example": example or text((schema.get("examples") or [""])[0]),
        "schema": {"type": "string"},
    }


def auth_parameter(field: Field, masked: bool, not_set: str) -> Dict[str, Any]:
    """No options (Shuffle drops them); every optional field prefilled."""
    schema = field.schema
    notes = []
    if "boolean" in types_of(schema):
        notes.append("true or false")
    elif "enum" in schema:
        notes.append("one of " + ", ".join(text(v) for v in schema["enum"] if v is not None))
    if takes_sentinel(field):
        notes.append(f'"{not_set}" (prefilled) means not set')
    result = parameter(field, *notes, example=MASK if masked else "")
    if takes_sentinel(field):
        result["value"] = not_set
    elif not field.required and schema.get("default") is not None:
        result["value"] = text(schema["default"])
    return result


def action_parameter(field: Field) -> Dict[str, Any]:
    """Enums and booleans as options, the preselected one first."""
    schema = field.schema
    result = parameter(field)
    if "enum" in schema or "boolean" in types_of(schema):
        choices = schema.get("enum") or [True, False]
        options = [text(value) for value in choices if value is not None]
        default = schema.get("default")
        if default is not None:
            options.remove(text(default))
            options.insert(0, text(default))
        elif not field.required:
            options.insert(0, NOT_SET)
        result["options"] = options
    return result


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
        raise common.ExportError(*problems)


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
    icon = base64.b64encode(common.largest_icon(plugin)).decode("ascii")
    return {
        "app_version": plugin.version,
        "name": plugin.title,
        "description": plugin.description,
        "contact_info": {"name": plugin.publisher, "url": plugin.homepage},
        "tags": list(settings.get("tags", [])),
        "categories": list(settings.get("categories", [])),
        # required: true makes Shuffle prepend these to every action's parameters.
        "authentication": {"required": True, "parameters": auth},
        "actions": actions,
        "large_image": f"data:image/png;base64,{icon}",
    }


def method(plugin: Plugin, action_id: str) -> str:
    inputs = input_fields(plugin.actions[action_id].input_schema)
    fields = asset_fields(plugin.asset.schema) + inputs
    return common.render(
        HERE / "method.py.tmpl",
        action_id=action_id,
        arguments="".join(f'        {field.name}="",\n' for field in fields),
        action_literal=common.py_literal(action_id),
    ).decode("utf-8")


def option_labels(item: Dict[str, Any]) -> str:
    return ", ".join(option.split("||")[0] for option in item.get("options", []))


def parameter_table(column: str, items: List[Dict[str, Any]], third: Callable) -> str:
    rows = []
    for i in items:
        need = "yes" if i["required"] else "no"
        rows.append([f"`{i['name']}`", need, common.cell(third(i)), common.cell(i["description"])])
    return common.table(["parameter", "required", column, "description"], rows)


def readme(plugin: Plugin, settings: Dict[str, Any], api: Dict[str, Any], folder: str) -> bytes:
    auth = api["authentication"]["parameters"]
    actions = ""
    for action in api["actions"]:
        actions += f"\n## Action `{action['name']}`\n\n{common.cell(action['description'])}\n\n"
        actions += "Every value is a string; an empty one is not set.\n\n"
        actions += parameter_table("options", action["parameters"], option_labels) + "\n"
    return common.render(
        HERE / "README.md.tmpl",
        plugin=plugin,
        settings=settings,
        folder=folder,
        description=" ".join(plugin.description.split()),
        image=f"frikky/shuffle:{plugin.id.lower()}_{plugin.version}",
        auth=parameter_table("prefilled", auth, lambda item: item.get("value", "")),
        actions=actions,
        notes=common.release_notes(plugin),
    )


def build(plugin: Plugin, settings: Dict[str, Any]) -> Dict[str, bytes]:
    check_names(plugin)
    folder = f"{plugin.id}/{plugin.version}"
    api = api_yaml(plugin, settings)
    app = common.render(
        HERE / "app.py.tmpl",
        cls=common.camel(plugin.title, "App"),
        version_literal=common.py_literal(plugin.version),
        title_literal=common.py_literal(plugin.title),
        methods="\n".join(method(plugin, action_id) for action_id in plugin.actions),
    )
    # shuffle-sdk is not pinned: the base image holds it (a pin would reinstall its requests).
    requirements = common.text_file(
        f"# {settings['base_image']} provides {settings['runtime']} and "
        f"{', '.join(settings['provides'])};",
        "# these are this plugin's own pins.",
        *common.requirements_without(plugin, [*settings["provides"], "shuffle-sdk"]),
    )
    return {
        MARKER: common.render(
            HERE / "SHUFFLE-EXPORT.md.tmpl", plugin=plugin, manifest=MANIFEST, folder=folder
        ),
        f"{plugin.id}/README.md": readme(plugin, settings, api, folder),
        f"{folder}/api.yaml": common.dump_yaml(api),
        # Shuffle's own app Dockerfile (its backend's GetBaseDockerfile), CMD without DEBUG logs.
        f"{folder}/Dockerfile": common.render(
            HERE / "Dockerfile.tmpl", base_image=settings["base_image"]
        ),
        f"{folder}/requirements.txt": requirements,
        f"{folder}/src/app.py": app,
        **{f"{folder}/{name}": data for name, data in common.license_files(plugin).items()},
        **{f"{folder}/src/{name}": source.read_bytes() for name, source in SHIPPED.items()},
        **{f"{folder}/src/{path}": data for path, data in common.plugin_core(plugin).items()},
    }
