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

How: the checks are written as Python source, one function per schema (plus one per subschema
of ``not``, ``anyOf``, ``oneOf``, ``if`` and ``$ref``), with properties and items checked inline,
and compiled once with ``exec``. The closure per keyword that this replaced cost one call per
keyword and value: checking the asset of a warm run took 39 µs with it, 16 µs now. Nothing
from the schema is written into the source (see ``_Compiler``). A schema nested deeper than
Python can indent (about 50 levels of properties) is left to jsonschema.
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
        check = _Compiler(schema).compile()
    except (Unsupported, re.error, TypeError, ValueError, RecursionError, SyntaxError):
        return never  # SyntaxError: too deep for Python to indent

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


# Each JSON type as a test of ``x`` in the generated source (as jsonschema's _types).
TYPE_TESTS: Dict[str, str] = {
    "array": "isinstance({x}, list)",
    "boolean": "isinstance({x}, bool)",
    "integer": "is_integer({x})",
    "null": "{x} is None",
    "number": "is_number({x})",
    "object": "isinstance({x}, dict)",
    "string": "isinstance({x}, str)",
}


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
    """Writes the checks as Python source, keyword after keyword, and runs it through ``exec``
    once. An object's properties and an array's items are checked inline, in the function of
    the schema around them; ``not``, ``anyOf``, ``oneOf``, ``if`` and ``$ref`` call a function
    of their own. A valid instance then costs a few calls, not one per keyword.

    Nothing from the schema is written into the source: every value (names, bounds, patterns,
    enums) is passed in as a constant ``cN``; the source holds only each keyword's fixed code
    and the names ``fN``, ``cN`` and ``xN`` (the value being checked) that the compiler makes."""

    def __init__(self, root: Dict[str, Any]) -> None:
        self.root = root
        self.sources: List[str] = []
        self.scope: Dict[str, Any] = {
            "__builtins__": {},  # the source names only what is listed here
            "bool": bool,
            "dict": dict,
            "equal": equal,
            "is_integer": is_integer,
            "is_number": is_number,
            "isinstance": isinstance,
            "len": len,
            "list": list,
            "str": str,
            "uniq": uniq,
        }
        self.refs: Dict[str, str] = {}
        self.count = 0

    def compile(self) -> Check:
        name = self.function(self.root, root=True)
        exec("\n".join(self.sources), self.scope)  # noqa: S102 - our own source (class doc)
        return self.scope[name]

    def name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def constant(self, value: Any) -> str:
        name = self.name("c")
        self.scope[name] = value
        return name

    def function(self, schema: Any, root: bool = False, name: str = "") -> str:
        """The name of a function ``fN(x) -> bool`` that checks ``schema`` (written once)."""
        name = name or self.name("f")
        lines = "".join(f"    {line}\n" for line in self.body(schema, "x", root))
        self.sources.append(f"def {name}(x):\n{lines}    return True\n")
        return name

    def body(self, schema: Any, x: str, root: bool = False) -> List[str]:
        """Statements that ``return False`` unless the value named ``x`` is valid."""
        if schema is True or schema is False:
            return [] if schema else ["return False"]
        if not isinstance(schema, dict):
            raise Unsupported("a schema is an object or a boolean")
        lines: List[str] = []
        for keyword, value in schema.items():
            if keyword in ANNOTATIONS or keyword.startswith("x-"):
                continue  # x-...: this plugin's annotations (words for messages); jsonschema too
            if (keyword in ("$schema", "$id") and root) or keyword in ("then", "else"):
                continue  # then/else: read by kw_if (alone, jsonschema ignores them as well)
            if keyword == "$ref":
                lines.append(f"if not {self.ref(value)}({x}): return False")
                continue
            method = getattr(self, "kw_" + keyword, None) if keyword.isalpha() else None
            if method is None:
                raise Unsupported(keyword)
            lines.extend(method(value, schema, x))
        return lines

    def _nested(self, schema: Any, x: str, depth: int) -> List[str]:
        """``body`` of a subschema, indented ``depth`` levels."""
        return [" " * 4 * depth + line for line in self.body(schema, x)]

    # -- any instance -------------------------------------------------------------------------
    def kw_type(self, value: Any, schema: Dict[str, Any], x: str) -> List[str]:
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names or not set(names) <= TYPES:
            raise Unsupported("type")
        tests = " or ".join(TYPE_TESTS[name].format(x=x) for name in names)
        return [f"if not ({tests}): return False"]

    def kw_enum(self, value: Any, schema: Dict[str, Any], x: str) -> List[str]:
        if not isinstance(value, list):
            raise Unsupported("enum")
        each = self.name("x")
        return [
            f"for {each} in {self.constant(value)}:",
            f"    if equal({each}, {x}): break",
            "else: return False",
        ]

    def kw_const(self, value: Any, schema: Dict[str, Any], x: str) -> List[str]:
        return [f"if not equal({x}, {self.constant(value)}): return False"]

    def ref(self, value: Any) -> str:
        if not isinstance(value, str) or not value.startswith("#") or "%" in value:
            raise Unsupported("$ref: only local JSON pointers")
        if value not in self.refs:
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
            self.refs[value] = self.name("f")  # named first: a recursive schema calls itself
            self.function(target, root=target is self.root, name=self.refs[value])
        return self.refs[value]

    def kw_not(self, value: Any, schema: Dict[str, Any], x: str) -> List[str]:
        return [f"if {self.function(value)}({x}): return False"]

    def kw_allOf(self, value: Any, schema: Dict[str, Any], x: str) -> List[str]:
        return [f"if not {name}({x}): return False" for name in self._schemas(value)]

    def kw_anyOf(self, value: Any, schema: Dict[str, Any], x: str) -> List[str]:
        calls = " or ".join(f"{name}({x})" for name in self._schemas(value))
        return [f"if not ({calls}): return False"]

    def kw_oneOf(self, value: Any, schema: Dict[str, Any], x: str) -> List[str]:
        calls = ", ".join(f"{name}({x})" for name in self._schemas(value))
        return [f"if [{calls}].count(True) != 1: return False"]

    def kw_if(self, value: Any, schema: Dict[str, Any], x: str) -> List[str]:
        condition = self.function(value)
        then = self.function(schema.get("then", True))
        otherwise = self.function(schema.get("else", True))
        return [f"if not ({then}({x}) if {condition}({x}) else {otherwise}({x})): return False"]

    def _schemas(self, value: Any) -> List[str]:
        if not isinstance(value, list) or not value:
            raise Unsupported("a non-empty array of schemas")
        return [self.function(item) for item in value]

    # -- objects ------------------------------------------------------------------------------
    def kw_properties(self, value: Any, schema: Dict[str, Any], x: str) -> List[str]:
        if not isinstance(value, dict):
            raise Unsupported("properties")
        lines = []
        for key, sub in value.items():
            item = self.name("x")
            checks = self._nested(sub, item, 2)
            if checks:
                name = self.constant(key)
                lines += [f"    if {name} in {x}:", f"        {item} = {x}[{name}]", *checks]
        return [f"if isinstance({x}, dict):", *lines] if lines else []

    def kw_required(self, value: Any, schema: Dict[str, Any], x: str) -> List[str]:
        if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
            raise Unsupported("required")
        names = self.constant(frozenset(value))
        return [f"if isinstance({x}, dict) and not {x}.keys() >= {names}: return False"]

    def kw_additionalProperties(self, value: Any, schema: Dict[str, Any], x: str) -> List[str]:
        if "patternProperties" in schema:
            raise Unsupported("patternProperties")
        known = schema.get("properties", {})
        if not isinstance(known, dict):
            raise Unsupported("properties")
        if value is True:
            return []
        names = self.constant(frozenset(known))
        if value is False:
            return [f"if isinstance({x}, dict) and not {x}.keys() <= {names}: return False"]
        key, item = self.name("x"), self.name("x")
        checks = self._nested(value, item, 3)
        if not checks:
            return []
        return [
            f"if isinstance({x}, dict):",
            f"    for {key}, {item} in {x}.items():",
            f"        if {key} not in {names}:",
            *checks,
        ]

    def kw_propertyNames(self, value: Any, schema: Dict[str, Any], x: str) -> List[str]:
        return self._each("dict", x, value)

    def kw_minProperties(self, value: Any, schema: Dict[str, Any], x: str) -> List[str]:
        return self._size("dict", x, "<", value)

    def kw_maxProperties(self, value: Any, schema: Dict[str, Any], x: str) -> List[str]:
        return self._size("dict", x, ">", value)

    # -- arrays -------------------------------------------------------------------------------
    def kw_items(self, value: Any, schema: Dict[str, Any], x: str) -> List[str]:
        if "prefixItems" in schema:
            raise Unsupported("prefixItems")
        return self._each("list", x, value)

    def kw_minItems(self, value: Any, schema: Dict[str, Any], x: str) -> List[str]:
        return self._size("list", x, "<", value)

    def kw_maxItems(self, value: Any, schema: Dict[str, Any], x: str) -> List[str]:
        return self._size("list", x, ">", value)

    def kw_uniqueItems(self, value: Any, schema: Dict[str, Any], x: str) -> List[str]:
        if not isinstance(value, bool):
            raise Unsupported("uniqueItems")
        return [f"if isinstance({x}, list) and not uniq({x}): return False"] if value else []

    # -- strings ------------------------------------------------------------------------------
    def kw_minLength(self, value: Any, schema: Dict[str, Any], x: str) -> List[str]:
        return self._size("str", x, "<", value)

    def kw_maxLength(self, value: Any, schema: Dict[str, Any], x: str) -> List[str]:
        return self._size("str", x, ">", value)

    def kw_pattern(self, value: Any, schema: Dict[str, Any], x: str) -> List[str]:
        pattern = self.constant(_LazyPattern(value))
        return [f"if isinstance({x}, str) and {pattern}.search({x}) is None: return False"]

    def kw_format(self, value: Any, schema: Dict[str, Any], x: str) -> List[str]:
        if value not in NO_OP_FORMATS:
            raise Unsupported(f"format {value!r}")
        return []

    # -- numbers: "x < bound" fails minimum, so a NaN passes, as in jsonschema ------------------
    def kw_minimum(self, value: Any, schema: Dict[str, Any], x: str) -> List[str]:
        return self._bound(x, "<", value)

    def kw_maximum(self, value: Any, schema: Dict[str, Any], x: str) -> List[str]:
        return self._bound(x, ">", value)

    def kw_exclusiveMinimum(self, value: Any, schema: Dict[str, Any], x: str) -> List[str]:
        return self._bound(x, "<=", value)

    def kw_exclusiveMaximum(self, value: Any, schema: Dict[str, Any], x: str) -> List[str]:
        return self._bound(x, ">=", value)

    # -- shared shapes --------------------------------------------------------------------------
    def _each(self, kind: str, x: str, schema: Any) -> List[str]:
        """Each item of a list, or each key of a dict, is valid under ``schema``."""
        item = self.name("x")
        checks = self._nested(schema, item, 2)
        return (
            [f"if isinstance({x}, {kind}):", f"    for {item} in {x}:", *checks] if checks else []
        )

    def _size(self, kind: str, x: str, failing: str, value: Any) -> List[str]:
        limit = self.constant(_count(value))
        return [f"if isinstance({x}, {kind}) and len({x}) {failing} {limit}: return False"]

    def _bound(self, x: str, failing: str, value: Any) -> List[str]:
        bound = self.constant(_number(value))
        return [f"if is_number({x}) and {x} {failing} {bound}: return False"]


def compile_or_none(schema: Any) -> Optional[Check]:
    """The compiled predicate, or None when the schema is left to jsonschema alone (tests)."""
    check = compile_predicate(schema)
    return None if check is never else check
