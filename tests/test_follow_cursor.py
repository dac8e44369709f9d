"""Opt-in cursor following (inputs ``follow_cursor`` and ``max_events``) against the simulator.

The expected events come from the simulator's own event store (``simulator.data``), not from
the plugin: every event exactly once, in the server's order.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest

from actions.get_threat_events import DEFAULT_MAX_EVENTS
from framework.errors import InputError, RunError
from framework.runner import check_output, prepare_inputs, run_action
from simulator.data import EventStore, Selection
from tests.support import SEED_THREAT, run_cli, synthetic_threat, write_json

STORE = EventStore()
DEFAULT_ORDER = Selection()  # no filter, createdAt ascending: the API's default


def server_ids(threat_id: str, selection: Selection = DEFAULT_ORDER) -> List[str]:
    """The ids of a threat's events in the order the simulator serves them."""
    return [row.id for row in STORE.select(threat_id, selection)[1]]


def ids(envelope: Dict[str, Any]) -> List[str]:
    return [event["id"] for event in envelope["json_body"]["data"]]


@pytest.fixture()
def follow(plugin, asset, make_connector):
    """Run Get Threat Events in process over one connector (fast retry backoff)."""
    spec = plugin.actions["get_threat_events"]
    state: Dict[str, Any] = {}

    def run(inputs: Dict[str, Any], **asset_fields: Any) -> Dict[str, Any]:
        connector = make_connector({**asset, **asset_fields})
        state["connector"] = connector
        action = spec.action_class(connector, method=spec.method, path=spec.path)
        return action.run(prepare_inputs(spec, inputs))

    run.state = state  # type: ignore[attr-defined]
    return run


def new_connections(connector: Any, url: str) -> int:
    """How many TCP connections the connector's pools opened (urllib3 counts them)."""
    pools = connector.session.get_adapter(url).poolmanager.pools
    return sum(pools[key].num_connections for key in pools.keys())


def test_off_is_exactly_the_single_request(sim, asset, plugin) -> None:
    base = {"path_parameters": {"threat_id": synthetic_threat(50)}, "parameters": {"limit": 5}}
    plain = run_action(plugin, "get_threat_events", asset, base)
    off = run_action(
        plugin, "get_threat_events", asset, {**base, "follow_cursor": "false", "max_events": 7}
    )
    assert [entry["query"] for entry in sim.requests()] == ["limit=5", "limit=5"]
    assert ids(off) == ids(plain) == server_ids(synthetic_threat(50))[:5]
    assert off["json_body"]["pagination"]["nextCursor"]  # one page, cursor handed back as is


@pytest.mark.parametrize(
    ("events", "limit", "pages"),
    [(0, None, 1), (1, None, 1), (100, 100, 1), (101, 100, 2), (2500, None, 3)],
)
def test_every_event_exactly_once_in_server_order(sim, follow, plugin, events, limit, pages):
    threat = synthetic_threat(events)
    parameters = {"limit": limit} if limit else {}
    inputs = {"path_parameters": {"threat_id": threat}, "parameters": parameters}
    envelope = follow({**inputs, "follow_cursor": True})
    assert envelope["status_code"] == 200
    assert ids(envelope) == server_ids(threat)
    assert envelope["json_body"]["pagination"] == {"nextCursor": None, "totalItems": events}
    seen = sim.requests()
    assert len(seen) == pages
    page = limit or 1000
    assert seen[0]["query"] == f"limit={page}"
    assert all(entry["params"]["limit"] == [str(page)] for entry in seen)
    assert all("cursor" in entry["params"] for entry in seen[1:])
    assert envelope["response_headers"]["X-RQID"] == seen[-1]["rqid"]  # the last page's
    assert check_output(plugin.actions["get_threat_events"], envelope) is None


def test_25000_events_over_one_connection(sim, follow) -> None:
    threat = synthetic_threat(25_000)
    inputs = {"path_parameters": {"threat_id": threat}, "parameters": {"limit": "1000"}}
    envelope = follow({**inputs, "follow_cursor": "true", "max_events": 25_000})
    expected = server_ids(threat)
    assert len(expected) == 25_000
    assert ids(envelope) == expected
    assert envelope["json_body"]["pagination"] == {"nextCursor": None, "totalItems": 25_000}
    assert len(sim.requests()) == 25
    assert new_connections(follow.state["connector"], sim.url) == 1


def test_default_max_events_stops_with_a_resume_cursor(sim, follow) -> None:
    threat = synthetic_threat(25_000)
    envelope = follow({"path_parameters": {"threat_id": threat}, "follow_cursor": True})
    assert DEFAULT_MAX_EVENTS == 10_000
    assert ids(envelope) == server_ids(threat)[:10_000]
    pagination = envelope["json_body"]["pagination"]
    assert pagination["nextCursor"] and pagination["totalItems"] == 25_000


def test_max_events_inside_a_page_resumes_exactly(sim, follow) -> None:
    threat = synthetic_threat(2500)
    expected = server_ids(threat)
    inputs = {"path_parameters": {"threat_id": threat}, "parameters": {"limit": 1000}}
    first = follow({**inputs, "follow_cursor": True, "max_events": 1500})
    assert ids(first) == expected[:1500]
    assert [entry["params"]["limit"] for entry in sim.requests()] == [["1000"], ["500"]]
    cursor = first["json_body"]["pagination"]["nextCursor"]
    assert cursor
    inputs["parameters"]["cursor"] = cursor
    rest = follow({**inputs, "follow_cursor": True, "max_events": 100_000})
    assert ids(rest) == expected[1500:]
    assert rest["json_body"]["pagination"]["nextCursor"] is None


def test_filters_and_sorting_apply_to_every_page(sim, follow) -> None:
    threat = synthetic_threat(3000)
    parameters = {"eventTypes": "process", "sortBy": "createdAt", "sortOrder": "desc"}
    parameters["limit"] = 200
    envelope = follow(
        {"path_parameters": {"threat_id": threat}, "parameters": parameters, "follow_cursor": True}
    )
    selection = Selection(object_types=("process",), sort_by="createdAt", descending=True)
    assert ids(envelope) == server_ids(threat, selection)
    assert len(sim.requests()) > 1
    assert all(entry["params"]["eventTypes"] == ["process"] for entry in sim.requests())


def test_failure_on_page_3_keeps_what_was_read_and_the_cursor(sim, follow, plugin) -> None:
    threat = synthetic_threat(5000)
    sim.add_faults([{"kind": "pass", "count": 2}, {"kind": "status", "status": 500}])
    inputs = {"path_parameters": {"threat_id": threat}, "parameters": {"limit": 1000}}
    envelope = follow({**inputs, "follow_cursor": True})
    seen = sim.requests()
    assert len(seen) == 3
    assert envelope["status_code"] == 500
    assert envelope["response_headers"]["X-RQID"] == seen[2]["rqid"]
    body = envelope["json_body"]
    assert body["errors"][0]["code"] == 5000010  # SentinelOne's error body, kept
    assert ids(envelope) == server_ids(threat)[:2000]
    failed_cursor = seen[2]["params"]["cursor"][0]
    assert body["pagination"] == {"nextCursor": failed_cursor, "totalItems": 5000}
    assert check_output(plugin.actions["get_threat_events"], envelope) is None

    inputs["parameters"]["cursor"] = failed_cursor
    rest = follow({**inputs, "follow_cursor": True})
    assert ids(envelope) + ids(rest) == server_ids(threat)


def test_failure_after_retries_is_the_last_answer(sim, follow) -> None:
    threat = synthetic_threat(3000)
    sim.add_faults([{"kind": "pass", "count": 2}, {"kind": "status", "status": 503, "count": 3}])
    envelope = follow(
        {"path_parameters": {"threat_id": threat}, "follow_cursor": True}, max_retries=2
    )
    assert envelope["status_code"] == 503
    assert len(sim.requests()) == 5  # 2 pages, then page 3 tried 1 + 2 times
    assert len(envelope["json_body"]["data"]) == 2000


def test_first_page_failure_has_no_events_and_no_cursor(sim, follow) -> None:
    envelope = follow(
        {"path_parameters": {"threat_id": SEED_THREAT}, "follow_cursor": True},
        api_token="not-the-token",
    )
    assert envelope["status_code"] == 401
    assert envelope["json_body"]["errors"][0]["title"] == "Authentication Failed"
    assert envelope["json_body"]["data"] == []
    assert envelope["json_body"]["pagination"]["nextCursor"] is None


def test_transport_failure_on_page_3_raises_with_the_partial_envelope(sim, follow) -> None:
    threat = synthetic_threat(3000)
    sim.add_faults([{"kind": "pass", "count": 2}, {"kind": "drop"}])
    with pytest.raises(RunError) as caught:
        follow({"path_parameters": {"threat_id": threat}, "follow_cursor": True}, max_retries=0)
    partial = caught.value.envelope
    assert (caught.value.kind, len(sim.requests())) == ("transport", 3)
    assert len(partial["json_body"]["data"]) == 2000  # every event of the pages that arrived
    assert partial["status_code"] == 200  # the last page that arrived
    assert ids(partial) == server_ids(threat)[:2000]
    assert partial["json_body"]["errors"][0]["title"] == "Transport Error"
    failed_cursor = sim.requests()[2]["params"]["cursor"][0]
    assert partial["json_body"]["pagination"]["nextCursor"] == failed_cursor


def test_cli_transport_failure_exits_3_with_the_partial_envelope(sim, asset, tmp_path) -> None:
    sim.add_faults([{"kind": "pass", "count": 2}, {"kind": "drop"}])
    asset_path = write_json(tmp_path / "a.json", {**asset, "max_retries": 0})
    inputs = {"path_parameters": {"threat_id": synthetic_threat(3000)}, "follow_cursor": True}
    inputs_path = write_json(tmp_path / "in.json", inputs)
    result = run_cli("run", "get_threat_events", "--asset", asset_path, "--inputs", inputs_path)
    assert result.code == 3
    assert len(result.envelope["json_body"]["data"]) == 2000
    assert result.stderr.count("\n") == 1
    assert "2,000 events" in result.stderr and "nextCursor" in result.stderr


def test_cli_follow_validates_output(sim, asset, tmp_path: Path) -> None:
    inputs = {"path_parameters": {"threat_id": synthetic_threat(120)}, "parameters": {"limit": 50}}
    inputs_path = write_json(tmp_path / "in.json", {**inputs, "follow_cursor": True})
    asset_path = write_json(tmp_path / "a.json", asset)
    result = run_cli(
        "run", "get_threat_events", "--asset", asset_path, "--inputs", inputs_path,
        "--validate-output",
    )  # fmt: skip
    assert result.code == 0
    assert ids(result.envelope) == server_ids(synthetic_threat(120))
    assert len(sim.requests()) == 3


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "max_events: got 0 (integer); expected an integer from 1 to 100000."),
        (100_001, "max_events: got 100001 (integer); expected an integer from 1 to 100000."),
        ("lots", 'max_events: got "lots"; expected an integer from 1 to 100000.'),
    ],
)
def test_bad_max_events_is_one_sentence_and_nothing_is_sent(sim, asset, plugin, value, message):
    inputs = {"path_parameters": {"threat_id": SEED_THREAT}, "follow_cursor": True}
    with pytest.raises(InputError) as caught:
        run_action(plugin, "get_threat_events", asset, {**inputs, "max_events": value})
    assert str(caught.value) == f"invalid inputs: {message}"
    assert sim.requests() == []


def test_bad_follow_cursor_names_field_value_and_expectation(sim, asset, tmp_path) -> None:
    inputs = {"path_parameters": {"threat_id": SEED_THREAT}, "follow_cursor": "maybe"}
    result = run_cli(
        "run", "get_threat_events", "--asset", write_json(tmp_path / "a.json", asset),
        "--inputs", write_json(tmp_path / "in.json", inputs),
    )  # fmt: skip
    assert result.code == 2
    assert result.stderr == 'invalid inputs: follow_cursor: got "maybe"; expected true or false.\n'
    assert sim.requests() == []


def test_schema_documents_the_defaults_the_action_uses(plugin) -> None:
    schema = plugin.actions["get_threat_events"].input_schema["properties"]
    assert schema["follow_cursor"]["default"] is False
    assert schema["max_events"]["default"] == DEFAULT_MAX_EVENTS
    assert schema["max_events"]["maximum"] == 100_000  # the cap documented for the platforms
    assert json.dumps(DEFAULT_MAX_EVENTS) in schema["max_events"]["description"]
