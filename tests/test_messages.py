"""Messages are written for people: words from the schemas (never a regex), suggestions for typos,
the template's placeholders recognised, output errors in the language of data."""

from __future__ import annotations

import logging
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from framework.errors import InputError
from framework.runner import check_output, prepare_asset, prepare_inputs, run_action
from tests.support import SEED_THREAT, TOKEN


def inputs(**parameters: Any) -> Dict[str, Any]:
    return {"path_parameters": {"threat_id": SEED_THREAT}, "parameters": parameters}


@pytest.fixture()
def action(plugin):
    return plugin.actions["get_threat_events"]


def problems(call: Any, *args: Any) -> List[str]:
    with pytest.raises(InputError) as caught:
        call(*args)
    return caught.value.problems


def patterns(node: Any, where: str = "") -> Iterator[Tuple[str, Dict[str, Any]]]:
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            yield where, node
        for key, value in node.items():
            yield from patterns(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from patterns(value, f"{where}/{index}")


def test_every_pattern_in_the_schemas_has_words(plugin) -> None:
    """The schemas whose errors users read (plugin.schema.json is the developers' check)."""
    schemas = {"asset": plugin.asset.schema}
    for action in plugin.actions.values():
        schemas.update({f"{action.id} inputs": action.input_schema})
        schemas.update({f"{action.id} output": action.output_schema})
    found = 0
    for name, root in schemas.items():
        for where, schema in patterns(root):
            found += 1
            words = schema.get("x-expected")
            assert isinstance(words, str) and words, f"{name}: {where}: a pattern without words"
    assert found >= 5


@pytest.mark.parametrize(
    ("asset_change", "field", "words"),
    [
        (
            {"url": "usea1-acme.sentinelone.net"},
            "url",
            "expected a URL starting with https:// (http:// only for a loopback host), "
            "e.g. https://usea1-acme.sentinelone.net.",
        ),
        ({"http_proxy": "proxy:3128"}, "http_proxy", "a proxy URL starting with http://"),
        ({"api_token": "tok en"}, "api_token", "a token of printable characters without spaces"),
    ],
)
def test_asset_pattern_errors_are_worded(plugin, asset_change, field, words) -> None:
    asset = {"url": "https://x.example", "api_token": TOKEN, **asset_change}
    (problem,) = problems(prepare_asset, plugin, asset)
    assert problem.startswith(f"{field}: got ")
    assert words in problem
    assert "matching" not in problem and "^" not in problem and "[" not in problem


@pytest.mark.parametrize(
    ("value", "field", "words"),
    [
        ({"path_parameters": {"threat_id": "12a"}}, "path_parameters.threat_id", "decimal digit"),
        (inputs(eventTypes=["a,b"]), "parameters.eventTypes[0]", "an event type name without"),
        (inputs(eventSubTypes=["a,b"]), "parameters.eventSubTypes[0]", "a sub-type name without"),
    ],
)
def test_input_pattern_errors_are_worded(action, value, field, words) -> None:
    (problem,) = problems(prepare_inputs, action, value)
    assert problem.startswith(f"{field}: got ") and words in problem
    assert "matching" not in problem and "^" not in problem and "[^" not in problem


def test_output_errors_do_not_mention_input_coercion(action) -> None:
    envelope = {"status_code": 200, "reason": "OK", "json_body": {"data": "x"}}
    envelope["response_headers"] = {}
    problem = check_output(action, envelope)
    assert problem is not None
    assert problem.problems == ['json_body.data: got "x"; expected a list.']
    assert "comma-separated" not in str(problem)


ERRORS = [{"code": 4010010, "detail": None, "title": "Authentication Failed"}]


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (401, {"errors": ERRORS, "data": None, "pagination": None}),
        (403, {"errors": [{"code": 4030010, "detail": None, "title": "Forbidden"}], "data": None}),
        (404, {"code": 4040010, "detail": "Threat not found", "title": "Resource not found"}),
        (500, None),
        (502, ["html", "from", "a", "proxy"]),
        (429, {"errors": ERRORS, "data": [{"id": "1"}], "pagination": {"nextCursor": "c"}}),
    ],
)
def test_output_schema_accepts_what_sentinelone_sends_on_errors(action, status, body) -> None:
    envelope = {"status_code": status, "reason": "x", "json_body": body, "response_headers": {}}
    assert check_output(action, envelope) is None


@pytest.mark.parametrize(
    ("envelope", "problem"),
    [
        (
            {"status_code": 200, "reason": "OK", "json_body": {"data": None}},
            "json_body.data: got null; expected a list.",
        ),
        ({"reason": "OK", "json_body": {}}, "status_code: missing; expected an integer"),
        (
            {"status_code": 401, "reason": "x", "json_body": {"errors": "bad"}},
            'json_body.errors: got "bad"; expected a list.',
        ),
    ],
)
def test_output_schema_still_checks_pages_and_the_envelope(action, envelope, problem) -> None:
    envelope = {"response_headers": {}, **envelope}
    error = check_output(action, envelope)
    assert error is not None
    assert any(p.startswith(problem) for p in error.problems), error.problems


def test_unknown_keys_get_a_suggestion(action) -> None:
    (problem,) = problems(prepare_inputs, action, inputs(limt=5))
    assert problem.startswith("parameters.limt: unknown input (did you mean limit?); expected only")


def test_unknown_asset_key_gets_a_suggestion(plugin) -> None:
    asset = {"url": "https://x.example", "api_token": TOKEN, "verify_sll": False}
    (problem,) = problems(prepare_asset, plugin, asset)
    assert "verify_sll: unknown asset field (did you mean verify_ssl?); expected only" in problem


def test_a_top_level_threat_id_suggests_where_it_belongs(plugin) -> None:
    """Issue 21 (friction): the key one level too high is named where it belongs."""
    action = plugin.actions["get_threat_events"]
    found = problems(prepare_inputs, action, {"threat_id": "1", "path_parameters": {}})
    unknown = [p for p in found if p.startswith("threat_id:")]
    hint = "threat_id: unknown input (did you mean path_parameters.threat_id?)"
    assert unknown[0].startswith(hint)


def test_enum_typos_get_a_suggestion(action) -> None:
    (problem,) = problems(prepare_inputs, action, inputs(sortOrder="dsc"))
    assert (
        problem
        == 'parameters.sortOrder: got "dsc"; expected one of asc, desc (did you mean desc?).'
    )


def test_an_event_type_close_to_a_known_one_is_refused(action) -> None:
    (problem,) = problems(prepare_inputs, action, inputs(eventTypes="file, proces"))
    assert problem.startswith(
        'parameters.eventTypes[1]: got "proces"; expected one of the known values events, file, '
        "ip, url, dns, process, registry, "
    )
    assert problem.endswith(" (did you mean process?).")


def test_an_event_type_far_from_every_known_one_is_sent_with_a_warning(
    plugin, asset, sim, caplog
) -> None:
    caplog.set_level(logging.WARNING)
    envelope = run_action(
        plugin, "get_threat_events", asset, inputs(eventTypes=["process", "cross_process"])
    )
    assert isinstance(envelope["status_code"], int)  # the simulator knows only today's types
    assert sim.requests()[0]["params"]["eventTypes"] == ["process,cross_process"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any('eventTypes[1]: "cross_process" is not a known value' in w for w in warnings)


def test_the_known_event_types_are_the_ones_the_description_lists(action) -> None:
    schema = action.input_schema["properties"]["parameters"]["properties"]["eventTypes"]
    listed = schema["description"].split("Known types: ")[1].split(".")[0].split(", ")
    assert listed == schema["items"]["x-known"]


def test_max_events_without_follow_cursor_is_a_warning(action, caplog) -> None:
    caplog.set_level(logging.WARNING)
    prepare_inputs(action, {**inputs(), "max_events": "500", "follow_cursor": "false"})
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["max_events is ignored unless follow_cursor is true."]
    caplog.clear()
    prepare_inputs(action, {**inputs(), "max_events": 500, "follow_cursor": True})
    prepare_inputs(action, {**inputs(), "max_events": 10000})  # the default, as platforms fill in
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]


@pytest.mark.parametrize("pasted", ["ApiToken " + TOKEN, "apitoken  " + TOKEN, "Bearer " + TOKEN])
def test_a_pasted_header_prefix_is_named(plugin, pasted) -> None:
    asset = {"url": "https://x.example", "api_token": pasted}
    (problem,) = problems(prepare_asset, plugin, asset)
    prefix = pasted.split(" ")[0]
    assert problem.lower().startswith(f'api_token starts with "{prefix.lower()} "')
    assert "without that prefix" in problem
    assert TOKEN not in problem


@pytest.mark.parametrize("token", ["", "   ", "\n"])
def test_an_empty_token_says_it_is_empty(plugin, token) -> None:
    (problem,) = problems(prepare_asset, plugin, {"url": "https://x.example", "api_token": token})
    assert problem.startswith("api_token is empty; expected ")


def test_placeholders_of_the_asset_template_say_fill_in(plugin) -> None:
    asset = {"url": "https://YOUR-CONSOLE.sentinelone.net", "api_token": TOKEN}
    assert problems(prepare_asset, plugin, asset) == [
        "url still holds the template's placeholder; fill in url."
    ]


@pytest.mark.parametrize("empty", ["", "null", "None", " None "])
def test_templated_empty_cursors_mean_no_cursor(plugin, asset, sim, empty) -> None:
    envelope = run_action(plugin, "get_threat_events", asset, inputs(cursor=empty, limit="5"))
    assert envelope["status_code"] == 200
    assert sim.requests()[0]["params"] == {"limit": ["5"]}


def test_templated_threat_id_is_trimmed(plugin, asset, sim) -> None:
    spaced = {"path_parameters": {"threat_id": f" {SEED_THREAT} \n"}}
    assert run_action(plugin, "get_threat_events", asset, spaced)["status_code"] == 200
    assert sim.requests()[0]["path"] == f"/web/api/v2.1/threats/{SEED_THREAT}/explore/events"


@pytest.mark.parametrize(
    ("name", "limit"),
    [("cursor", 8192), ("eventId", 256), ("processName__like", 1024)],
)
def test_every_string_parameter_has_a_length_limit_named_in_the_error(action, name, limit) -> None:
    (problem,) = problems(prepare_inputs, action, inputs(**{name: "x" * (limit + 1)}))
    assert problem == (
        f"parameters.{name}: got a string of {limit + 1:,} characters; "
        f"expected at most {limit:,} characters."
    )
    prepare_inputs(action, inputs(**{name: "x" * limit}))


def test_every_input_string_is_bounded(action) -> None:
    unbounded = []
    for where, schema in _strings(action.input_schema):
        if "maxLength" not in schema and "enum" not in schema and "pattern" not in schema:
            unbounded.append(where)
    assert unbounded == []


def _strings(node: Any, where: str = "") -> Iterator[Tuple[str, Dict[str, Any]]]:
    if isinstance(node, dict):
        declared = node.get("type", [])
        if "string" in ([declared] if isinstance(declared, str) else declared):
            yield where, node
        for key, value in node.items():
            yield from _strings(value, f"{where}/{key}")


def test_mixed_type_unknown_keys_are_explained(action) -> None:
    got = problems(prepare_inputs, action, {1: "a", "zzz": "b", **inputs()})
    assert got == [
        "1 (integer): unknown input; expected only path_parameters, parameters, follow_cursor, "
        "max_events.",
        "zzz: unknown input; expected only path_parameters, parameters, follow_cursor, max_events.",
    ]


@pytest.mark.parametrize("what", ["asset", "inputs"])
def test_deep_values_are_refused_before_any_walk(plugin, action, what) -> None:
    deep: Any = "x"
    for _ in range(100_000):
        deep = [deep]
    value = {"url": deep} if what == "asset" else {"parameters": {"eventTypes": deep}}
    prepare = (
        (lambda v: prepare_asset(plugin, v))
        if what == "asset"
        else (lambda v: prepare_inputs(action, v))
    )
    assert problems(prepare, value) == [
        "(top level): nests deeper than 32 levels; expected a few levels."
    ]


@pytest.mark.parametrize(
    ("shape", "kind"),
    [([TOKEN], "a list"), (f"S1_API_TOKEN={TOKEN}", "a string"), (7, "an integer")],
)
def test_an_asset_that_is_not_a_mapping_is_described_not_quoted(plugin, shape, kind) -> None:
    (problem,) = problems(prepare_asset, plugin, shape)
    assert problem == f"the asset must be a mapping of field names to values; got {kind}."
