"""plugin.yaml: load it, validate it against its meta-schema, resolve what it references."""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import sys
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional

from framework.schemacheck import compile_schema

MANIFEST = "plugin.yaml"
META_SCHEMA = "schemas/plugin.schema.json"
PLUGIN_ROOT = Path(__file__).resolve().parent.parent
# The parsed plugin.yaml, as JSON, keyed by the sha256 of its bytes, beside Python's own bytecode
# cache (and under the same rule: not written when sys.dont_write_bytecode is set). It saves
# importing PyYAML on every run; the manifest is still validated on every load.
PARSED_CACHE = "__pycache__/plugin.yaml.{digest}.json"


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


def import_ref(ref: str) -> Any:
    module_name, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module_name), attr)


class AssetSpec:
    # Plain classes rather than dataclasses: importing dataclasses (inspect, ast, dis) and
    # generating their methods costs ~5 ms per process.
    def __init__(
        self,
        id: str,
        title: str,
        schema: Dict[str, Any],
        connector: str,
        secrets: List[str],
        test: str = "",
    ) -> None:
        self.id = id
        self.title = title
        self.schema = schema
        self.connector = connector
        self.secrets = secrets
        self.test = test

    def __repr__(self) -> str:
        return f"AssetSpec(id={self.id!r}, connector={self.connector!r})"

    @cached_property
    def validator(self) -> Any:
        return validator_for(self.schema)

    @cached_property
    def check(self) -> Callable[[Any], bool]:
        """True when an asset is valid (compiled once; see runtime.schemacheck)."""
        return compile_schema(self.schema)

    @cached_property
    def connector_class(self) -> Any:
        return import_ref(self.connector)


class ActionSpec:
    def __init__(
        self,
        id: str,
        title: str,
        description: str,
        method: str,
        path: str,
        class_ref: str,
        input_schema: Dict[str, Any],
        output_schema: Dict[str, Any],
    ) -> None:
        self.id = id
        self.title = title
        self.description = description
        self.method = method
        self.path = path
        self.class_ref = class_ref
        self.input_schema = input_schema
        self.output_schema = output_schema

    def __repr__(self) -> str:
        return f"ActionSpec(id={self.id!r}, class_ref={self.class_ref!r})"

    @cached_property
    def input_validator(self) -> Any:
        return validator_for(self.input_schema)

    @cached_property
    def input_check(self) -> Callable[[Any], bool]:
        """True when inputs are valid (compiled once; see runtime.schemacheck)."""
        return compile_schema(self.input_schema)

    @cached_property
    def output_validator(self) -> Any:
        return validator_for(self.output_schema)

    @cached_property
    def action_class(self) -> Any:
        return import_ref(self.class_ref)


class Plugin:
    def __init__(
        self,
        root: Path,
        manifest: Dict[str, Any],
        asset: AssetSpec,
        actions: Optional[Dict[str, ActionSpec]] = None,
    ) -> None:
        self.root = root
        self.manifest = manifest
        self.asset = asset
        self.actions: Dict[str, ActionSpec] = {} if actions is None else actions

    def __repr__(self) -> str:
        return f"Plugin(root={str(self.root)!r}, id={self.manifest.get('id')!r})"

    @property
    def id(self) -> str:
        return self.manifest["id"]

    @property
    def version(self) -> str:
        return self.manifest["version"]

    @property
    def user_agent(self) -> str:
        return f"{self.id}/{self.version}"


def _location(path: Any) -> str:
    parts = [str(p) for p in path]
    return ".".join(parts) if parts else "(top level)"


def _read_json(root: Path, relative: str, where: str, problems: List[str]) -> Dict[str, Any]:
    try:
        with open(root / relative, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        problems.append(f"{MANIFEST}: {where}: file {relative} does not exist.")
    except ValueError as exc:
        problems.append(f"{relative}: not valid JSON ({exc}).")
    return {}


def _parse_manifest(root: Path) -> Any:
    """plugin.yaml parsed: from the parsed cache when its bytes are unchanged, else by PyYAML."""
    try:
        data = (root / MANIFEST).read_bytes()
    except FileNotFoundError:
        raise ManifestError([f"{MANIFEST}: not found in {root}."]) from None
    digest = hashlib.sha256(data).hexdigest()
    cache = root / PARSED_CACHE.format(digest=digest[:32])
    try:
        with open(cache, encoding="utf-8") as handle:
            cached = json.load(handle)
        if isinstance(cached, dict) and cached.get("sha256") == digest:
            return cached["manifest"]
    except (OSError, ValueError, KeyError):
        pass
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
    _store_parsed(cache, digest, manifest)
    return manifest


def _store_parsed(cache: Path, digest: str, manifest: Any) -> None:
    """Best effort: only JSON-exact manifests, atomically, never failing the run."""
    if sys.dont_write_bytecode:
        return
    try:
        text = json.dumps({"sha256": digest, "manifest": manifest}, ensure_ascii=False)
        if json.loads(text)["manifest"] != manifest:
            return  # YAML gave something JSON does not keep (int keys, dates): parse every time
        cache.parent.mkdir(exist_ok=True)
        for old in cache.parent.glob("plugin.yaml.*.json"):
            old.unlink()
        temporary = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, cache)
    except (OSError, TypeError, ValueError):
        pass


def load_plugin(root: os.PathLike[str] | str = PLUGIN_ROOT) -> Plugin:
    """Read and validate plugin.yaml under ``root``; raise ManifestError listing every problem."""
    root = Path(root)
    manifest = _parse_manifest(root)
    problems: List[str] = []
    meta = _read_json(root, META_SCHEMA, "meta-schema", problems)
    if problems:
        raise ManifestError(problems)
    if not compile_schema(meta)(manifest):  # jsonschema only when it may have something to say
        errors = validator_for(meta).iter_errors(manifest)
        for error in sorted(errors, key=lambda e: list(e.path)):
            problems.append(f"{MANIFEST}: {_location(error.absolute_path)}: {error.message}")
    if problems:
        raise ManifestError(problems)
    asset = manifest["asset"]
    asset_spec = AssetSpec(
        id=asset["id"],
        title=asset["title"],
        schema=_read_json(root, asset["schema"], "asset.schema", problems),
        connector=asset["connector"],
        secrets=list(asset["secrets"]),
        test=asset.get("test", ""),
    )
    actions = {}
    for action_id, spec in manifest["actions"].items():
        where = f"actions.{action_id}"
        actions[action_id] = ActionSpec(
            id=action_id,
            title=spec["title"],
            description=spec["description"],
            method=spec["method"],
            path=spec["path"],
            class_ref=spec["class"],
            input_schema=_read_json(root, spec["input_schema"], f"{where}.input_schema", problems),
            output_schema=_read_json(
                root, spec["output_schema"], f"{where}.output_schema", problems
            ),
        )
    if problems:
        raise ManifestError(problems)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return Plugin(root=root, manifest=manifest, asset=asset_spec, actions=actions)
