"""Shuffle app runtime (exported as ``src/shuffle_adapter.py``, flat.py beside it): one action,
flat values in, one JSON result out, through this plugin's own runner.

shuffle-sdk calls the generated ``src/app.py`` method with every api.yaml parameter as a keyword
argument: the authentication parameters (our asset fields) first, then the action's parameters,
all flat and all strings ("" when unset; a value that looks like JSON arrives parsed). ``run``
sorts them back into the asset and the nested inputs using the plugin's own schemas
(flat.py: the same flattening the exporter wrote api.yaml with), lets
``framework.runner.run_action`` coerce and validate them, and returns a JSON string:

* any HTTP response (2xx, 401, 429...): the envelope, unchanged;
* no HTTP response (invalid asset or inputs: nothing was sent; a transport failure):
  ``{"success": false, "reason": <our sentence>, "cause": <code>}``, Shuffle's own shape for an
  app-level failure, with ``"envelope"`` (the events read so far) when a cursor walk broke off.

Our sentences name Shuffle's own parameters: the core says ``path_parameters.threat_id`` (the
nested input of our CLI) and advises quoting it in YAML and JSON; a Shuffle parameter is flat
(``threat_id``) and always a string, so ``flat_message`` names the flat parameter and drops that
advice.

It never raises: shuffle-sdk would bury our sentence under its own generic reason. Nothing here
prints or logs a value.
"""

from __future__ import annotations

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
# The "cause" of a run that returned no envelope, by RunError.kind; a transport failure's own
# cause (refused, timeout, tls, ...) comes first.
CAUSES = {
    "inputs": "invalid_input",
    "asset": "invalid_asset",
    "transport": "transport",
    "interrupted": "interrupted",
}


def takes_sentinel(field: Field) -> bool:
    """An optional asset field that may be null and has no default: Shuffle's authentication
    dialog refuses an empty field, so api.yaml prefills it with the not-set sentinel."""
    schema = field.schema
    return not field.required and "null" in types_of(schema) and schema.get("default") is None


def _unset(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def split(plugin: Any, action_id: str, values: Mapping[str, Any]) -> Tuple[Dict[str, Any], Dict]:
    """Flat Shuffle values -> (asset, inputs). "" and None mean not set; so does the sentinel
    (plugin.yaml ``platforms.shuffle.not_set``, any case) in a field that takes it. Names that
    are neither asset fields nor inputs are kept as top-level inputs (validation names them)."""
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
    """A core sentence about inputs in Shuffle's terms: ``path_parameters.threat_id`` becomes the
    parameter ``threat_id``; advice about quoting in YAML and JSON files is left out."""
    for field in fields:
        if field.group:
            text = re.sub(
                rf"(?<![\w.]){re.escape(field.group)}\.{re.escape(field.name)}(?![\w])",
                f"parameter {field.name}",
                text,
            )
    return FILE_ADVICE.sub("", text)


def dump(value: Any) -> str:
    """JSON text, non-ASCII kept as is. A string holding a lone surrogate (valid JSON:
    "\\udc80") has no UTF-8 form: then the whole document uses \\u escapes, keeping every value."""
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
        return failure(reason, exc.cause or CAUSES[exc.kind], exc.envelope)
    except Exception as exc:  # no traceback, and no value, reaches the workflow
        return failure(f"internal error in the plugin ({type(exc).__name__}).", "internal")
    return dump(envelope)
