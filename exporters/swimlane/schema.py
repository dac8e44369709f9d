"""Our JSON Schemas in the small vocabulary connector-def-runner's README shows: one ``type``
per property, ``$ref`` inlined, ``allOf`` then/else merged, an ``enum`` in the description.
"""

from typing import Any, Dict, List, Mapping, Optional

from exporters.flat import branch_properties, kinds_of, resolve

KEPT = ("title", "description", "default", "format", "examples")


def _merge(schemas: List[Mapping[str, Any]], root: Mapping[str, Any]) -> Dict[str, Any]:
    """One schema from several descriptions of a property: the first's words, every property."""
    merged: Dict[str, Any] = {}
    for schema in schemas:
        for key, value in schema.items():
            if key == "properties":
                merged.setdefault("properties", {})
                for name, sub in value.items():
                    merged["properties"].setdefault(name, []).append(resolve(sub, root))
            elif key == "required":
                merged.setdefault("required", [])
                merged["required"] += [n for n in value if n not in merged["required"]]
            else:
                merged.setdefault(key, value)
    if "properties" in merged:
        merged["properties"] = {n: _merge(subs, root) for n, subs in merged["properties"].items()}
    return merged


def turbine_schema(schema: Mapping[str, Any], root: Optional[Mapping[str, Any]] = None) -> Any:
    root = schema if root is None else root
    schema = resolve(schema, root)
    out: Dict[str, Any] = {key: schema[key] for key in KEPT if key in schema}
    enum = [value for value in schema.get("enum") or [] if value is not None]
    if enum:
        listed = ", ".join(str(value) for value in enum)
        out["description"] = f"{out.get('description', '').rstrip()} One of: {listed}.".lstrip()
    properties = branch_properties(schema, root)
    types = kinds_of(schema) or (["object"] if properties else [])
    if types:  # one type: string when it is one of several
        out["type"] = "string" if len(types) > 1 and "string" in types else types[0]
    if properties:
        out["properties"] = {
            name: turbine_schema(_merge(subs, root), root) for name, subs in properties.items()
        }
    if "required" in schema:
        out["required"] = list(schema["required"])
    extra = schema.get("additionalProperties")
    if extra is not None:
        out["additionalProperties"] = extra if isinstance(extra, bool) else True
    if isinstance(schema.get("items"), Mapping):
        out["items"] = turbine_schema(schema["items"], root)
    return out
