"""A JSON Schema (draft 2020-12) checker compiled once per schema, for the common case: valid.

jsonschema stays the authority and the explainer: ``compile_predicate(schema)`` returns a predicate
that answers True only when jsonschema would report no error for the instance, with the same
semantics keyword by keyword (the code mirrors jsonschema's own ``_keywords``, ``_types`` and
``_utils.equal``/``uniq``).  False means "not shown valid": the caller then runs jsonschema, which
says what is wrong (or, should this checker ever be stricter than jsonschema, accepts).

Only a vocabulary that can be mirrored exactly is compiled: type, enum, const, properties,
required, additionalProperties, propertyNames, minProperties, maxProperties, items, minItems,
maxItems, uniqueItems, minLength, maxLength, pattern, minimum, maximum, exclusiveMinimum,
exclusiveMaximum, not, allOf, anyOf, oneOf, if/then/else, local ``$ref`` ("#/..."), format
"password" (which jsonschema's format checker does not define, so it never fails), annotations,
and keywords starting with ``x-`` (this plugin's annotations, which jsonschema ignores).  A
schema using anything else, or a keyword value jsonschema would choke on, is not compiled: its
predicate always answers False, so that schema is checked by jsonschema alone, exactly as before.

Why: importing jsonschema (referencing, rpds, attrs, the bundled meta-schemas) costs more than
the whole HTTP request of a run, and a run with valid inputs never needs its error messages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Callable, Dict, List, Optional

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
ANNOTATIONS = frozenset(
    {"$comment", "$defs", "title", "description", "examples", "default", "readOnly", "writeOnly",
     "deprecated"}
)  # fmt: skip
NO_OP_FORMATS = frozenset({"password"})  # formats jsonschema's FormatChecker does not define
TYPES = frozenset({"array", "boolean", "integer", "null", "number", "object", "string"})

Check = Callable[[Any], bool]


class Unsupported(Exception):
    """The schema uses something this checker does not mirror exactly."""


def never(instance: Any) -> bool:
    return False


def compile_predicate(schema: Any) -> Check:
    """A predicate: True only if ``instance`` is valid under ``schema`` (see the module doc)."""
    if not isinstance(schema, dict) or schema.get("$schema") != DRAFT_2020_12:
        return never
    try:
        check = _Compiler(schema).compile(schema, root=True)
    except (Unsupported, re.error, TypeError, ValueError):
        return never

    def is_valid(instance: Any) -> bool:
        try:
            return check(instance) is True
        except Exception:  # whatever went wrong, jsonschema decides (and explains)
            return False

    return is_valid


# -- jsonschema's semantics, mirrored -----------------------------------------------------------
def is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    import numbers  # only for exotic instances (Decimal, Fraction): as jsonschema's is_number

    return isinstance(value, numbers.Number)


def is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


TYPE_CHECKS: Dict[str, Check] = {
    "array": lambda value: isinstance(value, list),
    "boolean": lambda value: isinstance(value, bool),
    "integer": is_integer,
    "null": lambda value: value is None,
    "number": is_number,
    "object": lambda value: isinstance(value, dict),
    "string": lambda value: isinstance(value, str),
}


PLAIN_TYPES = {"array": list, "boolean": bool, "null": type(None), "object": dict, "string": str}


def _unbool(element: Any, true: object = object(), false: object = object()) -> Any:
    if element is True:
        return true
    if element is False:
        return false
    return element


def equal(one: Any, two: Any) -> bool:
    """jsonschema._utils.equal: == except that booleans are not numbers, recursively."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return one == two
    if isinstance(one, Sequence) and isinstance(two, Sequence):
        return len(one) == len(two) and all(equal(i, j) for i, j in zip(one, two))
    if isinstance(one, Mapping) and isinstance(two, Mapping):
        return len(one) == len(two) and all(
            key in two and equal(value, two[key]) for key, value in one.items()
        )
    return _unbool(one) == _unbool(two)


def uniq(container: List[Any]) -> bool:
    """jsonschema._utils.uniq."""
    try:
        ordered = sorted(_unbool(i) for i in container)
        for i, j in zip(ordered, ordered[1:]):
            if equal(i, j):
                return False
    except (NotImplementedError, TypeError):
        seen: List[Any] = []
        for e in container:
            e = _unbool(e)
            if any(equal(i, e) for i in seen):
                return False
            seen.append(e)
    return True


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Unsupported("expected a non-negative integer")
    return value


def _number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Unsupported("expected a number")
    return value


class _LazyPattern:
    """``search``: re.search with the pattern compiled on first use (as jsonschema, through
    re's cache); from then on it is the compiled pattern's own method."""

    def __init__(self, pattern: Any) -> None:
        if not isinstance(pattern, str):
            raise Unsupported("pattern must be a string")
        self.pattern = pattern

    def search(self, text: str) -> Any:
        self.search = re.compile(self.pattern).search  # type: ignore[method-assign]
        return self.search(text)


class _Compiler:
    def __init__(self, root: Dict[str, Any]) -> None:
        self.root = root
        self.refs: Dict[str, Check] = {}

    def compile(self, schema: Any, root: bool = False) -> Check:
        if schema is True:
            return lambda instance: True
        if schema is False:
            return never
        if not isinstance(schema, dict):
            raise Unsupported("a schema is an object or a boolean")
        checks: List[Check] = []
        for keyword, value in schema.items():
            if keyword in ANNOTATIONS or keyword.startswith("x-"):
                continue  # x-...: this plugin's annotations (words for messages); jsonschema too
            if (keyword in ("$schema", "$id") and root) or keyword in ("then", "else"):
                continue  # then/else: read by kw_if (alone, jsonschema ignores them as well)
            if keyword == "$ref":
                checks.append(self.ref(value))
                continue
            method = getattr(self, "kw_" + keyword, None) if keyword.isalpha() else None
            if method is None:
                raise Unsupported(keyword)
            checks.append(method(value, schema))
        return _all_of(checks)

    # -- any instance -------------------------------------------------------------------------
    def kw_type(self, value: Any, schema: Dict[str, Any]) -> Check:
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names or not set(names) <= TYPES:
            raise Unsupported("type")
        if not {"integer", "number"} & set(names):  # one isinstance: no bool-is-not-int rule
            classes = tuple(PLAIN_TYPES[name] for name in names)
            return lambda instance: isinstance(instance, classes)
        return _any_of([TYPE_CHECKS[name] for name in names])

    def kw_enum(self, value: Any, schema: Dict[str, Any]) -> Check:
        if not isinstance(value, list):
            raise Unsupported("enum")
        return lambda instance: any(equal(each, instance) for each in value)

    def kw_const(self, value: Any, schema: Dict[str, Any]) -> Check:
        return lambda instance: equal(instance, value)

    def ref(self, value: Any) -> Check:
        if not isinstance(value, str) or not value.startswith("#") or "%" in value:
            raise Unsupported("$ref: only local JSON pointers")
        if value not in self.refs:
            self.refs[value] = never  # placeholder while compiling (recursive schemas)
            target: Any = self.root
            pointer = value[1:]
            if pointer and not pointer.startswith("/"):
                raise Unsupported("$ref: anchors")
            for part in pointer.split("/")[1:] if pointer else []:
                part = part.replace("~1", "/").replace("~0", "~")
                if isinstance(target, dict) and part in target:
                    target = target[part]
                else:
                    raise Unsupported("$ref: unresolvable")
            if isinstance(target, dict) and "$id" in target and target is not self.root:
                raise Unsupported("$ref: a nested $id")
            self.refs[value] = self.compile(target, root=target is self.root)
        refs = self.refs
        return lambda instance: refs[value](instance)

    def kw_not(self, value: Any, schema: Dict[str, Any]) -> Check:
        inner = self.compile(value)
        return lambda instance: not inner(instance)

    def kw_allOf(self, value: Any, schema: Dict[str, Any]) -> Check:
        return _all_of(self._schemas(value))

    def kw_anyOf(self, value: Any, schema: Dict[str, Any]) -> Check:
        return _any_of(self._schemas(value))

    def kw_oneOf(self, value: Any, schema: Dict[str, Any]) -> Check:
        subs = self._schemas(value)
        return lambda instance: sum(1 for sub in subs if sub(instance)) == 1

    def kw_if(self, value: Any, schema: Dict[str, Any]) -> Check:
        condition = self.compile(value)
        then = self.compile(schema.get("then", True))
        otherwise = self.compile(schema.get("else", True))
        return lambda instance: then(instance) if condition(instance) else otherwise(instance)

    def _schemas(self, value: Any) -> List[Check]:
        if not isinstance(value, list) or not value:
            raise Unsupported("a non-empty array of schemas")
        return [self.compile(item) for item in value]

    # -- objects ------------------------------------------------------------------------------
    def kw_properties(self, value: Any, schema: Dict[str, Any]) -> Check:
        if not isinstance(value, dict):
            raise Unsupported("properties")
        subs = [(name, self.compile(sub)) for name, sub in value.items()]
        by_name = dict(subs)

        def check(instance: Any) -> bool:
            if type(instance) is dict:  # its own keys: usually far fewer than the schema's
                for name, item in instance.items():
                    sub = by_name.get(name)
                    if sub is not None and not sub(item):
                        return False
            elif isinstance(instance, dict):  # a subclass: asked as jsonschema asks it
                for name, sub in subs:
                    if name in instance and not sub(instance[name]):
                        return False
            return True

        return check

    def kw_required(self, value: Any, schema: Dict[str, Any]) -> Check:
        if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
            raise Unsupported("required")
        names = frozenset(value)

        def check(instance: Any) -> bool:
            if type(instance) is dict:  # a subclass may answer "in" its own way: ask it
                return instance.keys() >= names
            return not isinstance(instance, dict) or all(name in instance for name in value)

        return check

    def kw_additionalProperties(self, value: Any, schema: Dict[str, Any]) -> Check:
        if "patternProperties" in schema:
            raise Unsupported("patternProperties")
        known = schema.get("properties", {})
        if not isinstance(known, dict):
            raise Unsupported("properties")
        if value is True:
            return lambda instance: True
        if value is False:

            def check(instance: Any) -> bool:
                if type(instance) is dict:  # a subclass may list its keys its own way
                    return instance.keys() <= known.keys()
                return not isinstance(instance, dict) or all(name in known for name in instance)

            return check
        sub = self.compile(value)
        return lambda instance: (
            not isinstance(instance, dict)
            or all(sub(item) for name, item in instance.items() if name not in known)
        )

    def kw_propertyNames(self, value: Any, schema: Dict[str, Any]) -> Check:
        sub = self.compile(value)
        return lambda instance: not isinstance(instance, dict) or all(map(sub, instance))

    def kw_minProperties(self, value: Any, schema: Dict[str, Any]) -> Check:
        least = _count(value)
        return lambda instance: not isinstance(instance, dict) or len(instance) >= least

    def kw_maxProperties(self, value: Any, schema: Dict[str, Any]) -> Check:
        most = _count(value)
        return lambda instance: not isinstance(instance, dict) or len(instance) <= most

    # -- arrays -------------------------------------------------------------------------------
    def kw_items(self, value: Any, schema: Dict[str, Any]) -> Check:
        if "prefixItems" in schema:
            raise Unsupported("prefixItems")
        sub = self.compile(value)
        return lambda instance: not isinstance(instance, list) or all(map(sub, instance))

    def kw_minItems(self, value: Any, schema: Dict[str, Any]) -> Check:
        least = _count(value)
        return lambda instance: not isinstance(instance, list) or len(instance) >= least

    def kw_maxItems(self, value: Any, schema: Dict[str, Any]) -> Check:
        most = _count(value)
        return lambda instance: not isinstance(instance, list) or len(instance) <= most

    def kw_uniqueItems(self, value: Any, schema: Dict[str, Any]) -> Check:
        if not isinstance(value, bool):
            raise Unsupported("uniqueItems")
        if not value:
            return lambda instance: True
        return lambda instance: not isinstance(instance, list) or uniq(instance)

    # -- strings ------------------------------------------------------------------------------
    def kw_minLength(self, value: Any, schema: Dict[str, Any]) -> Check:
        least = _count(value)
        return lambda instance: not isinstance(instance, str) or len(instance) >= least

    def kw_maxLength(self, value: Any, schema: Dict[str, Any]) -> Check:
        most = _count(value)
        return lambda instance: not isinstance(instance, str) or len(instance) <= most

    def kw_pattern(self, value: Any, schema: Dict[str, Any]) -> Check:
        lazy = _LazyPattern(value)
        return lambda instance: not isinstance(instance, str) or lazy.search(instance) is not None

    def kw_format(self, value: Any, schema: Dict[str, Any]) -> Check:
        if value not in NO_OP_FORMATS:
            raise Unsupported(f"format {value!r}")
        return lambda instance: True

    # -- numbers ------------------------------------------------------------------------------
    def kw_minimum(self, value: Any, schema: Dict[str, Any]) -> Check:
        bound = _number(value)
        return lambda instance: not is_number(instance) or not instance < bound

    def kw_maximum(self, value: Any, schema: Dict[str, Any]) -> Check:
        bound = _number(value)
        return lambda instance: not is_number(instance) or not instance > bound

    def kw_exclusiveMinimum(self, value: Any, schema: Dict[str, Any]) -> Check:
        bound = _number(value)
        return lambda instance: not is_number(instance) or not instance <= bound

    def kw_exclusiveMaximum(self, value: Any, schema: Dict[str, Any]) -> Check:
        bound = _number(value)
        return lambda instance: not is_number(instance) or not instance >= bound


def _all_of(checks: List[Check]) -> Check:
    """True when every check is (a loop, not a generator: this runs for every value)."""
    if len(checks) == 1:
        return checks[0]

    def check(instance: Any) -> bool:
        for each in checks:
            if not each(instance):
                return False
        return True

    return check


def _any_of(checks: List[Check]) -> Check:
    if len(checks) == 1:
        return checks[0]

    def check(instance: Any) -> bool:
        for each in checks:
            if each(instance):
                return True
        return False

    return check


def compile_or_none(schema: Any) -> Optional[Check]:
    """The compiled predicate, or None when the schema is left to jsonschema alone (tests)."""
    check = compile_predicate(schema)
    return None if check is never else check
