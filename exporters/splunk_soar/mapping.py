"""How the plugin's schemas map onto Splunk SOAR's fields (shipped as ``src/soar_mapping.py``;
no splunk-soar-sdk import). A SOAR field has one type and shows only a description.
"""

import json
import keyword
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

try:  # in the app: flat.py sits beside this module
    from flat import Field, branch_properties, clashes, input_fields, resolve, types_of
except ModuleNotFoundError:  # in this repository
    from exporters.flat import Field, branch_properties, clashes, input_fields, resolve, types_of

TYPE_ORDER = ("string", "array", "integer", "number", "boolean")
# What the summary of a result holds (name -> type): the datapaths action_result.summary.*.
SUMMARY_FIELDS = {"events_returned": "integer", "total_items": "integer", "next_cursor": "string"}


class MappingError(ValueError):
    """The schemas cannot be mapped onto SOAR fields (one sentence)."""


def kind_of(schema: Mapping[str, Any]) -> str:
    """The one SOAR type of a property (see the module docstring); arrays are strings."""
    types = types_of(schema)
    for name in TYPE_ORDER:
        if name in types:
            return "string" if name == "array" else name
    return "string"


def soar_field(field: Field) -> Dict[str, Any]:
    """What SOAR shows and checks of one flat field (an asset field or a param)."""
    schema = field.schema
    title, text = schema.get("title"), schema.get("description")
    enum = [value for value in schema.get("enum", []) if value is not None]
    return {
        "kind": kind_of(schema),
        "required": field.required,
        "default": schema.get("default"),
        "description": f"{title}: {text}" if title and text else str(title or text or field.name),
        "value_list": enum or None,
        "allow_list": "array" in types_of(schema),  # several comma-separated values
    }


def python_name(name: str) -> Tuple[str, Optional[str]]:
    """(a Python attribute name, the alias the platform uses or None) for a property name."""
    plain = name.isidentifier() and not keyword.iskeyword(name)
    if plain and not name.startswith(("_", "model_")):
        return name, None
    return "f_" + re.sub(r"\W", "_", name), name


def sensitive_fields(fields: List[Field], names: Iterable[str]) -> List[str]:
    """``names``, asset fields SOAR stores encrypted: each must be a string asset field."""
    names = list(names)
    for field in fields:
        if field.name in names and kind_of(field.schema) != "string":
            raise MappingError(f"asset field {field.name}: a sensitive field must be a string.")
    unknown = sorted(set(names) - {field.name for field in fields})
    if unknown:
        raise MappingError(f"sensitive asset field {unknown[0]}: not in the asset schema.")
    return names


def params(input_schema: Mapping[str, Any]) -> List[Field]:
    """The action's params: its inputs flattened (flat.py); two params with one name refused."""
    fields = input_fields(input_schema)
    for first, other in clashes(fields)[:1]:
        where = [f"{f.group}.{f.name}" if f.group else f.name for f in (first, other)]
        raise MappingError(
            f"params {where[0]} and {where[1]}: both would be the flat param {other.name}; "
            "Splunk SOAR params need distinct names."
        )
    return fields


def output_tree(schema: Mapping[str, Any], root: Optional[Mapping[str, Any]] = None) -> Any:
    """Datapaths: ``{"object": {...}}``, ``{"list": tree}``, a kind or None (free keys)."""
    root = schema if root is None else root
    schema = resolve(schema, root)
    properties = branch_properties(schema, root)
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
    """(succeeded, message, summary): ``HTTP 200: 2 events`` or SentinelOne's error detail."""
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


# Advice our schemas give for files (the CLI's YAML and JSON) and what a SOAR user does instead.
ADVICE = {"(quote it in YAML and JSON)": "(a string param: digits only, as SentinelOne shows it)"}


def soar_message(text: str, fields: Iterable[Field]) -> str:
    """Our input error sentences naming params as SOAR shows them, with SOAR's advice."""
    for field in fields:
        if field.group:
            text = re.sub(
                rf"\b{re.escape(field.group)}\.{re.escape(field.name)}\b", field.name, text
            )
    for cli, soar in ADVICE.items():
        text = text.replace(cli, soar)
    return text.replace("invalid inputs: ", "invalid parameters: ")
