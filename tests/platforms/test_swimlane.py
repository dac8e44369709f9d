"""Swimlane Turbine: our export run by Swimlane's ``connector-def-runner`` at its own pins.

(a) declarative: Swimlane's ``Runner`` over our generated asset/1 and action/1 definitions;
(b) override: our ``RunnerOverride`` driven as Turbine's entry script drives it
(turbine_entry.py: stdin in, ``::set-output`` out, ``::set-error`` and exit 1 on failure).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict, Optional

import pytest

import simulator
from tests.platforms.conftest import Run, Vendor, run_vendor
from tests.platforms.venvs import settings
from tests.support import SEED_THREAT, TOKEN, synthetic_threat

ACTION = "get_threat_events"


def turbine(vendor: Vendor, message: Dict[str, Any], tree: Optional[Path] = None) -> Run:
    return run_vendor(
        vendor.python, "turbine_entry.py", [str(tree or vendor.tree), ACTION], message
    )


def declarative(vendor: Vendor, asset: Dict[str, Any], inputs: Dict[str, Any]) -> Run:
    message = {"asset": asset, "inputs": inputs}
    return run_vendor(vendor.python, "swimlane_declarative.py", [str(vendor.tree), ACTION], message)


def seed_inputs() -> Dict[str, Any]:
    return {"path_parameters": {"threat_id": SEED_THREAT}}


def test_vendor_runtime_is_installed_at_its_own_pins(swimlane: Vendor) -> None:
    pinned = settings("swimlane")["runtime"]
    freeze = subprocess.run(
        [str(swimlane.python), "-m", "pip", "freeze"], capture_output=True, text=True, check=True
    ).stdout
    assert pinned.lower().replace("-", "_") in freeze.lower().replace("-", "_")
    assert "requests==2.33.1" in freeze  # the runner's own pin, not ours
    check = subprocess.run(
        [str(swimlane.python), "-m", "pip", "check"], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout


def test_the_tree_holds_exactly_one_override_per_action(swimlane: Vendor) -> None:
    assert [
        p.relative_to(swimlane.tree).as_posix() for p in swimlane.tree.glob(f"**/{ACTION}.py")
    ] == [f"connector/src/{ACTION}.py"]
    assert not list(swimlane.tree.glob("**/runner_override.py"))
    # The plugin's code reaches the runner as ordinary files, no archive imported at run time.
    assert not list(swimlane.tree.glob("**/*.zip"))
    assert (swimlane.tree / "connector/src/plugin_core/framework/runner.py").is_file()


def test_declarative_runner_gets_the_seed_events(swimlane: Vendor, sim: Any) -> None:
    run = declarative(swimlane, {"url": sim.url, "api_token": TOKEN}, seed_inputs())
    assert run.code == 0, run.stderr
    assert run.output["status_code"] == 200
    assert run.output["json_body"]["data"] == simulator.SEED_EVENTS
    assert [r["auth"] for r in sim.requests()] == ["ok"]


def test_override_and_declarative_runner_return_the_same_json_body(
    swimlane: Vendor, sim: Any
) -> None:
    ours = turbine(swimlane, {"url": sim.url, "api_token": TOKEN, **seed_inputs()})
    theirs = declarative(swimlane, {"url": sim.url, "api_token": TOKEN}, seed_inputs())
    assert ours.code == theirs.code == 0, (ours.stderr, theirs.stderr)
    assert ours.output["json_body"] == theirs.output["json_body"]
    assert ours.output["status_code"] == theirs.output["status_code"] == 200
    assert (
        set(ours.output)
        == set(theirs.output)
        == {
            "status_code",
            "reason",
            "json_body",
            "response_headers",
        }
    )


def test_override_runs_the_seed_threat_through_our_runtime(swimlane: Vendor, sim: Any) -> None:
    run = turbine(swimlane, {"url": sim.url, "api_token": TOKEN, **seed_inputs()})
    assert run.code == 0, run.stderr
    assert run.error is None
    assert run.output["status_code"] == 200
    assert run.output["json_body"]["data"] == simulator.SEED_EVENTS
    (request,) = sim.requests()
    assert request["auth"] == "ok"
    assert request["headers"]["User-Agent"] == "s1_threat_events/1.0.0"  # our connector sent it


def test_override_coerces_templated_string_inputs(swimlane: Vendor, sim: Any) -> None:
    message = {
        "url": sim.url,
        "api_token": TOKEN,
        **seed_inputs(),
        "parameters": {"limit": "5", "eventTypes": "process,file"},
    }
    run = turbine(swimlane, message)
    assert run.code == 0, run.stderr
    assert run.output["status_code"] == 200
    (request,) = sim.requests()
    assert request["params"] == {"limit": ["5"], "eventTypes": ["process,file"]}


def test_override_follows_cursors_over_every_event_once(swimlane: Vendor, sim: Any) -> None:
    threat = synthetic_threat(2500)
    message = {
        "url": sim.url,
        "api_token": TOKEN,
        "path_parameters": {"threat_id": threat},
        "follow_cursor": "true",
    }
    run = turbine(swimlane, message)
    assert run.code == 0, run.stderr
    body = run.output["json_body"]
    ids = [event["id"] for event in body["data"]]
    assert len(ids) == len(set(ids)) == 2500
    assert body["pagination"]["nextCursor"] is None
    assert len(sim.requests()) == 3  # pages of 1000


def test_wrong_token_fails_the_action_with_the_envelope(swimlane: Vendor, sim: Any) -> None:
    run = turbine(swimlane, {"url": sim.url, "api_token": "not-the-token-x9", **seed_inputs()})
    assert run.code == 1
    assert run.output is None
    assert run.error["status_code"] == 401
    assert run.error["json_body"]["errors"][0]["code"] == 4010010
    assert [r["auth"] for r in sim.requests()] == ["wrong"]


def test_path_traversal_threat_id_is_refused_before_sending(swimlane: Vendor, sim: Any) -> None:
    message = {"url": sim.url, "api_token": TOKEN, "path_parameters": {"threat_id": "../1"}}
    run = turbine(swimlane, message)
    assert run.code == 1
    assert run.output is None
    assert run.error["name"] == "InputError"
    assert "threat_id" in run.error["message"] and '"../1"' in run.error["message"]
    assert sim.requests() == []


def test_token_stays_out_of_errors_about_the_asset(swimlane: Vendor, sim: Any) -> None:
    # An invalid asset quoting the token next to a bad URL: the error names the field only.
    message = {"url": f"ftp://{TOKEN}@example", "api_token": TOKEN, **seed_inputs()}
    run = turbine(swimlane, message)  # run_vendor asserts the token is in no byte of output
    assert run.code == 1
    assert run.error["name"] == "AssetError"
    assert "url" in run.error["message"]
    assert sim.requests() == []


def test_fields_outside_the_entry_scripts_list_reach_our_asset(
    swimlane: Vendor, tls_sim: Any
) -> None:
    # ca_bundle is not among the fields the entry script moves into the asset: the override
    # takes it back from the inputs, and our connector verifies the certificate with it.
    server, ca_path = tls_sim
    message = {"url": server.url, "api_token": TOKEN, "ca_bundle": ca_path, **seed_inputs()}
    run = turbine(swimlane, message)
    assert run.code == 0, run.stderr
    assert run.output["json_body"]["data"] == simulator.SEED_EVENTS
    without_ca = turbine(swimlane, {"url": server.url, "api_token": TOKEN, **seed_inputs()})
    assert without_ca.code == 1
    assert without_ca.error["name"] == "TransportError"


def test_a_second_override_file_silently_disables_the_override(
    swimlane: Vendor, sim: Any, tmp_path: Path
) -> None:
    # Why the action module is shipped renamed: with two get_threat_events.py in the tree the entry
    # script falls back to the declarative Runner, which never sees api_token (not on its list
    # of asset fields) and sends an empty ApiToken header.
    tree = tmp_path / "tree"
    shutil.copytree(swimlane.tree, tree)
    (tree / "connector" / "lib").mkdir()
    shutil.copy(tree / "connector" / "src" / f"{ACTION}.py", tree / "connector" / "lib")
    run = turbine(swimlane, {"url": sim.url, "api_token": TOKEN, **seed_inputs()}, tree=tree)
    assert run.code == 1
    assert run.error["status_code"] == 401
    (request,) = sim.requests()
    assert request["headers"]["User-Agent"].startswith("python-requests/")


@pytest.mark.parametrize("events", [["process", "file"]])
def test_list_parameters_are_encoded_differently(swimlane: Vendor, sim: Any, events: list) -> None:
    inputs = {**seed_inputs(), "parameters": {"eventTypes": events}}
    assert declarative(swimlane, {"url": sim.url, "api_token": TOKEN}, inputs).code == 0
    assert turbine(swimlane, {"url": sim.url, "api_token": TOKEN, **inputs}).code == 0
    theirs, ours = sim.requests()
    assert theirs["query"] == "eventTypes=process&eventTypes=file"  # repeated keys
    assert ours["query"] == "eventTypes=process,file"  # SentinelOne's comma-separated list


def test_a_page_failing_mid_walk_fails_the_action_with_the_events_so_far(
    swimlane: Vendor, sim: Any
) -> None:
    sim.add_faults([{"kind": "pass", "count": 1}, {"kind": "status", "status": 400}])
    message = {
        "url": sim.url,
        "api_token": TOKEN,
        "path_parameters": {"threat_id": synthetic_threat(2500)},
        "follow_cursor": True,
    }
    run = turbine(swimlane, message)
    assert run.code == 1
    assert run.output is None
    assert run.error["status_code"] == 400
    body = run.error["json_body"]
    assert len(body["data"]) == 1000  # the first page, kept
    assert body["pagination"]["nextCursor"]  # where to resume
    assert body["errors"]


def test_the_entry_scripts_http_proxy_reaches_our_connector(
    swimlane: Vendor, sim: Any, auth_proxy: Any
) -> None:
    # http_proxy is on the entry script's list: it goes to the constructor, credentials and all
    # (PROXY_PASSWORD is among the secrets run_vendor checks every byte of output for).
    proxy_url = auth_proxy.url(with_credentials=True)
    run = turbine(
        swimlane, {"url": sim.url, "api_token": TOKEN, "http_proxy": proxy_url, **seed_inputs()}
    )
    assert run.code == 0, run.stderr
    assert run.output["status_code"] == 200
    assert auth_proxy.seen and auth_proxy.seen[0][0] == "GET"


def test_both_runners_fail_a_401_with_the_same_envelope_keys(swimlane: Vendor, sim: Any) -> None:
    wrong = "not-the-token-x9"
    ours = turbine(swimlane, {"url": sim.url, "api_token": wrong, **seed_inputs()})
    theirs = declarative(swimlane, {"url": sim.url, "api_token": wrong}, seed_inputs())
    assert ours.code == theirs.code == 1
    assert ours.output is None and theirs.output is None
    assert set(ours.error) == set(theirs.error)
    assert ours.error["status_code"] == theirs.error["status_code"] == 401
    assert ours.error["json_body"] == theirs.error["json_body"]


def test_the_declarative_runner_sends_a_threat_id_unchecked(swimlane: Vendor, sim: Any) -> None:
    # A difference the README lists: Swimlane's Runner renders path parameters as given and
    # validates nothing, so "../1" goes out (our override refuses it before sending).
    inputs = {"path_parameters": {"threat_id": "../1"}}
    run = declarative(swimlane, {"url": sim.url, "api_token": TOKEN}, inputs)
    assert run.code == 1  # the simulator has no such route: 404
    assert run.error["status_code"] == 404
    (request,) = sim.requests()
    # requests resolves the dot segment: the call left the threats API altogether.
    assert request["path"] == "/web/api/v2.1/1/explore/events"


def test_a_connection_lost_mid_walk_reports_the_events_so_far(swimlane: Vendor, sim: Any) -> None:
    # max_retries arrives among the inputs (not on the entry script's list) and as a string.
    sim.add_faults([{"kind": "pass", "count": 1}, {"kind": "reset"}])
    message = {
        "url": sim.url,
        "api_token": TOKEN,
        "max_retries": "0",
        "path_parameters": {"threat_id": synthetic_threat(2500)},
        "follow_cursor": True,
    }
    run = turbine(swimlane, message)
    assert run.code == 1
    assert run.output is None
    assert run.error["name"] == "IncompleteFetch"
    partial = run.error["output"]
    assert len(partial["json_body"]["data"]) == 1000
    assert partial["json_body"]["pagination"]["nextCursor"]
    assert len(sim.requests()) == 2  # no retry: max_retries 0 reached our connector
