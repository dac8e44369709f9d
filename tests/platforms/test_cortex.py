"""TheHive Cortex: our exported analyzer run by cortexutils 2.2.1 as published, in its own venv.

The job is given as Cortex gives it: the flavour's JSON says what ``config`` holds (every
configuration item, null when unset, Cortex's own settings, the flavour's ``config``), and the
program gets it either on stdin (the answer on stdout) or as a job folder argument, ``program
<job_dir>`` reading ``<job_dir>/input/input.json`` and writing ``<job_dir>/output/output.json``
(how Cortex's process runner calls it). Against the simulator. Every byte the program prints or
writes is checked for the token, the proxy password and tracebacks.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional

import pytest

import simulator
from exporters.common import camel
from exporters.cortex import names, program
from framework.manifest import load_plugin
from tests.platforms.conftest import Vendor
from tests.platforms.venvs import settings
from tests.support import PROXY_PASSWORD, SECRETS, SEED_THREAT, TOKEN, synthetic_threat

ACTION = "get_threat_events"
WRONG_TOKEN = "not-the-token-x9"
LEAKS = (*SECRETS, WRONG_TOKEN)
# Cortex's own settings in every job's config (its global analyzer configuration).
CORTEX_CONFIG = {
    "check_tlp": False,
    "max_tlp": 2,
    "check_pap": False,
    "max_pap": 2,
    "auto_extract": True,
    "jobTimeout": 30,
    "jobCache": 10,
    "proxy": {"http": None, "https": None},
}
PLUGIN = load_plugin()
BASE = camel(PLUGIN.title)


class Result(NamedTuple):
    code: int
    stdout: str
    stderr: str
    output: Dict[str, Any]  # the answer: output.json, or stdout


def definition(vendor: Vendor) -> Dict[str, Any]:
    name = names(PLUGIN, ACTION)["name"]
    path = vendor.tree / "analyzers" / BASE / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def job(
    vendor: Vendor,
    data: Any = SEED_THREAT,
    config: Optional[Dict[str, Any]] = None,
    parameters: Optional[Dict[str, Any]] = None,
    **extra: Any,
) -> Dict[str, Any]:
    """A job as Cortex writes it: the flavour's configuration items (their default, or null),
    Cortex's settings and the flavour's config, then ``config`` over them."""
    spec = definition(vendor)
    items = {item["name"]: item.get("defaultValue") for item in spec["configurationItems"]}
    merged = {**items, **CORTEX_CONFIG, **spec["config"], **(config or {})}
    value = {"data": data, "dataType": "other", "tlp": 2, "pap": 2, "message": "", "config": merged}
    value["parameters"] = parameters or {}
    value.update(extra)
    return value


def console(sim: Any, **more: Any) -> Dict[str, Any]:
    return {"url": sim.url, "api_token": TOKEN, **more}


def run(vendor: Vendor, value: Any, job_dir: Optional[Path] = None, leaks: bool = False) -> Result:
    """The program under the vendor's Python: the job on stdin, or in ``job_dir``."""
    script = vendor.tree / "analyzers" / BASE / program(PLUGIN)
    argv = [str(vendor.python), str(script)]
    stdin = json.dumps(value)
    if job_dir is not None:
        (job_dir / "input").mkdir(parents=True)
        (job_dir / "input" / "input.json").write_text(stdin, encoding="utf-8")
        argv.append(str(job_dir))
        stdin = ""
    proc = subprocess.run(
        argv,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/",
        env={"PATH": "/usr/bin:/bin"},
    )
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    if job_dir is not None:
        assert proc.stdout == "", "the job folder's answer went to stdout"
        text = (job_dir / "output" / "output.json").read_text(encoding="utf-8")
    else:
        text = proc.stdout
    if not leaks:
        for secret in LEAKS:
            for where in (proc.stdout, proc.stderr, text):
                assert secret not in where, "a secret leaked"
    assert text.isascii()  # whatever the locale
    output = json.loads(text)
    assert proc.returncode == (0 if output.get("success") else 1), proc.stderr[-2000:]
    return Result(proc.returncode, proc.stdout, proc.stderr, output)


def envelope_of(message: str) -> Dict[str, Any]:
    (line,) = [line for line in message.splitlines() if line.startswith("Envelope")]
    return json.loads(line.split(": ", 1)[1])


def events(result: Result) -> List[Dict[str, Any]]:
    return result.output["full"]["envelope"]["json_body"]["data"]


# --- the runtime ---------------------------------------------------------------------------------


def test_cortexutils_is_installed_at_its_pin(cortex: Vendor) -> None:
    freeze = subprocess.run(
        [str(cortex.python), "-m", "pip", "freeze"], capture_output=True, text=True, check=True
    ).stdout.lower()
    assert settings("cortex")["runtime"] in freeze
    check = subprocess.run([str(cortex.python), "-m", "pip", "check"], capture_output=True)
    assert check.returncode == 0, check.stdout


# --- reports --------------------------------------------------------------------------------------


def test_seed_threat_on_stdin(cortex: Vendor, sim: Any) -> None:
    result = run(cortex, job(cortex, config=console(sim)))
    out = result.output
    assert out["success"] is True
    assert events(result) == simulator.SEED_EVENTS
    envelope = out["full"]["envelope"]
    assert set(envelope) == {"status_code", "reason", "json_body", "response_headers"}
    assert envelope["status_code"] == 200
    assert out["full"]["events"] == 2
    counts = {row["type"]: row["count"] for row in out["full"]["event_types"]}
    assert counts == {"Process Creation": 1, "File Creation": 1}
    assert out["summary"] == {
        "taxonomies": [
            {"level": "info", "namespace": BASE, "predicate": "Events", "value": 2},
        ]
    }
    assert {"dataType": "ip", "data": "96.79.235.37"} in out["artifacts"]  # cortexutils' own
    (request,) = sim.requests()
    assert request["auth"] == "ok"
    assert request["path"] == f"/web/api/v2.1/threats/{SEED_THREAT}/explore/events"
    assert request["headers"]["User-Agent"] == PLUGIN.user_agent


def test_seed_threat_in_a_job_folder(cortex: Vendor, sim: Any, tmp_path: Path) -> None:
    result = run(cortex, job(cortex, config=console(sim)), job_dir=tmp_path / "job")
    assert result.output["success"] is True
    assert events(result) == simulator.SEED_EVENTS
    assert len(sim.requests()) == 1


def test_job_parameters_give_the_query_and_a_threat_id(cortex: Vendor, sim: Any) -> None:
    threat = synthetic_threat(2500)
    parameters = {"threat_id": threat, "limit": "5", "eventTypes": "process,file"}
    result = run(
        cortex, job(cortex, data="not-a-threat", config=console(sim), parameters=parameters)
    )
    assert result.output["success"] is True
    assert len(events(result)) == 5
    (request,) = sim.requests()
    assert request["path"] == f"/web/api/v2.1/threats/{threat}/explore/events"
    assert request["params"] == {"limit": ["5"], "eventTypes": ["process,file"]}


def test_follow_cursor_over_2500_events(cortex: Vendor, sim: Any, tmp_path: Path) -> None:
    value = job(
        cortex, data=synthetic_threat(2500), config=console(sim), parameters={"follow_cursor": True}
    )
    result = run(cortex, value, job_dir=tmp_path / "job")
    ids = [event["id"] for event in events(result)]
    assert len(ids) == len(set(ids)) == 2500
    assert result.output["full"]["envelope"]["json_body"]["pagination"]["nextCursor"] is None
    assert result.output["summary"]["taxonomies"][0]["value"] == 2500
    assert sum(row["count"] for row in result.output["full"]["event_types"]) == 2500
    assert len(sim.requests()) == 3  # pages of 1000


def test_a_body_without_a_utf8_form_is_reported(cortex: Vendor, sim: Any) -> None:
    body = '{"data": [{"name": "a\\udc80b"}], "pagination": {"nextCursor": null}}'
    sim.add_faults([{"kind": "status", "status": 200, "body": body}])
    result = run(cortex, job(cortex, config=console(sim)))
    assert events(result) == [{"name": "a\udc80b"}]


# --- errors ---------------------------------------------------------------------------------------


def test_wrong_token_is_an_error_with_the_envelope(cortex: Vendor, sim: Any) -> None:
    value = job(cortex, config={"url": sim.url, "api_token": WRONG_TOKEN})
    result = run(cortex, value)
    out = result.output
    assert out["success"] is False and result.code == 1
    message = out["errorMessage"]
    assert message.startswith(
        f"{PLUGIN.title} answered HTTP 401 Unauthorized: Authentication Failed."
    )
    envelope = envelope_of(message)
    assert envelope["status_code"] == 401
    assert envelope["json_body"]["errors"][0]["code"] == 4010010
    assert out["input"]["config"]["api_token"] == "REMOVED"  # cortexutils' mask, our phrases
    assert [r["auth"] for r in sim.requests()] == ["wrong"]


def test_an_answer_that_is_not_2xx_names_the_consoles_detail(cortex: Vendor, sim: Any) -> None:
    result = run(cortex, job(cortex, config=console(sim), parameters={"cursor": "bogus"}))
    message = result.output["errorMessage"]
    assert message.startswith(f"{PLUGIN.title} answered HTTP 400 ")
    assert "Invalid cursor value received" in message.splitlines()[0]
    assert envelope_of(message)["status_code"] == 400


@pytest.mark.parametrize(
    "threat_id", ["../1", "../../threats?x=1", f"{SEED_THREAT}/../../x", "%2F..", "1 OR 1=1"]
)
def test_hostile_threat_id_sends_nothing(cortex: Vendor, sim: Any, threat_id: str) -> None:
    for value in (
        job(cortex, data=threat_id, config=console(sim)),
        job(cortex, config=console(sim), parameters={"threat_id": threat_id}),
    ):
        out = run(cortex, value).output
        assert out["success"] is False
        assert "invalid inputs: path_parameters.threat_id: got " in out["errorMessage"]
        assert "Nothing was sent" in out["errorMessage"]
        assert out["input"]["config"]["api_token"] == "REMOVED"
    assert sim.requests() == []


def test_configuration_without_url(cortex: Vendor, sim: Any, tmp_path: Path) -> None:
    value = job(cortex, config={"url": None, "api_token": TOKEN})
    out = run(cortex, value, job_dir=tmp_path / "job").output
    assert out["success"] is False
    assert out["errorMessage"].startswith("invalid asset: url: missing")
    assert "check the analyzer's configuration" in out["errorMessage"]
    assert sim.requests() == []


def test_unknown_job_parameter_is_named(cortex: Vendor, sim: Any) -> None:
    out = run(cortex, job(cortex, config=console(sim), parameters={"limt": 5})).output
    assert out["success"] is False and "limt" in out["errorMessage"]
    assert sim.requests() == []


def test_a_data_type_not_in_the_list_is_refused(cortex: Vendor, sim: Any) -> None:
    out = run(cortex, job(cortex, config=console(sim), dataType="ip")).output
    assert out["errorMessage"] == "This datatype is not supported by this analyzer."
    assert sim.requests() == []


def test_cortexutils_tlp_check_stops_the_job(cortex: Vendor, sim: Any) -> None:
    value = job(cortex, config=console(sim, check_tlp=True, max_tlp=1), tlp=3)
    out = run(cortex, value).output
    assert out["errorMessage"] == "TLP is higher than allowed."
    assert out["input"]["config"]["api_token"] == "REMOVED"
    assert sim.requests() == []


# --- secrets, whatever the job holds --------------------------------------------------------------


def test_no_secret_anywhere_in_an_error_whatever_the_job_holds(
    cortex: Vendor, sim: Any, auth_proxy: Any
) -> None:
    proxy = auth_proxy.url(with_credentials=True)
    value = job(
        cortex,
        data=f"{TOKEN} ../1",
        config=console(sim, http_proxy=proxy, proxy={"http": proxy, "https": proxy}),
        parameters={"note": f"token={TOKEN} proxy={PROXY_PASSWORD}", "apikey": TOKEN},
        message=f"pasted {TOKEN}",
    )
    out = run(cortex, value).output  # run() finds neither secret in any byte
    assert out["success"] is False
    assert out["input"]["config"]["proxy"] == "REMOVED"
    assert out["input"]["config"]["http_proxy"] == "REMOVED"
    assert out["input"]["parameters"]["apikey"] == "REMOVED"
    assert "REMOVED ../1" == out["input"]["data"]
    assert sim.requests() == []


def test_cortexs_proxy_is_used_when_http_proxy_is_not_set(
    cortex: Vendor, sim: Any, auth_proxy: Any
) -> None:
    proxy = auth_proxy.url(with_credentials=True)
    result = run(cortex, job(cortex, config=console(sim, proxy={"http": None, "https": proxy})))
    assert result.output["success"] is True
    assert events(result) == simulator.SEED_EVENTS
    assert auth_proxy.seen and auth_proxy.seen[0][0] == "GET"


def test_cortexutils_default_phrases_would_echo_the_token(cortex: Vendor) -> None:
    # Vendor behaviour the docs warn about: an Analyzer with cortexutils' default secret
    # phrases (key, password, secret) echoes api_token with any error.
    probe = "from cortexutils.analyzer import Analyzer\nAnalyzer().error('x')\n"
    value = {"data": "1", "dataType": "other", "config": {"api_token": TOKEN, "key": "k"}}
    proc = subprocess.run(
        [str(cortex.python), "-c", probe], input=json.dumps(value), capture_output=True, text=True
    )
    echoed = json.loads(proc.stdout)["input"]["config"]
    assert echoed == {"api_token": TOKEN, "key": "REMOVED"}
