"""The raw baseline for event files: every page of a threat's events, written as ndjson.

``python bench/baseline_ndjson.py --asset ASSET.json --inputs INPUTS.json --user-agent UA
--output FILE`` sends the same GETs as Get Threat Events following cursors (a ``requests.Session``
loop over ``pagination.nextCursor``, ``limit`` from the inputs, at most ``max_events`` events)
and writes each event as one line of JSON, page by page: what a hand-written export script would
do. No validation, retries, redaction, sidecar or resume.
"""

import json
import sys

import requests


def main(argv: list) -> int:
    options = dict(zip(argv[::2], argv[1::2]))
    with open(options["--asset"], encoding="utf-8") as handle:
        asset = json.load(handle)
    with open(options["--inputs"], encoding="utf-8") as handle:
        inputs = json.load(handle)
    limit = (inputs.get("parameters") or {}).get("limit", 1000)
    wanted = inputs.get("max_events", 10_000)
    threat_id = inputs["path_parameters"]["threat_id"]
    url = f"{asset['url'].rstrip('/')}/web/api/v2.1/threats/{threat_id}/explore/events"
    written = 0
    params = {"limit": limit}
    with requests.Session() as session, open(options["--output"], "w", encoding="utf-8") as out:
        session.headers.update(
            {
                "Authorization": f"ApiToken {asset['api_token']}",
                "Accept": "application/json",
                "User-Agent": options["--user-agent"],
            }
        )
        while written < wanted:
            params["limit"] = min(limit, wanted - written)
            body = session.get(url, params=params, timeout=asset.get("timeout", 30)).json()
            data = body["data"]
            if data:
                out.write("\n".join(json.dumps(event, ensure_ascii=False) for event in data))
                out.write("\n")
                out.flush()
            written += len(data)
            cursor = body["pagination"]["nextCursor"]
            if not cursor or not data:
                break
            params["cursor"] = cursor
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
