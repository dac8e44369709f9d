"""Run an action as the platform does: validate asset and inputs, build the connector, call."""

from collections.abc import Mapping
from contextlib import closing
from typing import Any, Callable, Dict, List, Optional

from framework.action import PageSink, ProgressHook
from framework.coerce import MAX_DEPTH, coerce, too_deep
from framework.errors import InputError, RunError
from framework.manifest import ActionSpec, Plugin
from framework.messages import advise, explain


def prepare_asset(plugin: Plugin, asset: Any) -> dict:
    """The asset validated, with defaults filled in (a new dict); raises InputError."""
    spec = plugin.asset
    if _shallow(asset, "asset") and isinstance(asset, Mapping):
        # Pasted settings often carry a stray space or newline: trim text values.
        trimmed = {k: v.strip() if isinstance(v, str) else v for k, v in asset.items()}
        asset = coerce(trimmed, spec.schema)
        for key, sub in spec.schema.get("properties", {}).items():
            if "default" in sub and asset.get(key) is None:
                asset[key] = sub["default"]
    return _valid(spec.validator, spec.schema, asset, "asset", spec.secrets)


def prepare_inputs(action: ActionSpec, inputs: Any) -> dict:
    inputs = {} if inputs is None else inputs
    if _shallow(inputs, "inputs") and isinstance(inputs, Mapping):
        inputs = coerce(dict(inputs), action.input_schema)
    return _valid(action.input_validator, action.input_schema, inputs, "inputs")


def _shallow(value: Any, what: str) -> bool:
    if too_deep(value):  # before anything walks it recursively
        problem = f"(top level): nests deeper than {MAX_DEPTH} levels; expected a few levels."
        raise InputError(what, [problem])
    return True


def _valid(validator: Any, schema: Any, value: Any, what: str, secrets: Any = ()) -> Any:
    """jsonschema decides and ``explain`` says what is wrong; the schema's annotations add
    their advice (placeholders, typos) either way, and its warnings are logged."""
    error = explain(validator, value, what, secrets, advice=advise(schema, value))
    if error:
        raise error
    return value


def check_output(action: ActionSpec, envelope: Any) -> Optional[InputError]:
    """The envelope's problems against the output schema (worded for data: no input coercion)."""
    return explain(action.output_validator, envelope, "output", coercion=False)


def find_action(plugin: Plugin, name: str) -> ActionSpec:
    action = plugin.actions.get(name)
    if action is None:
        known = ", ".join(sorted(plugin.actions))
        raise InputError("action", [f"{name!r} is not an action of this plugin; known: {known}."])
    return action


def _connect(plugin: Plugin, asset: Mapping[str, Any], on_connect: Optional[Callable]) -> Any:
    connector = plugin.asset.connector_class(asset, user_agent=plugin.user_agent)
    if on_connect is not None:
        on_connect(connector)  # before anything is sent
    return connector


def run_action(
    plugin: Plugin,
    name: str,
    asset: Any,
    inputs: Any,
    progress: Optional[ProgressHook] = None,
    on_connect: Optional[Callable[[Any], None]] = None,
    pages: Optional[PageSink] = None,
) -> dict:
    """Validate everything, then make the call: the envelope, or a RunError. ``on_connect`` gets
    the connector before anything is sent (to learn its ``secrets``); ``pages``: see PageSink."""
    try:
        action = find_action(plugin, name)
        errors: List[InputError] = []
        checked_asset = checked_inputs = None
        try:
            checked_asset = prepare_asset(plugin, asset)
        except InputError as exc:
            errors.append(exc)
        try:
            checked_inputs = prepare_inputs(action, inputs)
        except InputError as exc:
            errors.append(exc)
        if errors:  # every problem of both at once; nothing was sent
            raise InputError.joined(errors)
        with closing(_connect(plugin, checked_asset, on_connect)) as connector:
            instance = action.action_class(
                connector, method=action.method, path=action.path, progress=progress, pages=pages
            )
            return instance.run(checked_inputs)
    except KeyboardInterrupt:
        raise RunError(RunError.INTERRUPTED, ["interrupted (Ctrl-C)"]) from None


def run_asset_test(
    plugin: Plugin, asset: Any, on_connect: Optional[Callable[[Any], None]] = None
) -> Dict[str, Any]:
    """The connector method plugin.yaml names in ``asset.test``: ``{"ok", "status_code", "cause",
    "diagnosis", ...}``, or a RunError for an invalid asset (nothing sent) or Ctrl-C."""
    try:
        with closing(_connect(plugin, prepare_asset(plugin, asset), on_connect)) as connector:
            return getattr(connector, plugin.asset.test)()
    except KeyboardInterrupt:
        raise RunError(RunError.INTERRUPTED, ["interrupted (Ctrl-C)"]) from None
