"""A cold run: one new process per action run, as SOAR platforms start one, on loopback.

``python -m runtime run get_threat_events --asset A --inputs I`` against ``python
bench/baseline.py`` (one GET with plain requests, the same envelope printed), one page of 10
events (the API's default limit, where start-up weighs most), alternating round by round.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List

from bench.common import PY, TOKEN, importtime, run, user_agent
from simulator import synthetic_threat_id

LIMIT = 10


def contenders(url: str, work: Path) -> Dict[str, List[str]]:
    asset, inputs = work / "cold-asset.json", work / "cold-inputs.json"
    asset.write_text(json.dumps({"url": url, "api_token": TOKEN}))
    threat = synthetic_threat_id(100_000)
    inputs.write_text(
        json.dumps({"path_parameters": {"threat_id": threat}, "parameters": {"limit": LIMIT}})
    )
    files = ["--asset", str(asset), "--inputs", str(inputs)]
    return {
        "plugin": [PY, "-m", "runtime", "run", "get_threat_events", *files],
        "raw requests": [PY, "bench/baseline.py", *files, "--user-agent", user_agent()],
    }


def cold(url: str, work: Path, rounds: int) -> Dict[str, List[float]]:
    """Wall seconds of each contender, one per round (the pair back to back, order alternating)."""
    argvs = contenders(url, work)
    out = work / "cold-stdout.json"
    for name, argv in argvs.items():  # warm-up (bytecode, caches, replay) and output check
        run(argv, out, resources=False)
        envelope = json.loads(out.read_text(encoding="utf-8"))
        if envelope["status_code"] != 200 or len(envelope["json_body"]["data"]) != LIMIT:
            raise SystemExit(f"bench: cold {name}: not {LIMIT} events with status 200")
    times: Dict[str, List[float]] = {name: [] for name in argvs}
    names = list(argvs)
    for index in range(rounds):
        for name in names if index % 2 == 0 else names[::-1]:
            times[name].append(run(argvs[name], resources=False).wall)
    return times


def where_the_time_goes(url: str, work: Path, top: int = 8) -> List[str]:
    """Lines for the report: the costliest imports of one cold run of the plugin and of the
    baseline, by package, from ``python -X importtime`` (which slows imports a little itself)."""
    argvs = contenders(url, work)
    lines = []
    for name, argv in argvs.items():
        found = importtime(argv[1:])
        total = sum(ms for _, ms in found)
        listed = ", ".join(f"{module} {ms:.0f} ms" for module, ms in found[:top])
        lines.append(f"- {name}: imports {total:.0f} ms in all; by package: {listed}.")
    return lines
