"""The raw baseline: Get Threat Events' GETs with plain ``requests`` and nothing else.

``python bench/baseline.py --asset A.json --inputs I.json --user-agent UA [--output FILE]``
reads the plugin's files (JSON only) and sends ``GET {url}/web/api/v2.1/threats/{id}/explore/
events`` through a ``requests.Session`` with the same headers, query encoding and timeout.
Without ``--output``: one request, the four-key envelope printed as JSON. With it: a loop over
``pagination.nextCursor`` writing each event as one line (``json.dumps(event,
ensure_ascii=False)``, the plugin's ndjson bytes), page by page. No validation, retries,
redaction, sidecar or resume: what a hand-written script would do.
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
    params = {}
    for name, value in (inputs.get("parameters") or {}).items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, list):
            value = ",".join(map(str, value))
        if value is not None and value != "":
            params[name] = value
    threat_id = inputs["path_parameters"]["threat_id"]
    url = f"{asset['url'].rstrip('/')}/web/api/v2.1/threats/{threat_id}/explore/events"
    with requests.Session() as session:
        session.headers.update(
            {
                "Authorization": f"ApiToken {asset['api_token']}",
                "Accept": "application/json",
                "User-Agent": options["--user-agent"],
            }
        )
        if "--output" not in options:
            response = session.get(url, params=params, timeout=asset.get("timeout", 30))
            envelope = {
                "status_code": response.status_code,
                "reason": response.reason,
                "json_body": response.json(),
                "response_headers": dict(response.headers),
            }
            sys.stdout.write(json.dumps(envelope) + "\n")
            return 0
        with open(options["--output"], "w", encoding="utf-8") as out:
            while True:
                body = session.get(url, params=params, timeout=asset.get("timeout", 30)).json()
                for event in body["data"]:
                    out.write(json.dumps(event, ensure_ascii=False) + "\n")
                out.flush()
                params["cursor"] = body["pagination"]["nextCursor"]
                if not params["cursor"] or not body["data"]:
                    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
