#!/usr/bin/env bash
# make demo: start the simulator on a free loopback port, run Get Threat Events through the
# runtime exactly as the platform would (the shipped example files), print the envelope, stop
# the simulator. To try commands by hand against a simulator that keeps running: make simulator.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
asset=examples/asset.simulator.yaml
inputs=examples/inputs/first-page.yaml
exec 3< <(exec "$PY" -m simulator --host 127.0.0.1 --port 0)
sim_pid=$!
trap 'kill "$sim_pid" 2>/dev/null || true' EXIT
IFS= read -r -t 30 line <&3 || { echo "demo: the simulator did not start" >&2; exit 1; }
url=${line#SIMULATOR_URL=}
echo "demo: simulator listening at $url (a free port, so the asset's URL is swapped in)" >&2
echo "demo: sed 's#http://127.0.0.1:8765#$url#' $asset | $PY -m runtime run get_threat_events --asset - --inputs $inputs --pretty" >&2
sed "s#http://127.0.0.1:8765#$url#" "$asset" |
    "$PY" -m runtime run get_threat_events --asset - --inputs "$inputs" --pretty
echo "demo: done, the simulator is stopped. By hand: run 'make simulator' in one terminal, then in another:" >&2
echo "  $PY -m runtime run get_threat_events --asset $asset --inputs $inputs --pretty" >&2
