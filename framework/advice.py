"""What a schema's ``x-`` annotations (which jsonschema ignores) say about a value, valid or not:

- ``x-known``: the values known today for an open-ended string: a value close to a known one is
  refused with a suggestion; one far from all of them is accepted with a warning.
- ``x-placeholders``: the values of a template that mean "not filled in yet".
- ``x-wrong-prefixes``: prefixes that mean a pasted header rather than the value itself.
- ``x-used-with``: the boolean sibling without which this field is ignored (a warning).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping

from framework.messages import _field, _suggest, show

log = logging.getLogger(__name__)


@dataclass
class Advice:
    """What a schema's annotations say about an instance."""

    problems: Dict[str, str] = field(default_factory=dict)  # field -> sentence: refused
    warnings: List[str] = field(default_factory=list)  # accepted, logged each time it is used


def advise(schema: Mapping[str, Any], instance: Any) -> Advice:
    """The problems and warnings the schema's annotations find (nothing is logged here)."""
    advice = Advice()
    _advise(schema, instance, [], advice)
    return advice


def log_warnings(advice: Advice) -> None:
    for sentence in advice.warnings:
        log.warning("%s", sentence)


def _advise(schema: Any, value: Any, path: List[Any], advice: Advice) -> None:
    if not isinstance(schema, dict):
        return
    found = advice.problems
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for key, item in value.items():
            sub = properties.get(key) if isinstance(key, str) else None
            if not isinstance(sub, dict):
                continue
            _advise(sub, item, [*path, key], advice)
            sibling = sub.get("x-used-with")  # (a default filled in by a platform: no warning)
            if (
                isinstance(sibling, str)
                and item not in (None, sub.get("default"))
                and value.get(sibling) is not True
            ):
                field = _field([*path, key])
                advice.warnings.append(f"{field} is ignored unless {sibling} is true.")
        placeholders = [
            key
            for key, sub in properties.items()
            if isinstance(sub, dict)
            and sub.get("x-placeholders")
            and key in value
            and value[key] in sub["x-placeholders"]
        ]
        if placeholders:
            names = " and ".join(_field([*path, key]) for key in placeholders)
            verb = "holds" if len(placeholders) == 1 else "hold"
            found[_field([*path, placeholders[0]])] = (
                f"{names} still {verb} the template's placeholder; fill in {names}."
            )
            for key in placeholders[1:]:
                found[_field([*path, key])] = found[_field([*path, placeholders[0]])]
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            _advise(schema["items"], item, [*path, index], advice)
    elif isinstance(value, str):
        lowered = value.lower()
        for prefix in schema.get("x-wrong-prefixes") or ():
            if lowered.startswith(prefix.lower()) and len(value) > len(prefix):
                field = _field(path)
                found[field] = (
                    f"{field} starts with {json.dumps(prefix)}; give the value alone, "
                    "without that prefix."
                )
                return
        known = schema.get("x-known")
        if isinstance(known, list) and value and value not in known:
            field = _field(path)
            close = _suggest(value, known)
            listed = ", ".join(map(str, known))
            if close is not None:
                found[field] = (
                    f"{field}: got {show(value)}; expected one of the known values {listed} "
                    f"(did you mean {close}?)."
                )
            else:
                advice.warnings.append(
                    f"{field}: {show(value)} is not a known value ({listed}); it is sent as given."
                )
