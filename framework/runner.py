"""Run an action as the platform does: validate asset and inputs, build the connector, call."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from framework.action import ActionInputError, PageSink, ProgressHook
from framework.inputs import (
    Advice,
    InputError,
    advise,
    apply_defaults,
    coerce,
    explain,
    log_warnings,
    nesting_error,
)
from framework.manifest import ActionSpec, Plugin

SCALARS = (str, int, float, bool, type(None))
# The last asset accepted, per asset schema: (schema, asset as given, prepared, its advice).
_ACCEPTED: Dict[int, Tuple[Any, tuple, dict, Advice]] = {}


def prepare_asset(plugin: Plugin, asset: Any) -> dict:
    """The asset validated, with defaults filled in (a new dict); raises InputError.

    An asset is configuration: a worker process that runs action after action on one
    connection gets the same asset every time, so the last one accepted is remembered by
    value (each name and value with its type: ``True`` is not ``1``, ``-0.0`` is not ``0.0``)
    and not checked again, when it holds only plain values after preparing too; its warnings
    are logged again each time. The connector still checks what it uses. Only the last asset
    is kept, in this process's memory, where the platform holds it too."""
    spec = plugin.asset
    given = _by_value(asset)
    last = _ACCEPTED.get(id(spec.schema))
    if given is not None and last is not None and last[0] is spec.schema and last[1] == given:
        log_warnings(last[3])
        return dict(last[2])
    _require_shallow(asset, "asset")
    if isinstance(asset, Mapping):
        # Pasted settings often carry a stray space or newline: trim text values.
        trimmed = {k: v.strip() if isinstance(v, str) else v for k, v in asset.items()}
        asset = apply_defaults(coerce(trimmed, spec.schema), spec.schema)
    advice = _require_valid(
        spec.is_valid, lambda: spec.validator, spec.schema, asset, "asset", spec.secrets
    )
    if given is not None and _by_value(asset) is not None:  # (a list made of text: not kept)
        _ACCEPTED[id(spec.schema)] = (spec.schema, given, dict(asset), advice)
    return asset


def _by_value(asset: Any) -> Optional[tuple]:
    """A dict of text names and plain values as a comparable value (a float by its repr,
    which tells -0.0 from 0.0), else None: not remembered."""
    if type(asset) is not dict:
        return None
    items = []
    for name, value in asset.items():
        kind = type(value)
        if type(name) is not str or kind not in SCALARS:
            return None
        items.append((name, kind, repr(value) if kind is float else value))
    return tuple(items)


def prepare_inputs(action: ActionSpec, inputs: Any) -> dict:
    if inputs is None:
        inputs = {}
    _require_shallow(inputs, "inputs")
    if isinstance(inputs, Mapping):
        inputs = coerce(dict(inputs), action.input_schema)
    _require_valid(
        action.inputs_valid, lambda: action.input_validator, action.input_schema, inputs, "inputs"
    )
    return inputs


def _require_shallow(value: Any, what: str) -> None:
    error = nesting_error(value, what)  # before anything walks it recursively
    if error:
        raise error


def _require_valid(
    is_valid: Callable[[Any], bool],
    validator: Callable[[], Any],
    schema: Mapping[str, Any],
    value: Any,
    what: str,
    secrets: Iterable[str] = (),
) -> Advice:
    """The compiled predicate answers the common case; when it cannot show ``value`` valid,
    jsonschema (``validator()``, built only then) decides and ``explain`` says what is wrong.
    The schema's annotations add their advice (placeholders, typos) either way; its warnings
    are logged and it is returned."""
    advice = advise(schema, value)
    log_warnings(advice)
    valid = is_valid(value)
    if not valid or advice.problems:
        error = explain(
            None if valid else validator(), value, what, secrets, advice=advice.problems
        )
        if error:
            raise error
    return advice


def check_output(action: ActionSpec, envelope: Any) -> Optional[InputError]:
    """The envelope's problems against the output schema (worded for data: no input coercion)."""
    return explain(action.output_validator, envelope, "output", coercion=False)


def find_action(plugin: Plugin, name: str) -> ActionSpec:
    action = plugin.actions.get(name) or plugin.actions.get(re.sub(r"[\s-]+", "_", name.lower()))
    if action is None:
        known = ", ".join(sorted(plugin.actions))
        raise InputError("action", [f"{name!r} is not an action of this plugin; known: {known}."])
    return action


def connect(plugin: Plugin, checked_asset: Mapping[str, Any]) -> Any:
    """The asset's connector, from an asset that prepare_asset() accepted."""
    return plugin.asset.connector_class(checked_asset, user_agent=plugin.user_agent)


def run_action(
    plugin: Plugin,
    name: str,
    asset: Any,
    inputs: Any,
    progress: Optional[ProgressHook] = None,
    on_connect: Optional[Callable[[Any], None]] = None,
    pages: Optional[PageSink] = None,
) -> dict:
    """Validate everything, then make the call; raises InputError/AssetError/TransportError.

    ``progress`` is called after each page when the action follows cursors; ``on_connect``
    with the connector before anything is sent (e.g. to learn its ``secrets``); ``pages``, if
    given, takes each page's items instead of the envelope (see PageSink)."""
    action = find_action(plugin, name)
    problems: List[InputError] = []
    checked_asset = checked_inputs = None
    try:
        checked_asset = prepare_asset(plugin, asset)
    except InputError as exc:
        problems.append(exc)
    try:
        checked_inputs = prepare_inputs(action, inputs)
    except InputError as exc:
        problems.append(exc)
    if problems:
        raise problems[0] if len(problems) == 1 else CombinedInputError(problems)
    with connect(plugin, checked_asset) as connector:
        if on_connect is not None:
            on_connect(connector)
        instance = action.action_class(
            connector, method=action.method, path=action.path, progress=progress, pages=pages
        )
        try:
            return instance.run(checked_inputs)
        except ActionInputError as exc:
            raise InputError("inputs", [str(exc)]) from None


def run_asset_test(
    plugin: Plugin, asset: Any, on_connect: Optional[Callable[[Any], None]] = None
) -> Dict[str, Any]:
    """The asset's connection test: validate the asset, then call the connector method that
    plugin.yaml names in ``asset.test``. Returns its result ``{"ok", "status_code", "cause",
    "diagnosis", ...}``; raises InputError/AssetError for an invalid asset (nothing sent)."""
    checked_asset = prepare_asset(plugin, asset)
    with connect(plugin, checked_asset) as connector:
        if on_connect is not None:
            on_connect(connector)
        return getattr(connector, plugin.asset.test)()


class CombinedInputError(InputError):
    """Both the asset and the inputs are invalid."""

    def __init__(self, errors: List[InputError]) -> None:
        super().__init__("asset and inputs", [p for e in errors for p in e.problems])
        self.args = ("\n".join(str(e) for e in errors),)

    def __str__(self) -> str:
        return self.args[0]
