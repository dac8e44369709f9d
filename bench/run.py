"""``make bench``: what users feel of the plugin, against raw ``requests``, on loopback.

A cold run (a new process per action run) and following a 100,000-event threat to a file
(speed against a raw loop, peak RSS of every output format), each contender a whole process
started through the command line; one replay server (bench/server.py) answers all of them
with the same bytes. Exit 0 only when every target is met. See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence

import requests

from bench import cold, streaming
from bench.common import ROOT, RSS_NOTE, Sample, median, paired_ratio, start_server, stop_server

DOCS = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"
COLD_MAX = 1.60  # plugin / raw requests, wall
RATE_MIN = 0.95  # plugin ndjson / raw requests ndjson, events per second
RSS_MAX = {"ndjson": 64, "envelope": 120, "csv": 64, "markdown": 80}  # MiB at 100,000 events


class Row(NamedTuple):
    what: str
    plugin: str
    raw: str
    ratio: str
    target: str
    met: bool


def rows(cold_times: Dict[str, List[float]], follow: Dict[str, List[Sample]]) -> List[Row]:
    n = streaming.EVENTS
    rate = {name: [n / s.wall for s in samples] for name, samples in follow.items()}
    ratio = paired_ratio(rate["ndjson"], rate["raw requests"])
    found = [
        Row(f"following {n:,} events to ndjson: events/s (whole process)",
            f"{median(rate['ndjson']):,.0f}", f"{median(rate['raw requests']):,.0f}",
            f"{ratio:.2f}x", f">= {RATE_MIN:.2f}x", ratio >= RATE_MIN),
    ]  # fmt: skip
    raw_rss = median([s.rss for s in follow["raw requests"]])
    for name, limit in RSS_MAX.items():
        rss = median([s.rss for s in follow[name]])
        label = "envelope (default format, stdout)" if name == "envelope" else name
        raw = f"{raw_rss:.1f} MiB" if name == "ndjson" else ""
        found.append(
            Row(f"peak RSS at {n:,} events: {label}", f"{rss:.1f} MiB", raw, "",
                f"<= {limit} MiB", rss <= limit)
        )  # fmt: skip
    ratio = paired_ratio(cold_times["plugin"], cold_times["raw requests"])
    found.append(
        Row(f"cold run, one page of {cold.LIMIT} events (wall, whole process)",
            f"{median(cold_times['plugin']) * 1000:.0f} ms",
            f"{median(cold_times['raw requests']) * 1000:.0f} ms",
            f"{ratio:.2f}x", f"<= {COLD_MAX:.2f}x", ratio <= COLD_MAX)
    )  # fmt: skip
    return found


def git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], capture_output=True, text=True
    ).stdout.strip()


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    models = cpuinfo.read_text().split("model name")[1:] if cpuinfo.exists() else []
    model = models[0].split(":", 1)[1].split("\n")[0].strip() if models else platform.machine()
    return (
        f"{os.cpu_count()} cores ({model}); Python {platform.python_version()}; "
        f"{platform.system()} {platform.release()}; requests {requests.__version__}"
    )


def report(
    table: List[Row], follow: Dict[str, List[Sample]], rounds: int, cold_rounds: int,
    load: str, why_cold: List[str],
) -> str:  # fmt: skip
    lines = [
        "| measurement | plugin | raw requests | ratio | target | |",
        "|---|---:|---:|---:|---|---|",
    ]
    for row in table:
        verdict = "met" if row.met else "**NOT met**"
        lines.append(
            f"| {row.what} | {row.plugin} | {row.raw} | {row.ratio} | {row.target} | {verdict} |"
        )
    n = streaming.EVENTS
    cpu = paired_ratio(*([n / s.cpu for s in follow[k]] for k in ("ndjson", "raw requests")))
    others = ", ".join(
        f"{name} {median([n / s.wall for s in follow[name]]):,.0f}"
        for name in ("envelope", "csv", "markdown")
    )
    commit = git("log", "-1", "--format=%h %s")
    if git("status", "--porcelain", "--untracked-files=no"):
        commit += " (with uncommitted changes)"
    lines += [
        "",
        f"- Measured {datetime.date.today().isoformat()}, commit {commit}.",
        f"- Machine: {machine()}; load average {load}.",
        f"- Rounds: {rounds} following (raw requests and ndjson back to back, order alternating; "
        f"envelope, csv and markdown in the first {min(rounds, streaming.EXTRA_ROUNDS)}), "
        f"{cold_rounds} cold; figures are medians, ratios medians of the per-round ratios. "
        + RSS_NOTE,
        f"- For reference: ndjson per CPU second (user + system) {cpu:.2f}x the raw loop; "
        f"events/s of the other formats: {others}.",
    ]  # fmt: skip
    if why_cold:
        lines += ["- The cold run is over its target; where its time goes (`-X importtime`):"]
        lines += ["  " + line for line in why_cold]
    return "\n".join(lines) + "\n"


def update_docs(text: str) -> None:
    page = DOCS.read_text(encoding="utf-8")
    start, end = page.index(BEGIN) + len(BEGIN), page.index(END)
    DOCS.write_text(page[:start] + "\n" + text + page[end:], encoding="utf-8")


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="rounds following 100,000 events")
    parser.add_argument("--cold-rounds", type=int, default=31, help="rounds of the cold run")
    parser.add_argument("--update-docs", action="store_true", help=f"write into {DOCS.name}")
    args = parser.parse_args(argv)
    load = load_average()
    server, url = start_server()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
            work = Path(tmp)
            print(f"bench: following {streaming.EVENTS:,} events ...", file=sys.stderr)
            follow = streaming.follow(url, work, max(1, args.rounds))
            print("bench: cold runs ...", file=sys.stderr)
            cold_times = cold.cold(url, work, max(1, args.cold_rounds))
            table = rows(cold_times, follow)
            why = [] if table[-1].met else cold.where_the_time_goes(url, work)
    finally:
        stop_server(server)
    text = report(table, follow, args.rounds, args.cold_rounds, f"{load} -> {load_average()}", why)
    print(text)
    if args.update_docs:
        update_docs(text)
    return 0 if all(row.met for row in table) else 1
