"""Shuffle: our exported app run by shuffle-sdk 0.0.41 as published, in its own venv.

(a) standalone: ``python src/app.py --standalone --action=get_threat_events key=value ...``, the
    result printed after the SDK's marker line;
(b) worker mode: the environment a Shuffle worker gives an app container (ACTION,
    AUTHORIZATION, EXECUTIONID, BASE_URL, CALLBACK_URL) and a small recorder on 127.0.0.1
    standing in for the backend endpoints the SDK posts to (/api/v1/streams/results for the
    execution, /api/v1/streams for the result).

Both against the simulator. No run sets DEBUG (the SDK then logs every parameter): every byte of
output is checked for the token and the proxy password.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Iterator, List, NamedTuple, Optional

import pytest
import yaml

import simulator
from tests.platforms.conftest import Vendor
from tests.platforms.venvs import settings
from tests.support import SECRETS, SEED_THREAT, TOKEN, run_cli, synthetic_threat, write_json

ACTION = "get_threat_events"
WRONG_TOKEN = "not-the-token-x9"
LEAKS = (*SECRETS, WRONG_TOKEN)
MARK = "\n\n===== Successful result From the Function (JSON: True) =====\n\n"
AUTHORIZATION, EXECUTION_ID = "wf-auth-7c1d", "exec-42"
# The smallest execution the SDK accepts from /api/v1/streams/results.
EXECUTION = {
    "execution_id": EXECUTION_ID,
    "start": "node-1",
    "status": "EXECUTING",
    "workflow": {"id": "wf-1", "execution_org": {"id": "org-1"}, "branches": [], "actions": []},
    "results": [],
    "execution_variables": [],
}


class Posted(NamedTuple):
    method: str
    path: str
    headers: Dict[str, str]
    body: bytes


class Backend:
    """Loopback stand-in for Shuffle's backend: records every request, answers the execution
    fetch with EXECUTION and everything else with {"success": true}."""

    def __init__(self) -> None:
        self.seen: List[Posted] = []
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(size)
                backend.seen.append(Posted(self.command, self.path, dict(self.headers), body))
                answer = EXECUTION if self.path == "/api/v1/streams/results" else {"success": True}
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def backend_server() -> Iterator[Backend]:
    server = Backend()
    yield server
    server.close()


@pytest.fixture()
def backend(backend_server: Backend) -> Backend:
    backend_server.seen.clear()
    return backend_server


class Run(NamedTuple):
    stdout: str
    stderr: str
    result: str  # the app's result, as the SDK printed or posted it
    value: Any  # the result parsed


def sdk_env(backend: Backend, **extra: str) -> Dict[str, str]:
    # Only what a worker gives the container: no DEBUG, no proxies, nothing of ours.
    return {
        "PATH": os.environ["PATH"],
        "BASE_URL": backend.url,
        "CALLBACK_URL": backend.url,
        **extra,
    }


def checked(proc: subprocess.CompletedProcess, leaks: bool = False) -> None:
    assert proc.returncode == 0, proc.stderr[-2000:]  # the SDK exits 0 whatever happened
    if not leaks:
        for secret in LEAKS:
            assert secret not in proc.stdout and secret not in proc.stderr, "a secret leaked"
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]


def console(sim: Any) -> Dict[str, str]:
    """The asset's fields for the simulator."""
    return {"url": sim.url, "api_token": TOKEN}


def standalone(
    vendor: Vendor,
    backend: Backend,
    env: Optional[Dict[str, str]] = None,
    leaks: bool = False,
    **params: Any,
) -> Run:
    """``python src/app.py --standalone --action=... key=value...`` (``env`` added to the SDK's
    environment; ``leaks``: skip the secret check, for the vendor behaviour that logs them)."""
    argv = [str(vendor.python), "src/app.py", "--standalone", f"--action={ACTION}"]
    argv += [f"{name}={value}" for name, value in params.items()]
    env = sdk_env(backend, **(env or {}))
    proc = subprocess.run(
        argv, cwd=vendor.tree, env=env, capture_output=True, text=True, timeout=120
    )
    checked(proc, leaks)
    assert proc.stdout.startswith(MARK), proc.stdout[:300]
    assert proc.stdout.endswith("\n")
    result = proc.stdout[len(MARK) : -1]
    assert backend.seen == [], "standalone mode talked to the backend"
    return Run(proc.stdout, proc.stderr, result, json.loads(result))


def api_yaml(vendor: Vendor) -> Dict[str, Any]:
    return yaml.safe_load((vendor.tree / "api.yaml").read_text(encoding="utf-8"))


def editor_parameters(vendor: Vendor, **given: str) -> List[Dict[str, Any]]:
    """Every api.yaml parameter as Shuffle's editor fills a new node: authentication fields
    with their prefilled ``value``, dropdowns at ``options[0]``, the rest "" unless given."""
    api = api_yaml(vendor)
    auth = api["authentication"]["parameters"]
    (action,) = [a for a in api["actions"] if a["name"] == ACTION]
    out = []
    for param in auth + action["parameters"]:
        default = param.get("value") or (param.get("options") or [""])[0]
        out.append(
            {
                "name": param["name"],
                "value": given.get(param["name"], default),
                "options": param.get("options"),
                "schema": {"type": "string"},
                "configuration": param in auth,
            }
        )
    return out


def worker(
    vendor: Vendor, backend: Backend, parameters: Optional[List[Dict[str, Any]]] = None, **params
) -> Run:
    """The app as a worker starts its container; returns what arrived at /api/v1/streams."""
    action = {
        "name": ACTION,
        "id": "node-1",
        "label": "Get threat events 1",
        "app_name": "SentinelOne",
        "app_version": "1.0.0",
        "environment": "Shuffle",
        "parameters": parameters
        or [
            {"name": k, "value": v, "options": None, "schema": {"type": "string"}}
            for k, v in params.items()
        ],
    }
    env = sdk_env(
        backend,
        ACTION=json.dumps(action),
        AUTHORIZATION=AUTHORIZATION,
        EXECUTIONID=EXECUTION_ID,
    )
    proc = subprocess.run(
        [str(vendor.python), "src/app.py"],
        cwd=vendor.tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    checked(proc)
    assert [(p.method, p.path) for p in backend.seen] == [
        ("POST", "/api/v1/streams/results"),
        ("POST", "/api/v1/streams"),
    ]
    for posted in backend.seen:
        assert posted.headers["Authorization"] == f"Bearer {AUTHORIZATION}"
    fetch = json.loads(backend.seen[0].body)
    assert fetch == {"authorization": AUTHORIZATION, "execution_id": EXECUTION_ID}
    posted = json.loads(backend.seen[1].body)
    assert (posted["authorization"], posted["execution_id"]) == (AUTHORIZATION, EXECUTION_ID)
    assert posted["status"] == "SUCCESS"  # the SDK's status: also for {"success": false}
    (logs,) = [
        p["value"] for p in posted["action"]["parameters"] if p["name"] == "shuffle_action_logs"
    ]
    for secret in LEAKS:
        assert secret not in posted["result"] and secret not in logs, "a secret leaked"
    return Run(proc.stdout, proc.stderr, posted["result"], json.loads(posted["result"]))


def events(run: Run) -> List[Dict[str, Any]]:
    return run.value["json_body"]["data"]


# --- the SDK and the app's contract with it -----------------------------------------------------


def test_the_sdk_is_installed_at_its_own_pins(shuffle: Vendor) -> None:
    freeze = (
        subprocess.run(
            [str(shuffle.python), "-m", "pip", "freeze"], capture_output=True, text=True, check=True
        )
        .stdout.lower()
        .replace("_", "-")
    )
    assert settings("shuffle")["runtime"] in freeze
    assert "requests==2.32.3" in freeze and "urllib3==2.3.0" in freeze  # the SDK's pins
    assert "jsonschema==4.25.1" in freeze  # ours, from the app's requirements.txt
    # requirements.txt leaves shuffle-sdk to the image (the venv gets it as the image has it).
    requirements = (shuffle.tree / "requirements.txt").read_text(encoding="utf-8")
    assert "shuffle-sdk" not in requirements.replace("provides shuffle-sdk", "")
    check = subprocess.run([str(shuffle.python), "-m", "pip", "check"], capture_output=True)
    assert check.returncode == 0, check.stdout


PROBE = """
import inspect, json, sys, yaml
import app
api = yaml.safe_load(open("../api.yaml", encoding="utf-8"))
(cls,) = [v for v in vars(app).values()
          if isinstance(v, type) and issubclass(v, app.AppBase) and v is not app.AppBase]
auth = [p["name"] for p in api["authentication"]["parameters"]]
out = {"name": cls.app_name, "version": cls.__version__, "actions": {}}
for action in api["actions"]:
    signature = inspect.signature(getattr(cls, action["name"]))
    out["actions"][action["name"]] = {
        "signature": [n for n in signature.parameters if n != "self"],
        "defaults": sorted(
            {repr(p.default) for n, p in signature.parameters.items() if n != "self"}
        ),
        "api": auth + [p["name"] for p in action["parameters"]],
    }
print(json.dumps(out))
"""


def test_api_yaml_parameters_are_the_methods_signature(shuffle: Vendor) -> None:
    # In the SDK's venv, on the class the SDK dispatches to (getattr(self, action["name"])).
    proc = subprocess.run(
        [str(shuffle.python), "-c", PROBE],
        cwd=shuffle.tree / "src",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    api = api_yaml(shuffle)
    assert (out["name"], out["version"]) == (api["name"], api["app_version"])
    assert set(out["actions"]) == {a["name"] for a in api["actions"]} == {ACTION}
    for found in out["actions"].values():
        assert found["signature"] == found["api"]
        assert found["defaults"] == ["''"]  # every one: the SDK then never calls with one missing


# --- standalone ---------------------------------------------------------------------------------


def test_standalone_seed_threat(shuffle: Vendor, backend: Backend, sim: Any) -> None:
    run = standalone(shuffle, backend, **console(sim), threat_id=SEED_THREAT)
    assert run.value["status_code"] == 200
    assert events(run) == simulator.SEED_EVENTS
    assert run.result == json.dumps(run.value, ensure_ascii=False)  # our bytes, as printed
    (request,) = sim.requests()
    assert request["auth"] == "ok"
    assert request["headers"]["User-Agent"] == "s1_threat_events/1.0.0"  # our connector sent it


def test_standalone_string_inputs_are_typed_by_our_coercion(
    shuffle: Vendor, backend: Backend, sim: Any
) -> None:
    threat = synthetic_threat(2500)
    run = standalone(
        shuffle,
        backend,
        **console(sim),
        threat_id=threat,
        limit="5",
        eventTypes="process,file",
    )
    assert run.value["status_code"] == 200
    assert len(events(run)) == 5
    assert {event["objectType"] for event in events(run)} <= {"process", "file"}
    (request,) = sim.requests()
    assert request["params"] == {"limit": ["5"], "eventTypes": ["process,file"]}


def test_standalone_follow_cursor_reads_every_event_once(
    shuffle: Vendor, backend: Backend, sim: Any
) -> None:
    run = standalone(
        shuffle,
        backend,
        **console(sim),
        threat_id=synthetic_threat(2500),
        follow_cursor="true",
    )
    ids = [event["id"] for event in events(run)]
    assert len(ids) == len(set(ids)) == 2500
    assert run.value["json_body"]["pagination"]["nextCursor"] is None
    assert len(sim.requests()) == 3  # pages of 1000


def test_standalone_wrong_token_returns_the_401_envelope(
    shuffle: Vendor, backend: Backend, sim: Any
) -> None:
    run = standalone(shuffle, backend, url=sim.url, api_token=WRONG_TOKEN, threat_id=SEED_THREAT)
    assert set(run.value) == {"status_code", "reason", "json_body", "response_headers"}
    assert run.value["status_code"] == 401
    assert run.value["json_body"]["errors"][0]["code"] == 4010010
    assert [r["auth"] for r in sim.requests()] == ["wrong"]


@pytest.mark.parametrize(
    "threat_id", ["../1", "../../threats?x=1", f"{SEED_THREAT}/../../x", "[1]", "1 OR 1=1"]
)
def test_standalone_hostile_threat_id_sends_nothing(
    shuffle: Vendor, backend: Backend, sim: Any, threat_id: str
) -> None:
    run = standalone(shuffle, backend, **console(sim), threat_id=threat_id)
    assert set(run.value) == {"success", "reason", "cause"}
    assert run.value["success"] is False and run.value["cause"] == "invalid_input"
    reason = run.value["reason"]
    assert reason.startswith("invalid inputs: parameter threat_id: got ")
    assert "expected a decimal digit string" in reason
    assert sim.requests() == []


def test_standalone_values_are_rendered_by_shuffles_templating_first(
    shuffle: Vendor, backend: Backend, sim: Any
) -> None:
    # Vendor behaviour (Liquid on every value): {{7*7}} reaches us, and the console, as 49.
    standalone(shuffle, backend, **console(sim), threat_id="{{7*7}}")
    (request,) = sim.requests()
    assert request["path"] == "/web/api/v2.1/threats/49/explore/events"
    # Authentication fields too: this ca_bundle reaches us as the sentinel "none".
    run = standalone(
        shuffle,
        backend,
        **console(sim),
        threat_id=SEED_THREAT,
        ca_bundle="{{'no'}}ne",
    )
    assert run.value["status_code"] == 200


def test_standalone_json_looking_values_arrive_parsed(
    shuffle: Vendor, backend: Backend, sim: Any
) -> None:
    run = standalone(
        shuffle,
        backend,
        **console(sim),
        threat_id=SEED_THREAT,
        eventTypes='["process","file"]',
    )
    assert run.value["status_code"] == 200
    (request,) = sim.requests()
    assert request["query"] == "eventTypes=process,file"


def test_standalone_missing_and_invalid_fields_are_named(
    shuffle: Vendor, backend: Backend, sim: Any
) -> None:
    run = standalone(shuffle, backend, url=sim.url, threat_id=SEED_THREAT, limit="abc")
    assert run.value["success"] is False
    assert "api_token: missing" in run.value["reason"]
    # Named as Shuffle names it: its flat parameter (issue 21 item 12).
    assert 'parameter limit: got "abc"; expected an integer from 1 to 1000.' in run.value["reason"]
    assert sim.requests() == []


def test_standalone_body_that_has_no_utf8_form_still_prints(
    shuffle: Vendor, backend: Backend, sim: Any
) -> None:
    body = '{"data": [{"name": "a\\udc80b"}], "pagination": {"nextCursor": null}}'
    sim.add_faults([{"kind": "status", "status": 200, "body": body}])
    run = standalone(shuffle, backend, **console(sim), threat_id=SEED_THREAT)
    assert run.value["json_body"]["data"] == [{"name": "a\udc80b"}]


def test_standalone_ca_bundle_verifies_a_private_ca(
    shuffle: Vendor, backend: Backend, tls_sim: Any
) -> None:
    server, ca_path = tls_sim
    run = standalone(
        shuffle, backend, url=server.url, api_token=TOKEN, threat_id=SEED_THREAT, ca_bundle=ca_path
    )
    assert run.value["status_code"] == 200 and events(run) == simulator.SEED_EVENTS
    unverified = standalone(
        shuffle, backend, url=server.url, api_token=TOKEN, threat_id=SEED_THREAT, ca_bundle="none"
    )
    assert unverified.value["success"] is False and unverified.value["cause"] == "tls"


def test_standalone_http_proxy_with_credentials(
    shuffle: Vendor, backend: Backend, sim: Any, auth_proxy: Any
) -> None:
    proxy = auth_proxy.url(with_credentials=True)  # its password is among the checked secrets
    run = standalone(shuffle, backend, **console(sim), threat_id=SEED_THREAT, http_proxy=proxy)
    assert run.value["status_code"] == 200
    assert auth_proxy.seen and auth_proxy.seen[0][0] == "GET"


def test_the_sdk_logs_the_token_with_debug_on(shuffle: Vendor, backend: Backend, sim: Any) -> None:
    # Vendor behaviour the README warns about: DEBUG=true logs every parameter. Our result
    # still holds no token; only the SDK's own log lines do.
    run = standalone(
        shuffle,
        backend,
        env={"DEBUG": "true"},
        leaks=True,
        **console(sim),
        threat_id=SEED_THREAT,
    )
    assert TOKEN in run.stderr
    assert TOKEN not in run.result


def test_the_sdk_replaces_a_result_that_outlasts_its_timeout(
    shuffle: Vendor, backend: Backend, sim: Any
) -> None:
    # Vendor behaviour the README warns about: past SHUFFLE_APP_SDK_TIMEOUT (30 s by default)
    # the SDK returns its own failure; our call is not cut short (the process ends with it).
    sim.add_faults([{"kind": "delay", "seconds": 3}])
    run = standalone(
        shuffle,
        backend,
        env={"SHUFFLE_APP_SDK_TIMEOUT": "1"},
        **console(sim),
        threat_id=SEED_THREAT,
    )
    assert run.value["success"] is False
    assert "Timeout" in run.value["reason"]
    assert "status_code" not in run.value
    assert len(sim.requests()) == 1


# --- worker mode --------------------------------------------------------------------------------


def test_worker_every_parameter_as_the_editor_fills_it(
    shuffle: Vendor, backend: Backend, sim: Any
) -> None:
    # Prefilled authentication values ("none", "true", "30"...) and every dropdown at its first
    # option ("Not set", follow_cursor "false"): the request carries no query parameter.
    params = editor_parameters(shuffle, **console(sim), threat_id=SEED_THREAT)
    assert {p["value"] for p in params if p["options"]} == {"Not set||", "false"}
    run = worker(shuffle, backend, parameters=params)
    assert run.value["status_code"] == 200
    assert events(run) == simulator.SEED_EVENTS
    (request,) = sim.requests()
    assert request["query"] == ""


def test_worker_dropdown_values_reach_the_console(
    shuffle: Vendor, backend: Backend, sim: Any
) -> None:
    params = editor_parameters(
        shuffle,
        **console(sim),
        threat_id=SEED_THREAT,
        sortOrder="desc",
        countOnly="true",
    )
    run = worker(shuffle, backend, parameters=params)
    assert run.value["status_code"] == 200
    (request,) = sim.requests()
    assert request["params"] == {"sortOrder": ["desc"], "countOnly": ["true"]}


def test_worker_posts_the_envelope_of_a_cursor_walk_unchanged(
    shuffle: Vendor, backend: Backend, sim: Any
) -> None:
    run = worker(
        shuffle,
        backend,
        **console(sim),
        threat_id=synthetic_threat(2500),
        follow_cursor="true",
    )
    assert run.result == json.dumps(run.value, ensure_ascii=False)
    assert set(run.value) == {"status_code", "reason", "json_body", "response_headers"}
    ids = [event["id"] for event in events(run)]
    assert len(ids) == len(set(ids)) == 2500


def test_worker_result_is_the_envelope_our_cli_prints(
    shuffle: Vendor, backend: Backend, sim: Any, tmp_path: Path
) -> None:
    asset = write_json(tmp_path / "asset.json", {"url": sim.url, "api_token": TOKEN})
    inputs = {"path_parameters": {"threat_id": SEED_THREAT}, "parameters": {"limit": 5}}
    cli = run_cli("run", ACTION, "--asset", asset, "--inputs", write_json(tmp_path / "in", inputs))
    assert cli.code == 0, cli.stderr
    run = worker(shuffle, backend, **console(sim), threat_id=SEED_THREAT, limit="5")
    ours, theirs = cli.envelope, run.value
    assert theirs["json_body"] == ours["json_body"]
    assert (theirs["status_code"], theirs["reason"]) == (ours["status_code"], ours["reason"])
    varying = {"Date", "X-RQID"}
    assert {k: v for k, v in theirs["response_headers"].items() if k not in varying} == {
        k: v for k, v in ours["response_headers"].items() if k not in varying
    }


def test_worker_failure_is_a_success_false_result(
    shuffle: Vendor, backend: Backend, sim: Any
) -> None:
    run = worker(shuffle, backend, **console(sim), threat_id="../1")
    assert run.value["success"] is False and run.value["cause"] == "invalid_input"
    # Shuffle's own parameter name, not our CLI's nested path, and no YAML/JSON advice.
    assert "parameter threat_id" in run.value["reason"]
    assert "path_parameters" not in run.value["reason"] and "YAML" not in run.value["reason"]
    assert sim.requests() == []


def test_worker_wrong_token_posts_the_401_envelope(
    shuffle: Vendor, backend: Backend, sim: Any
) -> None:
    run = worker(shuffle, backend, url=sim.url, api_token=WRONG_TOKEN, threat_id=SEED_THREAT)
    assert run.value["status_code"] == 401
    assert run.value["json_body"]["errors"][0]["code"] == 4010010


def test_worker_mode_echoes_the_parameters_to_the_backend(
    shuffle: Vendor, backend: Backend, sim: Any
) -> None:
    # Vendor behaviour the README documents: the SDK posts the action back with every
    # parameter value, the token included, to the backend that sent them (not in the result).
    worker(shuffle, backend, **console(sim), threat_id=SEED_THREAT)
    posted = json.loads(backend.seen[1].body)
    echoed = {p["name"]: p["value"] for p in posted["action"]["parameters"]}
    assert echoed["api_token"] == TOKEN
    assert TOKEN not in posted["result"]


def test_worker_a_walk_broken_midway_posts_the_events_so_far(
    shuffle: Vendor, backend: Backend, sim: Any
) -> None:
    sim.add_faults([{"kind": "pass", "count": 1}, {"kind": "reset"}])
    run = worker(
        shuffle,
        backend,
        **console(sim),
        threat_id=synthetic_threat(2500),
        follow_cursor="true",
        max_retries="0",
    )
    assert run.value["success"] is False and run.value["cause"] == "reset"
    partial = run.value["envelope"]["json_body"]
    assert len(partial["data"]) == 1000 and partial["pagination"]["nextCursor"]
    assert len(sim.requests()) == 2
