"""Following a 100,000-event threat: every event to a file, each run a whole process.

Contenders (the replay server's pages of 1000; every run under GNU time for peak RSS):

* raw requests: ``bench/baseline.py --output FILE``, a plain loop over ``nextCursor`` writing
  one event per line;
* ndjson, csv, markdown: ``python -m runtime run get_threat_events --inputs I --format F
  --output FILE`` with ``follow_cursor`` (no ``max_events``: every event);
* envelope: the default format on stdout (redirected to a file), ``max_events`` 100,000, the
  asset's ``max_response_mb`` raised to 1024 (the envelope keeps the in-memory byte budget).

Each round runs raw requests and ndjson back to back (order alternating), for the speed ratio;
the first ``EXTRA_ROUNDS`` rounds also run envelope, csv and markdown, for their peak RSS.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Tuple

from bench.common import PY, TOKEN, Sample, run, user_agent
from simulator import synthetic_threat_id

EVENTS = 100_000
EXTRA_ROUNDS = 3


def contenders(url: str, work: Path) -> Dict[str, Tuple[List[str], Path]]:
    """name -> (argv, the file it writes)."""
    asset = work / "asset.json"
    asset.write_text(json.dumps({"url": url, "api_token": TOKEN, "max_response_mb": 1024}))
    inputs: dict = {
        "path_parameters": {"threat_id": synthetic_threat_id(EVENTS)},
        "parameters": {"limit": 1000},
        "follow_cursor": True,
    }
    (work / "inputs.json").write_text(json.dumps(inputs))
    (work / "inputs-envelope.json").write_text(json.dumps({**inputs, "max_events": EVENTS}))
    plugin = [PY, "-m", "runtime", "run", "get_threat_events", "--quiet", "--asset", str(asset)]
    found = {
        "raw requests": (
            [PY, "bench/baseline.py", "--asset", str(asset), "--inputs", str(work / "inputs.json"),
             "--user-agent", user_agent(), "--output", str(work / "raw.ndjson")],
            work / "raw.ndjson",
        ),
        "envelope": (
            [*plugin, "--inputs", str(work / "inputs-envelope.json")], work / "envelope.json"
        ),
    }  # fmt: skip
    for fmt, suffix in (("ndjson", "ndjson"), ("csv", "csv"), ("markdown", "md")):
        out = work / f"events.{suffix}"
        argv = [*plugin, "--inputs", str(work / "inputs.json"), "--format", fmt]
        found[fmt] = ([*argv, "--output", str(out)], out)
    return found


def check(name: str, path: Path) -> None:
    """That a run wrote every event (and said so), before anything is timed."""
    if name in ("raw requests", "ndjson"):
        with open(path, "rb") as handle:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
        if lines != EVENTS:
            raise SystemExit(f"bench: {name} wrote {lines:,} lines, not {EVENTS:,}")
    if name == "envelope":
        with open(path, "rb") as handle:
            head = handle.read(64)
            handle.seek(-4096, 2)
            tail = handle.read()
        if not head.startswith(b'{"status_code": 200') or b'"nextCursor": null' not in tail:
            raise SystemExit("bench: the envelope is not a complete 200 answer")
    elif name != "raw requests":
        meta = json.loads(Path(f"{path}.meta.json").read_text(encoding="utf-8"))
        if (meta["status_code"], meta["events"], meta["finished"]) != (200, EVENTS, True):
            raise SystemExit(f"bench: {name}: its sidecar does not say {EVENTS:,} events, 200")


def follow(url: str, work: Path, rounds: int) -> Dict[str, List[Sample]]:
    everyone = contenders(url, work)

    def measure(name: str) -> Sample:
        argv, out = everyone[name]
        return run(argv, out if name == "envelope" else None)

    for name in everyone:  # warm-up: fills the replay cache, checks every output
        measure(name)
        check(name, everyone[name][1])
    samples: Dict[str, List[Sample]] = {name: [] for name in everyone}
    pair = ["raw requests", "ndjson"]
    for index in range(rounds):
        names = pair if index % 2 == 0 else pair[::-1]
        if index < EXTRA_ROUNDS:
            names = [*names, "envelope", "csv", "markdown"]
        for name in names:
            samples[name].append(measure(name))
    return samples
