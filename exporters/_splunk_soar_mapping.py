"""How the plugin's schemas map onto Splunk SOAR's flat fields (shipped as ``src/soar_mapping.py``).

Plain data in, plain data out, no splunk-soar-sdk import: the export (exporters/splunk_soar.py)
checks the mapping with it, ``make test`` tests it on every Python we support, and the app
(``src/app.py``) builds the SDK's classes from what it returns.

* A SOAR field has one type: a multi-typed property (``["integer", "null"]``) collapses to the
  first of string, array, integer, number, boolean it allows (untyped: string); an array travels
  as a comma-separated string (our input coercion splits it) and is marked ``allow_list``.
* SOAR shows a field's ``description`` as its label and has no title: ``"Title: description"``.
* Action params are flat: each property of an object-valued input (``path_parameters``,
  ``parameters``) becomes one param named after it, the other inputs (``follow_cursor``) keep
  their names. Two params with one name are refused.
"""

from __future__ import annotations

import json
import keyword
import re
from typing import Any, Dict, Iterable, List, Mapping, NamedTuple, Optional, Tuple

TYPE_ORDER = ("string", "array", "integer", "number", "boolean")
# What the summary of a result holds (name -> type): the datapaths action_result.summary.*.
SUMMARY_FIELDS = {"events_returned": "integer", "total_items": "integer", "next_cursor": "string"}


class Field(NamedTuple):
    """One SOAR asset field or action param, from one schema property."""

    name: str  # the name on the platform: the schema's property name
    group: Optional[str]  # the input object it belongs to (path_parameters, ...), or None
    kind: str  # string, integer, number or boolean (an array is a comma string)
    required: bool
    default: Any
    description: str  # "Title: description"
    value_list: Optional[List[Any]]  # the enum without null
    allow_list: bool  # an array: several comma-separated values
    sensitive: bool = False  # stored encrypted by the platform (asset fields)


class MappingError(ValueError):
    """The schemas cannot be mapped onto flat SOAR fields (one sentence)."""


def types_of(schema: Mapping[str, Any]) -> List[str]:
    declared = schema.get("type")
    if declared is None:
        return []
    return [declared] if isinstance(declared, str) else list(declared)


def kind_of(schema: Mapping[str, Any]) -> str:
    """The one SOAR type of a property (see the module docstring); arrays are strings."""
    types = types_of(schema)
    for name in TYPE_ORDER:
        if name in types:
            return "string" if name == "array" else name
    return "string"


def label(schema: Mapping[str, Any], name: str) -> str:
    title, text = schema.get("title"), schema.get("description")
    if title and text:
        return f"{title}: {text}"
    return str(title or text or name)


def python_name(name: str) -> Tuple[str, Optional[str]]:
    """(a Python attribute name, the alias the platform uses or None) for a property name."""
    plain = name.isidentifier() and not keyword.iskeyword(name)
    if plain and not name.startswith(("_", "model_")):
        return name, None
    return "f_" + re.sub(r"\W", "_", name), name


def _field(
    name: str, group: Optional[str], schema: Mapping[str, Any], required: bool, sensitive: bool
) -> Field:
    enum = [value for value in schema.get("enum", []) if value is not None]
    return Field(
        name=name,
        group=group,
        kind=kind_of(schema),
        required=required,
        default=schema.get("default"),
        description=label(schema, name),
        value_list=enum or None,
        allow_list="array" in types_of(schema),
        sensitive=sensitive,
    )


def asset_fields(schema: Mapping[str, Any], sensitive: Iterable[str]) -> List[Field]:
    """One field per asset property; ``sensitive`` (the secrets and, e.g., a proxy URL that may
    carry credentials) are stored encrypted and must be strings."""
    required = set(schema.get("required", []))
    secret = set(sensitive)
    fields = []
    for name, sub in schema.get("properties", {}).items():
        field = _field(name, None, sub, name in required, name in secret)
        if field.sensitive and field.kind != "string":
            raise MappingError(f"asset field {name}: a sensitive field must be a string.")
        fields.append(field)
    unknown = sorted(secret - {field.name for field in fields})
    if unknown:
        raise MappingError(f"sensitive asset field {unknown[0]}: not in the asset schema.")
    return fields


def flat_params(input_schema: Mapping[str, Any]) -> List[Field]:
    """The action's params, flat, in schema order; refuses two params with one name."""
    top_required = set(input_schema.get("required", []))
    fields: List[Field] = []
    for name, sub in input_schema.get("properties", {}).items():
        if "object" in types_of(sub) and sub.get("properties"):
            inner_required = set(sub.get("required", [])) if name in top_required else set()
            for inner, inner_sub in sub["properties"].items():
                fields.append(_field(inner, name, inner_sub, inner in inner_required, False))
        else:
            fields.append(_field(name, None, sub, name in top_required, False))
    seen: Dict[str, Field] = {}
    for field in fields:
        other = seen.setdefault(field.name, field)
        if other is not field:
            where = [f"{f.group}.{f.name}" if f.group else f.name for f in (other, field)]
            raise MappingError(
                f"params {where[0]} and {where[1]}: both would be the flat param {field.name}; "
                "Splunk SOAR params need distinct names."
            )
    return fields


def unflatten(fields: Iterable[Field], values: Mapping[str, Any]) -> Dict[str, Any]:
    """The action's inputs from flat param values (by platform name); unset (None) left out."""
    inputs: Dict[str, Any] = {}
    for field in fields:
        value = values.get(field.name)
        if value is None:
            continue
        if field.group is None:
            inputs[field.name] = value
        else:
            inputs.setdefault(field.group, {})[field.name] = value
    return inputs


def output_tree(schema: Mapping[str, Any], root: Optional[Mapping[str, Any]] = None) -> Any:
    """The datapaths an output schema describes: ``{"object": {name: tree}}``, ``{"list":
    tree}`` or a kind (string, integer, number, boolean); None for an object with free keys
    (no datapath: its data is still in the result). Properties declared in the ``then``/``else``
    branches of ``allOf`` conditionals count too: their datapaths are merged."""
    root = schema if root is None else root
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        schema = root["$defs"][ref[len("#/$defs/") :]]
    properties: Dict[str, List[Mapping[str, Any]]] = {}
    for branch in _branches(schema):
        for name, sub in (branch.get("properties") or {}).items():
            properties.setdefault(name, []).append(sub)
    if properties:
        tree = {name: _merged([output_tree(sub, root) for sub in _informative(subs)])
                for name, subs in properties.items()}  # fmt: skip
        return {"object": {name: sub for name, sub in tree.items() if sub is not None}}
    types = types_of(schema)
    if "array" in types:
        item = output_tree(schema.get("items") or {}, root)
        return None if item is None else {"list": item}
    if "object" in types:
        return None
    return kind_of(schema)


def _branches(schema: Mapping[str, Any]) -> List[Mapping[str, Any]]:
    """The schema and the then/else branches of its allOf conditionals."""
    parts = [schema]
    for part in schema.get("allOf") or []:
        parts += [part[key] for key in ("then", "else") if isinstance(part.get(key), Mapping)]
    return parts


def _informative(schemas: List[Mapping[str, Any]]) -> List[Mapping[str, Any]]:
    """The subschemas that say more than a title and a description (all, when none does)."""
    keys = ("type", "properties", "$ref", "items", "allOf")
    return [schema for schema in schemas if any(key in schema for key in keys)] or schemas


def _merged(trees: List[Any]) -> Any:
    """One tree from several: objects merged key by key, lists by item; else the first kind."""
    trees = [tree for tree in trees if tree is not None]
    if not trees:
        return None
    objects = [tree["object"] for tree in trees if isinstance(tree, dict) and "object" in tree]
    if objects:
        names = {name: None for obj in objects for name in obj}  # first-seen order
        merged = {name: _merged([obj[name] for obj in objects if name in obj]) for name in names}
        return {"object": {name: sub for name, sub in merged.items() if sub is not None}}
    lists = [tree["list"] for tree in trees if isinstance(tree, dict) and "list" in tree]
    if lists:
        return {"list": _merged(lists)}
    return trees[0]


def _error_detail(envelope: Mapping[str, Any]) -> str:
    body = envelope.get("json_body")
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        for key in ("detail", "title", "code"):
            value = errors[0].get(key)
            if value not in (None, ""):
                return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return str(envelope.get("reason") or "no error detail")


def summary_of(envelope: Mapping[str, Any]) -> Dict[str, Any]:
    body = envelope.get("json_body")
    body = body if isinstance(body, dict) else {}
    data, pagination = body.get("data"), body.get("pagination")
    pagination = pagination if isinstance(pagination, dict) else {}
    return {
        "events_returned": len(data) if isinstance(data, list) else 0,
        "total_items": pagination.get("totalItems"),
        "next_cursor": pagination.get("nextCursor"),
    }


def outcome(envelope: Mapping[str, Any]) -> Tuple[bool, str, Dict[str, Any]]:
    """(succeeded, message, summary) of an action's envelope: a 2xx succeeds with ``HTTP 200:
    2 events``; any other status fails with SentinelOne's error detail, ``HTTP 401: ...``."""
    status = envelope.get("status_code")
    summary = summary_of(envelope)
    if isinstance(status, int) and 200 <= status < 300:
        count = summary["events_returned"]
        return True, f"HTTP {status}: {count} event{'' if count == 1 else 's'}", summary
    return False, f"HTTP {status}: {_error_detail(envelope)}", summary


def python_version(spec: str) -> str:
    """The lowest ``major.minor`` a requires-python spec such as ``>=3.13,<3.14`` allows."""
    match = re.search(r">=\s*([0-9]+\.[0-9]+)", spec) or re.search(r"==\s*([0-9]+\.[0-9]+)", spec)
    if not match:
        raise MappingError(f"python: {spec!r} names no lowest version such as >=3.13.")
    return match.group(1)
