"""What every platform export shares: one reading of the manifest, reproducible files.

A platform is one folder ``exporters/<platform>/``, found by name: adding a platform adds that
folder and nothing else. Its ``__init__.py`` is the builder, which defines

* ``TITLE``: the platform's name for messages, e.g. ``"Swimlane Turbine"``;
* ``MARKER``: a file every export of it holds at its top (an existing output folder is replaced
  only when it holds ``STAMP``, which only ``write_tree`` writes, so ``--output`` never wipes an
  unrelated folder);
* ``SETTINGS`` (optional): a JSON Schema for its entry under ``platforms:`` in plugin.yaml;
* ``build(plugin, settings) -> Dict[str, bytes]``: the export tree as {posix path: bytes}, from
  the plugin model, its ``platforms.<platform>`` settings (a plain dict) and the helpers below.

Its ``entry.py`` is the module shipped into the package, where the platform calls into the
plugin: it runs the action through ``framework.runner`` and maps how the run ended onto the
platform's convention. ``exporters/flat.py`` (shipped too, as ``flat.py``) flattens inputs for
the platforms whose parameters are flat.

``export(platform)`` checks the plugin (``runtime validate``: an invalid plugin exports nothing),
builds the tree, writes it to ``dist/platforms/<platform>/`` (or ``--output``) with fixed modes and
mtimes, and writes the import archive ``<platform>-<id>-<version>.zip`` beside that folder. Two
exports of the same sources give identical bytes.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import json
import os
import pkgutil
import re
import shlex
import shutil
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence

import yaml

from framework.manifest import (
    MANIFEST,
    META_SCHEMA,
    PLUGIN_ROOT,
    Plugin,
    load_plugin,
    read_documents,
    validator_for,
)
from runtime.archive import epoch, mode_of, zip_bytes
from runtime.lint import lint_plugin
from runtime.package import PackageError, normalize, read_entries

FILE_MODE, DIR_MODE = 0o644, 0o755
# Written by write_tree() at the top of every export folder (not into the archive): the plugin
# id and the platform. Only a folder holding it is ever replaced.
STAMP = ".runtime-export.json"


class ExportError(Exception):
    """The export cannot be made: every reason, one line each."""

    def __init__(self, lines: Sequence[str]) -> None:
        self.lines = list(lines)
        super().__init__("\n".join(self.lines))


class Export(NamedTuple):
    platform: str
    folder: Path
    archive: Path
    files: int


# --- finding platforms --------------------------------------------------------------------------


def platforms() -> List[str]:
    """The names of every platform folder of this package, sorted."""
    folder = Path(__file__).resolve().parent
    return sorted(info.name for info in pkgutil.iter_modules([str(folder)]) if info.ispkg)


def platform_module(name: str) -> ModuleType:
    """The builder ``exporters.<name>``; an unknown name fails with the list of known platforms."""
    known = platforms()
    if name not in known:
        raise ExportError(
            [f"platform: {name!r} is not a known platform; known: {', '.join(known)}."]
        )
    return importlib.import_module(f"{__package__}.{name}")


# --- reading the plugin -------------------------------------------------------------------------


def read_plugin(root: Path = PLUGIN_ROOT) -> Plugin:
    """The plugin model, only when ``runtime validate`` finds nothing wrong with it."""
    problems = lint_plugin(str(root))
    if problems:
        raise ExportError(["the plugin does not validate (runtime validate):", *problems])
    return load_plugin(root)


def pinned(description: str) -> Dict[str, Any]:
    """The SETTINGS schema of a vendor runtime pinned exactly, ``name==version``."""
    pattern = "^[A-Za-z0-9][A-Za-z0-9._-]*==[^\\s]+$"
    return {"description": description, "type": "string", "pattern": pattern}


def settings_of(plugin: Plugin, name: str, module: ModuleType) -> Dict[str, Any]:
    """plugin.yaml ``platforms.<name>`` as a plain dict, checked against the module's SETTINGS."""
    settings = json.loads(json.dumps(dict(plugin.platforms.get(name) or {})))
    schema = getattr(module, "SETTINGS", None)
    if schema:
        errors = sorted(validator_for(schema).iter_errors(settings), key=lambda e: list(e.path))
        if errors:
            raise ExportError(
                [
                    f"{MANIFEST}: platforms.{name}"
                    + "".join(f".{part}" for part in error.absolute_path)
                    + f": {error.message}"
                    for error in errors
                ]
            )
    return settings


def read_file(plugin: Plugin, relative: str) -> bytes:
    return (plugin.root / relative).read_bytes()


def largest_icon(plugin: Plugin) -> str:
    """The path of the largest PNG rendering in plugin.yaml ``icons``."""
    if not plugin.icons:
        raise ExportError([f"{MANIFEST}: icons: a PNG icon is needed for this platform."])
    return plugin.icons[max(plugin.icons)]


def plugin_code(plugin: Plugin) -> Dict[str, bytes]:
    """The plugin's code: framework/ and the top-level packages of every ``module:Class``
    plugin.yaml names (connectors/, actions/), by path relative to the plugin root. Taken as
    the bundle takes them (``runtime.package.read_entries``): in a git checkout only the files
    git tracks, only ``.py`` files, and a file that looks like a filled-in asset is refused."""
    refs = [plugin.asset.connector, *(action.class_ref for action in plugin.actions.values())]
    packages = {"framework", *(ref.split(".", 1)[0].split(":", 1)[0] for ref in refs)}
    try:
        return read_entries(plugin.root, (), sorted(packages))
    except PackageError as exc:
        raise ExportError(exc.lines) from None


def plugin_core(plugin: Plugin) -> Dict[str, bytes]:
    """What ``load_plugin()`` and ``run_action()`` need at run time, nothing else: plugin.yaml,
    the schemas it references (and its meta-schema) and ``plugin_code()``."""
    files = {MANIFEST: read_file(plugin, MANIFEST), **plugin_code(plugin)}
    for relative in [META_SCHEMA, *plugin.schema_paths]:
        files[relative] = read_file(plugin, relative)
    return files


def plugin_data(plugin: Plugin) -> Dict[str, Any]:
    """``{"manifest": ..., "documents": {path: JSON}}``: plugin.yaml and the documents it
    references as data, for ``framework.manifest.plugin_from_data`` where files cannot travel.
    A manifest JSON cannot hold exactly (a YAML date, a non-string key) is refused."""
    manifest, documents = read_documents(plugin.root)
    try:
        exact = json.loads(json.dumps(manifest)) == manifest
    except (TypeError, ValueError):
        exact = False
    if not exact:
        raise ExportError([f"{MANIFEST}: holds values JSON cannot carry (dates, non-string keys)."])
    return {"manifest": manifest, "documents": dict(sorted(documents.items()))}


def plugin_data_module(plugin: Plugin, platform: str) -> bytes:
    """``plugin_data`` as a Python module: ``MANIFEST`` and ``DOCUMENTS`` as exact literals. The
    app gets the model with ``framework.manifest.plugin_from_data(MANIFEST, DOCUMENTS, root)``."""
    data = plugin_data(plugin)
    lines = [
        f'"""Generated from {MANIFEST} and the schemas it names by python -m runtime export '
        f'{platform}: do not edit."""',
        "",
        f"MANIFEST = {data['manifest']!r}",
        "",
        "DOCUMENTS = {",
        *(f"    {path!r}: {document!r}," for path, document in data["documents"].items()),
        "}",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def license_files(plugin: Plugin) -> Dict[str, bytes]:
    """LICENSE and NOTICE, as every export carries them."""
    return {name: read_file(plugin, name) for name in ("LICENSE", "NOTICE")}


def release_notes(plugin: Plugin) -> str:
    """The CHANGELOG.md section of this version (its lines after the ``## <version>`` heading)."""
    text = read_file(plugin, "CHANGELOG.md").decode("utf-8")
    parts = re.split(r"^## +(\S+)[^\n]*\n", text, flags=re.M)
    notes = dict(zip(parts[1::2], parts[2::2]))
    if plugin.version not in notes:
        raise ExportError([f"CHANGELOG.md: no section '## {plugin.version}' for this version."])
    return notes[plugin.version].strip() + "\n"


def requirements_without(plugin: Plugin, provided: Iterable[str]) -> List[str]:
    """The pins of the plugin's requirements.txt, less the projects the platform provides
    (compared as PEP 503 names); comments and blank lines dropped."""
    skip = {normalize(name) for name in provided}
    kept = []
    for raw in read_file(plugin, "requirements.txt").decode("utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        name = re.split(r"[=<>!~;\[ ]", line, maxsplit=1)[0]
        if line and normalize(name) not in skip:
            kept.append(line)
    return kept


# --- stable dumps and archives ------------------------------------------------------------------


def dump_yaml(value: Any) -> bytes:
    """YAML, block style, keys in the order given (the manifest's and schemas' own order), the
    pure-Python dumper (same bytes with or without libyaml), no line folding."""
    text = yaml.dump(
        value,
        Dumper=yaml.SafeDumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=float("inf"),
    )
    return text.encode("utf-8")


def dump_json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


# --- quoting: every value written into generated code goes through one of these ---------------


def py_literal(value: Any) -> str:
    """A Python literal of a JSON value (a string stays a string, whatever it holds)."""
    return repr(json.loads(json.dumps(value)))


def yaml_scalar(value: Any) -> str:
    """A one-line YAML scalar (JSON is YAML: quotes, escapes and line breaks are kept as data)."""
    return json.dumps(value, ensure_ascii=False)


def shell_word(value: str) -> str:
    """One word for a POSIX shell (a Makefile recipe, a script)."""
    return shlex.quote(value)


def dockerfile_value(value: str) -> str:
    """A Dockerfile LABEL/ARG value: one line, double-quoted (a line break would start a new
    instruction, so it is refused)."""
    if "\n" in value or "\r" in value:
        raise ExportError([f"a Dockerfile value cannot hold a line break: {value[:40]!r}"])
    return json.dumps(value)


def write_tree(
    folder: Path, files: Mapping[str, bytes], stamp: Mapping[str, str], keep: Sequence[Path] = ()
) -> None:
    """``files`` under ``folder``, replacing an earlier export there: one holding ``STAMP`` with
    this ``stamp`` (a file only this function writes, kept out of the archive). Any other
    non-empty folder is refused, and so are the current directory, the folders in ``keep`` (the
    plugin root) and a parent of any of them. Written beside it first, then swapped in; modes
    0644/0755 and one mtime for every entry."""
    folder = folder.resolve()
    for kept in (Path.cwd(), *keep):
        kept = kept.resolve()
        if folder == kept or folder in kept.parents:
            raise ExportError(
                [
                    f"--output: {folder} is the current directory, the plugin folder or a parent "
                    "of one; an export replaces its folder whole: choose a new folder."
                ]
            )
    mark = json.dumps(dict(stamp), sort_keys=True).encode("utf-8") + b"\n"
    if folder.exists() and (
        not folder.is_dir() or (any(folder.iterdir()) and not _holds(folder / STAMP, mark))
    ):
        raise ExportError(
            [
                f"--output: {folder} exists and is not an earlier export (no {STAMP} naming "
                f"{stamp['plugin']} and {stamp['platform']}); choose an empty or new folder."
            ]
        )
    staging = folder.with_name(f".{folder.name}.export-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    stamp_time = epoch()
    try:
        for name in sorted(files):
            path = staging.joinpath(*name.split("/"))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(files[name])
            os.chmod(path, mode_of(files[name]))
        (staging / STAMP).write_bytes(mark)
        os.chmod(staging / STAMP, FILE_MODE)
        for directory, _, names in os.walk(staging, topdown=False):
            for entry in names:
                os.utime(Path(directory, entry), (stamp_time, stamp_time))
            os.chmod(directory, DIR_MODE)
            os.utime(directory, (stamp_time, stamp_time))
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _holds(path: Path, data: bytes) -> bool:
    try:
        return path.is_file() and path.read_bytes() == data
    except OSError:
        return False


# --- the command --------------------------------------------------------------------------------


def export(name: str, root: Path = PLUGIN_ROOT, output: Optional[Path] = None) -> Export:
    """Validate, build and write the export of platform ``name``; see the module docstring."""
    module = platform_module(name)
    plugin = read_plugin(root)
    files = module.build(plugin, settings_of(plugin, name, module))
    if module.MARKER not in files:
        raise ExportError([f"exporters/{name}/: build() wrote no {module.MARKER}."])
    folder = output or root / "dist" / "platforms" / name
    archive = folder.parent / f"{name}-{plugin.id}-{plugin.version}.zip"
    data = zip_bytes(files)
    write_tree(folder, files, {"plugin": plugin.id, "platform": name}, keep=[root])
    partial = archive.with_name(archive.name + ".partial")
    partial.write_bytes(data)
    os.chmod(partial, FILE_MODE)
    os.replace(partial, archive)
    stamp = epoch()
    os.utime(archive, (stamp, stamp))
    return Export(platform=name, folder=folder, archive=archive, files=len(files))


def cmd_export(args: argparse.Namespace, secrets: List[str]) -> int:
    """``python -m runtime export PLATFORM [--output DIR] [--root ROOT]``: the folder and the
    archive on stdout, a summary on stderr; exit 1 (nothing written) when it cannot be made."""
    root = Path(args.root).resolve() if getattr(args, "root", None) else PLUGIN_ROOT
    output = Path(args.output).resolve() if args.output else None
    started = time.monotonic()
    known = platforms()
    if args.platform not in known:  # a wrong name is a bad option: exit 2, with a suggestion
        close = difflib.get_close_matches(args.platform, known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        print(
            f"invalid option: platform: {args.platform!r} is not a known platform{hint}; "
            f"known: {', '.join(known)}.",
            file=sys.stderr,
        )
        return 2
    try:
        result = export(args.platform, root, output)
    except ExportError as exc:
        for line in exc.lines:
            print(line, file=sys.stderr)
        return 1
    title = platform_module(result.platform).TITLE
    print(result.folder)
    print(result.archive)
    print(
        f"{title}: {result.files} files in {result.folder}, archive {result.archive.name} "
        f"({time.monotonic() - started:.1f} s).",
        file=sys.stderr,
    )
    return 0


def py_string(value: str) -> str:
    """A double-quoted Python string literal of ``value`` (JSON's escapes are Python's): the
    same text as ``"..."`` for a value without quotes, backslashes or control characters, so
    generated files stay byte for byte what a vendor's generator writes for ordinary values."""
    return json.dumps(str(value))
