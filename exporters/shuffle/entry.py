"""Shuffle app runtime (exported as ``src/shuffle_adapter.py``, flat.py beside it): ``run`` returns
JSON, the envelope for any HTTP response, else ``{"success": false, "reason", "cause"}``. It never
raises (shuffle-sdk would bury our sentence) and never prints or logs a value.
"""

import re
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

try:  # in the app: flat.py sits beside this module
    from flat import Field, asset_fields, input_fields, nest, types_of
except ModuleNotFoundError:  # in this repository
    from exporters.flat import Field, asset_fields, input_fields, nest, types_of

from framework.errors import RunError
from framework.manifest import ManifestError, load_plugin
from framework.runner import run_action

PLATFORM = "shuffle"  # the plugin.yaml platforms entry that holds the not-set sentinel
# The "cause" of a run that returned no envelope: a transport failure's own cause (refused,
# timeout, tls, ...), else the RunError.kind, these two renamed.
CAUSES = {"inputs": "invalid_input", "asset": "invalid_asset"}


def takes_sentinel(field: Field) -> bool:
    """Optional, nullable, no default: prefilled with the not-set sentinel (no empty fields)."""
    schema = field.schema
    return not field.required and "null" in types_of(schema) and schema.get("default") is None


def _unset(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def split(plugin: Any, action_id: str, values: Mapping[str, Any]) -> Tuple[Dict[str, Any], Dict]:
    """Flat values -> (asset, inputs); "", None and the not-set sentinel mean not set."""
    not_set = str((plugin.platforms.get(PLATFORM) or {}).get("not_set", "")).strip().lower()
    fields = asset_fields(plugin.asset.schema)
    sentinel = {field.name for field in fields if takes_sentinel(field)} if not_set else set()
    asset_names = {field.name for field in fields}
    asset: Dict[str, Any] = {}
    rest: Dict[str, Any] = {}
    for name, value in values.items():
        if _unset(value) or (name in sentinel and str(value).strip().lower() == not_set):
            continue
        (asset if name in asset_names else rest)[name] = value
    action = plugin.actions[action_id]
    # Required inputs that hold fields exist from the start, so a missing threat_id is named.
    groups = {field.group for field in input_fields(action.input_schema) if field.group}
    inputs: Dict[str, Any] = {
        group: {} for group in action.input_schema.get("required", []) if group in groups
    }
    inputs.update(nest(input_fields(action.input_schema), rest))
    return asset, inputs


# Advice for our CLI's YAML and JSON files, which a Shuffle parameter (always a string) needs not.
FILE_ADVICE = re.compile(r" \([^()]*\b(?:YAML|JSON)\b[^()]*\)")


def flat_message(text: str, fields: Any) -> str:
    """An input sentence naming Shuffle's flat parameter, without YAML/JSON advice."""
    for field in fields:
        if field.group:
            text = re.sub(
                rf"(?<![\w.]){re.escape(field.group)}\.{re.escape(field.name)}(?![\w])",
                f"parameter {field.name}",
                text,
            )
    return FILE_ADVICE.sub("", text)


def dump(value: Any) -> str:
    """JSON text, non-ASCII kept unless a lone surrogate needs \\u escapes throughout."""
    from framework.exact import dumps  # every number as SentinelOne sent it

    text = dumps(value, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return dumps(value, ensure_ascii=True)
    return text


def failure(reason: str, cause: Any, envelope: Optional[Dict[str, Any]] = None) -> str:
    code = getattr(cause, "value", cause)  # a framework.errors.Cause, or our own code
    result: Dict[str, Any] = {"success": False, "reason": reason, "cause": str(code)}
    if envelope is not None:
        result["envelope"] = envelope
    return dump(result)


def run(root: Path, action_id: str, values: Mapping[str, Any]) -> str:
    """The action's result as a JSON string (see the module docstring); never raises."""
    try:
        plugin = load_plugin(root)
        asset, inputs = split(plugin, action_id, values)
        envelope = run_action(plugin, action_id, asset, inputs)
    except ManifestError as exc:
        return failure(" ".join(exc.problems), "invalid_plugin")
    except RunError as exc:
        reason = str(exc)
        if exc.kind == "inputs":
            reason = flat_message(reason, input_fields(plugin.actions[action_id].input_schema))
        return failure(reason, exc.cause or CAUSES.get(exc.kind, exc.kind), exc.envelope)
    except Exception as exc:  # no traceback, and no value, reaches the workflow
        return failure(f"internal error in the plugin ({type(exc).__name__}).", "internal")
    return dump(envelope)
