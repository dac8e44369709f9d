"""Why a value is invalid: one sentence per problem naming the field, the value (never a secret)
and what was expected, worded from the schema (``x-expected`` beside every ``pattern``)."""

import difflib
import json
import logging
import math
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from framework.coerce import _types
from framework.errors import InputError

log = logging.getLogger("framework.advice")  # the name its warnings were always logged under
URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")
SHOW_LIMIT = 60
CLOSE_ENOUGH = 0.8  # difflib ratio from which a value is taken for a typo of a known one
KINDS = {  # bool before int: a bool is an int too
    type(None): "null",
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "list",
    dict: "object",
}


def show(value: Any, secret: bool = False) -> str:
    if secret:
        return "a hidden value"
    kind = _kind(value)
    plain = isinstance(value, tuple(KINDS)) and not (
        isinstance(value, float) and not math.isfinite(value)
    )
    try:
        text = json.dumps(value, ensure_ascii=True, default=str) if plain else repr(value)
    except (ValueError, TypeError, RecursionError):
        text = f"a {kind}"
    text = URL_CREDENTIALS.sub("***@", text)
    if len(text) > SHOW_LIMIT:
        text = text[: SHOW_LIMIT - 3] + "..."
    return f"{text} ({kind})" if kind not in ("string", "null") else text


def _kind(value: Any) -> str:
    return next(
        (name for cls, name in KINDS.items() if isinstance(value, cls)), type(value).__name__
    )


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
    if "enum" in schema:
        return "one of " + ", ".join(str(v) for v in schema["enum"] if v is not None)
    if kind in ("integer", "number"):
        word = "an integer" if kind == "integer" else "a number"
        low, above = schema.get("minimum"), schema.get("exclusiveMinimum")
        high = schema.get("maximum")  # every bounded number of the schemas has a maximum
        if high is not None and low is not None:
            return f"{word} from {low:g} to {high:g}"
        if high is not None and above is not None:
            return f"{word} greater than {above:g} and at most {high:g}"
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
    if kind == "string":  # (a pattern or a secret has its x-expected: test_messages.py)
        text = "a non-empty string" if schema.get("minLength") else "a string"
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
    path = list(error.absolute_path)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    instance, keyword, limit = error.instance, error.validator, error.validator_value
    secret = bool(path) and (path[0] in set(secrets) or schema.get("format") == "password")
    secret = secret and instance is not None  # null is no secret: "got null"
    field = _field(path)
    if keyword == "required":
        properties = schema.get("properties", {})  # (jsonschema checks required of objects only)
        return [
            f"{_field([*path, name])}: missing; expected "
            f"{expected(properties.get(name, {}), coercion)}."
            for name in limit
            if name not in instance
        ]
    if keyword == "additionalProperties":
        known = list(schema.get("properties", {}))
        where = field + "." if path else ""
        sentences = []
        noun = "asset field" if what == "asset" else "input"
        # A key that belongs one level down (threat_id for path_parameters.threat_id).
        inside = {
            inner: f"{name}.{inner}"
            for name, sub in schema.get("properties", {}).items()
            if isinstance(sub, Mapping)
            for inner in sub.get("properties") or {}
        }
        for key in [k for k in instance if k not in known]:
            close = _suggest(key, known) or (inside.get(key) if isinstance(key, str) else None)
            hint = f" (did you mean {close}?)" if close else ""
            sentences.append(
                f"{where}{_name(key)}: unknown {noun}{hint}; expected only {', '.join(known)}."
            )
        return sentences
    if keyword == "type" and not path and "object" in _types(schema):
        kind = _kind(instance)  # the shape, never the value
        got = "null" if instance is None else ("an " if kind[0] in "aeiou" else "a ") + kind
        return [f"the {what} must be a mapping of field names to values; got {got}."]
    if keyword == "minLength" and instance == "":
        return [f"{field} is empty; expected {expected(schema, coercion)}."]
    if keyword == "maxLength" and isinstance(instance, str):
        got = "a hidden value" if secret else f"a string of {len(instance):,} characters"
        return [f"{field}: got {got}; expected at most {limit:,} characters."]
    if keyword == "maxItems" and isinstance(instance, list):
        return [f"{field}: got a list of {len(instance):,} items; expected at most {limit:,}."]
    close = _suggest(instance, limit) if keyword == "enum" else None
    hint = f" (did you mean {close}?)" if close else ""
    return [f"{field}: got {show(instance, secret)}; expected {expected(schema, coercion)}{hint}."]


def explain(
    validator: Any,
    instance: Any,
    what: str,
    secrets: Sequence[str] = (),
    coercion: bool = True,
    advice: Optional[Mapping[str, str]] = None,
) -> Optional[InputError]:
    """Every problem jsonschema finds and every piece of ``advice`` (field to sentence, which
    replaces what jsonschema says about that field), as one InputError or None."""
    advice = advice or {}
    problems: List[str] = []
    described = set(advice)  # one sentence per field: the first keyword it fails says it
    errors = validator.iter_errors(instance)
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


def advise(schema: Any, value: Any, path: Sequence[Any] = ()) -> Dict[str, str]:
    """What the ``x-`` annotations jsonschema ignores find (field -> sentence; warnings are
    logged): ``x-known`` (close to a known value: refused with a suggestion; far: a warning),
    ``x-placeholders``, ``x-wrong-prefixes`` (a pasted header), ``x-used-with`` (its sibling)."""
    found: Dict[str, str] = {}
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for key, item in value.items():
            sub = properties.get(key) if isinstance(key, str) else None
            if not isinstance(sub, dict):
                continue
            found.update(advise(sub, item, [*path, key]))
            sibling = sub.get("x-used-with")  # (a default filled in by a platform: no warning)
            ignored = sibling and value.get(sibling) is not True
            if ignored and item not in (None, sub.get("default")):
                log.warning("%s", f"{_field([*path, key])} is ignored unless {sibling} is true.")
        placeholders = [
            key
            for key, sub in properties.items()
            if key in value and value[key] in sub.get("x-placeholders", ())
        ]
        if placeholders:
            names = " and ".join(_field([*path, key]) for key in placeholders)
            verb = "holds" if len(placeholders) == 1 else "hold"
            sentence = f"{names} still {verb} the template's placeholder; fill in {names}."
            found.update((_field([*path, key]), sentence) for key in placeholders)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            found.update(advise(schema["items"], item, [*path, index]))
    elif isinstance(value, str):
        field = _field(path)
        lowered = value.lower()
        for prefix in schema.get("x-wrong-prefixes") or ():
            if lowered.startswith(prefix.lower()) and len(value) > len(prefix):
                found[field] = (
                    f"{field} starts with {json.dumps(prefix)}; give the value alone, "
                    "without that prefix."
                )
                return found
        known = schema.get("x-known")
        if isinstance(known, list) and value and value not in known:
            close = _suggest(value, known)
            listed = ", ".join(map(str, known))
            if close is not None:
                found[field] = (
                    f"{field}: got {show(value)}; expected one of the known values {listed} "
                    f"(did you mean {close}?)."
                )
            else:
                log.warning(
                    "%s",
                    f"{field}: {show(value)} is not a known value ({listed}); it is sent as given.",
                )
    return found
