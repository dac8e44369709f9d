"""JSON numbers as they were sent: the types for numbers Python would not print back the same,
and the JSON writer that writes them back exactly."""

import json
import re
import uuid
from typing import Any, Dict, Optional


class ExactFloat(float):
    """A JSON number whose float does not print back as it was sent (``1.50``, ``1E5``,
    ``0.10000000000000000555``): the float to every use, its ``text`` to our JSON writer."""

    text: str

    def __new__(cls, text: str) -> "ExactFloat":
        number = super().__new__(cls, text)
        number.text = text
        return number


class NumberText(str):
    """A JSON number Python has no number for (``1e999``; an integer too long for ``int()``):
    a string to everything but our JSON writer, which writes it back as a number."""


# Set once a body held an ExactFloat or NumberText: json writes float subclasses by their value,
# so exact numbers need a walk, which is skipped for the usual body.
EXACT: Dict[str, bool] = {"seen": False}
COMPACT = {flag: json.JSONEncoder(ensure_ascii=flag).encode for flag in (False, True)}


def dumps(value: Any, indent: Optional[int] = None, ensure_ascii: bool = False) -> str:
    """``json.dumps``, with every number of a body written back exactly as it was sent."""
    if not EXACT["seen"]:
        if indent is None:  # one encoder per setting: ndjson writes one call per event
            return COMPACT[ensure_ascii](value)
        return json.dumps(value, indent=indent, ensure_ascii=ensure_ascii)
    nonce, texts = uuid.uuid4().hex, []

    def mark(node: Any) -> Any:
        if isinstance(node, (ExactFloat, NumberText)):
            texts.append(node.text if isinstance(node, ExactFloat) else str(node))
            return f"\0{nonce}{len(texts) - 1}\0"
        if isinstance(node, dict):
            return {key: mark(item) for key, item in node.items()}
        if isinstance(node, list):
            return [mark(item) for item in node]
        return node

    text = json.dumps(mark(value), indent=indent, ensure_ascii=ensure_ascii)
    return re.sub(rf'"\\u0000{nonce}([0-9]+)\\u0000"', lambda m: texts[int(m[1])], text)
