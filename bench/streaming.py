"""``python -m bench --streaming``: every event of a threat, streamed, against a raw loop.

For 10,000 and 100,000 events (pages of 1000 from the replay server), each a whole process
under GNU time, alternating round after round:

* envelope stream: ``python -m runtime run get_threat_events`` following cursors, the envelope
  to a file (stdout redirected);
* ndjson: the same with ``--format ndjson --output FILE`` (plus its sidecar);
* raw ndjson: ``bench/baseline_ndjson.py``, a plain ``requests.Session`` loop over
  ``nextCursor`` writing each page's events as lines.

Peak RSS (GNU time's ``%M``), events per second (events / the process's wall time, start-up
included) and events per CPU second (user + system time: steadier on a shared host).
Then the in-memory path (what a platform adapter gets: ``run_action`` returning one envelope
object) at 25,000 events: peak RSS, with and without one ``json.dumps`` of it.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import bench.run as base
from simulator import synthetic_threat_id

SIZES = (10_000, 100_000)
ROUNDS = {10_000: 5, 100_000: 4}
IN_MEMORY_EVENTS = 25_000
IN_MEMORY_BEFORE_MB = 393  # issue 13: the CLI at 25,000 events before streaming
TARGETS = {"ndjson_rss": 80.0, "envelope_rss": 120.0, "ndjson_rate": 0.90}
BEGIN, END = "<!-- bench:streaming:begin -->", "<!-- bench:streaming:end -->"
IN_MEMORY = """
import json, sys
from framework.manifest import load_plugin
from framework.runner import run_action
asset, inputs = (json.load(open(path)) for path in sys.argv[1:3])
envelope = run_action(load_plugin(), "get_threat_events", asset, inputs)
assert envelope["status_code"] == 200 and len(envelope["json_body"]["data"]) == int(sys.argv[3])
if sys.argv[4] == "dumps":
    text = json.dumps(envelope, ensure_ascii=False)
"""


def measure(argv: Sequence[str], timer: str, stdout_path: str) -> Tuple[float, float, float]:
    """Wall seconds, peak RSS (MiB) and CPU seconds (user + system) of one run under GNU
    time; it must exit 0."""
    with tempfile.NamedTemporaryFile() as report, open(stdout_path, "wb") as out:
        started = time.perf_counter()
        done = subprocess.run(
            [timer, "-f", "%M %U %S", "-o", report.name, *argv],
            cwd=base.PLUGIN,
            stdout=out,
            stderr=subprocess.PIPE,
        )
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"bench: {' '.join(argv)} exited {done.returncode}: {done.stderr}")
        rss, user, system = Path(report.name).read_text().split()[-3:]
        return elapsed, int(rss) / 1024.0, float(user) + float(system)


def contenders(work: Path, asset: Path, events: int) -> List[Tuple[str, List[str], Path]]:
    inputs = work / f"inputs-{events}.json"
    inputs.write_text(
        json.dumps(
            {
                "path_parameters": {"threat_id": synthetic_threat_id(events)},
                "parameters": {"limit": 1000},
                "follow_cursor": True,
                "max_events": events,
            }
        )
    )
    run = [base.PY, "-m", "runtime", "run", "get_threat_events", "--asset", str(asset),
           "--inputs", str(inputs), "--quiet"]  # fmt: skip
    ndjson, raw = work / "plugin.ndjson", work / "raw.ndjson"
    return [
        ("envelope stream", run, work / "envelope.json"),
        ("ndjson", [*run, "--format", "ndjson", "--output", str(ndjson)], ndjson),
        ("raw requests ndjson", [base.PY, str(base.ROOT / "bench" / "baseline_ndjson.py"),
                                 "--asset", str(asset), "--inputs", str(inputs),
                                 "--user-agent", base.USER_AGENT, "--output", str(raw)], raw),
    ]  # fmt: skip


def check(name: str, path: Path, events: int) -> None:
    if name == "envelope stream":
        envelope = json.loads(path.read_bytes())
        count = len(envelope["json_body"]["data"]) if envelope["status_code"] == 200 else -1
    else:
        with open(path, "rb") as handle:
            count = sum(1 for _ in handle)
    if count != events:
        raise SystemExit(f"bench: {name} wrote {count} events, expected {events}")


def streaming(url: str, timer: Optional[str], rounds: Optional[Dict[int, int]] = None) -> dict:
    if timer is None:
        raise SystemExit("bench --streaming needs GNU time (/usr/bin/time) for peak RSS")
    rounds = rounds or ROUNDS
    results: Dict[Any, Dict[str, Dict[str, List[float]]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as tmp:
        work = Path(tmp)
        asset = work / "asset.json"
        # 100,000 events are 267 MB of bodies: above the in-memory byte budget's default.
        asset.write_text(json.dumps({"url": url, "api_token": base.TOKEN, "max_response_mb": 1024}))
        stdout = str(work / "stdout")
        for events in SIZES:
            print(f"bench: streaming {events:,} events ...", file=base.sys.stderr, flush=True)
            entries = contenders(work, asset, events)
            for name, argv, out in entries:  # warm-up: fills the replay cache, checks outputs
                measure(argv, timer, str(out) if name == "envelope stream" else stdout)
                check(name, out, events)
            per = {name: {"rate": [], "rss": [], "cpu": []} for name, _, _ in entries}
            for index in range(rounds[events]):
                for name, argv, out in base.rotate(entries, index):
                    target = str(out) if name == "envelope stream" else stdout
                    wall, rss, cpu = measure(argv, timer, target)
                    per[name]["rate"].append(events / wall)
                    per[name]["rss"].append(rss)
                    per[name]["cpu"].append(events / max(cpu, 1e-3))
            results[events] = per
        print("bench: in-memory path ...", file=base.sys.stderr, flush=True)
        entries = contenders(work, asset, IN_MEMORY_EVENTS)  # writes the inputs file
        inputs = str(work / f"inputs-{IN_MEMORY_EVENTS}.json")
        per = {}
        for mode in ("object", "dumps"):
            argv = [base.PY, "-c", IN_MEMORY, str(asset), inputs, str(IN_MEMORY_EVENTS), mode]
            measure(argv, timer, stdout)  # warm-up
            per[mode] = {"rss": [measure(argv, timer, stdout)[1] for _ in range(3)]}
        results["in-memory"] = per
    return results


def report(results: dict) -> str:
    med = base.median
    rows = [
        "| events | contender | peak RSS | events/s (wall) | events per CPU second | target |",
        "|---:|---|---:|---:|---:|---|",
    ]
    for events in SIZES:
        per = results[events]
        raw = per["raw requests ndjson"]
        for name in ("envelope stream", "ndjson", "raw requests ndjson"):
            rss, rate, cpu = med(per[name]["rss"]), med(per[name]["rate"]), med(per[name]["cpu"])
            target = ""
            if events == 100_000 and name == "envelope stream":
                ok = rss <= TARGETS["envelope_rss"]
                target = f"RSS <= {TARGETS['envelope_rss']:.0f} MiB: {'met' if ok else 'NOT met'}"
            elif name == "ndjson":
                wall_ratio = base.paired_ratio(per[name]["rate"], raw["rate"])
                cpu_ratio = base.paired_ratio(per[name]["cpu"], raw["cpu"])
                verdict = base.verdict(wall_ratio, TARGETS["ndjson_rate"], higher_is_better=True)
                target = f"{wall_ratio:.2f}x the raw loop ({verdict}); CPU {cpu_ratio:.2f}x"
                if events == 100_000:
                    ok = rss <= TARGETS["ndjson_rss"]
                    target += f"; RSS <= {TARGETS['ndjson_rss']:.0f} MiB: "
                    target += "met" if ok else "NOT met"
            rows.append(
                f"| {events:,} | {name} | {rss:.1f} MiB | {rate:,.0f} | {cpu:,.0f} | {target} |"
            )
    limit = IN_MEMORY_BEFORE_MB * 2 / 3
    memory = results["in-memory"]
    obj, dumped = med(memory["object"]["rss"]), med(memory["dumps"]["rss"])
    rows += [
        "",
        f"| in-memory path, {IN_MEMORY_EVENTS:,} events | peak RSS (median of 3) | target |",
        "|---|---:|---|",
        f"| `run_action` returns the one envelope (what a platform adapter gets) | {obj:.1f} MiB "
        f"| <= {limit:.0f} MB (a third below {IN_MEMORY_BEFORE_MB} MB): "
        f"{'met' if obj * 1.048576 <= limit else 'NOT met'} |",
        f"| the same, then one `json.dumps` of it | {dumped:.1f} MiB | |",
        "",
        f"Machine: {base.machine()}.",
        f"Plugin measured: {base.describe_checkout(base.PLUGIN)}.",
        f"Rounds: {ROUNDS[10_000]} at 10,000 events, {ROUNDS[100_000]} at 100,000 (each "
        "contender once per round, rotating order), each run a whole process under GNU time; "
        "events/s include the process start; events per CPU second use the process's user + "
        "system time (steadier than wall time on a shared host). Figures are medians; the "
        "ndjson ratios are medians of per-round ratios.",
    ]
    return "\n".join(rows) + "\n"


def update_readme(table: str) -> None:
    text = base.README.read_text(encoding="utf-8")
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    base.README.write_text(text[:start] + "\n" + table + text[end:], encoding="utf-8")
