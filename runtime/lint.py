"""``python -m runtime validate``: every problem checkable without a network, one line each
(``file: location: problem``), beyond what load_plugin checks."""

import argparse
import importlib
import json
import re
import struct
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Collection, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple

from jsonschema.exceptions import SchemaError
from jsonschema.validators import validator_for

from framework.action import Action
from framework.connector import HttpConnector
from framework.manifest import MANIFEST, ManifestError, import_class, load_plugin

# Keywords whose value is one schema, and keywords whose value maps names (or lists) to schemas.
ONE_SCHEMA = ("items", "additionalProperties", "contains", "not", "if", "then", "else")
MANY = "properties patternProperties $defs definitions prefixItems allOf anyOf oneOf".split()


def _subschemas(schema: Any, where: str = "") -> Iterator[Tuple[str, Mapping[str, Any]]]:
    """Every schema object inside a schema, with a JSON-pointer-like location."""
    if not isinstance(schema, Mapping):
        return
    yield where or "/", schema
    for key in MANY:
        members = schema.get(key)
        members = dict(enumerate(members)) if isinstance(members, list) else members
        for name, sub in members.items() if isinstance(members, Mapping) else ():
            yield from _subschemas(sub, f"{where}/{key}/{name}")
    for key in ONE_SCHEMA:
        yield from _subschemas(schema.get(key), f"{where}/{key}")


def _at(path: Collection[Any]) -> str:
    return ".".join(map(str, path)) if path else "(top level)"


def _check_schema(
    name: str, schema: Mapping[str, Any], problems: List[str], *, needs_example: bool = False
) -> None:
    draft = schema.get("$schema")
    if draft is None:
        problems.append(f"{name}: /: declares no $schema (draft).")
        return
    cls = validator_for(schema, default=None)
    if cls is None:
        problems.append(f"{name}: /$schema: {draft} is not a JSON Schema draft jsonschema knows.")
        return
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        where = "/" + "/".join(str(part) for part in exc.path)
        problems.append(f"{name}: {where}: not a valid schema for {draft}: {exc.message}.")
        return
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    if needs_example and not schema.get("examples"):
        problems.append(
            f"{name}: /examples: missing; it must hold a real captured response (the seed's)."
        )
    for where, sub in _subschemas(schema):
        local = validator.evolve(schema=sub)  # keeps the root's resolver: $refs still work
        if "default" in sub:
            short = json.dumps(sub["default"], ensure_ascii=False, default=str)
            short = short if len(short) <= 60 else short[:57] + "..."
            for error in local.iter_errors(sub["default"]):
                inner = f" at {_at(error.absolute_path)}" if error.absolute_path else ""
                problems.append(
                    f"{name}: {where.rstrip('/')}/default: {short} is invalid "
                    f"against its own schema{inner}: {error.message}."
                )
        for index, example in enumerate(sub.get("examples") or []):
            for error in local.iter_errors(example):
                problems.append(
                    f"{name}: {where.rstrip('/')}/examples/{index}: invalid at "
                    f"{_at(error.absolute_path)}: {error.message}."
                )
        if where.startswith("/properties/") and where.count("/") == 2:
            for key in ("title", "description"):
                if not sub.get(key):
                    problems.append(f"{name}: {where}: has no {key} for the SOAR UI.")


@contextmanager
def _imports_from(refs: Iterable[str]) -> Iterator[None]:
    """Forget the packages ``refs`` name while a check imports a copy's own (not same-named ones
    imported earlier), then restore sys.modules, so checks do not depend on what ran before."""
    ours = {ref.partition(":")[0].split(".")[0] for ref in refs}
    ours -= {"framework", "runtime", *sys.builtin_module_names}

    def drop() -> Dict[str, Any]:
        return {key: sys.modules.pop(key) for key in list(sys.modules) if key.split(".")[0] in ours}

    saved = drop()
    importlib.invalidate_caches()
    try:
        yield
    finally:
        drop()
        sys.modules.update(saved)
        importlib.invalidate_caches()


def _check_class(ref: str, base: type, root: Path, where: str, problems: List[str]) -> Any:
    """The class ``ref`` names (None when it does not import), checked to be a ``base``."""
    try:
        cls = import_class(root, ref)
    except Exception as exc:  # any import-time failure of the plugin's code is a problem to show
        detail = str(exc).splitlines()[0][:200] if str(exc) else ""
        if isinstance(exc, SyntaxError) and exc.filename:
            detail = f"{exc.msg} in {exc.filename} line {exc.lineno}"
        reason = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
        problems.append(f"{MANIFEST}: {where}: {ref} does not import ({reason}).")
        return None
    origin = getattr(sys.modules.get(ref.partition(":")[0]), "__file__", None)
    if origin and root.resolve() not in Path(origin).resolve().parents:
        problems.append(f"{MANIFEST}: {where}: {ref} is not part of the plugin (from {origin}).")
    if not isinstance(cls, type):
        problems.append(f"{MANIFEST}: {where}: {ref} is a {type(cls).__name__}, not a class.")
    elif not issubclass(cls, base):
        name = f"{base.__module__}:{base.__qualname__}"
        problems.append(f"{MANIFEST}: {where}: {ref} is not a subclass of {name}.")
    return cls


def png_size(path: Path) -> Optional[Tuple[int, int]]:
    """(width, height) from a PNG's IHDR chunk, or None when the file is not a PNG."""
    head = path.read_bytes()[:24]  # an icon: a few kilobytes
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])


def lint_plugin(root: Optional[str] = None) -> List[str]:
    try:
        plugin = load_plugin(Path(root).resolve()) if root else load_plugin()
    except ManifestError as exc:
        return exc.problems
    asset, folder = plugin.asset, plugin.root
    problems: List[str] = []
    _check_schema(asset.schema_path, asset.schema, problems)
    for action in plugin.actions.values():
        _check_schema(action.input_schema_path, action.input_schema, problems)
        _check_schema(action.output_schema_path, action.output_schema, problems, needs_example=True)
    refs = [asset.connector, *(action.class_ref for action in plugin.actions.values())]
    with _imports_from(refs):
        connector = _check_class(
            asset.connector, HttpConnector, folder, "asset.connector", problems
        )
        tested = asset.test and isinstance(connector, type)
        if tested and not callable(getattr(connector, asset.test, None)):
            problems.append(
                f"{MANIFEST}: asset.test: {asset.connector} has no method {asset.test}."
            )
        for action in plugin.actions.values():
            _check_class(action.class_ref, Action, folder, f"actions.{action.id}.class", problems)
    svg = plugin.icon
    if not (folder / svg).is_file():
        problems.append(f"{MANIFEST}: icon: file {svg} does not exist.")
    elif not re.search(r"<svg[\s>]", (folder / svg).read_text(encoding="utf-8", errors="replace")):
        problems.append(f"{svg}: not an SVG image (no <svg> element); see {MANIFEST} icon.")
    for size, path in plugin.icons.items():
        if not (folder / path).is_file():
            problems.append(f"{MANIFEST}: icons.{size}: file {path} does not exist.")
            continue
        actual = png_size(folder / path)
        if actual is None:
            problems.append(f"{path}: not a PNG image; see {MANIFEST} icons.{size}.")
        elif actual != (size, size):
            problems.append(
                f"{path}: is {actual[0]}x{actual[1]} pixels but {MANIFEST} icons.{size} "
                f"declares {size}x{size} (re-render it: scripts/render_icons.sh)."
            )
    pyproject = folder / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8") if pyproject.is_file() else ""
    section = re.search(r"^\[project\][ \t]*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    match = re.search(r'^version\s*=\s*"([^"]+)"', section.group(1) if section else "", re.M)
    version = match.group(1) if match else plugin.version
    if version != plugin.version:
        problems.append(
            f"{MANIFEST}: version: {plugin.version} differs from pyproject.toml's {version}."
        )
    properties = asset.schema.get("properties", {})
    for name in asset.secrets:
        if properties.get(name, {}).get("format") != "password":
            problems.append(
                f"{MANIFEST}: asset.secrets: {name} is not a format: password field of the asset."
            )
    for name, sub in properties.items():
        if sub.get("format") == "password" and name not in asset.secrets:
            problems.append(f"{MANIFEST}: asset.secrets: {name} (format: password) is missing.")
    for action in plugin.actions.values():
        path_props = action.input_schema.get("properties", {}).get("path_parameters", {})
        for placeholder in re.findall(r"\{([^}]*)\}", action.path):
            if placeholder not in path_props.get("properties", {}):
                problems.append(
                    f"{MANIFEST}: actions.{action.id}.path: {{{placeholder}}} is not a "
                    "path_parameters property of the input schema."
                )
    return problems


def cmd_validate(args: argparse.Namespace, secrets: List[str]) -> int:
    problems = lint_plugin(args.root)
    if problems:
        args.stderr.say("\n".join([*problems, f"{len(problems)} problem(s) found."]))
        return 1
    if not args.quiet:
        args.stderr.say("plugin is valid.")
    return 0
