"""The progress line while following cursors: on a terminal only, and never with --quiet.

The first case puts a real pseudo-terminal (pty) on the CLI's stderr, stdout staying a pipe, as
when a person runs it in a shell; the others run it in this process.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from tests.support import SECRETS, run_cli, run_with_stderr_on_a_pty, synthetic_threat, write_json

THREAT = synthetic_threat(3000)


def run_on_a_terminal(*args: str) -> Tuple[int, Dict[str, Any], str]:
    """``python -m runtime ARGS`` with stderr on a pty: (exit code, envelope, terminal text)."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    argv = [sys.executable, "-m", "runtime", *args]
    code, stdout, terminal = run_with_stderr_on_a_pty(argv, env, 60)
    for secret in SECRETS:
        assert secret not in terminal and secret.encode() not in stdout
    return code, json.loads(stdout), terminal


@pytest.fixture()
def files(asset, tmp_path: Path) -> List[str]:
    inputs = {"path_parameters": {"threat_id": THREAT}, "follow_cursor": True}
    return [
        "--asset",
        write_json(tmp_path / "a.json", asset),
        "--inputs",
        write_json(tmp_path / "in.json", inputs),
    ]


def test_progress_line_on_a_terminal_is_rewritten_and_cleared(sim, files) -> None:
    code, envelope, output = run_on_a_terminal("run", "get_threat_events", *files)
    assert code == 0
    assert len(envelope["json_body"]["data"]) == 3000
    summary = "3,000 events in 3 pages (all events read)\r\n"  # the pty turns \n into \r\n
    assert output.endswith(summary)
    terminal = output[: -len(summary)]
    assert terminal.startswith("\rfetched 1,000 / 3,000 events, 1 page, ")
    assert "\rfetched 3,000 / 3,000 events, 3 pages, " in terminal
    assert "events/s" in terminal
    assert "\n" not in terminal  # one line, rewritten in place
    assert terminal.endswith("\r") and terminal.split("\r")[-2].strip() == ""  # cleared


def test_quiet_keeps_the_terminal_silent(sim, files) -> None:
    result = run_cli("run", "get_threat_events", *files, "--quiet", terminal=True)
    assert result.code == 0
    assert len(result.envelope["json_body"]["data"]) == 3000
    assert result.stderr == ""


def test_no_progress_when_stderr_is_not_a_terminal(sim, files) -> None:
    result = run_cli("run", "get_threat_events", *files)
    assert result.code == 0
    assert len(result.envelope["json_body"]["data"]) == 3000
    assert result.stderr == ""
