"""What every platform export shares. A platform is ``exporters/<platform>/``: its
``__init__.py`` defines TITLE, MARKER (a file atop every export) and ``build(plugin, settings)
-> {posix path: bytes}``; ``settings.schema.json`` (optional) checks plugin.yaml
``platforms.<platform>``; ``entry.py`` ships in the package and runs our actions.
"""

import argparse
import difflib
import importlib
import json
import os
import pkgutil
import re
import shutil
import sys
import time
import zipfile
from pathlib import Path
from string import Template
from types import ModuleType
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import yaml

from framework.errors import os_reason
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
# Atop every export folder (not in the archive): only a folder holding it is ever replaced.
STAMP = ".runtime-export.json"


class ExportError(Exception):
    """The export cannot be made: every reason, one line each."""

    def __init__(self, *lines: str) -> None:
        self.lines = list(lines)
        super().__init__("\n".join(self.lines))


def platforms() -> List[str]:
    return sorted(i.name for i in pkgutil.iter_modules([os.path.dirname(__file__)]) if i.ispkg)


def settings_of(plugin: Plugin, name: str, module: ModuleType) -> Dict[str, Any]:
    """plugin.yaml ``platforms.<name>`` as a plain dict, checked against settings.schema.json."""
    settings = json.loads(json.dumps(dict(plugin.platforms.get(name) or {})))
    path = Path(module.__file__).with_name("settings.schema.json")
    if path.is_file():
        schema = json.loads(path.read_bytes())
        errors = sorted(validator_for(schema).iter_errors(settings), key=lambda e: list(e.path))
        problems = [
            f"{MANIFEST}: platforms.{name}{''.join(f'.{p}' for p in e.absolute_path)}: {e.message}"
            for e in errors
        ]
        if problems:
            raise ExportError(*problems)
    return settings


def read_file(plugin: Plugin, relative: str) -> bytes:
    try:
        return (plugin.root / relative).read_bytes()
    except OSError as exc:
        reason = os_reason(exc)
        raise ExportError(f"{relative}: cannot be read ({reason}); the export needs it.") from None


def largest_icon(plugin: Plugin, at_most: int = 0) -> bytes:
    """The largest PNG icon of at most ``at_most`` pixels if there is one, else the largest."""
    if not plugin.icons:
        raise ExportError(f"{MANIFEST}: icons: a PNG icon is needed for this platform.")
    smaller = [size for size in plugin.icons if size <= at_most]
    return read_file(plugin, plugin.icons[max(smaller or plugin.icons)])


def plugin_code(plugin: Plugin) -> Dict[str, bytes]:
    """framework/ and every package plugin.yaml names (tracked ``.py`` files, as the bundle)."""
    refs = [plugin.asset.connector, *(action.class_ref for action in plugin.actions.values())]
    packages = {"framework", *(ref.split(".", 1)[0].split(":", 1)[0] for ref in refs)}
    try:
        return read_entries(plugin.root, (), sorted(packages))
    except PackageError as exc:
        raise ExportError(*exc.lines) from None


def plugin_core(plugin: Plugin) -> Dict[str, bytes]:
    """What ``load_plugin()`` and ``run_action()`` need: plugin.yaml, its schemas, the code."""
    files = {MANIFEST: read_file(plugin, MANIFEST), **plugin_code(plugin)}
    for relative in [META_SCHEMA, *plugin.schema_paths]:
        files[relative] = read_file(plugin, relative)
    return files


def plugin_data(plugin: Plugin) -> Dict[str, Any]:
    """The manifest and schemas for ``plugin_from_data``; JSON must hold it exactly."""
    manifest, documents = read_documents(plugin.root)
    try:
        exact = json.loads(json.dumps(manifest)) == manifest
    except (TypeError, ValueError):
        exact = False
    if not exact:
        raise ExportError(f"{MANIFEST}: holds values JSON cannot carry (dates, non-string keys).")
    return {"manifest": manifest, "documents": dict(sorted(documents.items()))}


def plugin_data_module(plugin: Plugin, platform: str) -> bytes:
    """``plugin_data`` as a Python module of exact literals, ``MANIFEST`` and ``DOCUMENTS``."""
    data = plugin_data(plugin)
    return text_file(
        f'"""Generated from {MANIFEST} and the schemas it names by python -m runtime export '
        f'{platform}: do not edit."""',
        "",
        f"MANIFEST = {data['manifest']!r}",
        "",
        "DOCUMENTS = {",
        *(f"    {path!r}: {document!r}," for path, document in data["documents"].items()),
        "}",
    )


def license_files(plugin: Plugin) -> Dict[str, bytes]:
    return {name: read_file(plugin, name) for name in ("LICENSE", "NOTICE")}


def changelog(plugin: Plugin) -> List[Tuple[str, str]]:
    """CHANGELOG.md's (version, section) pairs, newest first, from this version's down."""
    parts = re.split(r"^## +(\S+)[^\n]*\n", read_file(plugin, "CHANGELOG.md").decode(), flags=re.M)
    if plugin.version not in parts[1::2]:
        raise ExportError(f"CHANGELOG.md: no section '## {plugin.version}' for this version.")
    return list(zip(parts[1::2], parts[2::2]))[parts[1::2].index(plugin.version) :]


def release_notes(plugin: Plugin) -> str:
    return changelog(plugin)[0][1].strip()


def requirements_without(plugin: Plugin, provided: Iterable[str]) -> List[str]:
    """The lines of requirements.txt less the projects ``provided`` (as PEP 503 names)."""
    skip = {normalize(name) for name in provided}
    kept = []
    for raw in read_file(plugin, "requirements.txt").decode("utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        name = re.split(r"[=<>!~;\[ ]", line, maxsplit=1)[0]
        if line and normalize(name) not in skip:
            kept.append(line)
    return kept


def dump_yaml(value: Any) -> bytes:
    """Block style, keys in the order given, the pure-Python dumper, no line folding."""
    return yaml.safe_dump(
        value, sort_keys=False, allow_unicode=True, default_flow_style=False, width=float("inf")
    ).encode("utf-8")


def dump_json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def text_file(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")


def render(template: Path, **values: Any) -> bytes:
    """A ``*.tmpl`` file beside a builder filled by ``str.format`` (``{{`` is a brace)."""
    return template.read_text(encoding="utf-8").format(**values).encode("utf-8")


def fill(template: Path, **values: Any) -> str:
    """A ``*.tmpl`` beside a builder filled by ``string.Template``: for bodies full of braces."""
    return Template(template.read_text(encoding="utf-8")).substitute(values)


def cell(value: Any) -> str:
    """A value as one Markdown table cell: non-strings as JSON, whitespace as single spaces."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return " ".join(text.split()).replace("|", "\\|")


def camel(text: str, prefix: str = "A") -> str:
    """``text`` as one CamelCase word (``prefix`` first when it would not start with a letter)."""
    name = "".join(w[:1].upper() + w[1:] for w in re.findall(r"[A-Za-z0-9]+", text))
    return name if name[:1].isalpha() else prefix + name


def row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table of ready-made cells, the one shape of every export README."""
    return "\n".join([row(head), "|" + "---|" * len(head), *(row(cells) for cells in rows)])


# Quoting: every value written into generated code goes through one of these.


def py_literal(value: Any) -> str:
    """A Python literal of a JSON value (a string stays a string, whatever it holds)."""
    return repr(json.loads(json.dumps(value)))


def py_string(value: str) -> str:
    """A double-quoted literal: JSON's escapes are Python's and TOML's basic strings'."""
    return json.dumps(str(value))


def write_tree(
    folder: Path, files: Mapping[str, bytes], stamp: Mapping[str, str], keep: Sequence[Path] = ()
) -> None:
    """``files`` under ``folder``, staged then swapped in; only an earlier export is replaced."""
    folder = folder.resolve()
    for kept in (Path.cwd(), *keep):
        kept = kept.resolve()
        if folder == kept or folder in kept.parents:
            raise ExportError(
                f"--output: {folder} is the current directory, the plugin folder or a parent "
                "of one; an export replaces its folder whole: choose a new folder."
            )
    mark = json.dumps(dict(stamp), sort_keys=True).encode("utf-8") + b"\n"
    try:
        earlier = (folder / STAMP).read_bytes() == mark
    except OSError:
        earlier = False
    if folder.exists() and (not folder.is_dir() or (any(folder.iterdir()) and not earlier)):
        raise ExportError(
            f"--output: {folder} exists and is not an earlier export (no {STAMP} naming "
            f"{stamp['plugin']} and {stamp['platform']}); choose an empty or new folder."
        )
    staging = folder.with_name(f".{folder.name}.export-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    stamp_time = epoch()
    try:
        for name, data in sorted({**files, STAMP: mark}.items()):
            path = staging.joinpath(*name.split("/"))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            os.chmod(path, mode_of(data))
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


def _holds(archive: Path, marker: str) -> bool:
    try:
        with zipfile.ZipFile(archive) as existing:
            return marker in existing.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def export(
    name: str, root: Path = PLUGIN_ROOT, output: Optional[Path] = None
) -> Tuple[Path, Path, int]:
    """Validate, build, write the folder and the zip beside it: (folder, archive, file count)."""
    module = importlib.import_module(f"{__package__}.{name}")
    problems = lint_plugin(str(root))
    if problems:
        raise ExportError("the plugin does not validate (runtime validate):", *problems)
    plugin = load_plugin(root)
    files = module.build(plugin, settings_of(plugin, name, module))
    if module.MARKER not in files:
        raise ExportError(f"exporters/{name}/: build() wrote no {module.MARKER}.")
    folder = output or root / "dist" / "platforms" / name
    archive = folder.parent / f"{name}-{plugin.id}-{plugin.version}.zip"
    if archive.exists() and not _holds(archive, module.MARKER):
        raise ExportError(
            f"--output: {archive} exists and is not an earlier export's archive (no "
            f"{module.MARKER} in it); move it away or choose another folder."
        )
    data = zip_bytes(files)
    write_tree(folder, files, {"plugin": plugin.id, "platform": name}, keep=[root])
    partial = archive.with_name(archive.name + ".partial")
    partial.write_bytes(data)
    os.chmod(partial, FILE_MODE)
    os.replace(partial, archive)
    stamp = epoch()
    os.utime(archive, (stamp, stamp))
    return folder, archive, len(files)


def cmd_export(args: argparse.Namespace, secrets: List[str]) -> int:
    """``export PLATFORM``: exit 0 written, 1 cannot be made, 2 an unknown platform."""
    root = Path(args.root).resolve() if getattr(args, "root", None) else PLUGIN_ROOT
    output = Path(args.output).resolve() if args.output else None
    started = time.monotonic()
    known = platforms()
    if args.platform not in known:
        close = difflib.get_close_matches(args.platform, known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        print(
            f"invalid option: platform: {args.platform!r} is not a known platform{hint}; "
            f"known: {', '.join(known)}.",
            file=sys.stderr,
        )
        return 2
    try:
        folder, archive, count = export(args.platform, root, output)
    except ExportError as exc:
        print(*exc.lines, sep="\n", file=sys.stderr)
        return 1
    title = importlib.import_module(f"{__package__}.{args.platform}").TITLE
    print(folder, archive, sep="\n")
    print(
        f"{title}: {count} files in {folder}, archive {archive.name} "
        f"({time.monotonic() - started:.1f} s).",
        file=sys.stderr,
    )
    return 0
