#!/usr/bin/env bash
# make demo: start the simulator on a free loopback port, run Get Threat Events through the
# runtime exactly as the platform would, print the envelope, stop the simulator.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
work=$(mktemp -d)
exec 3< <(exec "$PY" -m simulator --host 127.0.0.1 --port 0)
sim_pid=$!
trap 'kill "$sim_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
IFS= read -r -t 30 line <&3 || { echo "demo: the simulator did not start" >&2; exit 1; }
url=${line#SIMULATOR_URL=}
echo "demo: simulator listening at $url" >&2

cat >"$work/asset.json" <<JSON
{"url": "$url", "api_token": "simulator-token"}
JSON
cat >"$work/inputs.json" <<'JSON'
{"path_parameters": {"threat_id": "1569749506546751259"},
 "parameters": {"limit": 100, "eventTypes": ["process", "file"], "sortOrder": "desc"}}
JSON
echo "demo: python -m runtime run get_threat_events --asset asset.json --inputs inputs.json --pretty" >&2
"$PY" -m runtime run get_threat_events --asset "$work/asset.json" --inputs "$work/inputs.json" --pretty
