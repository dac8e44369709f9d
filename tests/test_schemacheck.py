"""framework.schemacheck must agree with jsonschema: True only for instances jsonschema accepts.

Differential, property-based: instances are generated from each schema of the plugin (known keys
with values near their constraints, unknown keys, wrong types) and from hand-written schemas that
exercise every compiled keyword; the compiled predicate must equal "jsonschema reports no error"
(it may only ever be stricter where it gives up, and for our schemas it never gives up).
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import partial
from typing import Any, Dict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from framework.manifest import MANIFEST, META_SCHEMA, PLUGIN_ROOT, load_yaml
from framework.schemacheck import compile_or_none, compile_predicate, equal, uniq
from tests.support import ROOT

DRAFT = "https://json-schema.org/draft/2020-12/schema"
SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def schema_file(name: str) -> Dict[str, Any]:
    return json.loads((PLUGIN_ROOT / "schemas" / name).read_text(encoding="utf-8"))


PLUGIN_SCHEMAS = {
    "asset": schema_file("asset.schema.json"),
    "inputs": schema_file("get_threat_events.input.schema.json"),
    "manifest": schema_file("plugin.schema.json"),
}

scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.sampled_from([0, 1, -1, 10, 1000, 1001, 600, 1024, 100000, 100001, 2**53]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.0, 0.5, 10.0, 600.0, 600.5, 1e-9, 1000.0]),
    st.text(max_size=12),
    st.sampled_from(
        ["", " ", "1569749506546751259", "1/2", "../1", "%2F", "a,b", "process", "asc", "desc",
         "id", "GET", "get", "https://x.example", " http://127.0.0.1:1", "http://", "ftp://x",
         "s1-token", "tok en", "schemas/a.json", "a/../b.json", "x.json", "mod.sub:Class",
         "mod:", "1.0.0", "1.0", "v1.0.0", "abc", "a_b", "A", "48", "048", "1"]
    ),
)  # fmt: skip
value = st.recursive(
    scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def resolve(schema: Any, root: Dict[str, Any]) -> Any:
    """The schema with its local $ref merged in (good enough to generate instances)."""
    while isinstance(schema, dict) and "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part] if part else target
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def shaped(schema: Dict[str, Any], root: Dict[str, Any], depth: int) -> st.SearchStrategy:
    """Instances of the schema's own shape, mostly valid: its types, bounds, patterns, keys."""
    options = []
    for example in schema.get("examples", []):
        options.append(st.just(example))
    if "default" in schema:
        options.append(st.just(schema["default"]))
    if "enum" in schema:
        options.append(st.sampled_from(schema["enum"]))
    if "const" in schema:
        options.append(st.just(schema["const"]))
    declared = schema.get("type", [])
    types = [declared] if isinstance(declared, str) else declared
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    for kind in types:
        if kind == "string":
            least = schema.get("minLength", 0)
            if "pattern" in schema:
                long_enough = partial(lambda n, text: len(text) >= n, least)
                options.append(st.from_regex(schema["pattern"]).filter(long_enough))
            else:
                options.append(st.text(min_size=least, max_size=least + 8))
        elif kind == "integer":
            options.append(st.integers(min_value=low, max_value=high))
            options.append(st.integers(min_value=low, max_value=high).map(float))
        elif kind == "number":
            options.append(st.floats(min_value=low, max_value=high))
            options.append(st.integers(min_value=low, max_value=high))
        elif kind == "boolean":
            options.append(st.booleans())
        elif kind == "null":
            options.append(st.none())
        elif kind == "array" and isinstance(schema.get("items"), dict):
            item = near(schema["items"], root, depth + 1)
            options.append(st.lists(item, min_size=schema.get("minItems", 0), max_size=4))
    properties = schema.get("properties")
    extra = schema.get("additionalProperties")
    if isinstance(properties, dict) or isinstance(extra, dict):
        required = set(schema.get("required", []))
        subs = {name: near(sub, root, depth + 1) for name, sub in (properties or {}).items()}
        names = st.from_regex(r"\A[a-z_]{1,8}\Z") if extra is not False else st.text(max_size=6)
        extras = near(extra, root, depth + 1) if isinstance(extra, dict) else value
        least = 1 if schema.get("minProperties") else 0
        options.append(
            st.tuples(
                st.fixed_dictionaries(
                    {n: subs[n] for n in subs if n in required},
                    optional={n: subs[n] for n in subs if n not in required},
                ),
                st.dictionaries(names, extras, min_size=least, max_size=2),
                st.sampled_from([False, False, True]),
            ).map(lambda t: {**t[0], **t[1]} if t[2] or extra is not False else t[0])
        )
    return st.one_of(options) if options else value


def near(schema: Any, root: Dict[str, Any], depth: int = 0) -> st.SearchStrategy:
    """Instances near the schema: mostly its shape (and mostly valid), sometimes anything."""
    schema = resolve(schema, root)
    if not isinstance(schema, dict) or depth > 5:
        return value
    own = shaped(schema, root, depth)
    return st.one_of(own, own, own, value)


def mutated(document: Any, schema: Dict[str, Any]) -> st.SearchStrategy:
    """A valid document with one node replaced by an instance near that node's schema."""
    spots = []

    def walk(node: Any, sub: Any, path: tuple) -> None:
        sub = resolve(sub, schema)
        spots.append((path, sub))
        if isinstance(node, dict) and isinstance(sub, dict):
            for key, item in node.items():
                props = sub.get("properties", {})
                extra = sub.get("additionalProperties", True)
                walk(item, props.get(key, extra if isinstance(extra, dict) else True), (*path, key))
        if isinstance(node, list) and isinstance(sub, dict):
            for index, item in enumerate(node):
                walk(item, sub.get("items", True), (*path, index))

    walk(document, schema, ())

    def replace(spot: tuple) -> st.SearchStrategy:
        path, sub = spot

        def put(new: Any) -> Any:
            copy = json.loads(json.dumps(document))
            if not path:
                return new
            node = copy
            for key in path[:-1]:
                node = node[key]
            if new is DELETE and isinstance(node, dict):
                del node[path[-1]]
            elif new is not DELETE:
                node[path[-1]] = new
            return copy

        return st.one_of(near(sub, schema), st.just(DELETE)).map(put)

    return st.sampled_from(spots).flatmap(replace)


DELETE = object()


def from_schema(schema: Dict[str, Any], examples: list) -> st.SearchStrategy:
    options = [near(schema, schema)]
    options += [mutated(example, schema) for example in examples for _ in range(3)]
    return st.one_of(options)


COMPILED: Dict[int, Any] = {}


def assert_agrees(schema: Dict[str, Any], instance: Any) -> None:
    if id(schema) not in COMPILED:
        COMPILED[id(schema)] = (compile_predicate(schema), Draft202012Validator(schema), schema)
    check, validator, _ = COMPILED[id(schema)]
    expected = not list(validator.iter_errors(instance))
    assert check(instance) is expected, (instance, expected)


@pytest.mark.parametrize("name", sorted(PLUGIN_SCHEMAS))
def test_every_schema_of_the_plugin_is_compiled(name: str) -> None:
    assert compile_or_none(PLUGIN_SCHEMAS[name]) is not None


@pytest.mark.parametrize("name", sorted(PLUGIN_SCHEMAS))
def test_agrees_with_jsonschema_on_the_plugin_schemas(name: str) -> None:
    schema = PLUGIN_SCHEMAS[name]
    examples = [e for e in schema.get("examples", []) if isinstance(e, dict)]
    if name == "manifest":
        examples.append(load_yaml((ROOT / MANIFEST).read_text(encoding="utf-8")))

    @SETTINGS
    @given(from_schema(schema, examples))
    def agrees(instance: Any) -> None:
        assert_agrees(schema, instance)

    agrees()


def test_the_manifest_and_the_examples_are_accepted() -> None:
    manifest = load_yaml((ROOT / MANIFEST).read_text(encoding="utf-8"))
    assert compile_predicate(schema_file(META_SCHEMA.split("/")[-1]))(manifest)
    inputs = PLUGIN_SCHEMAS["inputs"]
    for example in inputs["examples"]:
        assert compile_predicate(inputs)(example)


KEYWORDS = {
    "type": ["integer", {"type": ["number", "null"]}, {"type": "array"}, {"type": "object"}],
    "enum": [{"enum": [1, "a", None, [1, 2], {"k": True}, False]}],
    "const": [{"const": 1}, {"const": [True, 1]}, {"const": {"a": 1.0}}],
    "numbers": [{"minimum": 1, "maximum": 10.5}, {"exclusiveMinimum": 0, "exclusiveMaximum": 5}],
    "strings": [{"minLength": 2, "maxLength": 3}, {"pattern": "^[0-9]+$"}, {"pattern": "a|b"}],
    "arrays": [{"items": {"type": "string"}, "minItems": 1, "maxItems": 3, "uniqueItems": True}],
    "objects": [
        {"properties": {"a": {"type": "integer"}}, "required": ["a"],
         "additionalProperties": False},
        {"additionalProperties": {"type": "string"}, "minProperties": 1, "maxProperties": 2},
        {"propertyNames": {"pattern": "^[a-z]+$"}},
    ],
    "logic": [
        {"not": {"type": "string"}},
        {"anyOf": [{"type": "integer"}, {"minLength": 3}]},
        {"oneOf": [{"type": "number"}, {"minimum": 5}]},
        {"allOf": [{"type": "string"}, {"not": {"pattern": "\\.\\."}}]},
        {"if": {"type": "string"}, "then": {"minLength": 2}},
        {"if": {"type": "integer"}, "then": {"minimum": 5}, "else": {"type": "array"}},
        {"if": {"properties": {"s": {"minimum": 200}}, "required": ["s"]},
         "then": {"properties": {"b": {"type": "array"}}},
         "else": {"properties": {"b": {"type": ["object", "null"]}}}},
        {"then": {"type": "string"}, "else": {"type": "integer"}},
    ],
    "annotations": [{"x-expected": "words", "x-known": ["a"], "type": "string"}],
    "refs": [
        {"$defs": {"n": {"type": "integer", "minimum": 0}}, "items": {"$ref": "#/$defs/n"}},
        {"$defs": {"t": {"properties": {"next": {"$ref": "#/$defs/t"}}, "type": "object"}},
         "$ref": "#/$defs/t"},
        {"$defs": {"s": {"type": "string"}}, "$ref": "#/$defs/s", "minLength": 2},
        {"items": {"$ref": "#"}, "type": ["array", "integer"]},
    ],
    "booleans": [{"properties": {"a": False, "b": True}}, {"items": False}],
}  # fmt: skip
EDGE_CASES = [1, 1.0, True, False, 0, None, "ab", "a", [1, True], [1, 1.0], [[1], [True]],
              {"a": 1}, {"a": 1.0}, {"a": True}, {}, [], {"k": 1}, "..", float("nan")]  # fmt: skip
HAND_WRITTEN = [dict(schema, **{"$schema": DRAFT}) for group in KEYWORDS.values() for schema in
                [s if isinstance(s, dict) else {"type": s} for s in group]]  # fmt: skip


@pytest.mark.parametrize("schema", HAND_WRITTEN, ids=lambda s: json.dumps(s)[:60])
def test_agrees_with_jsonschema_keyword_by_keyword(schema: Dict[str, Any]) -> None:
    assert compile_or_none(schema) is not None

    @SETTINGS
    @given(value)
    def agrees(instance: Any) -> None:
        assert_agrees(schema, instance)

    agrees()
    for instance in EDGE_CASES:
        assert_agrees(schema, instance)


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string"},  # no $schema: jsonschema alone
        {"$schema": "http://json-schema.org/draft-07/schema#", "type": "string"},
        {"$schema": DRAFT, "format": "email"},  # a format jsonschema checks
        {"$schema": DRAFT, "patternProperties": {"^a": {}}},
        {"$schema": DRAFT, "properties": {"a": {"$id": "x", "type": "string"}}},
        {"$schema": DRAFT, "$ref": "other.json#/x"},
        {"$schema": DRAFT, "$ref": "#/$defs/missing"},
        {"$schema": DRAFT, "minLength": "2"},
        {"$schema": DRAFT, "type": "strin"},
        {"$schema": DRAFT, "ref": "#"},
        {"$schema": DRAFT, "unevaluatedProperties": False},
    ],
)
def test_anything_else_is_left_to_jsonschema(schema: Dict[str, Any]) -> None:
    assert compile_or_none(schema) is None
    assert compile_predicate(schema)("anything") is False


def test_an_invalid_pattern_is_left_to_jsonschema() -> None:
    assert compile_predicate({"$schema": DRAFT, "pattern": "("})("x") is False  # re.error: no


def test_password_is_not_a_format_jsonschema_checks() -> None:
    assert "password" not in Draft202012Validator.FORMAT_CHECKER.checkers


def test_equal_and_uniq_treat_booleans_as_jsonschema_does() -> None:
    assert not equal(1, True) and equal(1, 1.0) and not equal([0], [False])
    assert uniq([1, True]) and not uniq([1, 1.0]) and not uniq([{"a": 1}, {"a": 1}])


def test_a_valid_run_does_not_import_jsonschema(tmp_path: Any) -> None:
    """The point of the compiled checks: jsonschema costs more to import than a request."""
    code = (
        "import sys\n"
        "from framework.manifest import load_plugin\n"
        "from framework.runner import prepare_asset, prepare_inputs\n"
        "plugin = load_plugin()\n"
        "prepare_asset(plugin, {'url': 'https://x.example', 'api_token': 't0k'})\n"
        "prepare_inputs(plugin.actions['get_threat_events'],\n"
        "               {'path_parameters': {'threat_id': '1'}, 'parameters': {'limit': 5}})\n"
        "assert 'jsonschema' not in sys.modules, 'valid inputs imported jsonschema'\n"
        "try:\n"
        "    prepare_inputs(plugin.actions['get_threat_events'], {'bogus': 1})\n"
        "except ValueError as exc:\n"
        "    assert 'bogus' in str(exc)\n"
        "assert 'jsonschema' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


class _Odd(dict):
    """A dict that answers "in" and lists its keys its own way (as jsonschema asks it)."""

    def __contains__(self, key: object) -> bool:
        return False

    def __iter__(self) -> Any:
        return iter(["unknown"])


@pytest.mark.parametrize(
    "schema",
    [
        {"$schema": DRAFT, "required": ["a"]},
        {"$schema": DRAFT, "properties": {"a": {}}, "additionalProperties": False},
    ],
)
def test_a_dict_subclass_is_asked_as_jsonschema_asks_it(schema: Dict[str, Any]) -> None:
    assert_agrees(schema, _Odd(a=1))
