"""Our own driver for a Turbine connector, doing what Swimlane's connector entry script does.

The entry script is not part of the published ``connector-def-runner`` package, so this file
follows its description in shared/PLATFORMS.md, and nothing more:

* one JSON object on stdin holds the asset fields and the action inputs together;
* every ``*.yaml`` under the connector's root is loaded (recursive glob); the asset schema is the
  one with ``schema: asset/1``, the action the one with ``schema: action/1`` and its ``name``;
* a fixed list of field names moves into the asset; every other field stays among the inputs;
  ``http_proxy`` goes to the constructor, the ``http_proxy`` environment variable winning;
* the override is ``<action>.py`` found by a recursive glob from the root, used only when
  exactly one file matches (else a connector-wide ``runner_override.py``, same rule), else
  Swimlane's declarative ``Runner``;
* the result is printed as ``::set-output <json>`` on stdout; a failure raised here is
  ``::set-error <json>`` on stderr and exit 1 (the runners fail that way themselves too).

It runs in the vendor's venv: ``python turbine_entry.py CONNECTOR_ROOT ACTION < message.json``.
"""

import importlib.util
import json
import os
import sys
from pathlib import Path

import yaml

ASSET_FIELDS = (
    "url",
    "verify_ssl",
    "http_proxy",
    "username",
    "password",
    "client_id",
    "client_secret",
    "scope",
    "token_url",
    "oauth2_username",
    "oauth2_password",
)


def find_one(root, name):
    matches = sorted(root.glob(f"**/{name}"))
    return matches[0] if len(matches) == 1 else None


def runner_class(root, action):
    path = find_one(root, f"{action}.py") or find_one(root, "runner_override.py")
    if path is None:
        from connector_definition_runner import Runner

        return Runner
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.RunnerOverride


def main():
    root, action = Path(sys.argv[1]), sys.argv[2]
    documents = [yaml.safe_load(p.read_text()) for p in sorted(root.glob("**/*.yaml"))]
    documents = [d for d in documents if isinstance(d, dict)]
    asset_schema = next(d for d in documents if d.get("schema") == "asset/1")
    action_schema = next(
        d for d in documents if d.get("schema") == "action/1" and d.get("name") == action
    )
    inputs = json.loads(sys.stdin.read())
    asset = {name: inputs.pop(name) for name in ASSET_FIELDS if name in inputs}
    http_proxy = os.environ.get("http_proxy") or asset.get("http_proxy")
    try:
        runner = runner_class(root, action)(asset, asset_schema, http_proxy)
        output = runner.run(inputs, action_schema)
    except Exception as exc:
        print(
            "::set-error " + json.dumps({"name": type(exc).__name__, "message": str(exc)}),
            file=sys.stderr,
        )
        sys.exit(1)
    print("::set-output " + json.dumps(output))


if __name__ == "__main__":
    main()
