"""``python -m runtime validate``: everything that can be checked without a network, all at once."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator, List, Mapping, Optional, Tuple

from runtime.manifest import PLUGIN_ROOT, ManifestError, Plugin, import_ref, load_plugin


def _subschemas(schema: Any, where: str = "") -> Iterator[Tuple[str, Mapping[str, Any]]]:
    """Every schema object inside a schema, with a JSON-pointer-like location."""
    if not isinstance(schema, Mapping):
        return
    yield where or "/", schema
    for key in ("properties", "$defs"):
        for name, sub in (schema.get(key) or {}).items():
            yield from _subschemas(sub, f"{where}/{key}/{name}")
    if isinstance(schema.get("items"), Mapping):
        yield from _subschemas(schema["items"], f"{where}/items")


def _check_schema(name: str, schema: Mapping[str, Any], problems: List[str]) -> None:
    from jsonschema.exceptions import SchemaError
    from jsonschema.validators import validator_for

    if "$schema" not in schema:
        problems.append(f"{name}: declares no $schema (draft).")
    cls = validator_for(schema)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        problems.append(f"{name}: not a valid schema: {exc.message}.")
        return
    for where, sub in _subschemas(schema):
        if "default" in sub:
            for error in cls(sub).iter_errors(sub["default"]):
                problems.append(f"{name}: {where}: default is invalid: {error.message}.")
        for index, example in enumerate(sub.get("examples") or []):
            resolver_schema = schema if where == "/" else sub
            for error in cls(resolver_schema).iter_errors(example):
                location = "/".join(str(p) for p in error.absolute_path) or "/"
                problems.append(
                    f"{name}: {where}: examples[{index}] at {location}: {error.message}."
                )
        if where.startswith("/properties/") and where.count("/") == 2:
            for key in ("title", "description"):
                if not sub.get(key):
                    problems.append(f"{name}: {where}: has no {key} for the SOAR UI.")


def _check_class(ref: str, base_ref: str, where: str, problems: List[str]) -> None:
    try:
        cls = import_ref(ref)
    except Exception as exc:
        problems.append(f"plugin.yaml: {where}: {ref} does not import ({type(exc).__name__}).")
        return
    base = import_ref(base_ref)
    if not (isinstance(cls, type) and issubclass(cls, base)):
        problems.append(f"plugin.yaml: {where}: {ref} is not a subclass of {base_ref}.")


def _pyproject_version(root: Path) -> Optional[str]:
    path = root / "pyproject.toml"
    if not path.exists():
        return None
    match = re.search(r'^version\s*=\s*"([^"]+)"', path.read_text(encoding="utf-8"), re.M)
    return match.group(1) if match else None


def _check_plugin_files(plugin: Plugin, problems: List[str]) -> None:
    root, manifest = plugin.root, plugin.manifest
    for key, path in [("icon", manifest["icon"]), *manifest.get("icons", {}).items()]:
        if not (root / path).is_file():
            problems.append(f"plugin.yaml: icon {key}: file {path} does not exist.")
    version = _pyproject_version(root)
    if version is not None and version != plugin.version:
        problems.append(
            f"plugin.yaml: version {plugin.version} differs from pyproject.toml's {version}."
        )
    asset_properties = plugin.asset.schema.get("properties", {})
    for name in plugin.asset.secrets:
        if asset_properties.get(name, {}).get("format") != "password":
            problems.append(
                f"plugin.yaml: asset.secrets: {name} is not a format: password field of the asset."
            )
    for name, sub in asset_properties.items():
        if sub.get("format") == "password" and name not in plugin.asset.secrets:
            problems.append(f"plugin.yaml: asset.secrets: {name} (format: password) is missing.")


def _check_readme(plugin: Plugin, problems: List[str]) -> None:
    path = plugin.root / "README.md"
    if not path.exists():
        problems.append("README.md: missing.")
        return
    text = path.read_text(encoding="utf-8")
    for action in plugin.actions.values():
        for _, sub in _subschemas(action.input_schema):
            for name in sub.get("properties", {}):
                if f"`{name}`" not in text:
                    problems.append(f"README.md: does not document input {name} of {action.id}.")
    for name in plugin.asset.schema.get("properties", {}):
        if f"`{name}`" not in text:
            problems.append(f"README.md: does not document asset field {name}.")


def check_plugin(root: Optional[str] = None) -> List[str]:
    """Every problem found in the plugin under ``root``, as 'file: location: problem' lines."""
    try:
        plugin = load_plugin(Path(root) if root else PLUGIN_ROOT)
    except ManifestError as exc:
        return exc.problems
    problems: List[str] = []
    _check_schema(plugin.manifest["asset"]["schema"], plugin.asset.schema, problems)
    _check_class(
        plugin.asset.connector, "connectors.base:HttpConnector", "asset.connector", problems
    )
    for action in plugin.actions.values():
        spec = plugin.manifest["actions"][action.id]
        _check_schema(spec["input_schema"], action.input_schema, problems)
        _check_schema(spec["output_schema"], action.output_schema, problems)
        _check_class(action.class_ref, "actions.base:Action", f"actions.{action.id}", problems)
        for placeholder in re.findall(r"\{([^}]*)\}", action.path):
            path_props = action.input_schema.get("properties", {}).get("path_parameters", {})
            if placeholder not in path_props.get("properties", {}):
                problems.append(
                    f"plugin.yaml: actions.{action.id}.path: {{{placeholder}}} is not a "
                    "path_parameters property of the input schema."
                )
    _check_plugin_files(plugin, problems)
    _check_readme(plugin, problems)
    return problems
