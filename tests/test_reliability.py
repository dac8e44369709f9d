"""Faults, load and redirects: an envelope or one clear transport error, bounded, nothing leaked."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Iterator

import pytest

import simulator
from framework.errors import ConnectionLost, TransportError
from tests.support import ROOT, SECRETS, SEED_THREAT, TOKEN, run_cli, write_json

EVENTS = f"/web/api/v2.1/threats/{SEED_THREAT}/explore/events"


@pytest.fixture()
def other_host() -> Iterator[Any]:
    """A second server, standing in for another host a redirect could point to."""
    server = simulator.start(token=TOKEN)
    yield server
    server.shutdown()


# -- the fault matrix, through the CLI as the platform runs it ----------------------------------
@pytest.mark.parametrize(
    ("fault", "code", "status", "message"),
    [
        ({"kind": "drop", "count": 9}, 3, None, "closed before a response arrived"),
        ({"kind": "reset", "count": 9}, 3, None, "127.0.0.1"),
        ({"kind": "reset_mid_body", "count": 9}, 3, None, "broke before the whole response"),
        ({"kind": "truncated_gzip", "count": 9}, 3, None, "cut short"),
        ({"kind": "trickle", "bytes_per_second": 2, "total_bytes": 400}, 3, None, "timeout of 1 s"),
        ({"kind": "delay", "seconds": 5}, 3, None, "timeout of 1 s"),
        ({"kind": "status", "status": 200, "body": "42"}, 0, 200, None),
        ({"kind": "status", "status": 200, "body": ""}, 0, 200, None),
        ({"kind": "status", "status": 204}, 0, 204, None),
        ({"kind": "status", "status": 200, "body_b64": "/v79"}, 0, 200, None),
        ({"kind": "status", "status": 503, "body": "<h1>down</h1>", "count": 9}, 0, 503, None),
    ],
)
def test_fault_gives_an_envelope_or_one_clear_error(
    sim, asset, tmp_path: Path, fault, code, status, message
) -> None:
    sim.add_faults([fault])
    asset_path = write_json(tmp_path / "a.json", {**asset, "timeout": 1, "max_retries": 1})
    inputs = write_json(tmp_path / "i.json", {"path_parameters": {"threat_id": SEED_THREAT}})
    result = run_cli("run", "get_threat_events", "--asset", asset_path, "--inputs", inputs)
    assert result.code == code, result
    if status is None:
        assert result.stdout == ""
        assert len(result.stderr.strip().splitlines()) == 1
        assert message in result.stderr
    else:
        assert result.envelope["status_code"] == status


def test_truncated_gzip_is_retried_like_a_reset(sim, asset, make_connector) -> None:
    sim.add_faults([{"kind": "truncated_gzip"}])
    assert make_connector(asset).request("GET", EVENTS)["status_code"] == 200
    assert len(sim.requests()) == 2


def test_a_trickling_body_cannot_outlast_the_timeout(sim, asset, make_connector) -> None:
    # 1 byte per second for 10 minutes: each socket read succeeds, the whole read must not.
    sim.add_faults([{"kind": "trickle", "bytes_per_second": 1, "total_bytes": 600}])
    with pytest.raises(TransportError, match="did not send a complete response"):
        make_connector({**asset, "timeout": 1}).request("GET", EVENTS)


# -- redirects ---------------------------------------------------------------------------------
def test_redirect_to_another_host_never_carries_the_token(sim, asset, other_host, make_connector):
    target = f"{other_host.url}{EVENTS}"
    sim.add_faults([{"kind": "status", "status": 302, "headers": {"Location": target}, "body": ""}])
    envelope = make_connector(asset).request("GET", EVENTS)
    assert envelope["status_code"] == 302
    assert envelope["response_headers"]["Location"] == target
    assert other_host.requests() == []


@pytest.mark.parametrize("status", [301, 307, 308])
def test_no_redirect_is_followed_even_to_the_same_host(sim, asset, make_connector, status) -> None:
    sim.add_faults([{"kind": "status", "status": status, "headers": {"Location": EVENTS}}])
    assert make_connector(asset).request("GET", EVENTS)["status_code"] == status
    assert len(sim.requests()) == 1


# -- size cap ----------------------------------------------------------------------------------
def test_oversized_body_is_refused_with_bounded_memory(sim, asset, make_connector) -> None:
    sim.add_faults([{"kind": "huge", "megabytes": 40}])
    connector = make_connector({**asset, "max_response_mb": 2})
    tracemalloc.start()
    try:
        with pytest.raises(TransportError, match=r"larger than max_response_mb \(2 MB\)"):
            connector.request("GET", EVENTS)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024  # the cap plus read buffers, not the 40 MB body


def test_a_body_at_the_cap_is_accepted(sim, asset, make_connector) -> None:
    sim.add_faults([{"kind": "huge", "megabytes": 1}])
    envelope = make_connector({**asset, "max_response_mb": 1.5}).request("GET", EVENTS)
    assert envelope["status_code"] == 200


# -- Retry-After and the retry budget -------------------------------------------------------------
def test_retry_after_as_http_date_is_honoured(sim, asset, make_connector) -> None:
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=1), usegmt=True)
    sim.add_faults([{"kind": "status", "status": 503, "headers": {"Retry-After": when}}])
    assert make_connector(asset).request("GET", EVENTS)["status_code"] == 200
    assert len(sim.requests()) == 2


def test_a_wait_beyond_the_budget_returns_at_once(sim, asset, make_connector) -> None:
    sim.add_faults([{"kind": "status", "status": 429, "headers": {"Retry-After": "30"}}])
    envelope = make_connector(asset, wait_budget=5).request("GET", EVENTS)
    assert envelope["status_code"] == 429
    assert len(sim.requests()) == 1


def test_resets_stop_when_the_budget_is_spent(sim, asset, make_connector) -> None:
    sim.add_faults([{"kind": "drop", "count": 20}])
    connector = make_connector({**asset, "max_retries": 10}, backoff_factor=100, wait_budget=0)
    with pytest.raises(ConnectionLost):
        connector.request("GET", EVENTS)
    assert len(sim.requests()) == 1


# -- a rate-limit storm: 20 processes, one token ------------------------------------------------
STORM_RUNS = 20


@pytest.fixture()
def limited() -> Iterator[Any]:
    # Tighter than SentinelOne's ~100 req/s (burst 1000) so 20 processes really collide.
    server = simulator.start(token=TOKEN, rate=5, burst=3)
    yield server
    server.shutdown()


def test_rate_limit_storm_all_runs_finish_without_avalanche(limited, tmp_path: Path) -> None:
    asset_path = write_json(
        tmp_path / "a.json", {"url": limited.url, "api_token": TOKEN, "max_retries": 10}
    )
    inputs = write_json(tmp_path / "i.json", {"path_parameters": {"threat_id": SEED_THREAT}})
    command = [sys.executable, "-m", "runtime", "run", "get_threat_events"]
    command += ["--asset", asset_path, "--inputs", inputs]
    runs = [
        subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(STORM_RUNS)
    ]
    results = [run.communicate(timeout=120) for run in runs]
    codes = [run.returncode for run in runs]
    assert codes == [0] * STORM_RUNS, [err.decode() for _, err in results]
    for out, err in results:
        assert b'"status_code": 200' in out
        assert not any(secret.encode() in out + err for secret in SECRETS)
    seen = limited.requests()
    throttled = sum(1 for r in seen if r.get("status") == 429)
    # Every run succeeds once; the 429s stay within a small multiple of the runs (no avalanche).
    assert len(seen) - throttled == STORM_RUNS
    assert len(seen) <= 4 * STORM_RUNS, f"{len(seen)} requests for {STORM_RUNS} runs"
    print(f"storm: {len(seen)} requests, {throttled} throttled, for {STORM_RUNS} runs")
