"""Swimlane Turbine custom code for one action (exported as ``<action>.py``): the entry script
calls ``RunnerOverride(asset, asset_schema, http_proxy).run(inputs, action_schema)``. It fails as
the declarative Runner does: ``::set-error <JSON>`` on stderr, exit 1.
"""

import json
import sys
from pathlib import Path
from typing import Any, Dict, Mapping, NoReturn, Optional

ACTION = Path(__file__).stem
CORE = Path(__file__).resolve().with_name("plugin_core")
DATA = "plugin_data.json"
# How each way a run can end without an envelope is named in the task's error.
NAMES = {
    "inputs": "InputError",
    "asset": "AssetError",
    "transport": "TransportError",
    "interrupted": "Interrupted",
}


def _fail(error: Mapping[str, Any]) -> NoReturn:
    """Fail the action the Turbine way: the error as JSON on stderr, exit status 1."""
    print("::set-error " + json.dumps(error, default=str), file=sys.stderr, flush=True)
    sys.exit(1)


class RunnerOverride:
    def __init__(
        self, asset: Optional[Mapping[str, Any]], asset_schema: Any, http_proxy: Optional[str]
    ) -> None:
        self.asset = dict(asset or {})
        self.asset_schema = asset_schema
        self.http_proxy = http_proxy

    def run(self, inputs: Optional[Mapping[str, Any]], action_schema: Any) -> Dict[str, Any]:
        if str(CORE) not in sys.path:
            sys.path.insert(0, str(CORE))
        from framework.errors import RunError
        from framework.manifest import ManifestError, plugin_from_data
        from framework.runner import run_action

        inputs = dict(inputs or {})
        data = json.loads((CORE / DATA).read_text(encoding="utf-8"))
        try:
            plugin = plugin_from_data(data["manifest"], data["documents"], root=CORE)
        except ManifestError as exc:
            _fail({"name": "ManifestError", "message": " ".join(exc.problems)})
        fields = plugin.asset.schema.get("properties", {})
        asset = {name: value for name, value in self.asset.items() if name in fields}
        for name in fields:
            if name in inputs:
                asset.setdefault(name, inputs.pop(name))
        if self.http_proxy:
            asset["http_proxy"] = self.http_proxy
        asset = {name: value for name, value in asset.items() if value is not None}
        try:
            envelope = run_action(plugin, ACTION, asset, inputs)
        except RunError as exc:  # secret-free at its source
            error: Dict[str, Any] = {"name": NAMES[exc.kind], "message": str(exc)}
            if exc.envelope is not None:  # a follow cut short
                error["name"] = "IncompleteFetch"
                error["output"] = exc.envelope  # the events read so far: data, as they arrived
            _fail(error)
        except Exception as exc:  # no traceback reaches the playbook, and no secret
            _fail({"name": type(exc).__name__, "message": "internal error in the plugin."})
        if envelope["status_code"] >= 400:
            _fail(envelope)
        return envelope
