"""Rapid7 InsightConnect: our export run by ``insightconnect-plugin-runtime`` at its own pins.

The exported ``bin/icon_s1_threat_events`` is the vendor's CLI (``run`` and ``test`` read one
message on stdin; ``http`` is the gunicorn server the orchestrator talks to), run in
``.venv-platforms/insightconnect``. The generated files are compared with what the vendor's
``insight-plugin create`` makes from our spec, and the vendor's validator rules run one by one,
offline, in ``.venv-platforms/insightconnect-tools`` (they pin an old jsonschema).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Tuple

import pytest

import simulator
from framework.manifest import load_plugin
from tests.platforms.conftest import HERE, Vendor
from tests.platforms.venvs import settings, venv_with
from tests.support import PROXY_PASSWORD, SECRETS, SEED_THREAT, TOKEN, synthetic_threat

ACTION = "get_threat_events"
LAUNCHER = "bin/icon_s1_threat_events"
TOOLS = ["insight-plugin==1.11.0", "insightconnect-integrations-validators==2.47.35"]
WRONG_TOKEN = "not-the-token-x9"
# The preset causes of insightconnect_plugin_runtime.exceptions.PluginException (6.6.0).
API_KEY = "Invalid API key provided."
PRESET_CAUSES = {
    403: "The account configured in your connection is unauthorized to access this service.",
    404: "Invalid or unreachable endpoint provided.",
    429: "The account configured in your plugin connection is currently rate-limited.",
    500: "Server error occurred",
    503: "The service is currently unavailable.",
}
# Offline rules need neither Docker nor a web API; these five do (tests/platforms/
# insightconnect_rules.py runs their offline parts instead).
NETWORK_RULES = {
    "VersionValidator",
    "UnapprovedKeywordsValidator",
    "RuntimeValidator",
    "URLValidator",
    "DockerValidator",
}


class Result(NamedTuple):
    code: int
    body: Dict[str, Any]  # the result message's body (the last stdout line)
    stdout: str
    stderr: str


def environment(tree: Path) -> Dict[str, str]:
    """No PYTHONPATH: the launcher imports the package pip installed (the conftest fixture)."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONPATH", None)
    env.pop("PLUGIN_RUNTIME_ENVIRONMENT", None)
    return env


def no_secrets(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, "a secret leaked"


def connection(url: str, token: str = TOKEN, **extra: Any) -> Dict[str, Any]:
    return {"url": url, "api_token": {"secretKey": token}, **extra}


def action_message(conn: Dict[str, Any], inputs: Dict[str, Any]) -> Dict[str, Any]:
    body = {"action": ACTION, "meta": {}, "input": inputs, "connection": conn}
    return {"body": body, "type": "action_start", "version": "v1"}


def connection_test_message(conn: Dict[str, Any]) -> Dict[str, Any]:
    return {"body": {"connection": conn, "meta": {}}, "type": "connection_test", "version": "v1"}


def launch(vendor: Vendor, mode: str, message: Dict[str, Any], cwd: Path) -> Result:
    """``python bin/icon_s1_threat_events MODE`` (the Dockerfile's entry point) with one message."""
    proc = subprocess.run(
        [str(vendor.python), str(vendor.tree / LAUNCHER), mode],
        input=json.dumps(message),
        capture_output=True,
        text=True,
        timeout=180,
        env=environment(vendor.tree),
        cwd=cwd,
    )
    no_secrets(proc.stdout, proc.stderr)
    # The vendor prints a traceback of its own for a failed step; none of our core's frames.
    assert not re.search(r"/util/(framework|connectors|actions)/", proc.stderr), proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    message = json.loads(last)
    assert message["version"] == "v1"
    return Result(proc.returncode, message["body"], proc.stdout, proc.stderr)


@pytest.fixture()
def run(insightconnect: Vendor, sim: Any, tmp_path: Path) -> Any:
    def go(inputs: Dict[str, Any], **conn: Any) -> Result:
        return launch(
            insightconnect, "run", action_message(connection(sim.url, **conn), inputs), tmp_path
        )

    return go


def seed_inputs(**extra: Any) -> Dict[str, Any]:
    return {"path_parameters": {"threat_id": SEED_THREAT}, **extra}


def failed_with(result: Result, cause: str) -> Dict[str, Any]:
    """The envelope in ``exception.data`` of a failed run whose cause is ``cause``."""
    assert result.code == 1
    assert result.body["status"] == "error"
    assert result.body["exception"]["cause"] == cause
    assert "output" not in result.body
    return json.loads(result.body["exception"]["data"])


# --- the venvs and the generated files ----------------------------------------------------------


@pytest.fixture(scope="session")
def tools() -> Path:
    return venv_with("insightconnect-tools", settings("insightconnect")["python"], TOOLS)


def test_vendor_runtime_is_installed_at_its_own_pins(insightconnect: Vendor) -> None:
    freeze = subprocess.run(
        [str(insightconnect.python), "-m", "pip", "freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.lower()
    assert settings("insightconnect")["runtime"] in freeze
    # Our three runtime dependencies come from the vendor runtime, at its pins, not ours.
    assert {"requests==", "jsonschema==", "pyyaml=="} <= {
        line.split("==")[0] + "==" for line in freeze.splitlines()
    }
    requirements = (insightconnect.tree / "requirements.txt").read_text(encoding="utf-8")
    assert all(line.startswith("#") for line in requirements.splitlines())


def test_the_launcher_runs_the_installed_package_without_pythonpath(
    insightconnect: Vendor, tmp_path: Path
) -> None:
    # Our code sits in icon_<id>/util/ and setup.py's find_packages() installs it: imported
    # from site-packages, from anywhere, with no PYTHONPATH.
    code = (
        "import icon_s1_threat_events.util.bridge as b, framework, connectors.sentinelone as c;"
        "print(b.__file__); print(framework.__file__); print(c.__file__)"
    )
    proc = subprocess.run(
        [str(insightconnect.python), "-c", code],
        capture_output=True,
        text=True,
        env=environment(insightconnect.tree),
        cwd=tmp_path,
        check=True,
    )
    paths = proc.stdout.split()
    assert len(paths) == 3
    for path in paths:
        assert "/site-packages/icon_s1_threat_events/util/" in path, path


def test_unit_test_passes_under_the_vendor_runtime(insightconnect: Vendor) -> None:
    # unit_test/ as insight-plugin create lays it out, with real tests: the action, a wrong
    # token, an invalid id and the connection test against a server on 127.0.0.1.
    proc = subprocess.run(
        [str(insightconnect.python), "-m", "unittest", "discover", "-s", "unit_test", "-v"],
        capture_output=True,
        text=True,
        env=environment(insightconnect.tree),
        cwd=insightconnect.tree,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Ran 5 tests" in proc.stderr and proc.stderr.rstrip().endswith("OK")


def test_generated_files_are_what_insight_plugin_create_makes(
    insightconnect: Vendor, tools: Path, tmp_path: Path
) -> None:
    # insight-plugin create makes a fresh plugin from our plugin.spec.yaml: its schema modules,
    # launcher, setup.py, package __init__ files and .CHECKSUM are byte for byte ours, so
    # `insight-plugin refresh` would leave them unchanged.
    proc = subprocess.run(
        [str(tools.parent / "insight-plugin"), "create", "plugin.spec.yaml", "-d", str(tmp_path)],
        cwd=insightconnect.tree,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    theirs = tmp_path / load_plugin().id
    same = [LAUNCHER, "setup.py", ".CHECKSUM", "Makefile", ".dockerignore", "unit_test/__init__.py"]
    same += [
        p.relative_to(theirs).as_posix() for p in theirs.rglob("icon_s1_threat_events/**/*.py")
    ]
    same = [p for p in same if not p.endswith(("/action.py", "/connection.py"))]
    assert {
        "icon_s1_threat_events/actions/get_threat_events/schema.py",
        "icon_s1_threat_events/connection/schema.py",
    } <= set(same)
    for name in same:
        assert (insightconnect.tree / name).read_bytes() == (theirs / name).read_bytes(), name
    # The Dockerfile too, but its one value goes through our Dockerfile quoting.
    ours = (insightconnect.tree / "Dockerfile").read_text(encoding="utf-8")
    label = re.search(r'^LABEL organization="([a-z0-9]+)"$', ours, re.M)
    assert label, ours
    plain = ours.replace(label.group(0), f"LABEL organization={label.group(1)}")
    assert plain == (theirs / "Dockerfile").read_text(encoding="utf-8")
    # unit_test/ as it makes it, our tests in place of its failing stub.
    assert (theirs / "unit_test/test_get_threat_events.py").is_file()
    # Only our own Action and Connection bodies (and the bridge) differ from its stubs.
    assert "bridge.run_action" in (
        insightconnect.tree / "icon_s1_threat_events/actions/get_threat_events/action.py"
    ).read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def rules(insightconnect: Vendor, tools: Path) -> Dict[str, Dict[str, str]]:
    proc = subprocess.run(
        [str(tools), str(HERE / "insightconnect_rules.py"), str(insightconnect.tree)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=insightconnect.tree.parent,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return {result["rule"]: result for result in results}


def test_every_offline_validator_rule_passes(
    rules: Dict[str, Dict[str, str]], capfd: pytest.CaptureFixture
) -> None:
    assert len(rules) >= 40  # VALIDATORS and JENKINS_VALIDATORS of 2.47.35: 42
    failed = {name: r["detail"] for name, r in rules.items() if r["status"] == "fail"}
    assert failed == {}
    skipped = {name: r["detail"] for name, r in rules.items() if r["status"] == "skip"}
    assert set(skipped) == NETWORK_RULES
    passed = sorted(name for name, r in rules.items() if r["status"] == "pass")
    with capfd.disabled():
        print(f"\nInsightConnect validators: {len(passed)} passed, {len(skipped)} skipped:")
        for name, reason in sorted(skipped.items()):
            print(f"  SKIP {name}: {reason}")


@pytest.mark.parametrize("rule", sorted(NETWORK_RULES))
def test_rules_needing_the_network_are_skipped_with_their_reason(
    rules: Dict[str, Dict[str, str]], rule: str
) -> None:
    assert rules[rule]["status"] == "skip"
    pytest.skip(f"{rule}: {rules[rule]['detail']}")


def test_the_validators_can_fail(insightconnect: Vendor, tools: Path, tmp_path: Path) -> None:
    # The same driver on a tree with a hand-edited schema.py: RegenerationValidator fails.
    tree = tmp_path / "sentinelone"
    subprocess.run(["cp", "-r", str(insightconnect.tree), str(tree)], check=True)
    schema = tree / "icon_s1_threat_events/connection/schema.py"
    schema.write_text(schema.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    proc = subprocess.run(
        [str(tools), str(HERE / "insightconnect_rules.py"), str(tree)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    results = {r["rule"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert results["RegenerationValidator"]["status"] == "fail"


# --- run mode -----------------------------------------------------------------------------------


def test_run_gets_the_seed_threat_events_through_our_runtime(run: Any, sim: Any) -> None:
    result = run(seed_inputs())
    assert result.code == 0, result.stderr
    assert result.body["status"] == "ok"
    output = result.body["output"]
    assert output["status_code"] == 200 and output["reason"] == "OK"
    assert output["json_body"]["data"] == simulator.SEED_EVENTS
    assert output["response_headers"]["Content-Type"] == "application/json"
    (request,) = sim.requests()
    assert request["auth"] == "ok"
    assert request["headers"]["User-Agent"] == "s1_threat_events/1.0.0"  # our connector sent it


def test_typed_inputs_reach_our_coercion_and_validation_unchanged(run: Any, sim: Any) -> None:
    parameters = {"limit": 100, "eventTypes": ["process", "file"], "sortOrder": "desc"}
    parameters["skipCount"] = True
    result = run(seed_inputs(parameters=parameters, follow_cursor=False))
    assert result.code == 0, result.stderr
    (request,) = sim.requests()
    assert request["params"] == {
        "limit": ["100"],
        "eventTypes": ["process,file"],
        "sortOrder": ["desc"],
        "skipCount": ["true"],
    }
    # A typed value the vendor's schema accepts but ours does not: our sentence, nothing sent.
    sim.clear_requests()
    refused = run(seed_inputs(parameters={"limit": 5000}))
    assert refused.code == 1
    assert refused.body["exception"]["cause"] == (
        "invalid inputs: parameters.limit: got 5000 (integer); expected an integer from 1 to 1000."
    )
    assert sim.requests() == []


def test_string_typed_inputs_are_refused_by_the_vendor_runtime(run: Any, sim: Any) -> None:
    # InsightConnect types inputs by the spec and its runtime refuses "100" for an integer
    # before our code runs (our coercion of templated strings is not reached): a clean error,
    # nothing sent.
    inputs = seed_inputs(parameters={"limit": "100", "eventTypes": "process,file"})
    result = run({**inputs, "follow_cursor": "false"})
    assert result.code == 1
    assert result.body["status"] == "error"
    assert "action input JSON was invalid" in result.body["error"]
    assert "is not of type" in result.body["error"]
    assert sim.requests() == []


def test_null_for_an_optional_input_is_refused_by_the_vendor_runtime(run: Any, sim: Any) -> None:
    # Our CLI takes null as "not set"; the runtime's type check refuses it first.
    result = run(seed_inputs(parameters={"limit": None}))
    assert result.code == 1
    assert "action input JSON was invalid" in result.body["error"]
    assert "None is not of type 'integer'" in result.body["error"]
    assert sim.requests() == []


def test_an_optional_enum_left_empty_is_absent(run: Any, sim: Any) -> None:
    result = run(seed_inputs(parameters={"sortOrder": "", "sortBy": "", "limit": 5}))
    assert result.code == 0, result.stderr
    (request,) = sim.requests()
    assert request["params"] == {"limit": ["5"]}


def test_run_follows_cursors_over_every_event_once(run: Any, sim: Any) -> None:
    inputs = {"path_parameters": {"threat_id": synthetic_threat(2500)}, "follow_cursor": True}
    result = run(inputs)
    assert result.code == 0, result.stderr
    body = result.body["output"]["json_body"]
    ids = [event["id"] for event in body["data"]]
    assert len(ids) == len(set(ids)) == 2500
    assert body["pagination"]["nextCursor"] is None
    assert len(sim.requests()) == 3  # pages of 1000


def test_wrong_token_raises_the_api_key_preset_with_the_envelope(run: Any, sim: Any) -> None:
    result = run(seed_inputs(), token=WRONG_TOKEN)
    envelope = failed_with(result, API_KEY)
    assert envelope["status_code"] == 401
    assert envelope["json_body"]["errors"][0]["code"] == 4010010
    assert envelope["response_headers"]["Content-Type"] == "application/json"
    assert [r["auth"] for r in sim.requests()] == ["wrong"]


@pytest.mark.parametrize("threat_id", ["../../users", "1569%2F..%2Fx", "1 OR 1=1"])
def test_hostile_threat_id_is_refused_before_sending(run: Any, sim: Any, threat_id: str) -> None:
    result = run({"path_parameters": {"threat_id": threat_id}})
    assert result.code == 1
    cause = result.body["exception"]["cause"]
    assert cause.startswith("invalid inputs: path_parameters.threat_id: got ")
    assert json.dumps(threat_id) in cause
    assert sim.requests() == []


@pytest.mark.parametrize("status", sorted(PRESET_CAUSES))
def test_failure_statuses_raise_their_preset_with_the_envelope(
    run: Any, sim: Any, status: int
) -> None:
    sim.add_faults([{"kind": "status", "status": status}])
    result = run(seed_inputs(), max_retries=0)
    envelope = failed_with(result, PRESET_CAUSES[status])
    assert envelope["status_code"] == status
    assert len(sim.requests()) == 1


def test_other_statuses_are_output(run: Any, sim: Any) -> None:
    sim.add_faults([{"kind": "status", "status": 400}])
    result = run(seed_inputs())
    assert result.code == 0, result.stderr
    assert result.body["status"] == "ok"
    assert result.body["output"]["status_code"] == 400


def test_a_body_that_is_not_json_is_output_without_json_body(run: Any, sim: Any) -> None:
    # The spec has no null: json_body (null for a body that is not JSON) is left out.
    sim.add_faults([{"kind": "status", "status": 400, "body": "<html>bad request</html>"}])
    result = run(seed_inputs())
    assert result.code == 0, result.stderr
    output = result.body["output"]
    assert "json_body" not in output
    assert output["response_text"] == "<html>bad request</html>"


def test_an_unreachable_console_fails_with_our_sentence(
    insightconnect: Vendor, tmp_path: Path
) -> None:
    server = simulator.start(token=TOKEN)
    url = server.url
    server.shutdown()
    message = action_message(connection(url, max_retries=0), seed_inputs())
    result = launch(insightconnect, "run", message, tmp_path)
    assert result.code == 1
    assert "refused" in result.body["exception"]["cause"]


def test_a_proxy_with_credentials_and_a_private_ca_reach_our_connector(
    insightconnect: Vendor, tls_sim: Any, auth_proxy: Any, tmp_path: Path
) -> None:
    # PROXY_PASSWORD is among the secrets checked in every byte of output.
    server, ca_path = tls_sim
    proxy_url = auth_proxy.url(with_credentials=True)
    # http_proxy is a credential in the spec (it can carry a password), like the token.
    conn = connection(server.url, ca_bundle=ca_path, http_proxy={"secretKey": proxy_url})
    result = launch(insightconnect, "run", action_message(conn, seed_inputs()), tmp_path)
    assert result.code == 0, result.stderr
    assert result.body["output"]["json_body"]["data"] == simulator.SEED_EVENTS
    assert auth_proxy.seen and auth_proxy.seen[0][0] == "CONNECT"
    untrusted = launch(
        insightconnect, "run", action_message(connection(server.url), seed_inputs()), tmp_path
    )
    assert untrusted.code == 1
    assert "not trusted" in untrusted.body["exception"]["cause"]


# Connections that fail the connection schema: the runtime's own check would quote the whole
# connection (token and proxy password included) in its error; ours names the field only.
MALFORMED = {
    "token_as_a_string": {"api_token": TOKEN},
    "url_missing": {"url": None},
    "proxy_as_a_string": {"http_proxy": f"http://u:{PROXY_PASSWORD}@127.0.0.1:9"},
    "secret_key_not_a_string": {"api_token": {"secretKey": [TOKEN]}},
    "timeout_a_string": {"timeout": f"30 {TOKEN}"},
}


def malformed(url: str, case: str) -> Dict[str, Any]:
    conn = connection(url, http_proxy={"secretKey": f"http://u:{PROXY_PASSWORD}@127.0.0.1:9"})
    conn.update(MALFORMED[case])
    return {k: v for k, v in conn.items() if v is not None}


@pytest.mark.parametrize("case", sorted(MALFORMED))
@pytest.mark.parametrize("mode", ["run", "test"])
def test_a_malformed_connection_is_refused_without_its_secrets(
    insightconnect: Vendor, sim: Any, tmp_path: Path, case: str, mode: str
) -> None:
    conn = malformed(sim.url, case)
    if mode == "run":
        message = action_message(conn, seed_inputs())
    else:
        message = connection_test_message(conn)
    result = launch(insightconnect, mode, message, tmp_path)  # checks every byte for secrets
    assert result.code == 1
    assert result.body["status"] == "error"
    cause = result.body["exception"]["cause"]
    assert cause.startswith("The connection is not valid: ")
    field = next(iter(MALFORMED[case]))
    assert field in cause
    assert sim.requests() == []


# --- test mode ----------------------------------------------------------------------------------


def test_connection_test_ok(insightconnect: Vendor, sim: Any, tmp_path: Path) -> None:
    result = launch(insightconnect, "test", connection_test_message(connection(sim.url)), tmp_path)
    assert result.code == 0, result.stderr
    assert result.body["status"] == "ok"
    assert result.body["output"] == {"success": True}
    (request,) = sim.requests()
    assert request["path"] == "/web/api/v2.1/threats"


def test_connection_test_with_a_wrong_token(
    insightconnect: Vendor, sim: Any, tmp_path: Path
) -> None:
    message = connection_test_message(connection(sim.url, WRONG_TOKEN))
    result = launch(insightconnect, "test", message, tmp_path)
    diagnosis = failed_with(result, API_KEY)
    assert diagnosis["ok"] is False and diagnosis["status_code"] == 401
    assert diagnosis["cause"] == "token_invalid"
    assert diagnosis["diagnosis"]


def test_connection_fields_left_empty_are_absent(
    insightconnect: Vendor, sim: Any, tmp_path: Path
) -> None:
    # What `insight-plugin samples` writes for unset optional strings.
    conn = connection(sim.url, ca_bundle="", http_proxy={"secretKey": ""}, verify_ssl=True)
    result = launch(insightconnect, "test", connection_test_message(conn), tmp_path)
    assert result.code == 0, result.stderr
    assert result.body["output"] == {"success": True}


# --- http mode ----------------------------------------------------------------------------------


class Server(NamedTuple):
    url: str
    master: int
    worker: int
    log: List[str]  # every stderr line so far


@pytest.fixture()
def http_server(insightconnect: Vendor, tmp_path: Path) -> Iterator[Server]:
    """``bin/icon_s1_threat_events http`` bound to 127.0.0.1 on a free port (gunicorn.json in the
    working directory: GUNICORN_CONFIG_FILE is a bare file name there), one sync worker."""
    config = {"bind": "127.0.0.1:0", "workers": 1, "threads": 4, "worker_class": "sync"}
    (tmp_path / "gunicorn.json").write_text(json.dumps(config), encoding="utf-8")
    env = {**environment(insightconnect.tree), "GUNICORN_CONFIG_FILE": "gunicorn.json"}
    proc = subprocess.Popen(
        [str(insightconnect.python), str(insightconnect.tree / LAUNCHER), "http"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    log: List[str] = []
    found: Dict[str, Any] = {}
    ready = threading.Event()

    def drain() -> None:
        for line in proc.stderr:
            log.append(line)
            listening = re.search(r"Listening at: (http://127\.0\.0\.1:\d+) \((\d+)\)", line)
            if listening:
                found["url"], found["master"] = listening.group(1), int(listening.group(2))
            booted = re.search(r"Booting worker with pid: (\d+)", line)
            if booted:
                found["worker"] = int(booted.group(1))
            if {"url", "worker"} <= set(found):
                ready.set()
        ready.set()  # the server exited: the fixture sees what is missing

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    ready.wait(120)
    try:
        assert {"url", "master", "worker"} <= set(found), "".join(log)
        assert found["master"] == proc.pid
        yield Server(found["url"], found["master"], found["worker"], log)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        reader.join(timeout=10)


def post(server: Server, path: str, message: Dict[str, Any]) -> Tuple[int, Dict[str, Any], str]:
    request = urllib.request.Request(
        server.url + path,
        data=json.dumps(message).encode("utf-8"),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=180) as response:
            status, text = response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode("utf-8")
    no_secrets(text)
    return status, json.loads(text)["body"], text


def rss_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    return int(status.split("VmRSS:")[1].split()[0])


def test_http_mode_serves_many_action_calls_from_one_process(
    http_server: Server, sim: Any, capfd: pytest.CaptureFixture
) -> None:
    route = f"/api/v1/actions/{ACTION}"
    seed = action_message(connection(sim.url), seed_inputs())
    wrong = action_message(connection(sim.url, WRONG_TOKEN), seed_inputs())
    hostile = action_message(connection(sim.url), {"path_parameters": {"threat_id": "../x"}})
    follow = action_message(
        connection(sim.url),
        {"path_parameters": {"threat_id": synthetic_threat(2500)}, "follow_cursor": True},
    )

    def check(kind: str, status: int, body: Dict[str, Any]) -> Optional[str]:
        """None when the answer is right, else what is wrong."""
        if kind == "seed":
            ok = status == 200 and body["output"]["json_body"]["data"] == simulator.SEED_EVENTS
        elif kind == "follow":
            ids = {event["id"] for event in body["output"]["json_body"]["data"]}
            ok = status == 200 and len(ids) == 2500
        elif kind == "wrong":
            data = json.loads(body["exception"]["data"])
            ok = status == 400 and body["exception"]["cause"] == API_KEY
            ok = ok and data["status_code"] == 401
        else:
            ok = status == 400 and "threat_id" in body["exception"]["cause"]
        return None if ok else f"{kind}: http {status}, {json.dumps(body)[:300]}"

    plan = {"seed": seed, "wrong": wrong, "hostile": hostile, "follow": follow}
    kinds = ["follow" if i % 10 == 9 else "wrong" if i % 10 == 4 else "seed" for i in range(50)]
    kinds[7] = kinds[27] = "hostile"
    for kind in plan:  # first contact, and one call of each kind before measuring
        assert check(kind, *post(http_server, route, plan[kind])[:2]) is None
    before = rss_kb(http_server.worker)
    sim.clear_requests()
    wrongs = [check(kind, *post(http_server, route, plan[kind])[:2]) for kind in kinds]
    after = rss_kb(http_server.worker)
    assert [w for w in wrongs if w] == []
    sent = sim.requests()
    assert len(sent) == kinds.count("seed") + kinds.count("wrong") + 3 * kinds.count("follow")
    # The same 50 again, to see whether the second round adds to the first.
    wrongs = [check(kind, *post(http_server, route, plan[kind])[:2]) for kind in kinds]
    again = rss_kb(http_server.worker)
    assert [w for w in wrongs if w] == []
    no_secrets("".join(http_server.log))  # the server's own log (no --debug)
    with capfd.disabled():
        print(
            f"\nInsightConnect http mode: {2 * len(kinds)} sequential calls to one server, all"
            f" correct; worker RSS {before} KB before, {after} KB after 50 ({after - before:+d}"
            f" KB), {again} KB after 100 ({again - after:+d} KB)."
        )


def test_http_mode_malformed_connections_keep_their_secrets(http_server: Server, sim: Any) -> None:
    # Each malformed connection on both routes: no secret in any response (post() checks every
    # byte) nor in the server's log.
    for case in sorted(MALFORMED):
        conn = malformed(sim.url, case)
        for path, message in [
            (f"/api/v1/actions/{ACTION}", action_message(conn, seed_inputs())),
            ("/api/v1/connection/test", connection_test_message(conn)),
        ]:
            status, body, _ = post(http_server, path, message)
            assert status == 400, (case, path)
            assert body["exception"]["cause"].startswith("The connection is not valid: ")
    assert sim.requests() == []
    no_secrets("".join(http_server.log))


def test_http_mode_connection_test(http_server: Server, sim: Any) -> None:
    status, body, _ = post(
        http_server, "/api/v1/connection/test", connection_test_message(connection(sim.url))
    )
    assert (status, body["output"]) == (200, {"success": True})
    message = connection_test_message(connection(sim.url, WRONG_TOKEN))
    status, body, _ = post(http_server, "/api/v1/connection/test", message)
    assert status == 400
    assert body["exception"]["cause"] == API_KEY
