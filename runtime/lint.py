"""``python -m runtime validate``: everything that can be checked without a network, all at once.

Every problem is one line, ``file: location: problem``, and every problem is reported, not only
the first: plugin.yaml against its meta-schema and the files it references (load_plugin), then
each schema against its declared draft, defaults and examples against their own schemas, the
output schema's example (the seed's captured response), JSON/YAML examples in the README, the
class references (imported from the checked plugin's own directory), the icons (PNG sizes read
from the IHDR header), the version against pyproject.toml, the secrets against
``format: password``, and the README documenting every input and asset property.
"""

from __future__ import annotations

import importlib
import json
import re
import struct
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple

from framework.manifest import (
    MANIFEST,
    PLUGIN_ROOT,
    ManifestError,
    Plugin,
    import_ref,
    load_plugin,
    load_yaml,
)

CONNECTOR_BASE = "framework.connector:HttpConnector"
ACTION_BASE = "framework.action:Action"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# A fenced ```json or ```yaml block in Markdown: its language and its text.
FENCED_BLOCK = re.compile(r"^```[ \t]*(json|ya?ml)[ \t]*\n(.*?)^```", re.M | re.S)
# Keywords whose value is one schema, and keywords whose value maps names (or lists) to schemas.
ONE_SCHEMA = ("items", "additionalProperties", "contains", "not", "if", "then", "else")
SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions")
SCHEMA_LISTS = ("prefixItems", "allOf", "anyOf", "oneOf")


def _subschemas(schema: Any, where: str = "") -> Iterator[Tuple[str, Mapping[str, Any]]]:
    """Every schema object inside a schema, with a JSON-pointer-like location."""
    if not isinstance(schema, Mapping):
        return
    yield where or "/", schema
    for key in SCHEMA_MAPS:
        members = schema.get(key)
        if isinstance(members, Mapping):
            for name, sub in members.items():
                yield from _subschemas(sub, f"{where}/{key}/{name}")
    for key in SCHEMA_LISTS:
        members = schema.get(key)
        if isinstance(members, list):
            for index, sub in enumerate(members):
                yield from _subschemas(sub, f"{where}/{key}/{index}")
    for key in ONE_SCHEMA:
        yield from _subschemas(schema.get(key), f"{where}/{key}")


def _at(path: Iterable[Any]) -> str:
    """An instance location for a message: ``parameters.limit``, or ``(top level)``."""
    parts = [str(part) for part in path]
    return ".".join(parts) if parts else "(top level)"


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _validator(name: str, schema: Mapping[str, Any], problems: List[str]) -> Optional[Any]:
    """A validator for a schema that is valid for its declared draft, or None (problem added)."""
    from jsonschema.exceptions import SchemaError
    from jsonschema.validators import validator_for

    draft = schema.get("$schema")
    if draft is None:
        problems.append(f"{name}: /: declares no $schema (draft).")
        return None
    cls = validator_for(schema, default=None)
    if cls is None:
        problems.append(f"{name}: /$schema: {draft} is not a JSON Schema draft jsonschema knows.")
        return None
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        where = "/" + "/".join(str(part) for part in exc.path)
        problems.append(f"{name}: {where}: not a valid schema for {draft}: {exc.message}.")
        return None
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _check_schema(
    name: str, schema: Mapping[str, Any], problems: List[str], *, needs_example: bool = False
) -> Optional[Any]:
    """The schema is valid for its draft; its defaults and examples are valid against it.

    Returns its validator, or None when the schema itself is broken."""
    validator = _validator(name, schema, problems)
    if validator is None:
        return None
    if needs_example and not schema.get("examples"):
        problems.append(
            f"{name}: /examples: missing; it must hold a real captured response (the seed's)."
        )
    for where, sub in _subschemas(schema):
        local = validator.evolve(schema=sub)  # keeps the root's resolver: $refs still work
        if "default" in sub:
            for error in local.iter_errors(sub["default"]):
                inner = f" at {_at(error.absolute_path)}" if error.absolute_path else ""
                problems.append(
                    f"{name}: {where.rstrip('/')}/default: {_short(sub['default'])} is invalid "
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
    return validator


def _top_level_names(refs: Iterable[str]) -> List[str]:
    names = {ref.partition(":")[0].split(".")[0] for ref in refs}
    return sorted(names - {"framework", "runtime", *sys.builtin_module_names})


@contextmanager
def _imports_from(root: Path, refs: Iterable[str]) -> Iterator[None]:
    """Import the packages that ``refs`` name from ``root``, then restore sys.path/sys.modules.

    Checking a copy of the plugin must check the copy's modules, not same-named packages that
    this process imported earlier (the repository's own ``connectors``, say), and must leave the
    process as it found it, so that checks are deterministic whatever ran before them.
    """
    names = _top_level_names(refs)

    def ours(module: str) -> bool:
        return any(module == name or module.startswith(name + ".") for name in names)

    saved_path = list(sys.path)
    saved = {key: module for key, module in sys.modules.items() if ours(key)}
    for key in saved:
        del sys.modules[key]
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    try:
        yield
    finally:
        for key in [key for key in sys.modules if ours(key)]:
            del sys.modules[key]
        sys.modules.update(saved)
        sys.path[:] = saved_path
        importlib.invalidate_caches()


def _import(ref: str, root: Path, where: str, problems: List[str]) -> Optional[Any]:
    try:
        value = import_ref(ref)
    except Exception as exc:  # any import-time failure of the plugin's code is a problem to show
        detail = str(exc).splitlines()[0][:200] if str(exc) else ""
        if isinstance(exc, SyntaxError) and exc.filename:
            detail = f"{exc.msg} in {exc.filename} line {exc.lineno}"
        reason = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
        problems.append(f"{MANIFEST}: {where}: {ref} does not import ({reason}).")
        return None
    module = sys.modules.get(ref.partition(":")[0])
    origin = getattr(module, "__file__", None)
    if origin and root.resolve() not in Path(origin).resolve().parents:
        problems.append(f"{MANIFEST}: {where}: {ref} is not part of the plugin (from {origin}).")
    return value


def _check_class(
    ref: str, base_ref: str, root: Path, where: str, problems: List[str]
) -> Optional[type]:
    cls = _import(ref, root, where, problems)
    base = import_ref(base_ref)  # the framework's own base class: it is never the plugin's
    if cls is None or base is None:
        return None
    if not isinstance(cls, type):
        problems.append(f"{MANIFEST}: {where}: {ref} is a {type(cls).__name__}, not a class.")
        return None
    if not issubclass(cls, base):
        problems.append(f"{MANIFEST}: {where}: {ref} is not a subclass of {base_ref}.")
        return None
    return cls


def _check_classes(plugin: Plugin, problems: List[str]) -> None:
    manifest = plugin.manifest
    refs = [plugin.asset.connector, CONNECTOR_BASE, ACTION_BASE]
    refs += [action.class_ref for action in plugin.actions.values()]
    with _imports_from(plugin.root, refs):
        connector = _check_class(
            plugin.asset.connector, CONNECTOR_BASE, plugin.root, "asset.connector", problems
        )
        test = manifest["asset"].get("test")
        if connector is not None and test and not callable(getattr(connector, test, None)):
            problems.append(
                f"{MANIFEST}: asset.test: {plugin.asset.connector} has no method {test}."
            )
        for action in plugin.actions.values():
            where = f"actions.{action.id}.class"
            _check_class(action.class_ref, ACTION_BASE, plugin.root, where, problems)


def png_size(path: Path) -> Optional[Tuple[int, int]]:
    """(width, height) from a PNG's IHDR chunk, or None when the file is not a PNG."""
    with open(path, "rb") as handle:
        head = handle.read(24)
    if len(head) < 24 or head[:8] != PNG_SIGNATURE or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def _check_icons(plugin: Plugin, problems: List[str]) -> None:
    root, manifest = plugin.root, plugin.manifest
    svg = manifest["icon"]
    if not (root / svg).is_file():
        problems.append(f"{MANIFEST}: icon: file {svg} does not exist.")
    elif not re.search(r"<svg[\s>]", (root / svg).read_text(encoding="utf-8", errors="replace")):
        problems.append(f"{svg}: not an SVG image (no <svg> element); see {MANIFEST} icon.")
    for size, path in sorted((manifest.get("icons") or {}).items(), key=lambda kv: int(kv[0])):
        if not (root / path).is_file():
            problems.append(f"{MANIFEST}: icons.{size}: file {path} does not exist.")
            continue
        actual = png_size(root / path)
        if actual is None:
            problems.append(f"{path}: not a PNG image; see {MANIFEST} icons.{size}.")
        elif actual != (int(size), int(size)):
            problems.append(
                f"{path}: is {actual[0]}x{actual[1]} pixels but {MANIFEST} icons.{size} "
                f"declares {size}x{size} (re-render it: scripts/render_icons.sh)."
            )


def pyproject_version(root: Path) -> Optional[str]:
    """``[project] version`` from pyproject.toml, or None without the file or a static version."""
    path = root / "pyproject.toml"
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    section = re.search(r"^\[project\][ \t]*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    match = re.search(r'^version\s*=\s*"([^"]+)"', section.group(1) if section else "", re.M)
    return match.group(1) if match else None


def _check_identity(plugin: Plugin, problems: List[str]) -> None:
    version = pyproject_version(plugin.root)
    if version is not None and version != plugin.version:
        problems.append(
            f"{MANIFEST}: version: {plugin.version} differs from pyproject.toml's {version}."
        )
    asset_properties = plugin.asset.schema.get("properties", {})
    for name in plugin.asset.secrets:
        if asset_properties.get(name, {}).get("format") != "password":
            problems.append(
                f"{MANIFEST}: asset.secrets: {name} is not a format: password field of the asset."
            )
    for name, sub in asset_properties.items():
        if sub.get("format") == "password" and name not in plugin.asset.secrets:
            problems.append(f"{MANIFEST}: asset.secrets: {name} (format: password) is missing.")
    for action in plugin.actions.values():
        path_props = action.input_schema.get("properties", {}).get("path_parameters", {})
        for placeholder in re.findall(r"\{([^}]*)\}", action.path):
            if placeholder not in path_props.get("properties", {}):
                problems.append(
                    f"{MANIFEST}: actions.{action.id}.path: {{{placeholder}}} is not a "
                    "path_parameters property of the input schema."
                )


def readme_examples(text: str) -> Iterator[Tuple[int, str, Dict[str, Any]]]:
    """(line, kind, value) for each fenced json/yaml block that parses to an inputs, output
    envelope or asset shaped object; kind is ``inputs``, ``output`` or ``asset``. Other blocks
    (shell, HTTP, fragments with ``...`` that do not parse) are not examples and are skipped."""
    for match in FENCED_BLOCK.finditer(text):
        line = text.count("\n", 0, match.start(2)) + 1
        try:
            value = json.loads(match.group(2)) if match.group(1) == "json" else None
            value = load_yaml(match.group(2)) if value is None else value
        except Exception:  # noqa: S112 - not a parseable example: prose, a fragment, a template
            continue
        if not isinstance(value, dict):
            continue
        if "status_code" in value:
            yield line, "output", value
        elif "path_parameters" in value or "parameters" in value:
            yield line, "inputs", value
        elif "url" in value and "api_token" in value:
            yield line, "asset", value


def _check_readme(plugin: Plugin, validators: Mapping[str, Any], problems: List[str]) -> None:
    """README documents every input and asset property; its examples validate.

    ``validators`` maps ``asset`` and ``inputs:ACTION``/``output:ACTION`` to a validator, for
    the schemas that are valid (examples are not checked against a broken schema)."""
    path = plugin.root / "README.md"
    if not path.exists():
        problems.append("README.md: missing.")
        return
    text = path.read_text(encoding="utf-8")
    for action in plugin.actions.values():
        for _, sub in _subschemas(action.input_schema):
            for name in sub.get("properties") or {}:
                if f"`{name}`" not in text:
                    problems.append(f"README.md: does not document input {name} of {action.id}.")
    for name in plugin.asset.schema.get("properties", {}):
        if f"`{name}`" not in text:
            problems.append(f"README.md: does not document asset field {name}.")
    for line, kind, value in readme_examples(text):
        if kind == "asset":
            candidates = [("the asset", validators.get("asset"))]
        else:
            candidates = [
                (f"{kind} of {action}", validators.get(f"{kind}:{action}"))
                for action in plugin.actions
            ]
        if any(validator is None for _, validator in candidates):
            continue
        failures = []
        for label, validator in candidates:
            errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
            if not errors:
                break
            failures.append((label, errors))
        else:
            for label, errors in failures:
                for error in errors:
                    problems.append(
                        f"README.md: line {line}: example ({label}) invalid at "
                        f"{_at(error.absolute_path)}: {error.message}."
                    )


def check_plugin(root: Optional[str] = None) -> List[str]:
    """Every problem found in the plugin under ``root``, as 'file: location: problem' lines."""
    root_path = Path(root).resolve() if root else PLUGIN_ROOT
    saved_path = list(sys.path)
    try:
        plugin = load_plugin(root_path)
    except ManifestError as exc:
        return exc.problems
    finally:
        sys.path[:] = saved_path  # load_plugin puts root first on sys.path: not for a check
    problems: List[str] = []
    manifest = plugin.manifest
    validators = {
        "asset": _check_schema(manifest["asset"]["schema"], plugin.asset.schema, problems)
    }
    for action in plugin.actions.values():
        spec = manifest["actions"][action.id]
        validators[f"inputs:{action.id}"] = _check_schema(
            spec["input_schema"], action.input_schema, problems
        )
        validators[f"output:{action.id}"] = _check_schema(
            spec["output_schema"], action.output_schema, problems, needs_example=True
        )
    _check_classes(plugin, problems)
    _check_icons(plugin, problems)
    _check_identity(plugin, problems)
    _check_readme(plugin, validators, problems)
    return problems
