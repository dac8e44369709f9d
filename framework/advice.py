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
from typing import Any, Dict, Sequence

from framework.messages import _field, _suggest, show

log = logging.getLogger(__name__)


def advise(schema: Any, value: Any, path: Sequence[Any] = ()) -> Dict[str, str]:
    """The problems the annotations find (field -> sentence); their warnings are logged."""
    found: Dict[str, str] = {}
    if not isinstance(schema, dict):
        return found
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for key, item in value.items():
            sub = properties.get(key) if isinstance(key, str) else None
            if not isinstance(sub, dict):
                continue
            found.update(advise(sub, item, [*path, key]))
            sibling = sub.get("x-used-with")  # (a default filled in by a platform: no warning)
            if (
                isinstance(sibling, str)
                and item not in (None, sub.get("default"))
                and value.get(sibling) is not True
            ):
                log.warning("%s", f"{_field([*path, key])} is ignored unless {sibling} is true.")
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
            sentence = f"{names} still {verb} the template's placeholder; fill in {names}."
            found.update((_field([*path, key]), sentence) for key in placeholders)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            found.update(advise(schema["items"], item, [*path, index]))
    elif isinstance(value, str):
        field = _field(path)
        lowered = value.lower()
        for prefix in schema.get("x-wrong-prefixes") or ():
            if lowered.startswith(prefix.lower()) and len(value) > len(prefix):
                found[field] = (
                    f"{field} starts with {json.dumps(prefix)}; give the value alone, "
                    "without that prefix."
                )
                return found
        known = schema.get("x-known")
        if isinstance(known, list) and value and value not in known:
            close = _suggest(value, known)
            listed = ", ".join(map(str, known))
            if close is not None:
                found[field] = (
                    f"{field}: got {show(value)}; expected one of the known values {listed} "
                    f"(did you mean {close}?)."
                )
            else:
                log.warning(
                    "%s",
                    f"{field}: {show(value)} is not a known value ({listed}); it is sent as given.",
                )
    return found
