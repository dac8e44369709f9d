"""Our schemas as flat parameters and back, for the platforms whose parameters are flat (Splunk
SOAR, Shuffle). Shipped beside their entry points as ``flat.py``: plain data, imports nothing of
this project, no platform code.

The one rule:

* the asset's properties are fields, in schema order, required as the asset schema says;
* an action's inputs are flattened in schema order: each property of an object-valued input
  (``path_parameters``, ``parameters``) is one field named after that property, required when
  the input is required and the property is required within it; every other input
  (``follow_cursor``) is one field under its own name;
* two fields with one name clash (``clashes``): the platform's export refuses them;
* flat values go back into their inputs by name (``nest``); None is not set.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, NamedTuple, Optional, Tuple


class Field(NamedTuple):
    """One flat parameter: its name, the input that holds it (None: a top-level input or an
    asset field), its schema and whether it must be given."""

    name: str
    group: Optional[str]
    schema: Mapping[str, Any]
    required: bool


def types_of(schema: Mapping[str, Any]) -> List[str]:
    """The JSON types a schema declares, as a list (none declared: [])."""
    declared = schema.get("type", [])
    return [declared] if isinstance(declared, str) else list(declared)


def asset_fields(asset_schema: Mapping[str, Any]) -> List[Field]:
    required = set(asset_schema.get("required", []))
    return [
        Field(name, None, schema, name in required)
        for name, schema in asset_schema.get("properties", {}).items()
    ]


def input_fields(input_schema: Mapping[str, Any]) -> List[Field]:
    """The action's inputs, flattened (see the module docstring)."""
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
    """The action's inputs from flat values by name, in the values' order: each into its
    input; a name that is no field stays a top-level input (validation names it); None is
    left out."""
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
