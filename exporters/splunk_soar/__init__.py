"""Splunk SOAR: an app project (as ``soarapps init`` lays it out) for ``splunk-soar-sdk``.
Its packager ships only ``.py`` files, so the manifest and schemas travel as ``src/plugin_data.py``;
``uv.lock`` beside this file is ``uv lock`` of an export (``make platforms`` checks it is current).
"""

from pathlib import Path
from typing import Any, Dict, List

from exporters import common, flat
from exporters.splunk_soar import mapping
from framework.manifest import MANIFEST, Plugin

TITLE = "Splunk SOAR"
MARKER = "pyproject.toml"
HERE = Path(__file__).resolve().parent
SHIPPED = {  # exported as: source
    "src/app.py": HERE / "entry.py",
    "src/soar_mapping.py": HERE / "mapping.py",
    "src/flat.py": Path(flat.__file__),
}
# uv.lock's platforms (as `soarapps init` writes them): else it holds wheels SOAR cannot place.
LOCK = HERE / "uv.lock"  # `uv lock` of an export: see the module docstring
INDEX = "https://pypi.org/simple"  # the lock's one source, as `soarapps init --uv-index` sets it
TEST_PIN = "pytest==9.0.3"  # the dev group: what tests/test_app.py runs with
SOAR_TYPES = {"string": "string", "integer": "numeric", "number": "numeric", "boolean": "boolean"}
MACHINES = [("linux", "x86_64"), ("linux", "aarch64"), ("darwin", "x86_64"), ("darwin", "arm64")]


def dependencies(plugin: Plugin, settings: Dict[str, Any]) -> List[str]:
    return [settings["runtime"], *common.requirements_without(plugin, settings["unneeded"])]


def toml_list(values: List[str]) -> str:
    return "[\n" + "".join(f"    {common.py_string(value)},\n" for value in values) + "]"


def pyproject(plugin: Plugin, settings: Dict[str, Any]) -> bytes:
    markers = [
        f"sys_platform == '{system}' and platform_machine == '{machine}' and "
        f"python_version == '{mapping.python_version(settings['python'])}'"
        for system, machine in MACHINES
    ]
    strings = {
        **{key: getattr(plugin, key) for key in ("version", "description", "license", "publisher")},
        "name": plugin.id,
        "python": settings["python"],
        "index": INDEX,
    }
    return common.render(
        HERE / "pyproject.toml.tmpl",
        manifest=MANIFEST,
        dependencies=toml_list(dependencies(plugin, settings)),
        dev=toml_list([TEST_PIN]),
        environments=toml_list(markers),
        required=toml_list(markers[:1]),
        **{key: common.py_string(value) for key, value in strings.items()},  # TOML basic strings
    )


def field_table(fields: List[flat.Field], sensitive: List[str]) -> str:
    rows = []
    for field in fields:
        soar = mapping.soar_field(field)
        kind = "password" if field.name in sensitive else SOAR_TYPES[soar["kind"]]
        default = "" if soar["default"] is None else common.cell(soar["default"])
        required = "yes" if soar["required"] else ""
        rows.append([f"`{field.name}`", kind, required, default, common.cell(soar["description"])])
    return common.table(["name", "type", "required", "default", "description"], rows)


def readme(plugin: Plugin, settings: Dict[str, Any]) -> bytes:
    sensitive = [*plugin.asset.secrets, *settings["sensitive"]]
    actions = [
        common.render(
            HERE / "README-action.md.tmpl",
            action=action,
            title=action.title.lower(),
            params=field_table(mapping.params(action.input_schema), []),
        ).decode("utf-8")
        for action in plugin.actions.values()
    ]
    return common.render(
        HERE / "README.md.tmpl",
        plugin=plugin,
        settings=settings,
        asset=field_table(flat.asset_fields(plugin.asset.schema), sensitive),
        actions="".join(actions),
    )


def check_mapping(plugin: Plugin, settings: Dict[str, Any]) -> None:
    """What splunk-soar-sdk would refuse at import, one sentence each."""
    problems = []
    try:
        sensitive = [*plugin.asset.secrets, *settings["sensitive"]]
        mapping.sensitive_fields(flat.asset_fields(plugin.asset.schema), sensitive)
    except mapping.MappingError as exc:
        problems.append(f"{plugin.asset.schema_path}: {exc}")
    for action in plugin.actions.values():
        try:
            mapping.params(action.input_schema)
        except mapping.MappingError as exc:
            problems.append(f"{action.input_schema_path}: {exc}")
    if problems:
        raise common.ExportError(*problems)


def build(plugin: Plugin, settings: Dict[str, Any]) -> Dict[str, bytes]:
    check_mapping(plugin, settings)
    logo = common.read_file(plugin, plugin.icon)
    files = {
        MARKER: pyproject(plugin, settings),
        "logo.svg": logo,
        "logo_dark.svg": logo,
        "uv.lock": LOCK.read_bytes(),
        "README.md": readme(plugin, settings),
        ".gitignore": (HERE / "gitignore.tmpl").read_bytes(),
        "tests/test_app.py": (HERE / "test_app.py.tmpl").read_bytes(),
        f"release_notes/{plugin.version}.md": common.text_file(
            f"**v{plugin.version}**\n", common.release_notes(plugin)
        ),
        "release_notes/unreleased.md": b"**Unreleased**\n",
        **common.license_files(plugin),
        "src/__init__.py": b"",
        "src/plugin_data.py": common.plugin_data_module(plugin, "splunk_soar"),
    }
    files.update({path: source.read_bytes() for path, source in SHIPPED.items()})
    files.update({f"src/{path}": data for path, data in common.plugin_code(plugin).items()})
    return files
