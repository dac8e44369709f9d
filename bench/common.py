"""What every part of the bench shares: processes measured, the replay server, medians.

The bench drives the plugin only through its command line (``python -m runtime ...`` as a
subprocess), never through its modules, so it measures what a SOAR platform runs.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import yaml

from simulator import DEFAULT_TOKEN

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
TOKEN = DEFAULT_TOKEN
# Child processes write their bytecode (and the plugin its caches) as an installed plugin has
# them, whatever the caller's PYTHONDONTWRITEBYTECODE says: a warm-up run precedes the timing.
ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


class Sample(NamedTuple):
    wall: float  # seconds, start to exit, measured here
    rss: float  # peak RSS, MiB (nan when not asked for)
    cpu: float  # user + system seconds (nan when not asked for)


def user_agent() -> str:
    """The plugin's User-Agent (``<id>/<version>`` from plugin.yaml), for the raw baseline."""
    manifest = yaml.safe_load((ROOT / "plugin.yaml").read_text(encoding="utf-8"))
    return f"{manifest['id']}/{manifest['version']}"


def gnu_time() -> Optional[str]:
    """/usr/bin/time if it is GNU time: the peak RSS of the child it starts itself (``%M``)."""
    path = shutil.which("time") or "/usr/bin/time"
    try:
        done = subprocess.run([path, "-f", "%M", "true"], capture_output=True, text=True)
        int(done.stderr.split()[-1])
        return path
    except (OSError, ValueError, IndexError):
        return None


TIME = gnu_time()
RSS_NOTE = (
    "Peak RSS: GNU time's %M."
    if TIME
    else "Peak RSS: ru_maxrss from os.wait4 (GNU time not found; it also counts the bench "
    "runner's own RSS at fork time, so it reads a few MiB high)."
)


def run(argv: Sequence[str], stdout: Optional[Path] = None, resources: bool = True) -> Sample:
    """Run argv (in the plugin's checkout) to its end; it must exit 0. ``resources``: peak RSS
    and CPU time too (under GNU time when there is one: its fork and exec are in the wall time,
    a millisecond or two, on every contender alike)."""
    with tempfile.NamedTemporaryFile("r") as report, tempfile.TemporaryFile() as err:
        command = list(argv)
        if resources and TIME:
            command = [TIME, "-f", "%M %U %S", "-o", report.name, *command]
        with open(stdout or os.devnull, "wb") as out:
            started = time.perf_counter()
            child = subprocess.Popen(command, cwd=ROOT, env=ENV, stdout=out, stderr=err)
            _, status, usage = os.wait4(child.pid, 0)
            wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            err.seek(0)
            message = err.read().decode(errors="replace").strip()
            raise SystemExit(f"bench: {' '.join(argv)} exited {child.returncode}: {message}")
        if not resources:
            return Sample(wall, float("nan"), float("nan"))
        if TIME:
            rss, user, system = report.read().split()[-3:]
            return Sample(wall, int(rss) / 1024, float(user) + float(system))
        return Sample(wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def paired_ratio(plugin: Sequence[float], baseline: Sequence[float]) -> float:
    """The median of the per-round ratios: each round's pair ran back to back, so drift on the
    host (other jobs) cancels out of each ratio."""
    return median([a / b for a, b in zip(plugin, baseline)])


def start_server() -> Tuple[subprocess.Popen, str]:
    """bench/server.py in its own process: the simulator's response bytes, replayed."""
    server = subprocess.Popen(
        [PY, "-m", "bench.server"], cwd=ROOT, env=ENV, stdout=subprocess.PIPE, text=True
    )
    line = server.stdout.readline() if server.stdout else ""
    if not line.startswith("BENCH_URL="):
        server.kill()
        raise SystemExit("bench: the replay server did not start")
    return server, line.strip().split("=", 1)[1]


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    server.wait(timeout=30)
    if server.stdout:
        server.stdout.close()


def importtime(argv: Sequence[str]) -> List[Tuple[str, float]]:
    """Import time of one run of ``python argv...`` under ``-X importtime``, by top-level
    package (its modules' own times summed), most expensive first: (package, ms)."""
    done = subprocess.run(
        [PY, "-X", "importtime", *argv], cwd=ROOT, env=ENV, capture_output=True, text=True
    )
    found: Dict[str, float] = {}
    for line in done.stderr.splitlines():  # "import time: <own us> | <cumulative> | <module>"
        fields = line[len("import time:") :].split("|")
        if line.startswith("import time:") and len(fields) == 3 and fields[0].strip().isdigit():
            package = fields[2].strip().split(".")[0]
            found[package] = found.get(package, 0.0) + int(fields[0]) / 1000
    return sorted(found.items(), key=lambda item: -item[1])
