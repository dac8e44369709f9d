#!/usr/bin/env bash
# make simulator: keep the simulator running on 127.0.0.1:$SIM_PORT (default 8765, the URL in
# examples/asset.simulator.yaml) and print the exact commands to try from another terminal.
# Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
port=${SIM_PORT:-8765}
asset=examples/asset.simulator.yaml
exec 3< <(exec "$PY" -m simulator --host 127.0.0.1 --port "$port")
sim_pid=$!
trap 'kill "$sim_pid" 2>/dev/null || true' EXIT
trap 'exit 0' INT TERM
if ! IFS= read -r -t 30 line <&3; then
    echo "simulator: it did not start (is port $port in use? try: make simulator SIM_PORT=8766)" >&2
    exit 1
fi
url=${line#SIMULATOR_URL=}
if [ "$port" = 8765 ]; then
    use="--asset $asset"
    feed=""
else  # another port: the asset file's URL, rewritten on the fly
    use="--asset -"
    feed="sed 's#http://127.0.0.1:8765#$url#' $asset | "
fi
cat <<TEXT
simulator: listening at $url (token simulator-token); Ctrl-C stops it.
Try, from another terminal in $(pwd):
  ${feed}$PY -m runtime test-asset $use
  ${feed}$PY -m runtime run get_threat_events $use --inputs examples/inputs/first-page.yaml --pretty
  ${feed}$PY -m runtime run get_threat_events $use --inputs examples/inputs/count-only.yaml
  ${feed}$PY -m runtime run get_threat_events $use --inputs examples/inputs/follow-all.yaml >events.json
TEXT
wait "$sim_pid"
