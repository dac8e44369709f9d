"""IBM QRadar SOAR function runtime (exported as ``<package>/bridge.py``): the generated function
hands ``run`` the app.config section and its inputs; the plugin's own runner does the rest. Every
sentence is scrubbed of the asset's secrets (SOAR substitutes ``$NAME`` in inputs too).
"""

import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Tuple
from urllib.parse import urlsplit

PLUGIN_DIR = str(Path(__file__).resolve().parent / "plugin")  # framework/, connectors/, ...


class Outcome(NamedTuple):
    """``error`` set: raise IntegrationError(error); else FunctionResult(content, ...)."""

    content: Optional[Dict[str, Any]]
    success: bool
    reason: Optional[str]
    error: Optional[str]


def load_plugin() -> Any:
    if PLUGIN_DIR not in sys.path:
        sys.path.insert(0, PLUGIN_DIR)  # the plugin's packages import each other absolutely
    import plugin_data

    from framework.manifest import plugin_from_data

    return plugin_from_data(plugin_data.MANIFEST, plugin_data.DOCUMENTS, PLUGIN_DIR)


def _unset(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def asset_from(plugin: Any, app_configs: Mapping[str, Any]) -> Dict[str, Any]:
    names = [name for name in plugin.asset.schema.get("properties", {}) if name in app_configs]
    return {name: app_configs[name] for name in names if not _unset(app_configs[name])}


def inputs_from(
    action: Any, fields: Mapping[str, Tuple[Optional[str], str]], fn_inputs: Mapping[str, Any]
) -> Dict[str, Any]:
    """SOAR function inputs -> the action's nested inputs (None and "" are not set)."""
    properties = action.input_schema.get("properties", {})
    inputs: Dict[str, Any] = {
        key: {}
        for key in action.input_schema.get("required", [])
        if "properties" in properties.get(key, {})
    }
    for soar_name, value in fn_inputs.items():
        if soar_name not in fields or _unset(value):
            continue
        group, name = fields[soar_name]
        if group:
            inputs.setdefault(group, {})[name] = value
        else:
            inputs[name] = value
    return inputs


def secrets_of(asset: Mapping[str, Any], secret_fields: Any) -> List[str]:
    """The asset's secret values and a proxy URL's password, longest first."""
    found = [str(asset[name]).strip() for name in secret_fields if not _unset(asset.get(name))]
    proxy = asset.get("http_proxy")
    if isinstance(proxy, str):
        try:
            found.append(urlsplit(proxy.strip()).password or "")
        except ValueError:
            pass
    return sorted({value for value in found if value}, key=len, reverse=True)


def scrub(text: str, secrets: List[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def reason_of(envelope: Mapping[str, Any]) -> str:
    """For a non-2xx answer: SentinelOne's error detail (its title when there is none)."""
    status = envelope.get("status_code")
    body = envelope.get("json_body")
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        detail = errors[0].get("detail") or errors[0].get("title")
        if detail:
            return f"HTTP {status}: {detail}"
    return f"HTTP {status} {envelope.get('reason') or ''}".strip()


def run(
    action_id: str,
    fields: Mapping[str, Tuple[Optional[str], str]],
    app_configs: Mapping[str, Any],
    fn_inputs: Mapping[str, Any],
) -> Outcome:
    """The outcome of one function call; never raises."""
    try:
        plugin = load_plugin()
    except Exception as exc:  # framework.manifest.ManifestError, or a broken package
        problems = getattr(exc, "problems", None) or [type(exc).__name__]
        return Outcome(None, False, None, "the plugin cannot be loaded: " + " ".join(problems))
    from framework.errors import RunError
    from framework.runner import run_action

    secrets: List[str] = []
    try:
        asset = asset_from(plugin, app_configs)
        secrets = secrets_of(asset, plugin.asset.secrets)
        inputs = inputs_from(plugin.actions[action_id], fields, fn_inputs)
        envelope = run_action(plugin, action_id, asset, inputs)
    except RunError as exc:
        sentence = scrub(str(exc), secrets)
        if exc.kind in (RunError.TRANSPORT, RunError.INTERRUPTED) and exc.envelope is not None:
            return Outcome(exc.envelope, False, sentence, None)
        return Outcome(None, False, None, sentence)
    except Exception as exc:  # no traceback, and no value, reaches the playbook
        return Outcome(None, False, None, f"internal error in the plugin ({type(exc).__name__}).")
    status = envelope.get("status_code")
    if isinstance(status, int) and 200 <= status < 300:
        return Outcome(envelope, True, None, None)
    return Outcome(envelope, False, scrub(reason_of(envelope), secrets), None)
