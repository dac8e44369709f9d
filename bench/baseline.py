"""The raw baseline: the same GET as Get Threat Events, with plain ``requests`` and nothing else.

``python bench/baseline.py --asset ASSET.json --inputs INPUTS.json`` reads the same files as the
plugin (JSON only), sends ``GET {url}/web/api/v2.1/threats/{threat_id}/explore/events`` with the
same headers, query encoding and timeout through a ``requests.Session``, and prints the same
four-key envelope as JSON.  No validation, no retries, no redaction: what a hand-written script
would do, i.e. the cost the plugin is compared against.
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
        if value is None or value == []:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, list):
            value = ",".join(map(str, value))
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
        response = session.get(url, params=params, timeout=asset.get("timeout", 30))
    try:
        body = response.json()
    except ValueError:
        body = None
    envelope = {
        "status_code": response.status_code,
        "reason": response.reason,
        "json_body": body,
        "response_headers": dict(response.headers),
    }
    if body is None:
        envelope["response_text"] = response.text[:65536]
    sys.stdout.write(json.dumps(envelope) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
