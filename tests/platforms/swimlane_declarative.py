"""Swimlane's own declarative ``Runner`` over our generated asset/1 and action/1 definitions.

Runs in the vendor's venv: ``python swimlane_declarative.py CONNECTOR_ROOT ACTION < message``
where the message is ``{"asset": {...}, "inputs": {...}}``. The definitions are found the way
the entry script finds them (every ``*.yaml``, by ``schema`` and ``name``); the Runner gets the
asset as given. It prints ``::set-output <json>``; on a status >= 400 the Runner itself prints
``::set-error`` and exits 1.
"""

import json
import sys
from pathlib import Path

import yaml
from connector_definition_runner import Runner


def main():
    root, action = Path(sys.argv[1]), sys.argv[2]
    documents = [yaml.safe_load(p.read_text()) for p in sorted(root.glob("**/*.yaml"))]
    asset_schema = next(d for d in documents if d.get("schema") == "asset/1")
    action_schema = next(
        d for d in documents if d.get("schema") == "action/1" and d.get("name") == action
    )
    message = json.loads(sys.stdin.read())
    output = Runner(message["asset"], asset_schema, None).run(message["inputs"], action_schema)
    print("::set-output " + json.dumps(output))


if __name__ == "__main__":
    main()
