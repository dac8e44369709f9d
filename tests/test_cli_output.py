"""What the command line writes: the envelope exactly as received, all of it or a loud failure;
stderr lines on a terminal; secrets kept out of every message.

Against the simulator (its fault injection serves the hostile bodies) or a real forward proxy.
What needs a real process (real pipes, /dev/full, closed descriptors, signals, the installed
script) runs ``python -m runtime`` in one; the rest runs ``runtime.cli.main`` in this process.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from tests.support import (
    PROXY_PASSWORD,
    PROXY_USER,
    ROOT,
    SEED_THREAT,
    TOKEN,
    run_cli,
    sigint_as_on_a_terminal,
    synthetic_threat,
    write_json,
)

COMMAND = [sys.executable, "-m", "runtime"]


def clean_env(**extra: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(extra)
    return env


class Run:
    def __init__(self, code: int, stdout: bytes, stderr: str) -> None:
        self.code, self.stdout, self.stderr = code, stdout, stderr

    @property
    def envelope(self) -> Dict[str, Any]:
        return json.loads(self.stdout)

    def __repr__(self) -> str:
        return f"Run(code={self.code}, stderr={self.stderr!r})"


def run_raw(*args: str, stdout: Any = subprocess.PIPE, stderr: Any = subprocess.PIPE) -> Run:
    """The CLI with stdout/stderr wired as given (a pipe, a file, a descriptor)."""
    proc = subprocess.run(
        [*COMMAND, *args],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        env=clean_env(),
        timeout=120,
        check=False,
    )
    err = proc.stderr.decode("utf-8", "replace") if isinstance(proc.stderr, bytes) else ""
    assert "Traceback" not in err, err
    return Run(proc.returncode, proc.stdout or b"", err)


def run_here(*args: str, terminal: bool = False) -> Run:
    """The CLI in this process (stderr a terminal if ``terminal``); no secret on its streams."""
    result = run_cli(*args, terminal=terminal)
    return Run(result.code, result.stdout.encode(), result.stderr)


def files(tmp_path: Path, asset: Dict[str, Any], inputs: Dict[str, Any]) -> List[str]:
    return [
        "--asset",
        write_json(tmp_path / "asset.json", asset),
        "--inputs",
        write_json(tmp_path / "inputs.json", inputs),
    ]


SEED_INPUTS = {"path_parameters": {"threat_id": SEED_THREAT}}


def follow(events: int, **extra: Any) -> Dict[str, Any]:
    return {
        "path_parameters": {"threat_id": synthetic_threat(events)},
        "follow_cursor": True,
        **extra,
    }


# -- output is data: printed exactly as received --------------------------------------------
def test_envelope_holding_the_secrets_is_printed_byte_identical(sim, auth_proxy, tmp_path) -> None:
    """Event data that happens to contain the token, the proxy user and the proxy password
    (and short words such as "true") reaches stdout unchanged; no stderr line holds them."""
    body = {
        "data": [
            {
                "processName": "svchost.exe",
                "agentInfected": True,
                "cmdLine": f"curl -H 'Authorization: ApiToken {TOKEN}' -u {PROXY_USER}:x",
                "note": f"{PROXY_PASSWORD} and {PROXY_USER}",
            }
        ],
        "pagination": {"nextCursor": None, "totalItems": 1},
    }
    sent = json.dumps(body, ensure_ascii=False)  # the serialization the CLI itself uses
    sim.add_faults([{"kind": "status", "status": 200, "body": sent}])
    asset = {"url": sim.url, "api_token": TOKEN, "http_proxy": auth_proxy.url(True)}
    result = run_raw("run", "get_threat_events", "--debug", *files(tmp_path, asset, SEED_INPUTS))
    assert result.code == 0, result
    assert sent.encode() in result.stdout  # byte for byte, as the server sent it
    assert result.envelope["json_body"] == body
    assert ("GET", f"{sim.url}/web/api/v2.1/threats/{SEED_THREAT}/explore/events") in [
        (method, target.split("?")[0]) for method, target in auth_proxy.seen
    ]
    assert "/explore/events" in result.stderr  # --debug logged the request
    for secret in (TOKEN, PROXY_USER, PROXY_PASSWORD):
        assert secret not in result.stderr


def test_short_proxy_credentials_do_not_corrupt_the_output(sim, tmp_path, proxy) -> None:
    """http://svc:true@proxy: "svchost.exe" and "agentInfected": true stay as they are."""
    body = {"data": [{"processName": "svchost.exe", "agentInfected": True}], "pagination": {}}
    sim.add_faults([{"kind": "status", "status": 200, "body": json.dumps(body)}])
    proxy_url = proxy.url().replace("http://", "http://svc:true@")
    asset = {"url": sim.url, "api_token": TOKEN, "http_proxy": proxy_url}
    args = files(tmp_path, asset, SEED_INPUTS)
    result = run_here("run", "get_threat_events", "--validate-output", *args)
    assert result.code == 0, result
    assert result.envelope["json_body"] == body


@pytest.mark.parametrize(
    ("asset_text", "token"),
    [
        ('{"url": "%s", "api_token": "  s1-padded-Qw81 \\n"}', "s1-padded-Qw81"),
        ("url: %s\napi_token: 918273645546372819\n", "918273645546372819"),
    ],
    ids=["padded-token", "unquoted-digit-token"],
)
def test_safety_net_knows_the_token_as_sent(sim, tmp_path, asset_text, token) -> None:
    """A hostile console echoes the token in its error title, which the terminal line shows:
    the token as sent (trimmed, or the digits YAML read as a number) is still kept out."""
    error = {"errors": [{"code": 4010010, "title": f"bad token {token}", "detail": None}]}
    sim.add_faults([{"kind": "status", "status": 401, "body": json.dumps(error)}])
    asset = tmp_path / "asset.yaml"
    asset.write_text(asset_text % sim.url, encoding="utf-8")
    inputs = write_json(tmp_path / "in.json", SEED_INPUTS)
    result = run_here(
        "run",
        "get_threat_events",
        "--debug",
        "--asset",
        str(asset),
        "--inputs",
        inputs,
        terminal=True,
    )
    assert result.code == 0
    assert result.envelope["json_body"] == error  # the data itself is not filtered
    assert "HTTP 401 bad token ***: the token is invalid or expired" in result.stderr
    assert token not in result.stderr


def test_lone_surrogate_prints_valid_json_keeping_the_data(sim, asset, tmp_path) -> None:
    body = '{"data": [{"name": "a\\udc80b"}], "pagination": {"nextCursor": null}}'
    sim.add_faults([{"kind": "status", "status": 200, "body": body}])
    result = run_here("run", "get_threat_events", *files(tmp_path, asset, SEED_INPUTS))
    assert result.code == 0, result
    assert result.envelope["json_body"]["data"] == [{"name": "a\udc80b"}]


def test_lone_surrogate_on_a_later_page_keeps_the_earlier_pages(sim, asset, tmp_path) -> None:
    page = '{"data": [{"name": "a\\udc80b"}], "pagination": {"nextCursor": null}}'
    sim.add_faults([{"kind": "pass"}, {"kind": "status", "status": 200, "body": page}])
    inputs = follow(1500, parameters={"limit": 1000})
    result = run_here("run", "get_threat_events", *files(tmp_path, asset, inputs))
    assert result.code == 0, result
    data = result.envelope["json_body"]["data"]
    assert len(data) == 1001 and data[-1] == {"name": "a\udc80b"}


# -- the whole envelope, or a loud failure ----------------------------------------------------
def test_non_blocking_slow_reader_gets_the_whole_envelope(sim, asset, tmp_path) -> None:
    """PYTHONUNBUFFERED=1 and a stdout pipe in non-blocking mode, read slowly: every byte."""
    inputs = {
        "path_parameters": {"threat_id": synthetic_threat(1000)},
        "parameters": {"limit": 1000},
    }
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    proc = subprocess.Popen(
        [*COMMAND, "run", "get_threat_events", *files(tmp_path, asset, inputs)],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=write_end,
        stderr=subprocess.PIPE,
        env=clean_env(PYTHONUNBUFFERED="1"),
    )
    os.close(write_end)
    chunks = []
    with os.fdopen(read_end, "rb", buffering=0) as reader:
        while True:
            data = reader.read(4096)  # small reads: the writer keeps hitting a full pipe
            if not data:
                break
            chunks.append(data)
    code = proc.wait(timeout=120)
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    output = b"".join(chunks)
    assert code == 0, stderr
    assert len(output) > 2_000_000
    assert len(json.loads(output)["json_body"]["data"]) == 1000
    assert stderr == ""


def test_closed_stdout_fails_before_sending(sim, asset, tmp_path) -> None:
    args = files(tmp_path, asset, SEED_INPUTS)
    proc = subprocess.run(
        ["sh", "-c", 'exec "$@" >&-', "sh", *COMMAND, "run", "get_threat_events", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
        check=False,
    )
    assert proc.returncode == 5, proc.stderr
    assert proc.stderr == (
        "output error: stdout is closed, so no envelope can be printed; nothing was sent.\n"
    )
    assert sim.requests() == []


def test_full_stdout_fails_loudly(sim, asset, tmp_path) -> None:
    with open("/dev/full", "wb") as full:
        result = run_raw(
            "run", "get_threat_events", *files(tmp_path, asset, SEED_INPUTS), stdout=full
        )
    assert result.code == 5
    assert result.stderr.startswith(
        "output error: writing the envelope to stdout failed after 0 of "
    )
    assert "(no space left on the device); the output is incomplete.\n" in result.stderr
    assert result.stderr.count("\n") == 1


# A reader that closed the pipe (`| head`) ends the run quietly, whatever the output's size.
CLOSED_PIPE_CASES = {
    "small envelope": (SEED_INPUTS, []),
    "large followed envelope": (follow(3000, parameters={"limit": 1000}), []),
    "ndjson on stdout": (follow(5000, parameters={"limit": 1000}), ["--format", "ndjson"]),
    "markdown on stdout": (follow(2500, parameters={"limit": 1000}), ["--format", "markdown"]),
}


@pytest.mark.parametrize("case", sorted(CLOSED_PIPE_CASES))
def test_a_pipe_closed_before_anything_is_written_ends_quietly(sim, asset, tmp_path, case):
    inputs, extra = CLOSED_PIPE_CASES[case]
    extra = [*extra, "--output", "-"] if extra else []
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written
    try:
        result = run_raw(
            "run", "get_threat_events", *files(tmp_path, asset, inputs), *extra, stdout=write_end
        )
    finally:
        os.close(write_end)
    assert (result.code, result.stderr) == (0, "")  # no "Exception ignored ... BrokenPipeError"
    if case == "ndjson on stdout":
        assert len(sim.requests()) == 1  # following stopped at the first page it could not write


def test_test_asset_into_a_closed_pipe_ends_quietly(sim, asset, tmp_path) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = run_raw("test-asset", "--asset", files(tmp_path, asset, {})[1], stdout=write_end)
    finally:
        os.close(write_end)
    assert (result.code, result.stderr) == (0, "")


@pytest.mark.parametrize("fmt", ["envelope", "ndjson"])
def test_head_reading_a_little_then_closing_ends_the_run_quietly(sim, asset, tmp_path, fmt):
    """As `... | head -c 4096`: pages of about 2.6 MB, the pipe closed after the first bytes."""
    pages = 20 if fmt == "ndjson" else 3
    inputs = follow(pages * 1000, parameters={"limit": 1000})
    extra = ["--format", fmt, "--output", "-"] if fmt != "envelope" else []
    proc = subprocess.Popen(
        [*COMMAND, "run", "get_threat_events", *files(tmp_path, asset, inputs), *extra],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(),
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(4096).startswith(b"{")
    proc.stdout.close()
    assert proc.wait(timeout=120) == 0
    assert proc.stderr.read() == b""
    if fmt == "ndjson":  # following stopped: the first page never got out whole
        assert len(sim.requests()) < pages


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_transport_error_with_stderr_on_dev_full_still_exits_3(tmp_path) -> None:
    asset = {"url": f"http://127.0.0.1:{closed_port()}", "api_token": TOKEN, "max_retries": 0}
    with open("/dev/full", "wb") as full:
        result = run_raw(
            "run", "get_threat_events", *files(tmp_path, asset, SEED_INPUTS), stderr=full
        )
    assert result.code == 3
    assert result.stdout == b""


# -- a terminal gets a few more lines; a pipe gets none ---------------------------------------
def test_non_2xx_on_a_terminal_gets_one_stderr_line(sim, asset, tmp_path) -> None:
    bad = {**asset, "api_token": "not-the-token"}
    result = run_here("run", "get_threat_events", *files(tmp_path, bad, SEED_INPUTS), terminal=True)
    assert result.code == 0
    envelope = result.envelope
    assert envelope["status_code"] == 401
    rqid = envelope["response_headers"]["X-RQID"]
    assert result.stderr == (
        f"HTTP 401 Authentication Failed: the token is invalid or expired (X-RQID {rqid})\n"
    )


def test_non_2xx_on_a_pipe_adds_nothing(sim, asset, tmp_path) -> None:
    bad = {**asset, "api_token": "not-the-token"}
    result = run_here("run", "get_threat_events", *files(tmp_path, bad, SEED_INPUTS))
    assert result.code == 0
    assert result.envelope["status_code"] == 401
    assert result.stderr == ""


def test_follow_summary_on_a_terminal_names_the_resume_cursor(sim, asset, tmp_path) -> None:
    inputs = follow(3000, max_events=2000)
    result = run_here("run", "get_threat_events", *files(tmp_path, asset, inputs), terminal=True)
    assert result.code == 0
    cursor = result.envelope["json_body"]["pagination"]["nextCursor"]
    assert cursor
    assert result.stderr.endswith(
        f"\r2,000 events in 2 pages (stopped at max_events; resume with cursor {cursor})\n"
    )


def test_progress_line_says_when_a_retry_waits(sim, asset, tmp_path) -> None:
    sim.add_faults(
        [{"kind": "pass"}, {"kind": "status", "status": 429, "headers": {"Retry-After": "1"}}]
    )
    inputs = follow(3000)
    result = run_here("run", "get_threat_events", *files(tmp_path, asset, inputs), terminal=True)
    assert result.code == 0
    assert len(result.envelope["json_body"]["data"]) == 3000
    assert "\rfetched 1,000 / 3,000 events, 1 page, " in result.stderr
    assert ", waiting 1 s (HTTP 429)" in result.stderr


@pytest.mark.parametrize("total", ["lots", {}, 2.5, True])
def test_progress_line_survives_a_total_that_is_not_an_integer(sim, asset, tmp_path, total) -> None:
    page = {"data": [{"id": "1"}], "pagination": {"nextCursor": None, "totalItems": total}}
    sim.add_faults([{"kind": "status", "status": 200, "body": json.dumps(page)}])
    result = run_here("run", "get_threat_events", *files(tmp_path, asset, follow(5)), terminal=True)
    assert result.code == 0, result
    assert result.envelope["json_body"]["data"] == [{"id": "1"}]
    assert "\rfetched 1 events, 1 page, " in result.stderr


def test_ctrl_c_during_a_follow_prints_the_partial_envelope(sim, asset, tmp_path) -> None:
    """SIGINT while page 3 is on its way: pages 1 and 2 on stdout, the resume cursor, 130."""
    sim.add_faults([{"kind": "pass", "count": 2}, {"kind": "delay", "seconds": 30}])
    patient = {**asset, "timeout": 120}  # the delayed page can never time out first
    argv = ["run", "get_threat_events", *files(tmp_path, patient, follow(5000))]
    code, stdout, stderr = ctrl_c_when(argv, lambda: len(sim.requests()) >= 3)
    assert code == 130, stderr
    body = json.loads(stdout)["json_body"]
    assert len(body["data"]) == 2000
    assert body["pagination"]["nextCursor"] == sim.requests()[2]["params"]["cursor"][0]
    assert body["errors"][0]["title"] == "Interrupted"
    assert stderr.decode() == (
        "interrupted: the 2,000 events read so far are in the envelope on stdout; resume with "
        "its json_body.pagination.nextCursor.\n"
    )


def test_ctrl_c_during_the_connection_test_still_prints_its_one_result(sim, asset, tmp_path):
    """Issue 21 (friction): test-asset always prints one result, Ctrl-C included (exit 130)."""
    sim.add_faults([{"kind": "delay", "seconds": 30}])
    argv = ["test-asset", "--asset", write_json(tmp_path / "a.json", asset)]
    code, stdout, stderr = ctrl_c_when(argv, lambda: len(sim.requests()) >= 1)
    assert code == 130, stderr
    result = json.loads(stdout)
    assert (result["ok"], result["cause"], result["status_code"]) == (False, "interrupted", None)
    assert stderr.decode() == (
        "interrupted: the connection test was stopped (Ctrl-C) before it ended.\n"
    )


def ctrl_c_when(argv: List[str], condition: Any) -> Tuple[int, bytes, bytes]:
    """``python -m runtime ARGV`` in its own process, sent SIGINT (as Ctrl-C on a terminal)
    once ``condition`` holds: (exit code, stdout, stderr)."""
    proc = subprocess.Popen(
        [*COMMAND, *argv],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(),
        preexec_fn=sigint_as_on_a_terminal,
    )
    try:
        wait_for(condition, proc)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    return proc.returncode, stdout, stderr


def wait_for(condition: Any, proc: subprocess.Popen) -> None:
    """Poll a condition of the outside world (the simulator's request log) until it holds."""
    import time

    deadline = time.monotonic() + 60
    while not condition():
        assert proc.poll() is None, "the CLI ended early"
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.02)


# -- test-asset: one result shape, always ----------------------------------------------------
RESULT_KEYS = ["ok", "status_code", "cause", "diagnosis", "request_id"]


def result_of(run: Run) -> Dict[str, Any]:
    result = json.loads(run.stdout)
    assert list(result) == RESULT_KEYS
    return result


def test_test_asset_success_shape(sim, asset, tmp_path) -> None:
    run = run_here("test-asset", "--asset", write_json(tmp_path / "a.json", asset))
    assert run.code == 0
    assert result_of(run)["ok"] is True


@pytest.mark.parametrize(
    ("content", "sentence"),
    [
        (None, "does not exist"),
        ("url: [unclosed\napi_token: x\n", "is not valid JSON or YAML"),
        ('{"url": "ftp://x", "api_token": "tok-ABCDEF"}', "url"),
    ],
    ids=["missing-file", "unparseable-file", "invalid-value"],
)
def test_test_asset_prints_a_result_for_every_invalid_asset(tmp_path, content, sentence) -> None:
    path = tmp_path / "asset.yaml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    run = run_here("test-asset", "--asset", str(path))
    assert run.code == 2
    result = result_of(run)
    assert result["ok"] is False and result["cause"] == "invalid_asset"
    assert result["status_code"] is None and result["request_id"] is None
    assert sentence in result["diagnosis"]
    assert run.stderr.startswith("invalid asset: ")


def test_test_asset_and_run_frame_a_transport_failure_alike(tmp_path) -> None:
    asset = {"url": f"http://127.0.0.1:{closed_port()}", "api_token": TOKEN, "max_retries": 0}
    path = write_json(tmp_path / "a.json", asset)
    ran = run_here("run", "get_threat_events", *files(tmp_path, asset, SEED_INPUTS))
    tested = run_here("test-asset", "--asset", path)
    assert (ran.code, tested.code) == (3, 3)
    for output in (ran.stderr, tested.stderr):
        assert output.startswith("transport error: ") and output.count("\n") == 1
    assert result_of(tested)["cause"] == "refused"


# -- the command line itself ----------------------------------------------------------------
def test_output_options_are_accepted_after_the_subcommand(sim, asset, tmp_path) -> None:
    args = files(tmp_path, asset, SEED_INPUTS)
    run = run_here("run", "get_threat_events", *args, "--debug", "--pretty", "--quiet")
    assert run.code == 0
    assert run.stdout.startswith(b"{\n  ")
    assert "/explore/events" in run.stderr
    before = run_here("--pretty", "run", "get_threat_events", *args)
    assert before.stdout.startswith(b"{\n  ")


@pytest.mark.parametrize("command", ["run", "test-asset", "validate", "package"])
def test_every_subcommand_help_shows_options_defaults_example_and_exit_codes(command) -> None:
    run = run_here(command, "--help")
    assert run.code == 0
    text = run.stdout.decode()
    # Only the output options the command uses are offered (issue 21, friction).
    every = ["--debug", "--quiet", "--pretty"]
    uses = {"run": every, "test-asset": every, "validate": ["--quiet"]}.get(command, [])
    assert [option for option in every if option in text] == uses
    assert "(default: " in text
    assert f"example:\n  python -m runtime {command}" in text
    assert "exit codes:\n  0 " in text


def test_version() -> None:
    run = run_here("--version")
    assert run.code == 0
    assert run.stdout == b"python -m runtime 1.0.0\n"


def test_console_script_is_installed_beside_python_m_runtime() -> None:
    script = Path(sys.executable).parent / "sentinelone-plugin"
    assert script.is_file(), "pyproject.toml [project.scripts] sentinelone-plugin (make venv)"
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0
    assert proc.stdout == "sentinelone-plugin 1.0.0\n"


def test_missing_dependency_is_one_line_not_a_traceback() -> None:
    """-S: no site-packages, as with a system python3 outside the venv."""
    proc = subprocess.run(
        [sys.executable, "-S", "-m", "runtime", "validate"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=clean_env(),
        check=False,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("missing dependency: ")
    assert "make demo" in lines[0] and "pip install -r requirements.txt" in lines[0]


def test_prepared_request_headers_do_not_show_the_token(make_connector, asset) -> None:
    import requests

    connector = make_connector(asset)
    prepared = connector.session.prepare_request(
        requests.Request("GET", connector.base_url + "/web/api/v2.1/threats")
    )
    assert TOKEN not in repr(prepared.headers)
    assert TOKEN not in repr(connector) and TOKEN not in repr(connector.session.auth)
    response = connector.session.send(prepared, timeout=10)  # the real header still works
    assert response.status_code == 200
    assert TOKEN in connector.secrets


def test_connector_secrets_are_what_it_sends(make_connector, sim, auth_proxy) -> None:
    asset = {"url": sim.url, "api_token": f"  {TOKEN}\n", "http_proxy": auth_proxy.url(True)}
    assert set(make_connector(asset).secrets) == {TOKEN, PROXY_USER, PROXY_PASSWORD}


def test_test_asset_and_run_frame_a_missing_asset_file_alike(tmp_path) -> None:
    missing = str(tmp_path / "nowhere.yaml")
    ran = run_here("run", "get_threat_events", "--asset", missing)
    tested = run_here("test-asset", "--asset", missing)
    assert (ran.code, tested.code) == (2, 2)
    assert (
        ran.stderr
        == tested.stderr
        == f"invalid asset: --asset: the file {missing} does not exist.\n"
    )


def test_test_asset_and_run_frame_an_invalid_asset_alike(tmp_path) -> None:
    asset = {"url": "http://console.example.invalid", "api_token": TOKEN}
    ran = run_here("run", "get_threat_events", *files(tmp_path, asset, SEED_INPUTS))
    tested = run_here("test-asset", "--asset", write_json(tmp_path / "a.json", asset))
    assert (ran.code, tested.code) == (2, 2)
    assert ran.stderr == tested.stderr
    assert ran.stderr.startswith("invalid asset: url: ") and ran.stderr.count("\n") == 1
    assert result_of(tested)["diagnosis"] == ran.stderr[len("invalid asset: ") :].strip()


def test_a_followed_envelope_that_cannot_be_written_counts_all_of_it(sim, asset, tmp_path) -> None:
    # Streamed in pieces: the sentence counts the whole envelope, not the piece that failed.
    args = files(tmp_path, asset, follow(2500, parameters={"limit": 1000}))
    size = len(run_raw("run", "get_threat_events", *args).stdout)
    with open("/dev/full", "wb") as full:
        result = run_raw("run", "get_threat_events", *args, stdout=full)
    assert result.code == 5
    assert result.stderr.startswith(
        f"output error: writing the envelope to stdout failed after 0 of {size:,} bytes "
    ), result.stderr
