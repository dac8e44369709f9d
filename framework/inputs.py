"""Inputs and asset values: templated strings coerced per schema, then validated with jsonschema.

Playbooks pass templated values, often as strings: "100" for an integer, "true" for a boolean,
"process,file" (or '["process","file"]') for an array. Those are converted by what the schema
declares; anything else fails validation with one sentence per problem naming the field, the
value and what was expected. Secret values are never shown.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

INTEGER_TEXT = re.compile(r"[+-]?[0-9]{1,30}")
NUMBER_TEXT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")
SHOW_LIMIT = 60
PATTERN_WORDS = {  # patterns of our schemas, in words
    "^[^,]+$": "a string without commas",
    "^[0-9]{1,32}$": "a decimal digit string",
}


class InputError(ValueError):
    """Invalid inputs or asset: ``problems`` holds one sentence per problem."""

    def __init__(self, what: str, problems: Sequence[str]) -> None:
        self.what = what
        self.problems = list(problems)
        super().__init__("\n".join(f"invalid {what}: {p}" for p in self.problems))


def _types(schema: Mapping[str, Any]) -> List[str]:
    declared = schema.get("type", [])
    return [declared] if isinstance(declared, str) else list(declared)


def coerce(value: Any, schema: Mapping[str, Any]) -> Any:
    """Convert templated values to the types the schema declares; leave the rest to validation."""
    types = _types(schema)
    if isinstance(value, dict) and "object" in types:
        properties = schema.get("properties", {})
        return {
            key: coerce(item, properties[key]) if key in properties else item
            for key, item in value.items()
        }
    if isinstance(value, str) and "string" not in types:
        text = value.strip()
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
                except ValueError:
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


def apply_defaults(value: Dict[str, Any], schema: Mapping[str, Any]) -> Dict[str, Any]:
    """Fill absent (or null) top-level properties with their schema defaults."""
    filled = dict(value)
    for key, sub in schema.get("properties", {}).items():
        if "default" in sub and filled.get(key) is None:
            filled[key] = sub["default"]
    return filled


# -- messages -------------------------------------------------------------------------------
def show(value: Any, secret: bool = False) -> str:
    """A short, safe rendering of a value for an error message."""
    if secret:
        return "a hidden value"
    if isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=True, default=str)
    elif isinstance(value, str):
        text = json.dumps(value, ensure_ascii=True)
    elif isinstance(value, bool) or value is None:
        text = json.dumps(value)
    elif isinstance(value, float) and not math.isfinite(value):
        text = repr(value)
    else:
        text = json.dumps(value) if isinstance(value, (int, float)) else repr(value)
    text = URL_CREDENTIALS.sub("***@", text)
    if len(text) > SHOW_LIMIT:
        text = text[: SHOW_LIMIT - 3] + "..."
    kind = _kind(value)
    return f"{text} ({kind})" if kind not in ("string", "null") else text


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def expected(schema: Mapping[str, Any]) -> str:
    """What a schema accepts, in words."""
    if "const" in schema:
        return f"exactly {json.dumps(schema['const'])}"
    if "enum" in schema:
        return "one of " + ", ".join(str(v) for v in schema["enum"] if v is not None)
    types = [t for t in _types(schema) if t != "null"]
    kind = types[0] if len(types) == 1 else None
    if kind in ("integer", "number"):
        word = "an integer" if kind == "integer" else "a number"
        low, high = schema.get("minimum"), schema.get("maximum")
        above = schema.get("exclusiveMinimum")
        if low is not None and high is not None:
            return f"{word} from {low:g} to {high:g}"
        if above is not None:
            tail = f" and at most {high:g}" if high is not None else ""
            return f"{word} greater than {above:g}{tail}"
        if low is not None:
            return f"{word} of at least {low:g}"
        return word
    if kind == "boolean":
        return "true or false"
    if kind == "array":
        items = schema.get("items", {})
        what = "strings without commas" if items.get("pattern") == "^[^,]+$" else "values"
        return f"a list of {what} (or one comma-separated string)"
    if kind == "object":
        return "an object"
    if kind == "string":
        if schema.get("format") == "password":
            return "a secret of printable characters without spaces"
        if "pattern" in schema:
            pattern = schema["pattern"]
            words = PATTERN_WORDS.get(pattern, f"a string matching {pattern}")
            example = (schema.get("examples") or [None])[0]
            return f"{words}, e.g. {json.dumps(example)}" if example is not None else words
        if schema.get("minLength"):
            return "a non-empty string"
        return "a string"
    return " or ".join(types) if types else "a valid value"


def _field(path: Iterable[Any]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def describe(error: Any, secrets: Iterable[str] = ()) -> str:
    """One sentence for one jsonschema ValidationError."""
    path = list(error.absolute_path)
    schema = error.schema
    secret = bool(path) and (path[0] in set(secrets) or schema.get("format") == "password")
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "?"
        sub = schema.get("properties", {}).get(missing, {})
        return f"{_field([*path, missing])}: missing; expected {expected(sub)}."
    if error.validator == "additionalProperties":
        known = sorted(schema.get("properties", {}))
        extras = sorted(set(error.instance) - set(known))
        where = _field(path) + "." if path else ""
        return (
            f"{where}{', '.join(map(str, extras))}: unknown input; expected only "
            f"{', '.join(known)}."
        )
    if error.validator == "type" and error.instance is None:
        return f"{_field(path)}: got null; expected {expected(schema)}."
    return f"{_field(path)}: got {show(error.instance, secret)}; expected {expected(schema)}."


def validate(
    validator: Any, instance: Any, what: str, secrets: Iterable[str] = ()
) -> Optional[InputError]:
    secrets = list(secrets)
    errors = sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.path])
    if not errors:
        return None
    problems = []
    for error in errors:
        sentence = describe(error, secrets)
        if sentence not in problems:
            problems.append(sentence)
    return InputError(what, problems)
