"""plugin.yaml as one frozen model, validated against its meta-schema, with the files it
references read and each schema's validator built once."""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Dict, List, Mapping, Tuple

MANIFEST = "plugin.yaml"
META_SCHEMA = "schemas/plugin.schema.json"
PLUGIN_ROOT = Path(__file__).resolve().parent.parent
TEXTS = "id title version publisher homepage license vendor product description icon".split()


class ManifestError(Exception):
    """plugin.yaml or a file it references is broken: every problem, with its location."""

    def __init__(self, problems: List[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def load_yaml(text: str) -> Any:
    # Imported here: a package that carries the manifest as data (plugin_from_data, e.g. the
    # Splunk SOAR app) ships without PyYAML.
    import yaml

    return yaml.safe_load(text)


def validator_for(schema: Mapping[str, Any]) -> Any:
    """A schema's jsonschema validator: its declared draft (the lint reports an unknown one)."""
    from jsonschema.validators import Draft202012Validator
    from jsonschema.validators import validator_for as pick

    cls = pick(schema, default=Draft202012Validator)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def import_class(root: os.PathLike[str] | str, ref: str) -> Any:
    """What ``module:Class`` names, its top-level package taken from ``root`` if not imported."""
    module_name, _, attr = ref.partition(":")
    top = module_name.split(".")[0]
    if top not in sys.modules:
        spec = importlib.machinery.PathFinder.find_spec(top, [str(root)])
        if spec is not None and spec.loader is not None:
            package = importlib.util.module_from_spec(spec)
            sys.modules[top] = package
            try:
                spec.loader.exec_module(package)
            except BaseException:
                del sys.modules[top]
                raise
    return getattr(importlib.import_module(module_name), attr)


@dataclass(frozen=True)
class AssetSpec:
    id: str
    title: str
    description: str
    schema_path: str
    schema: Dict[str, Any] = field(repr=False)
    connector: str  # module:Class
    secrets: Tuple[str, ...]
    test: str = ""  # the connector method that tests the connection, if any
    root: Path = PLUGIN_ROOT
    validator: Any = field(default=None, repr=False, compare=False)

    @property
    def connector_class(self) -> Any:
        return import_class(self.root, self.connector)


@dataclass(frozen=True)
class ActionSpec:
    id: str
    title: str
    description: str
    method: str
    path: str
    class_ref: str  # module:Class
    input_schema_path: str
    input_schema: Dict[str, Any] = field(repr=False)
    output_schema_path: str
    output_schema: Dict[str, Any] = field(repr=False)
    root: Path = PLUGIN_ROOT
    input_validator: Any = field(default=None, repr=False, compare=False)
    output_validator: Any = field(default=None, repr=False, compare=False)

    @property
    def action_class(self) -> Any:
        return import_class(self.root, self.class_ref)


@dataclass(frozen=True)
class Plugin:
    root: Path
    id: str
    title: str
    version: str
    publisher: str  # who publishes the plugin (our identity)
    homepage: str
    license: str  # SPDX id
    vendor: str  # the vendor of the product it connects to
    product: str
    description: str
    icon: str  # the SVG, relative to root
    icons: Mapping[int, str]  # PNG renderings by size in pixels
    asset: AssetSpec
    actions: Mapping[str, ActionSpec]
    platforms: Mapping[str, Mapping[str, Any]]  # per-platform metadata (stable app ids, ...)

    @property
    def user_agent(self) -> str:
        return f"{self.id}/{self.version}"

    @property
    def schema_paths(self) -> List[str]:
        paths = [self.asset.schema_path]
        for action in self.actions.values():
            paths += [action.input_schema_path, action.output_schema_path]
        return paths


def _referenced(manifest: Mapping[str, Any]) -> List[Tuple[str, str]]:
    """(where, relative path) of every JSON document a valid manifest references."""
    refs = [("asset.schema", manifest["asset"]["schema"])]
    for action_id, spec in manifest["actions"].items():
        refs.append((f"actions.{action_id}.input_schema", spec["input_schema"]))
        refs.append((f"actions.{action_id}.output_schema", spec["output_schema"]))
    return refs


def _read_json(root: Path, relative: str, where: str, problems: List[str]) -> Any:
    try:
        with open(root / relative, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        problems.append(f"{MANIFEST}: {where}: file {relative} does not exist.")
    except ValueError as exc:
        problems.append(f"{relative}: not valid JSON ({exc}).")
    return None


def read_documents(root: os.PathLike[str] | str = PLUGIN_ROOT) -> Tuple[Any, Dict[str, Any]]:
    """plugin.yaml parsed, and every JSON document it references (meta-schema included) by
    relative path: all that ``plugin_from_data`` needs. Raises ManifestError."""
    import yaml

    root = Path(root)
    try:
        manifest = load_yaml((root / MANIFEST).read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise ManifestError([f"{MANIFEST}: not found in {root}."]) from None
    except UnicodeDecodeError:
        raise ManifestError([f"{MANIFEST}: not valid UTF-8."]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ManifestError([f"{MANIFEST}: not valid YAML{where}."]) from None
    problems: List[str] = []
    documents = {META_SCHEMA: _read_json(root, META_SCHEMA, "meta-schema", problems)}
    if problems:
        raise ManifestError(problems)
    _check_manifest(manifest, documents[META_SCHEMA])
    for where, relative in _referenced(manifest):
        if relative not in documents:
            documents[relative] = _read_json(root, relative, where, problems)
    if problems:
        raise ManifestError(problems)
    return manifest, documents


def _check_manifest(manifest: Any, meta: Mapping[str, Any]) -> None:
    problems = [
        f"{MANIFEST}: {'.'.join(map(str, e.absolute_path)) or '(top level)'}: {e.message}"
        for e in sorted(validator_for(meta).iter_errors(manifest), key=lambda e: list(e.path))
    ]
    if problems:
        raise ManifestError(problems)


def plugin_from_data(
    manifest: Any, documents: Mapping[str, Any], root: os.PathLike[str] | str = PLUGIN_ROOT
) -> Plugin:
    """The model from a parsed manifest and its documents (relative path -> parsed JSON),
    validated like ``load_plugin``; ``root`` is where the plugin's classes are imported from."""
    root = Path(root)
    meta = documents.get(META_SCHEMA)
    if not isinstance(meta, Mapping):
        raise ManifestError([f"{META_SCHEMA}: missing."])
    _check_manifest(manifest, meta)
    problems = [
        f"{MANIFEST}: {where}: file {relative} does not exist."
        for where, relative in _referenced(manifest)
        if relative not in documents
    ]
    problems += [
        f"{relative}: not a JSON object."
        for _, relative in _referenced(manifest)
        if relative in documents and not isinstance(documents[relative], dict)
    ]
    if problems:
        raise ManifestError(problems)
    asset = manifest["asset"]
    asset_spec = AssetSpec(
        **{key: asset[key] for key in ("id", "title", "description", "connector")},
        schema_path=asset["schema"],
        schema=documents[asset["schema"]],
        secrets=tuple(asset["secrets"]),
        test=asset.get("test", ""),
        root=root,
        validator=validator_for(documents[asset["schema"]]),
    )
    actions = {
        action_id: ActionSpec(
            id=action_id,
            **{key: spec[key] for key in ("title", "description", "method", "path")},
            class_ref=spec["class"],
            input_schema_path=spec["input_schema"],
            input_schema=documents[spec["input_schema"]],
            output_schema_path=spec["output_schema"],
            output_schema=documents[spec["output_schema"]],
            root=root,
            input_validator=validator_for(documents[spec["input_schema"]]),
            output_validator=validator_for(documents[spec["output_schema"]]),
        )
        for action_id, spec in manifest["actions"].items()
    }
    icons = {int(size): path for size, path in (manifest.get("icons") or {}).items()}
    platforms = manifest.get("platforms") or {}
    return Plugin(
        root=root,
        **{key: manifest[key] for key in TEXTS},
        icons=MappingProxyType(dict(sorted(icons.items()))),
        asset=asset_spec,
        actions=MappingProxyType(actions),
        platforms=MappingProxyType({k: MappingProxyType(dict(v)) for k, v in platforms.items()}),
    )


def load_plugin(root: os.PathLike[str] | str = PLUGIN_ROOT) -> Plugin:
    """Read and validate plugin.yaml under ``root``; raise ManifestError listing every problem."""
    return plugin_from_data(*read_documents(root), root)
