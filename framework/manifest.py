"""plugin.yaml as one complete, frozen model: read it, validate it against its meta-schema,
resolve the files it references.

``load_plugin(root)`` reads ``plugin.yaml`` and every JSON file it names; ``plugin_from_data``
builds the same model from documents already in memory (a platform package that ships the
manifest as Python data). Neither edits ``sys.path`` or ``sys.modules``: classes are imported
only when asked for, by ``import_class(root, "module:Class")``. The model is NamedTuples
(immutable, and cheaper to import than dataclasses, which cost a cold run about 12 ms);
the parse of plugin.yaml is cached (see PARSED_CACHE) because importing PyYAML is a tenth of a
cold run.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import importlib.util
import json
import os
import stat
import sys
import time
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Tuple

from framework.schemacheck import compile_predicate

MANIFEST = "plugin.yaml"
META_SCHEMA = "schemas/plugin.schema.json"
PLUGIN_ROOT = Path(__file__).resolve().parent.parent
# The parsed plugin.yaml, as JSON, keyed by the sha256 of its bytes, beside Python's own bytecode
# cache (and under the same rule: not written when sys.dont_write_bytecode is set). It saves
# importing PyYAML (about 15 ms) on every run; what it gives is validated on every load.
PARSED_CACHE = "__pycache__/plugin.yaml.{digest}.json"
CACHE_LIMIT = 4 * 1024 * 1024  # bytes read from a cache entry at most
Documents = Mapping[str, Any]  # relative path -> parsed JSON document


class ManifestError(Exception):
    """plugin.yaml or a file it references is broken: every problem, with its location."""

    def __init__(self, problems: List[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def load_yaml(text: str) -> Any:
    import yaml  # only when a YAML document is read: importing PyYAML costs ~10 ms

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader (C or pure Python)


def validator_for(schema: Mapping[str, Any]) -> Any:
    """The jsonschema validator of a schema: the authority, and the explainer of errors."""
    from jsonschema.validators import validator_for as pick

    cls = pick(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def import_class(root: os.PathLike[str] | str, ref: str) -> Any:
    """The object a ``module:Class`` reference names, its top-level package taken from
    ``root`` when it is not imported yet. ``sys.path`` is left as it is."""
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


_CLASSES: Dict[Tuple[str, str], Any] = {}


def _class(root: Path, ref: str) -> Any:
    """import_class, once per root and reference (as each run asks for its classes again)."""
    key = (str(root), ref)
    found = _CLASSES.get(key)
    if found is None:
        found = _CLASSES[key] = import_class(root, ref)
    return found


# Validators and compiled predicates derived from the model's schemas, made once per schema
# object: the model is immutable, so what is derived from it is cached beside it.
_DERIVED: Dict[Tuple[int, str], Tuple[Any, Any]] = {}


def _once(kind: str, schema: Dict[str, Any], make: Callable[[Dict[str, Any]], Any]) -> Any:
    key = (id(schema), kind)
    entry = _DERIVED.get(key)
    if entry is None or entry[0] is not schema:
        entry = _DERIVED[key] = (schema, make(schema))
    return entry[1]


class AssetSpec(NamedTuple):
    """The asset (connection) the plugin's actions need: its schema, connector and secrets."""

    id: str
    title: str
    description: str
    schema_path: str
    schema: Dict[str, Any]
    connector: str  # module:Class
    secrets: Tuple[str, ...]
    test: str = ""  # the connector method that tests the connection, if any
    root: Path = PLUGIN_ROOT

    def __repr__(self) -> str:
        return f"AssetSpec(id={self.id!r}, connector={self.connector!r})"

    @property
    def validator(self) -> Any:
        return _once("validator", self.schema, validator_for)

    @property
    def is_valid(self) -> Callable[[Any], bool]:
        """True when an asset is valid (compiled once; see framework.schemacheck)."""
        return _once("predicate", self.schema, compile_predicate)

    @property
    def connector_class(self) -> Any:
        return _class(self.root, self.connector)


class ActionSpec(NamedTuple):
    """One action: its HTTP method and path template, class, and input and output schemas."""

    id: str
    title: str
    description: str
    method: str
    path: str
    class_ref: str  # module:Class
    input_schema_path: str
    input_schema: Dict[str, Any]
    output_schema_path: str
    output_schema: Dict[str, Any]
    root: Path = PLUGIN_ROOT

    def __repr__(self) -> str:
        return f"ActionSpec(id={self.id!r}, class_ref={self.class_ref!r})"

    @property
    def input_validator(self) -> Any:
        return _once("validator", self.input_schema, validator_for)

    @property
    def inputs_valid(self) -> Callable[[Any], bool]:
        """True when inputs are valid (compiled once; see framework.schemacheck)."""
        return _once("predicate", self.input_schema, compile_predicate)

    @property
    def output_validator(self) -> Any:
        return _once("validator", self.output_schema, validator_for)

    @property
    def action_class(self) -> Any:
        return _class(self.root, self.class_ref)


class Plugin(NamedTuple):
    """Everything plugin.yaml says, with the schemas it references already read."""

    root: Path
    id: str
    title: str
    version: str
    vendor: str
    description: str
    icon: str  # the SVG, relative to root
    icons: Mapping[int, str]  # PNG renderings by size in pixels
    asset: AssetSpec
    actions: Mapping[str, ActionSpec]
    platforms: Mapping[str, Mapping[str, Any]]  # per-platform metadata (stable app ids, ...)

    def __repr__(self) -> str:
        return f"Plugin(root={str(self.root)!r}, id={self.id!r}, version={self.version!r})"

    @property
    def user_agent(self) -> str:
        return f"{self.id}/{self.version}"

    @property
    def schema_paths(self) -> List[str]:
        """Every schema file the manifest references, asset first."""
        paths = [self.asset.schema_path]
        for action in self.actions.values():
            paths += [action.input_schema_path, action.output_schema_path]
        return paths


def _location(path: Any) -> str:
    parts = [str(p) for p in path]
    return ".".join(parts) if parts else "(top level)"


def _parse_manifest(root: Path, cached: bool = True) -> Any:
    """plugin.yaml parsed: from the parsed cache when its bytes are unchanged (``cached``), else
    by PyYAML. The cache sits beside Python's bytecode cache, with the same trust: it is used
    only for the exact bytes it was made from, and what it gives is validated like a parse."""
    try:
        data = (root / MANIFEST).read_bytes()
    except FileNotFoundError:
        raise ManifestError([f"{MANIFEST}: not found in {root}."]) from None
    digest = hashlib.sha256(data).hexdigest()
    cache = root / PARSED_CACHE.format(digest=digest[:32])
    if cached:
        entry = _read_regular_json(cache)
        if isinstance(entry, dict) and entry.get("sha256") == digest and "manifest" in entry:
            return entry["manifest"]
    try:
        manifest = load_yaml(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ManifestError([f"{MANIFEST}: not valid UTF-8."]) from None
    except Exception as exc:  # a yaml.YAMLError (PyYAML is imported only on this path)
        import yaml

        if not isinstance(exc, yaml.YAMLError):
            raise
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ManifestError([f"{MANIFEST}: not valid YAML{where}."]) from None
    if cached:
        _store_parsed(cache, digest, manifest)
    return manifest


def _read_regular_json(path: Path) -> Any:
    """A JSON document from a regular file; None for anything else (missing, a FIFO, broken).
    Opened non-blocking, so a FIFO at the path cannot hang the run."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            return json.loads(handle.read(CACHE_LIMIT))
        except (OSError, ValueError):
            return None


def _store_parsed(cache: Path, digest: str, manifest: Any) -> None:
    """Best effort: only JSON-exact manifests, atomically, never failing the run; older entries
    and temporary files left by a run that died are removed."""
    if sys.dont_write_bytecode:
        return
    try:
        text = json.dumps({"sha256": digest, "manifest": manifest}, ensure_ascii=False)
        if json.loads(text)["manifest"] != manifest:
            return  # YAML gave something JSON does not keep (int keys, dates): parse every time
        cache.parent.mkdir(exist_ok=True)
        for old in cache.parent.glob("plugin.yaml.*"):
            if old.name != cache.name and not _young_temporary(old):
                old.unlink()
        temporary = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
        try:
            temporary.write_text(text, encoding="utf-8")
            os.replace(temporary, cache)
        finally:
            if temporary.exists():
                temporary.unlink()
    except (OSError, TypeError, ValueError):
        pass


def _young_temporary(path: Path) -> bool:
    """A temporary file another run may still be writing (under a minute old)."""
    try:
        return path.suffix == ".tmp" and time.time() - path.stat().st_mtime < 60
    except OSError:
        return False


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


def read_documents(
    root: os.PathLike[str] | str = PLUGIN_ROOT, cached: bool = True
) -> Tuple[Any, Dict[str, Any]]:
    """plugin.yaml parsed, and every JSON document it references (meta-schema included) by
    relative path: all that ``plugin_from_data`` needs. ``cached=False`` parses plugin.yaml
    even when the parsed cache holds it (the lint does). Raises ManifestError."""
    root = Path(root)
    manifest = _parse_manifest(root, cached)
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
    if compile_predicate(meta)(manifest):  # jsonschema only when it may have something to say
        return
    errors = sorted(validator_for(meta).iter_errors(manifest), key=lambda e: list(e.path))
    problems = [f"{MANIFEST}: {_location(e.absolute_path)}: {e.message}" for e in errors]
    if problems:
        raise ManifestError(problems)


def plugin_from_data(
    manifest: Any, documents: Documents, root: os.PathLike[str] | str = PLUGIN_ROOT
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
        id=asset["id"],
        title=asset["title"],
        description=asset["description"],
        schema_path=asset["schema"],
        schema=documents[asset["schema"]],
        connector=asset["connector"],
        secrets=tuple(asset["secrets"]),
        test=asset.get("test", ""),
        root=root,
    )
    actions = {
        action_id: ActionSpec(
            id=action_id,
            title=spec["title"],
            description=spec["description"],
            method=spec["method"],
            path=spec["path"],
            class_ref=spec["class"],
            input_schema_path=spec["input_schema"],
            input_schema=documents[spec["input_schema"]],
            output_schema_path=spec["output_schema"],
            output_schema=documents[spec["output_schema"]],
            root=root,
        )
        for action_id, spec in manifest["actions"].items()
    }
    icons = {int(size): path for size, path in (manifest.get("icons") or {}).items()}
    platforms = manifest.get("platforms") or {}
    return Plugin(
        root=root,
        id=manifest["id"],
        title=manifest["title"],
        version=manifest["version"],
        vendor=manifest["vendor"],
        description=manifest["description"],
        icon=manifest["icon"],
        icons=MappingProxyType(dict(sorted(icons.items()))),
        asset=asset_spec,
        actions=MappingProxyType(actions),
        platforms=MappingProxyType({k: MappingProxyType(dict(v)) for k, v in platforms.items()}),
    )


def load_plugin(root: os.PathLike[str] | str = PLUGIN_ROOT, cached: bool = True) -> Plugin:
    """Read and validate plugin.yaml under ``root``; raise ManifestError listing every problem."""
    manifest, documents = read_documents(root, cached)
    return plugin_from_data(manifest, documents, root)
