"""The export's README.md and docs/ (overview, configuration, one page per action, release
notes), written from plugin.yaml, the definitions' schemas and CHANGELOG.md."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping

from exporters.common import release_notes
from exporters.swimlane.schema import turbine_schema
from framework.manifest import Plugin

RUNS = "connector-def-runner"


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text.replace("|", "\\|").replace("\n", " ")


def field_table(schema: Mapping[str, Any], prefix: str = "") -> List[str]:
    """One row per property (nested object properties as ``group.name``), as Turbine sees it."""
    rows = []
    required = set(schema.get("required") or [])
    for name, sub in (schema.get("properties") or {}).items():
        inner = sub.get("properties") if sub.get("type") == "object" else None
        if inner and prefix == "" and name in ("path_parameters", "parameters"):
            rows += field_table(sub, f"{name}.")
            continue
        kind = sub.get("type", "any")
        if kind == "array":
            kind = f"array of {sub.get('items', {}).get('type', 'any')}"
        default = _cell(sub["default"]) if "default" in sub else ""
        rows.append(
            f"| `{prefix}{name}` | {kind} | {'yes' if name in required else ''} | {default} "
            f"| {_cell(sub.get('description', sub.get('title', '')))} |"
        )
    return ["| field | type | required | default | description |", "|---|---|---|---|---|", *rows]


def overview(plugin: Plugin) -> str:
    actions = "\n".join(
        f"- [{a.title}](actions/{a.id}.md): {a.description}" for a in plugin.actions.values()
    )
    return f"""# {plugin.title}: overview

{plugin.description}

A community connector by {plugin.publisher} ({plugin.license}); not SentinelOne's or Swimlane's
official integration. Product: {plugin.product} ({plugin.vendor}).

Actions:

{actions}

- [Configuration](configuration.md): the asset, *{plugin.asset.title}*.
- [Release notes](release_notes.md).
"""


def configuration(plugin: Plugin, settings: Dict[str, Any]) -> str:
    schema = turbine_schema(plugin.asset.schema)
    header = settings["security"]
    return f"""# Configuration: {plugin.asset.title}

{plugin.asset.description}

Asset type `{settings["auth"]}` (`schema: asset/1`). The runner sends the header
`{header["name"]}: {header.get("format", "")}` (`meta.security`, `type: {header["type"]}`);
the connector's own code sends the same header. `api_token` is a `password` field: Turbine
stores and shows it masked; no output, log or error of this connector carries it.

{chr(10).join(field_table(schema))}

Turbine's entry script moves only `url`, `verify_ssl` and `http_proxy` (of these fields) into
the asset; the others arrive among the action's inputs and the connector takes them back from
there. An `http_proxy` environment variable on the worker wins over the field. `verify_ssl`
defaults to true here (Swimlane's declarative runner: false); for a console behind a private CA
give `ca_bundle` instead of turning verification off.
"""


def action_page(plugin: Plugin, action_id: str) -> str:
    action = plugin.actions[action_id]
    inputs = turbine_schema(action.input_schema)
    output = turbine_schema(action.output_schema)
    return f"""# {action.title}

{action.description}

`{action.method} {action.path}` on the asset's console.

## Inputs

{chr(10).join(field_table(inputs))}

Values a playbook passes as text are accepted where the type is not text: `"100"` for a
number, `"true"` for a boolean, `"process,file"` for a list. Every input is checked against the
plugin's full schema (ranges, the `threat_id` pattern, known names) before anything is sent.

## Output

The HTTP answer as an envelope, unchanged:

{chr(10).join(field_table(output))}

## How failures show up

The task succeeds only with an HTTP status below 400; its output is then the envelope.
Otherwise the task fails (the runner's `::set-error`, exit status 1) and the task's error is:

- HTTP status 400 or more (401 wrong token, 403 missing permission, 429 rate limit after the
  retries, ...): the envelope itself, `status_code`, `reason`, `response_headers` and
  `json_body.errors`, as Swimlane's own runner reports it. With `follow_cursor`, a page failing
  mid-walk keeps the events read so far in `json_body.data` and the cursor to resume from in
  `json_body.pagination.nextCursor`;
- invalid inputs or asset: `{{"name": "InputError", "message": ...}}` (or `AssetError`), one
  sentence per problem naming the field; nothing was sent;
- console not reached (DNS, TLS, proxy, timeout, resets after the retries):
  `{{"name": "TransportError", "message": ...}}`; a cursor walk cut short is
  `{{"name": "IncompleteFetch", "message": ..., "output": <the envelope read so far>}}`.

A playbook therefore branches on success or failure of the task first, and on the failed task's
error `status_code` for 401, 403 and 429 (the example playbook
`examples/playbooks/swimlane.yaml` of the plugin's repository does).
"""


def readme(plugin: Plugin, settings: Dict[str, Any]) -> str:
    return f"""# {plugin.title} for Swimlane Turbine

{plugin.description}

Version {plugin.version}, {plugin.license} (see LICENSE and NOTICE): a community connector,
not SentinelOne's or Swimlane's official integration. Documentation: [docs/](docs/overview.md).

## Building and importing

This tree is generated by `python -m runtime export swimlane` in the plugin's repository, in the
layout of Swimlane's connector templates: `connector.yaml`, `connector/config/assets/`,
`connector/config/actions/`, custom code in `connector/src/`, `image/logo.png`,
`requirements.txt`. Turbine runs it with `{settings["runtime"]}` on Python
{settings["python"]}, installing `requirements.txt` beside it.

Swimlane publishes no import format, builder or validator for custom Turbine connectors: how a
tree reaches a Turbine tenant (the connector builder, or Swimlane's packaging of its content) is
not public. Hand this folder to that process as it is; do not re-zip it with other files at its
top. The `.zip` that `runtime export` writes beside the folder is only a copy of this tree for
moving it; no Turbine importer is known to accept it.

## Layout

- `connector/src/get_threat_events.py`: the action's `RunnerOverride`; it runs the action with
  the plugin's own code in `connector/src/plugin_core/` (ordinary Python files: exactly one file
  in the tree is named `get_threat_events.py`, so Turbine's entry script uses the override);
- the definitions' schemas keep to what the runner's README shows (one type per field, no
  `$ref`, no extension keys); the override checks every input against the full schema.

## What was verified, and with what

With Swimlane's published runner `{settings["runtime"]}` (its own pins) against a local
SentinelOne simulator: Swimlane's declarative `Runner` over these definitions (200 and the
events), and this override driven as Turbine's entry script is publicly described (stdin in,
`::set-output` / `::set-error` out): success, paging, failures, TLS with a private CA, a proxy
with credentials, no secret in any output. Not verified: Turbine's import, its UI, its real
entry script, and the worker's Python and image.
"""


def pages(plugin: Plugin, settings: Dict[str, Any]) -> Dict[str, bytes]:
    files = {
        "README.md": readme(plugin, settings),
        "docs/overview.md": overview(plugin),
        "docs/configuration.md": configuration(plugin, settings),
        "docs/release_notes.md": f"# Release notes\n\n## {plugin.version}\n\n"
        + release_notes(plugin),
    }
    for action_id in plugin.actions:
        files[f"docs/actions/{action_id}.md"] = action_page(plugin, action_id)
    return {path: text.encode("utf-8") for path, text in files.items()}
