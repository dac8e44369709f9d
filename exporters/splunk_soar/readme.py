"""The app's README.md (packed into the .tgz by ``soarapps package build``), from plugin.yaml,
the schemas as SOAR fields (mapping.py) and what the suite verifies."""

from __future__ import annotations

import json
from typing import Any, Dict, List

from exporters import flat
from exporters.splunk_soar.mapping import params as flat_params
from exporters.splunk_soar.mapping import soar_field
from framework.manifest import Plugin

SOAR_TYPES = {"string": "string", "integer": "numeric", "number": "numeric", "boolean": "boolean"}


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text.replace("|", "\\|").replace("\n", " ")


def table(fields: List[flat.Field], sensitive: List[str]) -> str:
    rows = ["| name | type | required | default | description |", "|---|---|---|---|---|"]
    for field in fields:
        soar = soar_field(field)
        kind = "password" if field.name in sensitive else SOAR_TYPES[soar["kind"]]
        default = "" if soar["default"] is None else _cell(soar["default"])
        rows.append(
            f"| `{field.name}` | {kind} | {'yes' if soar['required'] else ''} | {default} "
            f"| {_cell(soar['description'])} |"
        )
    return "\n".join(rows)


def text(plugin: Plugin, settings: Dict[str, Any]) -> str:
    sensitive = [*plugin.asset.secrets, *settings["sensitive"]]
    asset = table(flat.asset_fields(plugin.asset.schema), sensitive)
    actions = []
    for action in plugin.actions.values():
        params = table(flat_params(action.input_schema), [])
        actions.append(
            f"""### {action.title.lower()}

{action.description}

{params}

Lists (`eventTypes`, `eventSubTypes`) are comma-separated: `process,file`.

Output: the HTTP answer as `action_result.data.*` (`status_code`, `reason`,
`response_headers`, `json_body` with SentinelOne's `data`, `pagination` and `errors`), unchanged,
and `action_result.summary.events_returned`, `.total_items`, `.next_cursor`.
"""
        )
    return f"""# {plugin.title}

{plugin.description}

Publisher: {plugin.publisher}. Version {plugin.version}, {plugin.license} (LICENSE, NOTICE). A
community app: not SentinelOne's official Splunk SOAR app, and installed beside it, not over it
(its own app id `{settings["appid"]}`).

## Building and installing

Splunk SOAR installs the app tarball (`.tgz`) that the SDK's packager builds from this project,
with Python 3.13 and the package index:

```sh
python3.13 -m venv .venv && .venv/bin/pip install {settings["runtime"]} uv
.venv/bin/uv lock --check                    # the shipped uv.lock matches pyproject.toml
.venv/bin/soarapps package build . -o {plugin.id}.tgz
```

Then, in SOAR: *Apps* > *Install App*, choose `{plugin.id}.tgz`; configure an asset and run
*test connectivity*.

## Asset configuration

{asset}

`password` fields are stored encrypted by SOAR.

## Actions

### test connectivity

One authenticated read (`GET /web/api/v2.1/threats?limit=1`); on failure the message names what
went wrong (`Token invalid or expired (HTTP 401): ...`).

{"".join(actions)}
## How failures show up

- HTTP 2xx: the action succeeds, message `HTTP 200: 2 events`.
- Any other HTTP status (401 wrong token, 403 missing permission, 429 rate limit after the
  retries, ...): the action **fails**, message `HTTP <status>: <SentinelOne's error detail>`,
  and the envelope is still the action's data, so a playbook reads
  `action_result.data.*.status_code` and `.json_body.errors` of the failed action.
- Invalid params or asset: the action fails with one sentence naming the param (e.g.
  `invalid parameters: threat_id: ...`); nothing was sent, no data.
- Console not reached (DNS, TLS, proxy, timeout): the action fails with the cause; a cursor walk
  cut short keeps the events read so far as the data.

## What was verified

With `{settings["runtime"]}` on Python 3.13 against a local SentinelOne simulator: the manifest
`soarapps manifests create` writes, the tarball `soarapps package build` writes (its manifest,
its wheels for Python 3.13), and the app unpacked from that tarball run with the SDK's own
runner (`python src/app.py action ...`). Not verified: installing on a SOAR server, its UI and
its encryption backend.
"""
