"""Inputs and asset values: templated strings coerced per schema, then explained when invalid.

Playbooks pass templated values, often as strings: "100" for an integer, "true" for a boolean,
"process,file" (or '["process","file"]') for an array. Those are converted by what the schema
declares; text is trimmed, and where a field may be null, the texts a template renders for
"nothing" mean null: "" always, "null" and "None" where no text could be meant (or where the
schema marks the field ``x-template-null``). Anything else fails with one sentence per problem
naming the field, the value and what was expected. Secret values are never shown.

The words come from the schema. Besides the standard keywords, these annotations (which
jsonschema ignores) are read:

- ``x-expected``: what the field accepts, in words ("a URL starting with https://"); required
  beside every ``pattern`` (a regex is not a message).
- ``x-known``: the values known today for an open-ended string: a value close to a known one is
  refused with a suggestion; one far from all of them is accepted with a warning.
- ``x-placeholders``: the values of a template that mean "not filled in yet".
- ``x-wrong-prefixes``: prefixes that mean a pasted header rather than the value itself.
- ``x-used-with``: the boolean sibling without which this field is ignored (a warning).
- ``x-template-null``: "null" and "None" mean null in this text field too (a cursor, a path).
"""

from __future__ import annotations

import json
import logging
import math
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

INTEGER_TEXT = re.compile(r"[+-]?[0-9]{1,30}")
NUMBER_TEXT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")
NULL_TEXTS = frozenset({"", "null", "None"})  # what templates render for null or an unset value
SHOW_LIMIT = 60
MAX_DEPTH = 32  # inputs and assets are a few levels deep; deeper is refused before any walk
CLOSE_ENOUGH = 0.8  # difflib ratio from which a value is taken for a typo of a known one

log = logging.getLogger(__name__)


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
    if isinstance(value, str):
        text = value.strip()
        if "null" in types and text in NULL_TEXTS and _may_be_null_text(text, types, schema):
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


def _may_be_null_text(text: str, types: List[str], schema: Mapping[str, Any]) -> bool:
    """Whether a templated "nothing" means null here: "" always; "null" and "None" where no
    string could be meant (a number, a boolean, an enum, a list) or where the schema says
    so (``x-template-null``: an opaque cursor, a path). A text search for "null" stays text."""
    return not text or "string" not in types or bool(schema.get("x-template-null"))


def apply_defaults(value: Dict[str, Any], schema: Mapping[str, Any]) -> Dict[str, Any]:
    """Fill absent (or null) top-level properties with their schema defaults."""
    filled = dict(value)
    for key, sub in schema.get("properties", {}).items():
        if "default" in sub and filled.get(key) is None:
            filled[key] = sub["default"]
    return filled


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """True when lists/objects nest more than ``limit`` levels (checked without recursion)."""
    stack: List[Tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth >= limit:
                return True
            for child in node.values() if isinstance(node, dict) else node:
                stack.append((child, depth + 1))
    return False


# -- messages -------------------------------------------------------------------------------
def show(value: Any, secret: bool = False) -> str:
    """A short, safe rendering of a value for an error message."""
    if secret:
        return "a hidden value"
    try:
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
    except (ValueError, TypeError, RecursionError):
        text = f"a {_kind(value)}"
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


def _a(kind: str) -> str:
    return ("an " if kind[:1] in "aeiou" else "a ") + kind


def _name(key: Any) -> str:
    """A key as a field name: text as is (escaped, shortened), anything else shown with its kind."""
    if not isinstance(key, str):
        return show(key)
    text = json.dumps(key, ensure_ascii=True)[1:-1]
    return text if len(text) <= SHOW_LIMIT else text[: SHOW_LIMIT - 3] + "..."


def _suggest(value: Any, choices: Iterable[Any]) -> Optional[str]:
    """The choice closest to ``value`` (ignoring case), if it is close enough to be a typo."""
    if not isinstance(value, str) or not value:
        return None
    import difflib  # only when a message needs it

    by_lower = {str(choice).lower(): str(choice) for choice in choices if choice is not None}
    close = difflib.get_close_matches(value.lower(), list(by_lower), n=1, cutoff=CLOSE_ENOUGH)
    return by_lower[close[0]] if close else None


def expected(schema: Mapping[str, Any], coercion: bool = True) -> str:
    """What a schema accepts, in words (``coercion``: mention the templated forms accepted)."""
    types = [t for t in _types(schema) if t != "null"]
    kind = types[0] if len(types) == 1 else None
    words = schema.get("x-expected")
    if isinstance(words, str):
        if kind == "array" and coercion:
            return f"{words} (or one comma-separated string)"
        example = (schema.get("examples") or [None])[0]
        if kind == "string" and isinstance(example, str) and not schema.get("writeOnly"):
            return f"{words}, e.g. {example}"
        return words
    if "const" in schema:
        return f"exactly {json.dumps(schema['const'])}"
    if "enum" in schema:
        return "one of " + ", ".join(str(v) for v in schema["enum"] if v is not None)
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
        items = schema.get("items")
        strings = isinstance(items, dict) and _types(items) == ["string"]
        what = "a list of strings" if strings else "a list"
        return f"{what} (or one comma-separated string)" if coercion else what
    if kind == "object":
        return "an object"
    if kind == "string":
        if "pattern" in schema:
            return "a string in the format this field requires"  # a schema without x-expected
        text = "a secret" if schema.get("format") == "password" else "a string"
        if schema.get("minLength"):
            text = "a non-empty " + text[2:]
        if isinstance(schema.get("maxLength"), int):
            text += f" of at most {schema['maxLength']:,} characters"
        return text
    return " or ".join(types) if types else "a valid value"


def _field(path: Iterable[Any]) -> str:
    text = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            text += f"[{part}]"
        else:
            text += f".{_name(part)}" if text else _name(part)
    return text or "(top level)"


def describe(
    error: Any, what: str, secrets: Iterable[str] = (), coercion: bool = True
) -> List[str]:
    """The sentences for one jsonschema ValidationError, read from its fields."""
    path = list(error.absolute_path)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    instance, keyword, limit = error.instance, error.validator, error.validator_value
    secret = bool(path) and (path[0] in set(secrets) or schema.get("format") == "password")
    field = _field(path)
    if keyword == "required":
        present = instance if isinstance(instance, dict) else {}
        properties = schema.get("properties", {})
        return [
            f"{_field([*path, name])}: missing; expected "
            f"{expected(properties.get(name, {}), coercion)}."
            for name in limit
            if name not in present
        ]
    if keyword == "additionalProperties":
        known = list(schema.get("properties", {}))
        where = field + "." if path else ""
        sentences = []
        for key in [k for k in instance if k not in known]:
            close = _suggest(key, known)
            hint = f" (did you mean {close}?)" if close else ""
            sentences.append(
                f"{where}{_name(key)}: unknown input{hint}; expected only {', '.join(known)}."
            )
        return sentences
    if keyword == "type" and not path and "object" in _types(schema):
        got = "null" if instance is None else _a(_kind(instance))  # the shape, never the value
        return [f"the {what} must be a mapping of field names to values; got {got}."]
    if keyword == "type" and instance is None:
        return [f"{field}: got null; expected {expected(schema, coercion)}."]
    if keyword == "minLength" and instance == "":
        return [f"{field} is empty; expected {expected(schema, coercion)}."]
    if keyword == "maxLength" and isinstance(instance, str):
        got = "a hidden value" if secret else f"a string of {len(instance):,} characters"
        return [f"{field}: got {got}; expected at most {limit:,} characters."]
    if keyword == "maxItems" and isinstance(instance, list):
        return [f"{field}: got a list of {len(instance):,} items; expected at most {limit:,}."]
    if keyword == "enum":
        close = _suggest(instance, limit)
        hint = f" (did you mean {close}?)" if close else ""
        return [f"{field}: got {show(instance, secret)}; expected {expected(schema)}{hint}."]
    return [f"{field}: got {show(instance, secret)}; expected {expected(schema, coercion)}."]


def explain(
    validator: Any,
    instance: Any,
    what: str,
    secrets: Iterable[str] = (),
    coercion: bool = True,
    advice: Optional[Mapping[str, str]] = None,
) -> Optional[InputError]:
    """Every problem jsonschema finds (if ``validator``) and every piece of ``advice`` (field to
    sentence, which replaces what jsonschema says about that field), as one InputError or None."""
    secrets = list(secrets)
    advice = dict(advice or {})
    problems: List[str] = []
    errors = validator.iter_errors(instance) if validator is not None else []
    described = set(advice)  # one sentence per field: the first keyword it fails says it
    for error in sorted(errors, key=lambda e: [str(p) for p in e.absolute_path]):
        field = _field(error.absolute_path)
        if field in described:
            continue
        if error.validator not in ("required", "additionalProperties"):
            described.add(field)
        for sentence in describe(error, what, secrets, coercion):
            if sentence not in problems:
                problems.append(sentence)
    problems.extend(sentence for sentence in advice.values() if sentence not in problems)
    return InputError(what, problems) if problems else None


def nesting_error(instance: Any, what: str) -> Optional[InputError]:
    if too_deep(instance):
        return InputError(
            what, [f"(top level): nests deeper than {MAX_DEPTH} levels; expected a few levels."]
        )
    return None


# -- advice: what a schema's x- annotations say about a (possibly valid) instance ----------------
class Advice:
    """What a schema's annotations say about an instance (a plain class: a NamedTuple would
    cost its generated source at every start)."""

    __slots__ = ("problems", "warnings")

    def __init__(self) -> None:
        self.problems: Dict[str, str] = {}  # field -> sentence: refused
        self.warnings: List[str] = []  # sentences: accepted, and logged each time it is used


def advise(schema: Mapping[str, Any], instance: Any) -> Advice:
    """The problems and warnings the schema's annotations find (nothing is logged here)."""
    advice = Advice()
    _advise(schema, instance, [], advice)
    return advice


def log_warnings(advice: Advice) -> None:
    for sentence in advice.warnings:
        log.warning("%s", sentence)


ADVICE_KEYS = ("x-placeholders", "x-wrong-prefixes", "x-known", "x-used-with")
_ANNOTATED: Dict[int, Tuple[Any, bool]] = {}


def _annotated(schema: Mapping[str, Any]) -> bool:
    """Whether the schema or one inside it carries an annotation advise() reads (known once per
    schema object, so that a valid run walks only the annotated parts of its inputs)."""
    entry = _ANNOTATED.get(id(schema))
    if entry is None or entry[0] is not schema:
        todo, found = [schema], False
        while todo and not found:
            node = todo.pop()
            if isinstance(node, dict):
                found = any(key in node for key in ADVICE_KEYS)
                todo.extend(node.values())
            elif isinstance(node, list):
                todo.extend(node)
        entry = _ANNOTATED[id(schema)] = (schema, found)
    return entry[1]


def _advise(schema: Any, value: Any, path: List[Any], advice: Advice) -> None:
    if not isinstance(schema, dict) or not _annotated(schema):
        return
    found = advice.problems
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for key, item in value.items():
            sub = properties.get(key) if isinstance(key, str) else None
            if not isinstance(sub, dict) or not _annotated(sub):
                continue
            _advise(sub, item, [*path, key], advice)
            sibling = sub.get("x-used-with")  # (a default filled in by a platform: no warning)
            if (
                isinstance(sibling, str)
                and item not in (None, sub.get("default"))
                and value.get(sibling) is not True
            ):
                field = _field([*path, key])
                advice.warnings.append(f"{field} is ignored unless {sibling} is true.")
        placeholders = [
            key
            for key, sub in properties.items()
            if isinstance(sub, dict)
            and sub.get("x-placeholders")
            and key in value
            and value[key] in sub["x-placeholders"]
        ]
        if placeholders:
            names = " and ".join(_field([*path, key]) for key in placeholders)
            verb = "holds" if len(placeholders) == 1 else "hold"
            found[_field([*path, placeholders[0]])] = (
                f"{names} still {verb} the template's placeholder; fill in {names}."
            )
            for key in placeholders[1:]:
                found[_field([*path, key])] = found[_field([*path, placeholders[0]])]
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            _advise(schema["items"], item, [*path, index], advice)
    elif isinstance(value, str):
        lowered = value.lower()
        for prefix in schema.get("x-wrong-prefixes") or ():
            if lowered.startswith(prefix.lower()) and len(value) > len(prefix):
                field = _field(path)
                found[field] = (
                    f"{field} starts with {json.dumps(prefix)}; give the value alone, "
                    "without that prefix."
                )
                return
        known = schema.get("x-known")
        if isinstance(known, list) and value and value not in known:
            field = _field(path)
            close = _suggest(value, known)
            listed = ", ".join(map(str, known))
            if close is not None:
                found[field] = (
                    f"{field}: got {show(value)}; expected one of the known values {listed} "
                    f"(did you mean {close}?)."
                )
            else:
                advice.warnings.append(
                    f"{field}: {show(value)} is not a known value ({listed}); it is sent as given."
                )
