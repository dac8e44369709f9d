"""InsightConnect's plugin runtime -> this plugin's own runtime (exported as util/bridge.py):
the generated Connection and Action classes call these functions. No message carries a secret.
"""

import json
import sys
from pathlib import Path

from insightconnect_plugin_runtime.exceptions import ConnectionTestException, PluginException
from jsonschema import Draft7Validator

from . import plugin_data

# The core's packages import each other absolutely: this folder goes on sys.path.
HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from framework import runner  # noqa: E402 - the core is on sys.path from here
from framework.errors import RunError  # noqa: E402
from framework.manifest import plugin_from_data  # noqa: E402

# Once, at import: every thread of the http server shares it.
PLUGIN = plugin_from_data(plugin_data.MANIFEST, plugin_data.DOCUMENTS, HERE)
Preset = PluginException.Preset
STATUS_PRESETS = {
    401: Preset.API_KEY,
    403: Preset.UNAUTHORIZED,
    404: Preset.NOT_FOUND,
    429: Preset.RATE_LIMIT,
    503: Preset.SERVICE_UNAVAILABLE,
}
NOTHING_SENT = "Nothing was sent to the console: correct the value and run the action again."
UNREACHED = "Check the connection settings and that the console is reachable."
ASSISTANCE = {"inputs": NOTHING_SENT, "asset": NOTHING_SENT, "transport": UNREACHED}
ASSISTANCE["interrupted"] = "The action was interrupted: run it again."


def preset_for(status):
    if status in STATUS_PRESETS:
        return STATUS_PRESETS[status]
    return Preset.SERVER_ERROR if isinstance(status, int) and 500 <= status <= 599 else None


def _problem(schema, error):
    """One schema error of the connection: the field and what it expects, never its value."""
    where = ".".join(str(part) for part in error.absolute_path)
    if error.validator == "required":
        prefix = where + "." if error.path else ""
        missing = [n for n in error.validator_value if n not in (error.instance or {})]
        return ", ".join(f"{prefix}{name}: missing" for name in missing)
    where = where or "the connection"
    field = schema.get("properties", {}).get(str(error.path[0]) if error.path else "", {})
    if field.get("$ref", "").endswith("/credential_secret_key"):
        return f'{where}: expected a credential, {{"secretKey": "..."}}'
    if error.validator == "type":
        return f"{where}: expected {error.validator_value}, got {type(error.instance).__name__}"
    if error.validator == "enum":
        return f"{where}: expected one of {error.validator_value}"
    return f"{where}: not valid ({error.validator})"


def check_connection(schema, params):
    errors = sorted(Draft7Validator(schema).iter_errors(params), key=lambda e: list(e.path))
    if errors:
        problems = sorted({_problem(schema, error) for error in errors})
        raise PluginException(
            cause="The connection is not valid: " + "; ".join(problems) + ".",
            assistance="Correct the connection settings (the API token is a credential, and so"
            " is the HTTP proxy); nothing was sent to the console.",
        )


def asset_from_connection(params):
    """The connection as the core's asset: the secret key unwrapped, empty fields left out."""
    asset = {}
    for name, value in (params or {}).items():
        if isinstance(value, dict) and set(value) == {"secretKey"}:
            value = value["secretKey"]
        if value is not None and value != "":
            asset[name] = value
    return asset


def without_empty_enums(value, schema):
    """``value`` without its optional enum fields that are "" (absent for the core)."""
    if not isinstance(value, dict) or not isinstance(schema, dict):
        return value
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    kept = {}
    for name, item in value.items():
        sub = properties.get(name, {})
        if item == "" and "enum" in sub and "" not in sub["enum"] and name not in required:
            continue
        kept[name] = without_empty_enums(item, sub)
    return kept


def run_action(action_id, asset, params):
    inputs = without_empty_enums(dict(params or {}), PLUGIN.actions[action_id].input_schema)
    try:
        envelope = runner.run_action(PLUGIN, action_id, asset, inputs)
    except RunError as exc:
        data = "" if exc.envelope is None else json.dumps(exc.envelope)
        raise PluginException(cause=str(exc), assistance=ASSISTANCE[exc.kind], data=data) from None
    except Exception as exc:  # no traceback of ours reaches the platform, and no secret
        raise PluginException(
            cause="Internal error in the plugin.", assistance=type(exc).__name__
        ) from None
    preset = preset_for(envelope.get("status_code"))
    if preset is not None:
        raise PluginException(preset=preset, data=json.dumps(envelope))
    return {key: value for key, value in envelope.items() if value is not None}


def test_connection(asset):
    try:
        result = runner.run_asset_test(PLUGIN, asset)
    except RunError as exc:
        raise ConnectionTestException(cause=str(exc), assistance=NOTHING_SENT) from None
    if result.get("ok"):
        return {"success": True}
    preset = preset_for(result.get("status_code"))
    if preset is not None:
        raise ConnectionTestException(preset=preset, data=json.dumps(result))
    raise ConnectionTestException(
        cause=str(result.get("diagnosis")),
        assistance="See the diagnosis in the data.",
        data=json.dumps(result),
    )
