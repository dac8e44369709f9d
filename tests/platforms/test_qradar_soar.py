"""IBM QRadar SOAR: the exported app built, checked and run with IBM's own tools (51.0.9.1), in
their own venv, against the simulator.

The module's ``app`` fixture does what an app author does: ``resilient-sdk codegen --reload``
over the export (offline, from its export.res), ``resilient-sdk validate --validate``,
``resilient-sdk package``, then ``pip install`` of the package into the venv (as App Host's
image build does). Each function case runs tests/platforms/qradar_soar_cases.py under
pytest-resilient-circuits (its BasicResilientMock stands in for the SOAR message bus), with
the app.config the export's config.py gives, the token as the App Host secret $API_TOKEN.
Every byte the tools print or log is checked for the token and the proxy password.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path
from typing import Any, Dict, Iterator, NamedTuple, Optional

import pytest

import simulator
from tests.platforms.conftest import HERE, Vendor
from tests.support import SECRETS, SEED_THREAT, TOKEN, synthetic_threat

PACKAGE = "fn_s1_threat_events"
FUNCTION = "s1_threat_events_get_threat_events"
WRONG_TOKEN = "not-the-token-x9"
LEAKS = (*SECRETS, WRONG_TOKEN)
# The dummy SOAR connection pytest-resilient-circuits needs (never contacted: the mock answers).
SOAR_FLAGS = [
    "--resilient_email=tests@plugins.example",
    "--resilient_password=dummy-soar-password",
    "--resilient_host=soar.invalid",
    "--resilient_org=Test Org",
]


def vendor_env(**extra: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.pop("PYTHONPATH", None)
    env.update(extra)
    return env


def tool(vendor: Vendor, args: list, cwd: Path) -> subprocess.CompletedProcess:
    """A resilient-sdk command in the venv, checked: exit 0, no secret, no traceback."""
    proc = subprocess.run(
        [str(vendor.python.parent / "resilient-sdk"), *args],
        cwd=cwd,
        env=vendor_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return proc


class App(NamedTuple):
    folder: Path  # the package after codegen (the author's working copy)
    validate: str  # what validate printed
    zip: Path  # dist/app-<package>-<version>.zip
    config: str  # the app.config section config.py gives


@pytest.fixture(scope="module")
def app(qradar_soar: Vendor, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    work = tmp_path_factory.mktemp("qradar") / "export"
    shutil.copytree(qradar_soar.tree, work)
    folder = work / PACKAGE
    tool(qradar_soar, ["codegen", "--reload", "-p", ".", "-e", "../export.res"], folder)
    validate = tool(qradar_soar, ["validate", "-p", ".", "--validate"], folder)
    tool(qradar_soar, ["package", "-p", "."], folder)
    (archive,) = (folder / "dist").glob("app-*.zip")
    install = subprocess.run(
        [str(qradar_soar.python), "-m", "pip", "install", "--quiet", "--no-cache-dir", "."],
        cwd=folder,
        env=vendor_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    probe = subprocess.run(
        [
            str(qradar_soar.python),
            "-c",
            f"from {PACKAGE}.util.config import config_section_data as c; print(c(), end='')",
        ],
        cwd="/",
        env=vendor_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    yield App(folder, validate.stdout + validate.stderr, archive, probe.stdout)


class Call(NamedTuple):
    payload: Optional[Dict[str, Any]]  # the results payload
    error: Optional[str]  # the function failed with this message


def call(
    vendor: Vendor, app: App, tmp_path: Path, config: str, token: str = TOKEN, **inputs: Any
) -> Call:
    """The function once, under pytest-resilient-circuits; every byte printed or logged is
    checked for secrets."""
    result = tmp_path / "result.json"
    base = tmp_path / "basetemp"
    # A copy outside this repository: our conftest.py files are not the vendor's business.
    driver = tmp_path / "run" / "test_qradar_soar_call.py"
    driver.parent.mkdir()
    shutil.copyfile(HERE / "qradar_soar_cases.py", driver)
    (driver.parent / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    argv = [str(vendor.python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-s"]
    argv += [f"--basetemp={base}", *SOAR_FLAGS, str(driver)]
    proc = subprocess.run(
        argv,
        cwd=driver.parent,
        env=vendor_env(
            QR_FUNCTION=FUNCTION,
            QR_APP_CONFIG=config,
            QR_INPUTS=json.dumps(inputs),
            QR_RESULT=str(result),
            API_TOKEN=token,  # what App Host gives the app for the secret $API_TOKEN
        ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    printed = [proc.stdout, proc.stderr]
    printed += [p.read_text("utf-8", "replace") for p in base.rglob("*") if p.is_file()]
    for text in printed:
        for secret in LEAKS:
            assert secret not in text, "a secret leaked"
    outcome = json.loads(result.read_text(encoding="utf-8"))
    error = outcome.get("error")
    if error is not None:
        # resilient-lib's IntegrationError prints as the repr of its message
        error = ast.literal_eval(error)
    return Call(outcome.get("payload"), error)


def configured(app: App, sim: Any, **values: Optional[str]) -> str:
    """config.py's section with the simulator's URL (``values``: replace or, None, drop)."""
    assert "\napi_token = $API_TOKEN\n" in app.config  # the App Host secret, never a value
    lines = []
    values = {"url": sim.url, **values}
    for line in app.config.splitlines():
        name = line.split("=", 1)[0].strip()
        if name in values:
            if values[name] is not None:
                lines.append(f"{name} = {values[name]}")
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


# --- IBM's tools: codegen, validate, package ----------------------------------------------------


def test_codegen_adds_its_boilerplate_and_keeps_our_files(qradar_soar: Vendor, app: App) -> None:
    ours = {
        p.relative_to(qradar_soar.tree / PACKAGE).as_posix()
        for p in (qradar_soar.tree / PACKAGE).rglob("*")
        if p.is_file()
    }
    for relative in ours - {f"{PACKAGE}/util/customize.py"}:  # codegen's own replaces that
        assert (app.folder / relative).read_bytes() == (
            qradar_soar.tree / PACKAGE / relative
        ).read_bytes(), relative
    for relative in [
        "Dockerfile",
        "MANIFEST.in",
        "tox.ini",
        f"{PACKAGE}/util/data/export.res",
        f"{PACKAGE}/util/selftest.py",
        f"tests/test_funct_{FUNCTION}.py",
    ]:
        assert (app.folder / relative).is_file(), relative
    customize = (app.folder / PACKAGE / "util" / "customize.py").read_text(encoding="utf-8")
    assert "Generated with resilient-sdk v51.0.9.1" in customize


def test_validate_reports_no_critical_issue(app: App) -> None:
    assert "Critical Issues:     0" in app.validate.replace("\x1b[91m", "").replace(
        "\x1b[0m", ""
    ), app.validate[-3000:]


def test_validate_selftest_needs_a_soar_server() -> None:
    pytest.skip(
        "resilient-sdk validate --selftest calls the app's selftest through a SOAR REST "
        "connection (app.config [resilient] host): no SOAR server here"
    )


def test_package_writes_the_app_zip(app: App) -> None:
    assert app.zip.name == f"app-{PACKAGE}-1.0.0.zip"
    with zipfile.ZipFile(app.zip) as archive:
        names = set(archive.namelist())
        assert {"app.json", "export.res", f"{PACKAGE}-1.0.0.tar.gz"} <= names
        manifest = json.loads(archive.read("app.json"))
        export = json.loads(archive.read("export.res"))
        sdist = app.folder / "dist" / f"{PACKAGE}-1.0.0.tar.gz"
    assert [f["name"] for f in export["functions"]] == [FUNCTION]
    assert PACKAGE in json.dumps(manifest)
    with tarfile.open(sdist) as tar:
        members = {m.name.split("/", 1)[1] for m in tar.getmembers() if "/" in m.name}
    for relative in [
        f"{PACKAGE}/plugin/plugin_data.py",
        f"{PACKAGE}/plugin/framework/runner.py",
        f"{PACKAGE}/bridge.py",
        f"{PACKAGE}/LICENSE",
        f"payload_samples/{FUNCTION}/output_json_schema.json",
    ]:
        assert relative in members, relative


# --- the function under pytest-resilient-circuits, against the simulator -----------------------


def test_seed_threat(qradar_soar: Vendor, app: App, sim: Any, tmp_path: Path) -> None:
    result = call(
        qradar_soar, app, tmp_path, configured(app, sim), s1_threat_events_threat_id=SEED_THREAT
    )
    assert result.error is None
    payload = result.payload
    assert payload["success"] is True and payload["reason"] is None
    envelope = payload["content"]
    assert set(envelope) == {"status_code", "reason", "json_body", "response_headers"}
    assert envelope["status_code"] == 200
    assert envelope["json_body"]["data"] == simulator.SEED_EVENTS
    (request,) = sim.requests()
    assert request["auth"] == "ok"


def test_follow_cursor_reads_2500_events_once(
    qradar_soar: Vendor, app: App, sim: Any, tmp_path: Path
) -> None:
    result = call(
        qradar_soar,
        app,
        tmp_path,
        configured(app, sim),
        s1_threat_events_threat_id=synthetic_threat(2500),
        s1_threat_events_follow_cursor=True,
        s1_threat_events_event_types="process,file,dns,ip,url,registry,events,indicators,logins,"
        "scheduled_task,module",
    )
    ids = [event["id"] for event in result.payload["content"]["json_body"]["data"]]
    assert len(ids) == len(set(ids)) == 2500
    assert result.payload["content"]["json_body"]["pagination"]["nextCursor"] is None
    assert len(sim.requests()) == 3


def test_typed_inputs_reach_the_console(
    qradar_soar: Vendor, app: App, sim: Any, tmp_path: Path
) -> None:
    result = call(
        qradar_soar,
        app,
        tmp_path,
        configured(app, sim),
        s1_threat_events_threat_id=synthetic_threat(2500),
        s1_threat_events_limit=5,
        s1_threat_events_sort_order="desc",
        s1_threat_events_event_types="process,file",
    )
    assert result.payload["success"] is True
    assert len(result.payload["content"]["json_body"]["data"]) == 5
    (request,) = sim.requests()
    assert request["params"] == {
        "limit": ["5"],
        "sortOrder": ["desc"],
        "eventTypes": ["process,file"],
    }


def test_wrong_token_is_a_failed_payload_with_the_envelope(
    qradar_soar: Vendor, app: App, sim: Any, tmp_path: Path
) -> None:
    config = configured(app, sim)  # api_token = $API_TOKEN, the secret holds the wrong one
    result = call(
        qradar_soar,
        app,
        tmp_path,
        config,
        token=WRONG_TOKEN,
        s1_threat_events_threat_id=SEED_THREAT,
    )
    assert result.error is None
    assert result.payload["success"] is False
    assert result.payload["content"]["status_code"] == 401
    assert result.payload["content"]["json_body"]["errors"][0]["code"] == 4010010
    assert result.payload["reason"] == "HTTP 401: Authentication Failed"
    assert [r["auth"] for r in sim.requests()] == ["wrong"]


@pytest.mark.parametrize("threat_id", ["../1", f"{SEED_THREAT}/../../x", "1 OR 1=1", "%2F"])
def test_hostile_threat_id_is_refused_and_nothing_sent(
    qradar_soar: Vendor, app: App, sim: Any, tmp_path: Path, threat_id: str
) -> None:
    result = call(
        qradar_soar, app, tmp_path, configured(app, sim), s1_threat_events_threat_id=threat_id
    )
    assert result.payload is None
    assert result.error.startswith("invalid inputs: path_parameters.threat_id: got ")
    assert sim.requests() == []


def test_a_secret_named_in_an_input_never_comes_back(
    qradar_soar: Vendor, app: App, sim: Any, tmp_path: Path
) -> None:
    # resilient-circuits replaces $NAME in function inputs with the App Host secret NAME.
    result = call(
        qradar_soar, app, tmp_path, configured(app, sim), s1_threat_events_threat_id="$API_TOKEN"
    )
    assert result.error.startswith("invalid inputs: path_parameters.threat_id: got ")
    assert "***" in result.error
    assert sim.requests() == []


def test_missing_url_fails_with_our_sentence(
    qradar_soar: Vendor, app: App, sim: Any, tmp_path: Path
) -> None:
    config = configured(app, sim, url=None)
    result = call(qradar_soar, app, tmp_path, config, s1_threat_events_threat_id=SEED_THREAT)
    assert result.payload is None
    assert result.error.startswith("invalid asset: ") and "url" in result.error
    assert sim.requests() == []


def test_refused_connection_fails_with_our_sentence(
    qradar_soar: Vendor, app: App, sim: Any, tmp_path: Path
) -> None:
    config = configured(app, sim, url="http://127.0.0.1:9", max_retries="0")
    result = call(qradar_soar, app, tmp_path, config, s1_threat_events_threat_id=SEED_THREAT)
    assert result.payload is None
    assert result.error.startswith("The connection to 127.0.0.1:9 was refused")
