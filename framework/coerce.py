"""Templated values ("100", "true", "process,file", '["process"]') coerced to the types a
schema declares; anything else is left for validation to explain."""

import json
import math
import re
from typing import Any, List, Mapping, Tuple

INTEGER_TEXT = re.compile(r"[+-]?[0-9]{1,30}")
NUMBER_TEXT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
NULL_TEXTS = frozenset({"", "null", "None"})  # what templates render for null or an unset value
MAX_DEPTH = 32  # inputs and assets are a few levels deep; deeper is refused before any walk


def _types(schema: Mapping[str, Any]) -> List[str]:
    declared = schema.get("type", [])
    return [declared] if isinstance(declared, str) else list(declared)


def coerce(value: Any, schema: Mapping[str, Any]) -> Any:
    types = _types(schema)
    if isinstance(value, dict) and "object" in types:
        properties = schema.get("properties", {})
        return {
            key: coerce(item, properties[key]) if key in properties else item
            for key, item in value.items()
        }
    if isinstance(value, str):
        text = value.strip()
        # A templated "nothing" is null: "" always; "null" and "None" where no text could be
        # meant, or where the schema says so (x-template-null: a cursor). A search stays text.
        if "null" in types and text in NULL_TEXTS:
            if not text or "string" not in types or schema.get("x-template-null"):
                return None
        if "string" in types:
            return text
        if "integer" in types and INTEGER_TEXT.fullmatch(text):
            return int(text)
        if "number" in types and NUMBER_TEXT.fullmatch(text):
            number = float(text)
            return int(number) if number.is_integer() and abs(number) < 2**53 else number
        if "boolean" in types and text.lower() in ("true", "false"):
            return text.lower() == "true"
        if "array" in types:
            if text.startswith("["):
                try:
                    parsed = json.loads(text)
                except (ValueError, RecursionError):
                    return value
                return coerce(parsed, schema) if isinstance(parsed, list) else value
            return [part.strip() for part in text.split(",") if part.strip()]
        return value
    if isinstance(value, list) and "array" in types and isinstance(schema.get("items"), dict):
        return [coerce(item, schema["items"]) for item in value]
    if isinstance(value, float) and "integer" in types and "number" not in types:
        return int(value) if math.isfinite(value) and value.is_integer() else value
    if isinstance(value, int) and not isinstance(value, bool):
        if "string" in types and not {"integer", "number"} & set(types):
            return str(value)  # YAML reads an unquoted id as an integer; Python keeps it exact
    return value


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether lists/objects nest more than ``limit`` levels (checked without recursion)."""
    stack: List[Tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth >= limit:
                return True
            for child in node.values() if isinstance(node, dict) else node:
                stack.append((child, depth + 1))
    return False
