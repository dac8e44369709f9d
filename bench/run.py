"""``make bench``: the plugin against a raw ``requests`` baseline, on loopback, bounded.

One replay server (``bench/server.py``: the simulator's exact gzip response bytes, served from
memory) answers every contender.  Contenders run alternately, round after round, in a rotating
order, so machine drift hits all of them alike; each figure is a median over rounds and each
ratio the median of the per-round ratios (plugin / baseline).  Measurements:

* cold: one whole process per call, ``python -m runtime run get_threat_events`` against
  ``python bench/baseline.py`` (plain requests), at limit=10 and limit=1000; wall time and peak
  RSS (``ru_maxrss`` from ``os.wait4``); ``curl --compressed`` and ``python -c pass`` as floors;
* warm: in one process with everything imported, ``runtime.runner.run_action`` against a raw
  ``requests.Session().get(...).json()`` building the same envelope (a fresh session per call on
  both sides: each action run gets its own connector);
* cursor following over 20,000 events (``follow_cursor``, when the input schema has it) against
  a raw Session loop over ``nextCursor``: events per second.

Fixed iteration counts, loopback only, no network; a few minutes on 2 cores at most.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from simulator import DEFAULT_TOKEN, synthetic_threat_id

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = ROOT  # the plugin checkout measured (--root); the baseline and the server are ours
PY = sys.executable
TOKEN = DEFAULT_TOKEN
PAGE_THREAT = synthetic_threat_id(25_000)  # full pages at limit=10 and limit=1000
FOLLOW_THREAT = synthetic_threat_id(20_000)  # exactly 20 pages of 1000
USER_AGENT = ""  # the measured plugin's (main() reads it from its manifest); the baseline sends it
FOLLOW_EVENTS = 20_000
EVENTS_PATH = "/web/api/v2.1/threats/{}/explore/events"
RSS_ROUNDS = 5
TARGETS = {"cold": 1.30, "rss": 1.30, "warm": 1.10, "follow": 0.90}
README = ROOT / "bench" / "README.md"
BEGIN, END = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"


# -- the server -------------------------------------------------------------------------------
def start_server() -> Tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [PY, "-m", "bench.server", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline() if process.stdout else ""
    if not line.startswith("BENCH_URL="):
        process.kill()
        raise SystemExit("bench: the replay server did not start")
    return process, line.strip().split("=", 1)[1]


def server_stats(url: str) -> Dict[str, int]:
    with urllib.request.urlopen(f"{url}/_bench/stats", timeout=10) as response:
        return json.load(response)


# -- helpers ------------------------------------------------------------------------------------
def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def rotate(items: List[Any], by: int) -> List[Any]:
    by %= len(items)
    return items[by:] + items[:by]


def headers() -> Dict[str, str]:
    return {
        "Authorization": f"ApiToken {TOKEN}",
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
    }


def check_page(text: str, events: int, envelope: bool = True) -> None:
    document = json.loads(text)
    if envelope:
        if document.get("status_code") != 200:
            raise SystemExit(f"bench: a contender got {document.get('status_code')}, not 200")
        document = document["json_body"]
    if len(document["data"]) != events:
        raise SystemExit(f"bench: expected {events} events, got {len(document['data'])}")


# -- cold: one process per call -----------------------------------------------------------------
def prepare() -> None:
    """The steady state of an installed plugin: bytecode compiled (as pip does for requests and
    jsonschema) and the parsed-manifest cache written, whatever PYTHONDONTWRITEBYTECODE says."""
    folders = [str(PLUGIN / name) for name in ("framework", "runtime", "connectors", "actions")]
    subprocess.run([PY, "-m", "compileall", "-q", *folders, str(ROOT / "bench")], check=True)
    prime = (
        "import sys; sys.dont_write_bytecode = False; "
        "import framework.manifest as m; m.load_plugin()"
    )
    subprocess.run([PY, "-c", prime], cwd=PLUGIN, check=True)


def gnu_time() -> Optional[str]:
    """/usr/bin/time (GNU) if usable: the peak RSS of a child it forks itself.

    ``ru_maxrss`` from our own wait4 would not do: the child starts as a (v)fork of this
    process, and Linux keeps the pre-exec high-water mark, i.e. at least this runner's RSS."""
    path = shutil.which("time") or "/usr/bin/time"
    try:
        with tempfile.NamedTemporaryFile() as probe:
            subprocess.run([path, "-f", "%M", "-o", probe.name, "true"], check=True)
            int(Path(probe.name).read_text().split()[-1])
        return path
    except (OSError, subprocess.CalledProcessError, ValueError, IndexError):
        return None


def spawn(argv: Sequence[str], stdout_path: str) -> Tuple[float, float]:
    """Wall seconds and ru_maxrss (MiB, an upper bound: see gnu_time) of one child process."""
    with open(stdout_path, "wb") as out:
        started = time.perf_counter()
        child = subprocess.Popen(argv, cwd=PLUGIN, stdout=out, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    err = child.stderr.read().decode(errors="replace") if child.stderr else ""
    if child.stderr:
        child.stderr.close()
    if child.returncode != 0:
        raise SystemExit(f"bench: {' '.join(argv)} exited {child.returncode}: {err.strip()}")
    return elapsed, usage.ru_maxrss / 1024.0


def peak_rss(argv: Sequence[str], stdout_path: str, timer: Optional[str]) -> float:
    """Peak RSS (MiB) of one run of argv."""
    if timer is None:
        return spawn(argv, stdout_path)[1]
    with tempfile.NamedTemporaryFile() as report:
        spawn([timer, "-f", "%M", "-o", report.name, *argv], stdout_path)
        return int(Path(report.name).read_text().split()[-1]) / 1024.0


def cold(
    url: str, work: Path, limit: int, rounds: int, timer: Optional[str]
) -> Dict[str, Dict[str, Any]]:
    asset = work / "asset.json"
    inputs = work / f"inputs-{limit}.json"
    asset.write_text(json.dumps({"url": url, "api_token": TOKEN}))
    inputs.write_text(
        json.dumps({"path_parameters": {"threat_id": PAGE_THREAT}, "parameters": {"limit": limit}})
    )
    target = f"{url}{EVENTS_PATH.format(PAGE_THREAT)}?limit={limit}"
    contenders: List[Tuple[str, List[str], bool]] = [
        ("plugin", [PY, "-m", "runtime", "run", "get_threat_events", "--asset", str(asset),
                    "--inputs", str(inputs)], True),
        ("baseline", [PY, str(ROOT / "bench" / "baseline.py"), "--asset", str(asset),
                      "--inputs", str(inputs), "--user-agent", USER_AGENT], True),
        ("python -c pass", [PY, "-c", "pass"], False),
    ]  # fmt: skip
    curl = shutil.which("curl")
    if curl:
        argv = [curl, "-sS", "--fail", "--compressed"]
        for name, value in headers().items():
            argv += ["-H", f"{name}: {value}"]
        contenders.append(("curl --compressed", [*argv, target], False))
    out = str(work / "stdout")
    results: Dict[str, Dict[str, Any]] = {n: {"times": [], "rss": []} for n, _, _ in contenders}
    for name, argv, is_envelope in contenders:  # warm-up: fills caches, checks every output
        spawn(argv, out)
        if name != "python -c pass":
            check_page(Path(out).read_text(), limit, envelope=is_envelope)
    for index in range(RSS_ROUNDS):  # peak RSS, in runs of their own (see gnu_time)
        for name, argv, _ in rotate(contenders, index):
            results[name]["rss"].append(peak_rss(argv, out, timer))
    for index in range(rounds):  # wall time: the bare process, nothing in between
        for name, argv, _ in rotate(contenders, index):
            results[name]["times"].append(spawn(argv, out)[0])
    return results


# -- warm: in one process -----------------------------------------------------------------------
def batches(
    contenders: Dict[str, Callable[[], Any]], rounds: int, per_batch: int
) -> Dict[str, List[float]]:
    """Per-call seconds of each contender, one figure per round (a batch of calls)."""
    times: Dict[str, List[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for name in names:  # warm-up
        contenders[name]()
    for index in range(rounds):
        for name in rotate(names, index):
            call = contenders[name]
            started = time.perf_counter()
            for _ in range(per_batch):
                call()
            times[name].append((time.perf_counter() - started) / per_batch)
    return times


def raw_call(url: str, threat: str, params: Dict[str, Any], trust_env: bool = True) -> dict:
    with __import__("requests").Session() as session:
        session.trust_env = trust_env
        session.headers.update(headers())
        response = session.get(f"{url}{EVENTS_PATH.format(threat)}", params=params, timeout=30)
        return {
            "status_code": response.status_code,
            "reason": response.reason,
            "json_body": response.json(),
            "response_headers": dict(response.headers),
        }


def warm(url: str, limit: int, rounds: int, per_batch: int) -> Dict[str, List[float]]:
    from framework.manifest import load_plugin
    from framework.runner import run_action

    plugin = load_plugin()
    asset = {"url": url, "api_token": TOKEN}
    inputs = {"path_parameters": {"threat_id": PAGE_THREAT}, "parameters": {"limit": limit}}

    def plugin_call() -> None:
        envelope = run_action(plugin, "get_threat_events", asset, inputs)
        assert len(envelope["json_body"]["data"]) == limit

    def baseline_call() -> None:
        envelope = raw_call(url, PAGE_THREAT, {"limit": limit})
        assert len(envelope["json_body"]["data"]) == limit

    def strict_call() -> None:  # without requests' per-request environment lookups, as the plugin
        envelope = raw_call(url, PAGE_THREAT, {"limit": limit}, trust_env=False)
        assert len(envelope["json_body"]["data"]) == limit

    contenders = {"plugin": plugin_call, "baseline": baseline_call, "strict": strict_call}
    return batches(contenders, rounds, per_batch)


# -- cursor following ---------------------------------------------------------------------------
def follow_inputs(schema: Dict[str, Any]) -> Tuple[Optional[dict], str]:
    """Inputs that follow cursors over FOLLOW_EVENTS events, or None and why not."""
    properties = schema.get("properties", {})
    if "follow_cursor" not in properties:
        return None, "n/a (feature not present)"
    inputs: Dict[str, Any] = {
        "path_parameters": {"threat_id": FOLLOW_THREAT},
        "parameters": {"limit": 1000},
        "follow_cursor": True,
    }
    if "max_events" in properties:
        maximum = properties["max_events"].get("maximum")
        if maximum is not None and maximum < FOLLOW_EVENTS:
            return None, f"n/a (max_events is capped at {maximum})"
        inputs["max_events"] = FOLLOW_EVENTS
    return inputs, ""


def follow(url: str, rounds: int) -> Tuple[Optional[Dict[str, List[float]]], str]:
    import requests

    from framework.manifest import load_plugin
    from framework.runner import run_action

    plugin = load_plugin()
    inputs, why = follow_inputs(plugin.actions["get_threat_events"].input_schema)
    if inputs is None:
        return None, why
    asset = {"url": url, "api_token": TOKEN}

    def plugin_call() -> None:
        envelope = run_action(plugin, "get_threat_events", asset, inputs)
        assert envelope["status_code"] == 200, envelope["status_code"]
        assert len(envelope["json_body"]["data"]) == FOLLOW_EVENTS

    def baseline_call() -> None:
        events: List[Any] = []
        params: Dict[str, Any] = {"limit": 1000}
        with requests.Session() as session:
            session.headers.update(headers())
            while True:
                response = session.get(
                    f"{url}{EVENTS_PATH.format(FOLLOW_THREAT)}", params=params, timeout=30
                )
                body = response.json()
                events.extend(body["data"])
                cursor = body["pagination"]["nextCursor"]
                if not cursor:
                    break
                params = {"limit": 1000, "cursor": cursor}
        assert len(events) == FOLLOW_EVENTS

    return batches({"plugin": plugin_call, "baseline": baseline_call}, rounds, 1), ""


# -- report -------------------------------------------------------------------------------------
def paired_ratio(numerator: List[float], denominator: List[float]) -> float:
    return median([a / b for a, b in zip(numerator, denominator)])


def verdict(ratio: float, target: float, higher_is_better: bool = False) -> str:
    ok = ratio >= target if higher_is_better else ratio <= target
    sign = ">=" if higher_is_better else "<="
    return f"{sign} {target:.2f}x: {'met' if ok else 'NOT met'}"


def machine() -> str:
    model = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = []
    for name in ("requests", "jsonschema", "yaml"):
        try:
            module = __import__(name)
            versions.append(f"{name} {getattr(module, '__version__', '?')}")
        except ImportError:
            pass
    return (
        f"{datetime.date.today().isoformat()}; {os.cpu_count()} cores ({model}); "
        f"Python {platform.python_version()} ({platform.python_implementation()}); "
        f"{platform.system()} {platform.release()}; {', '.join(versions)}"
    )


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise OSError(done.stderr.strip())
    return done.stdout.strip()


def describe_checkout(root: Path) -> str:
    """Which commit is measured, and whether the plugin's own files differ from it."""
    try:
        head = git(root, "log", "-1", "--format=%h %s")
        plugin_files = ["plugin.yaml", "runtime", "connectors", "actions", "schemas"]
        dirty = git(root, "status", "--porcelain", "--untracked-files=no", "--", *plugin_files)
    except OSError:
        return str(root)
    return f"{root.name} at {head}{' (with uncommitted changes)' if dirty else ''}"


def report(
    cold_results: Dict[int, Dict[str, Dict[str, Any]]],
    warm_results: Dict[int, Dict[str, List[float]]],
    follow_results: Optional[Dict[str, List[float]]],
    follow_note: str,
    rounds: Dict[str, int],
) -> str:
    rows = [
        "| measurement | plugin | raw baseline | ratio | target |",
        "|---|---:|---:|---:|---|",
    ]
    for limit, results in cold_results.items():
        p, b = results["plugin"], results["baseline"]
        ratio = paired_ratio(p["times"], b["times"])
        rows.append(
            f"| cold call, limit={limit} (wall, median) | {median(p['times']) * 1e3:.0f} ms | "
            f"{median(b['times']) * 1e3:.0f} ms | {ratio:.2f}x | "
            f"{verdict(ratio, TARGETS['cold'])} |"
        )
        ratio = median(p["rss"]) / median(b["rss"])
        rows.append(
            f"| cold call, limit={limit} (peak RSS) | {median(p['rss']):.1f} MiB | "
            f"{median(b['rss']):.1f} MiB | {ratio:.2f}x | {verdict(ratio, TARGETS['rss'])} |"
        )
    for limit, times in warm_results.items():
        for other, label in (("baseline", ""), ("strict", ", raw with trust_env=False")):
            ratio = paired_ratio(times["plugin"], times[other])
            rows.append(
                f"| warm call in process, limit={limit}{label} (per call) | "
                f"{median(times['plugin']) * 1e3:.2f} ms | {median(times[other]) * 1e3:.2f} ms | "
                f"{ratio:.2f}x | {verdict(ratio, TARGETS['warm'])} |"
            )
    if follow_results is None:
        rows.append(f"| cursor following, {FOLLOW_EVENTS:,} events | {follow_note} | | | |")
    else:
        p_rate = [FOLLOW_EVENTS / t for t in follow_results["plugin"]]
        b_rate = [FOLLOW_EVENTS / t for t in follow_results["baseline"]]
        ratio = paired_ratio(p_rate, b_rate)
        rows.append(
            f"| cursor following, {FOLLOW_EVENTS:,} events (events/s) | {median(p_rate):,.0f} | "
            f"{median(b_rate):,.0f} | {ratio:.2f}x | "
            f"{verdict(ratio, TARGETS['follow'], higher_is_better=True)} |"
        )
    floors = ["", "| floor, for reference | wall (median) | peak RSS |", "|---|---:|---:|"]
    for limit, results in cold_results.items():
        for name in ("curl --compressed", "python -c pass"):
            if name in results and not (name == "python -c pass" and limit != 10):
                r = results[name]
                label = name if name != "curl --compressed" else f"{name}, limit={limit}"
                floors.append(
                    f"| {label} | {median(r['times']) * 1e3:.0f} ms | {median(r['rss']):.1f} MiB |"
                )
    if not any("curl" in name for r in cold_results.values() for name in r):
        floors.append("| curl --compressed | n/a (curl not found) | |")
    notes = [
        "",
        f"Machine: {machine()}.",
        f"Plugin measured: {describe_checkout(PLUGIN)}.",
        f"Rounds: cold {rounds['cold']} per size (each contender once per round, rotating "
        f"order), warm {rounds['warm10']} batches of 20 calls at limit=10 and {rounds['warm']} "
        f"of 2 at limit=1000, cursor following {rounds['follow']}; peak RSS "
        f"from {RSS_ROUNDS} separate runs each under GNU time. Ratios are medians of per-round "
        "plugin/baseline ratios (RSS: ratio of medians).",
    ]
    return "\n".join(rows + floors + notes) + "\n"


def update_readme(table: str) -> None:
    text = README.read_text(encoding="utf-8")
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    README.write_text(text[:start] + "\n" + table + text[end:], encoding="utf-8")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=21, help="cold rounds per size")
    parser.add_argument("--update-readme", action="store_true", help="write into bench/README.md")
    parser.add_argument("--root", help="measure the plugin in this checkout (default: this one)")
    parts = parser.add_mutually_exclusive_group()
    parts.add_argument(
        "--streaming", action="store_true", help="only the streaming part (bench/streaming.py)"
    )
    parts.add_argument("--no-streaming", action="store_true", help="leave the streaming part out")
    args = parser.parse_args(argv)
    global PLUGIN, USER_AGENT
    PLUGIN = Path(args.root).resolve() if args.root else ROOT
    rounds = {
        "cold": args.rounds,
        # limit=10: a call is ~2 ms, so a batch of 20 is short and the host's noise large
        "warm10": max(5, 6 * args.rounds),
        "warm": max(5, 2 * args.rounds),
        "follow": max(3, args.rounds // 2),
    }
    sys.path.insert(0, str(PLUGIN))
    from framework.manifest import load_plugin  # the measured checkout's

    USER_AGENT = load_plugin(PLUGIN).user_agent
    prepare()
    timer = gnu_time()
    server, url = start_server()
    if args.streaming:
        try:
            return streaming_part(url, timer, args.update_readme)
        finally:
            stop_server(server)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
            work = Path(tmp)
            cold_results = {}
            for limit in (10, 1000):
                print(f"bench: cold calls, limit={limit} ...", file=sys.stderr, flush=True)
                cold_results[limit] = cold(url, work, limit, rounds["cold"], timer)
        print("bench: warm calls ...", file=sys.stderr, flush=True)
        warm_results = {
            10: warm(url, 10, rounds["warm10"], 20),
            1000: warm(url, 1000, rounds["warm"], 2),
        }
        print("bench: cursor following ...", file=sys.stderr, flush=True)
        before = server_stats(url)
        follow_results, follow_note = follow(url, rounds["follow"])
        after = server_stats(url)
        misses = after["misses"] - before["misses"]
        if misses > 2 * FOLLOW_EVENTS // 1000:  # each page at most once per contender
            print(f"bench: note: {misses} replay misses while following", file=sys.stderr)
        if not args.no_streaming:
            streamed = streaming_part(url, timer, args.update_readme, show=False)
    finally:
        stop_server(server)
    table = report(cold_results, warm_results, follow_results, follow_note, rounds)
    if timer is None:
        table += (
            "\nPeak RSS from ru_maxrss (GNU time not found): an upper bound that includes the "
            "runner's own RSS at spawn time, so small floors read high.\n"
        )
    print(table)
    if not args.no_streaming:
        print(streamed)
    if args.update_readme:
        update_readme(table)
    return 0


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    server.wait(timeout=30)
    if server.stdout:
        server.stdout.close()


def streaming_part(url: str, timer: Optional[str], update: bool, show: bool = True) -> Any:
    """bench/streaming.py's measurements, its table printed (or returned) and recorded."""
    from bench import streaming

    table = streaming.report(streaming.streaming(url, timer))
    if update:
        streaming.update_readme(table)
    if show:
        print(table)
        return 0
    return table
