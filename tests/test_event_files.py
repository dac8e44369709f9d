"""Where --output writes (issue 21): one rule for every format, nothing clobbered or cut.

A path is written through as given: ``-`` is standard output; a symbolic link is followed and
stays a link; a FIFO or a device is written like standard output (no sidecar); a regular file
is locked for the run, and replaced only when it is an earlier export (or with --force).
"""

from __future__ import annotations

import fcntl
import json
import os
import resource
import shlex
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Dict, List

import pytest

from tests.support import ROOT, run_cli, synthetic_threat, write_json


def follow(events: int, **extra: Any) -> Dict[str, Any]:
    return {
        "path_parameters": {"threat_id": synthetic_threat(events)},
        "parameters": {"limit": 1000},
        "follow_cursor": True,
        **extra,
    }


@pytest.fixture()
def run(asset, tmp_path: Path):
    def call(inputs: Dict[str, Any], *extra: str, **fields: Any):
        asset_file = write_json(tmp_path / "asset.json", {**asset, **fields})
        inputs_file = write_json(tmp_path / "inputs.json", inputs)
        return run_cli(
            "run", "get_threat_events", "--asset", asset_file, "--inputs", inputs_file, *extra
        )

    return call


def ids(lines: List[str]) -> List[str]:
    return [json.loads(line)["id"] for line in lines]


@pytest.mark.parametrize("fmt", ["envelope", "ndjson", "csv", "markdown"])
def test_a_symbolic_link_is_written_through_and_stays_a_link(sim, run, tmp_path, fmt) -> None:
    target, link = tmp_path / "target.out", tmp_path / "link.out"
    link.symlink_to(target)
    result = run(follow(1500), "--format", fmt, "--output", str(link))
    assert result.code == 0, result.stderr
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.stat().st_size > 0


def test_a_fifo_is_written_through_without_a_sidecar(sim, run, tmp_path) -> None:
    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)
    received: List[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as handle:
            received.append(handle.read())

    reader = threading.Thread(target=read)
    reader.start()
    result = run(follow(1500), "--format", "ndjson", "--output", str(fifo))
    reader.join(timeout=60)
    assert result.code == 0, result.stderr
    assert len(received[0].decode().splitlines()) == 1500
    assert not Path(f"{fifo}.meta.json").exists()
    assert "no sidecar" in result.stderr


@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
def test_dash_is_standard_output_for_event_formats(sim, run, tmp_path, fmt) -> None:
    columns = ["--columns", "id"] if fmt == "csv" else []
    result = run(follow(1500), "--format", fmt, "--output", "-", *columns)
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1500 + (fmt == "csv")
    assert not (ROOT / "-").exists() and not (ROOT / "-.meta.json").exists()
    assert "1,500 events (2 pages) in standard output" in result.stderr


def test_a_file_another_run_is_writing_is_refused_before_anything_is_sent(
    sim, run, tmp_path
) -> None:
    out = tmp_path / "events.ndjson"
    with open(out, "wb") as held:  # another writer holds the lock
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        result = run(follow(1500), "--format", "ndjson", "--output", str(out))
    assert result.code == 2
    assert result.stderr == (
        f"invalid option: --output: {out} is being written by another run; wait for it to "
        "end, or choose another file.\n"
    )
    assert sim.requests() == []


def test_a_file_that_is_not_an_earlier_export_is_replaced_only_with_force(
    sim, run, tmp_path
) -> None:
    out = tmp_path / "notes.txt"
    out.write_text("my own notes\n")
    result = run(follow(1500), "--format", "ndjson", "--output", str(out))
    assert result.code == 2 and "is not an earlier export" in result.stderr
    assert out.read_text() == "my own notes\n" and sim.requests() == []
    assert run(follow(1500), "--format", "ndjson", "--output", str(out), "--force").code == 0
    assert len(out.read_text().splitlines()) == 1500
    # An earlier export (its sidecar names it) is replaced without --force.
    assert run(follow(1200), "--format", "ndjson", "--output", str(out)).code == 0
    assert len(out.read_text().splitlines()) == 1200


def test_one_page_is_not_called_complete(sim, run, tmp_path) -> None:
    note = tmp_path / "note.md"
    one_page = {"path_parameters": {"threat_id": synthetic_threat(2500)}, "parameters": {}}
    one_page["parameters"]["limit"] = 1000
    assert run(one_page, "--format", "markdown", "--output", str(note)).code == 0
    text = note.read_text()
    assert "(complete)" not in text
    assert "1,000 of 2,500 (more remain; resume with --resume note.md.meta.json)" in text
    meta = json.loads(Path(f"{note}.meta.json").read_text())
    assert meta["finished"] is False and meta["nextCursor"]
    assert run(follow(2500), "--format", "markdown", "--output", str(note)).code == 0
    assert "2,500 of 2,500 (complete)" in note.read_text()


def test_resume_refuses_an_offset_inside_a_record(sim, run, tmp_path) -> None:
    out = tmp_path / "events.ndjson"
    inputs = follow(3000)
    sim.add_faults([{"kind": "pass", "count": 1}, {"kind": "status", "status": 500}])
    assert run(inputs, "--format", "ndjson", "--output", str(out), max_retries=0).code == 0
    sidecar = Path(f"{out}.meta.json")
    meta = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**meta, "bytes": meta["bytes"] - 10}))
    sim.clear_requests()
    asset = write_json(tmp_path / "asset.json", {"url": sim.url, "api_token": "x" * 8})
    result = run_cli("run", "get_threat_events", "--asset", asset, "--resume", str(sidecar))
    assert result.code == 2
    assert "which is not where a record of" in result.stderr
    assert sim.requests() == []


def test_a_full_spool_is_an_output_error_naming_it(sim, asset, tmp_path) -> None:
    """The envelope's events spool to a temporary file: a write that fails there (here the
    file-size limit, as a full disk would) is exit 5 with one sentence, not an internal error."""
    asset_file = write_json(tmp_path / "asset.json", asset)
    inputs_file = write_json(tmp_path / "inputs.json", follow(2500))

    def small_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))

    argv = ["run", "get_threat_events", "--asset", asset_file, "--inputs", inputs_file]
    proc = subprocess.run(
        [sys.executable, "-m", "runtime", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=small_files,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert proc.returncode == 5, proc.stderr
    assert proc.stderr.startswith(
        f"output error: cannot write the temporary spool file in {tmp_path}"
    )
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_unknown_columns_are_refused_with_a_suggestion(sim, run, tmp_path) -> None:
    out = tmp_path / "events.csv"
    result = run(
        follow(1500), "--format", "csv", "--output", str(out), "--columns", "id,procesName"
    )
    assert result.code == 2
    assert "'procesName' is not an event field (did you mean processName?)" in result.stderr
    assert sim.requests() == [] and not out.exists()


def test_columns_list_and_all(sim, run, tmp_path) -> None:
    listed = run(follow(1500), "--columns", "list")
    assert listed.code == 0, listed.stderr
    names = listed.stdout.splitlines()
    assert {"id", "createdAt", "eventType", "processName"} <= set(names)
    assert len(sim.requests()) == 1  # the first page only
    out = tmp_path / "events.csv"
    assert run(follow(1500), "--format", "csv", "--output", str(out), "--columns", "all").code == 0
    header = out.read_text().splitlines()[0].split(",")
    assert set(names) <= set(header) and header[0] == "activeContentFileId"


def test_the_default_columns_start_with_the_event_id(sim, run, tmp_path) -> None:
    out = tmp_path / "events.csv"
    assert run(follow(1500), "--format", "csv", "--output", str(out)).code == 0
    assert out.read_text().splitlines()[0].startswith("id,createdAt,")


def test_rows_0_leaves_no_empty_heading(sim, run, tmp_path) -> None:
    note = tmp_path / "note.md"
    assert run(follow(1500), "--format", "markdown", "--output", str(note), "--rows", "0").code == 0
    text = note.read_text()
    assert "## First" not in text and "## Top processes" in text


def test_the_resume_hint_works_as_printed(sim, run, tmp_path) -> None:
    """Issue 21 (friction): the command the summary prints continues the export."""
    out = tmp_path / "events.ndjson"
    sim.add_faults([{"kind": "pass", "count": 1}, {"kind": "status", "status": 500}])
    stopped = run(follow(3000), "--format", "ndjson", "--output", str(out), max_retries=0)
    assert stopped.code == 0
    hint = stopped.stderr.rsplit("resume with ", 1)[1].strip().rstrip(".")
    words = shlex.split(hint)
    assert words[:4] == ["python", "-m", "runtime", "run"]
    resumed = run_cli(*words[3:])
    assert resumed.code == 0, resumed.stderr
    assert len(out.read_text().splitlines()) == 3000


def test_resume_reads_past_a_max_events_stop_when_asked_for_more(sim, run, asset, tmp_path):
    """Issue 21 (friction): --resume with --inputs holding only a new max_events goes on."""
    out = tmp_path / "events.ndjson"
    assert run(follow(3000, max_events=1200), "--format", "ndjson", "--output", str(out)).code == 0
    first = ids(out.read_text().splitlines())
    assert len(first) == 1200
    asset_file = write_json(tmp_path / "asset.json", asset)
    more = write_json(tmp_path / "more.json", {"max_events": 3000})
    sidecar = f"{out}.meta.json"
    result = run_cli(
        "run", "get_threat_events", "--asset", asset_file, "--resume", sidecar, "--inputs", more
    )
    assert result.code == 0, result.stderr
    every = ids(out.read_text().splitlines())
    assert len(every) == len(set(every)) == 3000 and every[:1200] == first
    assert json.loads(Path(sidecar).read_text())["finished"] is True
    wrong = write_json(tmp_path / "wrong.json", {"max_events": 10, "parameters": {}})
    refused = run_cli(
        "run", "get_threat_events", "--asset", asset_file, "--resume", sidecar, "--inputs", wrong
    )
    assert refused.code == 2 and "--inputs may give only max_events" in refused.stderr


def test_a_run_that_gets_no_answer_leaves_no_empty_envelope_file(run, tmp_path) -> None:
    """--output is opened (and locked) before anything is sent; a transport failure on the
    first request must not leave an empty file behind."""
    out = tmp_path / "envelope.json"
    asset = {"url": "http://127.0.0.1:9", "api_token": "s1-placeholder-token"}
    result = run(follow(1500), "--output", str(out), **asset)
    assert result.code == 3 and not out.exists()


def test_invalid_inputs_leave_no_event_file_behind(sim, run, tmp_path) -> None:
    out = tmp_path / "events.ndjson"
    result = run(
        {"path_parameters": {"threat_id": "../1"}}, "--format", "ndjson", "--output", str(out)
    )
    assert result.code == 2 and sim.requests() == []
    assert not out.exists() and not Path(f"{out}.meta.json").exists()
