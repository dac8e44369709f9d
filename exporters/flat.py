"""Our schemas as flat parameters and back (shipped as ``flat.py`` beside the Splunk SOAR and
Shuffle entry points; imports nothing of ours). An object-valued input gives one field per
property (required when both are); two fields of one name clash; ``nest`` undoes it.
"""

from typing import Any, Dict, Iterable, List, Mapping, NamedTuple, Optional, Tuple


class Field(NamedTuple):
    """One flat parameter; ``group`` is the input that holds it (None: top level or asset)."""

    name: str
    group: Optional[str]
    schema: Mapping[str, Any]
    required: bool


def types_of(schema: Mapping[str, Any]) -> List[str]:
    """The JSON types a schema declares, as a list (none declared: [])."""
    declared = schema.get("type", [])
    return [declared] if isinstance(declared, str) else list(declared)


def kinds_of(schema: Mapping[str, Any]) -> List[str]:
    return [kind for kind in types_of(schema) if kind != "null"]


def resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    """``schema`` with its ``#/$defs/`` reference (if any) inlined, its other keys kept."""
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = root["$defs"][ref[len("#/$defs/") :]]
        return {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def branch_properties(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Dict[str, List]:
    """{property: [subschemas]} from the schema and its allOf conditionals' then/else."""
    found: Dict[str, List[Mapping[str, Any]]] = {}
    parts = [schema]
    for part in schema.get("allOf") or []:
        parts += [part[k] for k in ("then", "else") if isinstance(part.get(k), Mapping)]
    for part in parts:
        for name, sub in (resolve(part, root).get("properties") or {}).items():
            found.setdefault(name, []).append(resolve(sub, root))
    return found


def asset_fields(asset_schema: Mapping[str, Any]) -> List[Field]:
    required = set(asset_schema.get("required", []))
    return [
        Field(name, None, schema, name in required)
        for name, schema in asset_schema.get("properties", {}).items()
    ]


def input_fields(input_schema: Mapping[str, Any]) -> List[Field]:
    required = set(input_schema.get("required", []))
    fields: List[Field] = []
    for key, schema in input_schema.get("properties", {}).items():
        if "object" in types_of(schema) and schema.get("properties"):
            inner = set(schema.get("required", [])) if key in required else set()
            fields += [Field(n, key, s, n in inner) for n, s in schema["properties"].items()]
        else:
            fields.append(Field(key, None, schema, key in required))
    return fields


def clashes(fields: Iterable[Field]) -> List[Tuple[Field, Field]]:
    """(the first field of a name, a later one of the same name), for each later one."""
    first: Dict[str, Field] = {}
    found = []
    for field in fields:
        earlier = first.setdefault(field.name, field)
        if earlier is not field:
            found.append((earlier, field))
    return found


def nest(fields: Iterable[Field], values: Mapping[str, Any]) -> Dict[str, Any]:
    """The action's inputs from flat values; a name that is no field stays top-level."""
    groups = {field.name: field.group for field in fields}
    inputs: Dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            continue
        if groups.get(name):
            inputs.setdefault(groups[name], {})[name] = value
        else:
            inputs[name] = value
    return inputs
