"""Splunk SOAR: our export run by the official splunk-soar-sdk at its pin, on Python 3.13.

Every action runs as the SDK runs an app off the platform, ``python src/app.py action ...``:
its CLI reads asset.json, encrypts the sensitive fields (its local stand-in for the platform's
encryption), and the App decrypts them before our code sees the asset. Its output is parsed as
the SDK prints it (ANSI colours, ``Action success:``, ``Result data:`` JSON, ``Result
summary:`` as a Python literal); the exit status is 0 whether the action succeeded or not.
``soarapps manifests create`` builds the app's manifest from the export; ``soarapps package
build`` builds the tarball SOAR installs (conftest.py), whose manifest and wheels are checked
here, and the app unpacked from it runs the seed threat.
"""

from __future__ import annotations

import ast
import base64
import json
import os
import re
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional

import pytest

import simulator
from framework.manifest import load_plugin
from tests.platforms.conftest import SoarApp
from tests.platforms.venvs import find_python, settings
from tests.support import SECRETS, SEED_THREAT, TOKEN, synthetic_threat

try:  # one line for the whole platform where the machine has no Python for the SDK
    find_python(settings("splunk_soar")["python"])
except RuntimeError as exc:
    pytest.skip(f"Splunk SOAR: {exc}", allow_module_level=True)

ACTION = "get_threat_events"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
WRONG = "not-the-token-x9"
# Each flat param of the manifest: (where it comes from in the input schema, SOAR data type).
PARAMS = {
    "threat_id": ("path_parameters", "string"),
    "eventId": ("parameters", "string"),
    "sortBy": ("parameters", "string"),
    "limit": ("parameters", "numeric"),
    "skip": ("parameters", "numeric"),
    "sortOrder": ("parameters", "string"),
    "skipCount": ("parameters", "boolean"),
    "countOnly": ("parameters", "boolean"),
    "cursor": ("parameters", "string"),
    "eventSubTypes": ("parameters", "string"),
    "processName__like": ("parameters", "string"),
    "eventTypes": ("parameters", "string"),
    "follow_cursor": (None, "boolean"),
    "max_events": (None, "numeric"),
}


def encoded(secret: str) -> str:
    """The part of base64(secret + anything) that does not depend on what follows: how the
    SDK's local encryption would show a secret."""
    return base64.b64encode(secret.encode()).decode()[: len(secret) // 3 * 4]


class SoarRun(NamedTuple):
    success: Optional[bool]
    message: Optional[str]
    data: Optional[List[Any]]
    summary: Optional[Dict[str, Any]]
    text: str


def parse(text: str) -> SoarRun:
    text = ANSI.sub("", text)
    success = re.search(r"^Action success: (True|False)$", text, re.M)
    message = re.search(r"^Result message: (.*)$", text, re.M)
    summary = re.search(r"^Result summary: (.*)$", text, re.M)
    start = text.find("Result data: ")
    data = None
    if start >= 0:
        data = json.JSONDecoder().raw_decode(text, start + len("Result data: "))[0]
    return SoarRun(
        success.group(1) == "True" if success else None,
        message.group(1) if message else None,
        data,
        ast.literal_eval(summary.group(1)) if summary else None,
        text,
    )


def soar(
    vendor: SoarApp,
    action: str,
    asset: Dict[str, Any],
    params: Optional[Dict[str, Any]] = None,
    code: int = 0,
    tree: Optional[Path] = None,
) -> SoarRun:
    """``python src/app.py action ACTION -a asset.json [-p params.json]`` in the export; every
    byte it prints is checked for the secrets, plain and as the SDK's encryption shows them."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.pop("PYTHONPATH", None)
    with tempfile.TemporaryDirectory(prefix="soar-run-") as tmp:
        command = [str(vendor.python), "src/app.py", "action", action]
        command += ["-a", str(Path(tmp, "asset.json"))]
        Path(tmp, "asset.json").write_text(json.dumps(asset), encoding="utf-8")
        if params is not None:
            Path(tmp, "params.json").write_text(json.dumps(params), encoding="utf-8")
            command += ["-p", str(Path(tmp, "params.json"))]
        proc = subprocess.run(
            command, cwd=tree or vendor.tree, capture_output=True, text=True, timeout=180, env=env
        )
    output = proc.stdout + proc.stderr
    for secret in [*SECRETS, WRONG]:
        assert secret not in output, "a secret leaked"
        assert encoded(secret) not in output, "an encrypted secret leaked"
    assert "Traceback" not in output, output
    assert proc.returncode == code, output  # the SDK exits 0 for failed actions too
    return parse(output)


@pytest.fixture(scope="module")
def manifest(splunk_soar: SoarApp) -> Dict[str, Any]:
    """``soarapps manifests create manifest.json .`` in the export: the manifest it writes."""
    proc = subprocess.run(
        [str(splunk_soar.python.parent / "soarapps"), "manifests", "create", "manifest.json", "."],
        cwd=splunk_soar.tree,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((splunk_soar.tree / "manifest.json").read_text(encoding="utf-8"))


def action_of(manifest: Dict[str, Any], identifier: str) -> Dict[str, Any]:
    (action,) = [a for a in manifest["actions"] if a["identifier"] == identifier]
    return action


def test_vendor_sdk_is_installed_at_its_pin(splunk_soar: SoarApp) -> None:
    freeze = subprocess.run(
        [str(splunk_soar.python), "-m", "pip", "freeze"], capture_output=True, text=True
    ).stdout
    assert settings("splunk_soar")["runtime"] in freeze
    version = subprocess.run(
        [str(splunk_soar.python), "-c", "import sys; print(*sys.version_info[:2])"],
        capture_output=True,
        text=True,
    ).stdout.split()
    assert version == ["3", "13"]
    assert "jsonschema==4.25.1" in freeze and "requests==2.32.5" in freeze  # our pins, kept
    check = subprocess.run(
        [str(splunk_soar.python), "-m", "pip", "check"], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout


def test_manifest_carries_every_param_with_its_type_and_description(
    manifest: Dict[str, Any],
) -> None:
    plugin = load_plugin()
    schema = plugin.actions[ACTION].input_schema
    action = action_of(manifest, ACTION)
    assert list(action["parameters"]) == list(PARAMS)
    for name, (group, data_type) in PARAMS.items():
        prop = (
            schema["properties"][group]["properties"][name] if group else schema["properties"][name]
        )
        entry = action["parameters"][name]
        assert entry["data_type"] == data_type, name
        assert entry["description"] == f"{prop['title']}: {prop['description']}", name
        assert entry["required"] is (name == "threat_id"), name
    assert action["parameters"]["sortOrder"]["value_list"] == ["asc", "desc"]
    assert action["parameters"]["eventTypes"]["allow_list"] is True
    assert action["parameters"]["max_events"]["default"] == 10000
    assert action["read_only"] is True
    paths = {o["data_path"] for o in action["output"]}
    assert {
        "action_result.data.*.status_code",
        "action_result.data.*.json_body.pagination.nextCursor",
        "action_result.data.*.json_body.errors.*.detail",
        "action_result.data.*.json_body.data.*.processName",
        "action_result.summary.events_returned",
        "action_result.summary.total_items",
        "action_result.summary.next_cursor",
    } <= paths


def test_manifest_identity_and_encrypted_asset_fields(manifest: Dict[str, Any]) -> None:
    plugin = load_plugin()
    assert manifest["appid"] == plugin.platforms["splunk_soar"]["appid"]
    assert manifest["name"] == plugin.title and manifest["app_version"] == plugin.version
    assert manifest["python_version"] == "3.13"
    config = manifest["configuration"]
    assert list(config) == list(plugin.asset.schema["properties"])
    # Sensitive fields are what the SDK encrypts: the secret and the proxy URL.
    assert {name for name, entry in config.items() if entry["data_type"] == "password"} == {
        "api_token",
        "http_proxy",
    }
    assert config["url"]["required"] is config["api_token"]["required"] is True
    assert config["timeout"]["default"] == 30
    assert {a["identifier"] for a in manifest["actions"]} == {ACTION, "test_connectivity"}


def test_seed_threat(splunk_soar: SoarApp, sim: Any) -> None:
    # api_token is sensitive: the SDK's CLI encrypts it and the App decrypts it before our code
    # runs. Without the round trip the console would get the ciphertext and answer 401.
    run = soar(
        splunk_soar, ACTION, {"url": sim.url, "api_token": TOKEN}, {"threat_id": SEED_THREAT}
    )
    assert run.success is True
    assert run.message == "HTTP 200: 2 events"
    (envelope,) = run.data
    assert envelope["status_code"] == 200
    assert envelope["json_body"]["data"] == simulator.SEED_EVENTS
    assert set(envelope) == {"status_code", "reason", "json_body", "response_headers"}
    assert run.summary == {"events_returned": 2, "total_items": 2, "next_cursor": None}
    (request,) = sim.requests()
    assert request["auth"] == "ok"
    assert request["headers"]["User-Agent"] == "s1_threat_events/1.0.0"


def test_string_params_are_coerced(splunk_soar: SoarApp, sim: Any) -> None:
    params = {
        "threat_id": SEED_THREAT,
        "limit": "1",
        "skipCount": "false",
        "sortOrder": "desc",
        "eventTypes": "process,file",
        "follow_cursor": "false",
        "max_events": "50",
    }
    run = soar(splunk_soar, ACTION, {"url": sim.url, "api_token": TOKEN}, params)
    assert run.success is True, run.message
    assert run.message == "HTTP 200: 1 event"
    assert run.summary["events_returned"] == 1
    assert run.summary["next_cursor"]
    (request,) = sim.requests()
    assert request["params"] == {
        "limit": ["1"],
        "skipCount": ["false"],
        "sortOrder": ["desc"],
        "eventTypes": ["process,file"],
    }


def test_follow_cursor_returns_every_event_once(splunk_soar: SoarApp, sim: Any) -> None:
    params = {"threat_id": synthetic_threat(2500), "follow_cursor": "true", "limit": "1000"}
    run = soar(splunk_soar, ACTION, {"url": sim.url, "api_token": TOKEN}, params)
    assert run.success is True, run.message
    assert run.message == "HTTP 200: 2500 events"
    (envelope,) = run.data
    ids = [event["id"] for event in envelope["json_body"]["data"]]
    assert len(ids) == len(set(ids)) == 2500
    assert run.summary == {"events_returned": 2500, "total_items": 2500, "next_cursor": None}
    assert len(sim.requests()) == 3


def test_wrong_token_fails_the_action_with_the_envelope(splunk_soar: SoarApp, sim: Any) -> None:
    run = soar(
        splunk_soar, ACTION, {"url": sim.url, "api_token": WRONG}, {"threat_id": SEED_THREAT}
    )
    assert run.success is False
    (envelope,) = run.data
    assert envelope["status_code"] == 401
    error = envelope["json_body"]["errors"][0]
    assert error["code"] == 4010010
    # SentinelOne's 401 has no detail: the message falls back to its title.
    assert error["detail"] is None and error["title"] == "Authentication Failed"
    assert run.message == "HTTP 401: Authentication Failed"
    assert run.summary["events_returned"] == 0
    assert [r["auth"] for r in sim.requests()] == ["wrong"]


def test_hostile_threat_id_is_refused_before_sending(splunk_soar: SoarApp, sim: Any) -> None:
    hostile = "../../threats?x=1"
    run = soar(splunk_soar, ACTION, {"url": sim.url, "api_token": TOKEN}, {"threat_id": hostile})
    assert run.success is False
    # Named as SOAR shows the param, with SOAR's advice (not the CLI's YAML and JSON quoting).
    assert run.message.startswith("invalid parameters: threat_id: got ")
    assert json.dumps(hostile) in run.message
    assert "path_parameters" not in run.message and "YAML" not in run.message
    assert run.data == []
    assert sim.requests() == []


def test_a_page_failing_mid_walk_keeps_the_events_so_far(splunk_soar: SoarApp, sim: Any) -> None:
    sim.add_faults([{"kind": "pass", "count": 1}, {"kind": "status", "status": 400}])
    params = {"threat_id": synthetic_threat(2500), "follow_cursor": True, "limit": 1000}
    run = soar(splunk_soar, ACTION, {"url": sim.url, "api_token": TOKEN}, params)
    assert run.success is False
    assert run.message.startswith("HTTP 400: ")
    (envelope,) = run.data
    assert envelope["status_code"] == 400
    assert len(envelope["json_body"]["data"]) == 1000
    assert run.summary["events_returned"] == 1000 and run.summary["next_cursor"]


def test_a_connection_lost_mid_walk_keeps_the_events_so_far(splunk_soar: SoarApp, sim: Any) -> None:
    sim.add_faults([{"kind": "pass", "count": 1}, {"kind": "reset"}])
    asset = {"url": sim.url, "api_token": TOKEN, "max_retries": 0}
    params = {"threat_id": synthetic_threat(2500), "follow_cursor": True, "limit": 1000}
    run = soar(splunk_soar, ACTION, asset, params)
    assert run.success is False
    assert not run.message.startswith("HTTP ")  # our transport sentence
    (envelope,) = run.data
    assert len(envelope["json_body"]["data"]) == 1000
    assert envelope["json_body"]["pagination"]["nextCursor"]
    assert run.summary["events_returned"] == 1000
    assert len(sim.requests()) == 2  # max_retries 0 reached our connector


def test_a_param_the_sdk_cannot_coerce_stops_before_our_code(
    splunk_soar: SoarApp, sim: Any
) -> None:
    # The SDK validates params.json itself (pydantic, lax): "abc" is no integer. Its CLI exits 2
    # with its own message; the action never runs.
    params = {"threat_id": SEED_THREAT, "limit": "abc"}
    run = soar(splunk_soar, ACTION, {"url": sim.url, "api_token": TOKEN}, params, code=2)
    assert run.success is None
    assert "limit" in run.text and "abc" in run.text
    assert sim.requests() == []


def test_proxy_credentials_make_the_encryption_round_trip(
    splunk_soar: SoarApp, sim: Any, auth_proxy: Any
) -> None:
    # http_proxy is sensitive too: encrypted by the SDK's CLI, decrypted by the App, and the
    # proxy (which requires the credentials) lets the request through.
    asset = {
        "url": sim.url,
        "api_token": TOKEN,
        "http_proxy": auth_proxy.url(with_credentials=True),
    }
    run = soar(splunk_soar, ACTION, asset, {"threat_id": SEED_THREAT})
    assert run.success is True, run.message
    assert auth_proxy.seen and auth_proxy.seen[0][0] == "GET"
    assert [r["auth"] for r in sim.requests()] == ["ok"]


def test_connectivity_ok(splunk_soar: SoarApp, sim: Any) -> None:
    run = soar(splunk_soar, "test_connectivity", {"url": sim.url, "api_token": TOKEN})
    assert run.success is True
    assert run.message == "Test connectivity successful"
    assert "accepted the API token" in run.text  # our diagnosis, logged
    assert [r["auth"] for r in sim.requests()] == ["ok"]


def test_connectivity_with_a_wrong_token(splunk_soar: SoarApp, sim: Any) -> None:
    run = soar(splunk_soar, "test_connectivity", {"url": sim.url, "api_token": WRONG})
    assert run.success is False
    assert run.message.startswith(
        "Action failure in test connectivity: Token invalid or expired (HTTP 401)"
    )
    assert [r["auth"] for r in sim.requests()] == ["wrong"]


def test_token_stays_out_of_errors_about_the_asset(splunk_soar: SoarApp, sim: Any) -> None:
    # An invalid asset quoting the token in a bad URL: the SDK accepts the string, our check
    # refuses it and names the field only (soar() checks every byte of output for the token).
    asset = {"url": f"ftp://{TOKEN}@example", "api_token": TOKEN}
    run = soar(splunk_soar, "test_connectivity", asset)
    assert run.success is False
    assert run.message.startswith("Action failure in test connectivity: invalid asset: url")
    run = soar(splunk_soar, ACTION, asset, {"threat_id": SEED_THREAT})
    assert run.success is False and "url" in run.message and run.data == []
    assert sim.requests() == []


# --- the app tarball SOAR installs (built in conftest.py by the SDK's packager) ---------------


def tarball_manifest(app: SoarApp) -> Dict[str, Any]:
    return json.loads((app.installed / "manifest.json").read_text(encoding="utf-8"))


def test_the_tarball_manifest_lists_both_actions_with_every_param(
    splunk_soar: SoarApp, manifest: Dict[str, Any]
) -> None:
    packed = tarball_manifest(splunk_soar)
    assert {a["identifier"] for a in packed["actions"]} == {ACTION, "test_connectivity"}
    schema = load_plugin().actions[ACTION].input_schema
    params = action_of(packed, ACTION)["parameters"]
    assert list(params) == list(PARAMS)
    for name, (group, data_type) in PARAMS.items():
        prop = (
            schema["properties"][group]["properties"][name] if group else schema["properties"][name]
        )
        assert params[name]["data_type"] == data_type, name
        assert params[name]["description"] == f"{prop['title']}: {prop['description']}", name
    assert action_of(packed, ACTION) == action_of(manifest, ACTION)  # the same as the project's


def test_the_tarball_carries_wheels_for_the_apps_python(splunk_soar: SoarApp) -> None:
    packed = tarball_manifest(splunk_soar)
    assert packed["python_version"] == ["3.13"] or packed["python_version"] == "3.13"
    wheels = packed["pip313_dependencies"]["wheel"]
    modules = {wheel["module"].lower().replace("_", "-") for wheel in wheels}
    assert {"jsonschema", "splunk-soar-sdk", "pydantic"} <= modules, sorted(modules)
    assert "pyyaml" not in modules  # platforms.splunk_soar.unneeded
    for wheel in wheels:
        for key in ("input_file", "input_file_aarch64"):
            if wheel.get(key):
                path = splunk_soar.installed / wheel[key]
                assert path.is_file(), wheel[key]
                tags = path.name[: -len(".whl")].split("-")[-3:]
                assert tags[0] in ("py3", "py2.py3", "cp313") or tags[1] == "abi3", path.name


def test_the_tarball_holds_readme_license_and_release_notes(splunk_soar: SoarApp) -> None:
    with tarfile.open(splunk_soar.tarball) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"README.md", "LICENSE", "NOTICE", "release_notes/1.0.0.md", "manifest.json"} <= names
    assert "src/plugin_data.py" in names and "src/actions/get_threat_events.py" in names
    text = (splunk_soar.installed / "manifest.json").read_text(encoding="utf-8")
    for official in ("phantom_sentinelone", "bb05c97e"):
        assert official not in text
    assert tarball_manifest(splunk_soar)["name"] != "SentinelOne"


def test_the_installed_app_runs_the_seed_threat(splunk_soar: SoarApp, sim: Any) -> None:
    asset = {"url": sim.url, "api_token": TOKEN}
    run = soar(splunk_soar, ACTION, asset, {"threat_id": SEED_THREAT}, tree=splunk_soar.installed)
    assert run.success is True, run.message
    assert run.message == "HTTP 200: 2 events"
    (envelope,) = run.data
    assert envelope["json_body"]["data"] == simulator.SEED_EVENTS
    ok = soar(splunk_soar, "test_connectivity", asset, tree=splunk_soar.installed)
    assert ok.success is True
    assert [r["auth"] for r in sim.requests()] == ["ok", "ok"]


def test_the_projects_own_test_runs(splunk_soar: SoarApp) -> None:
    proc = subprocess.run(
        [str(splunk_soar.python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=splunk_soar.tree,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "1 passed" in proc.stdout
