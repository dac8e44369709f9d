"""The response body as the action's output: the envelope, JSON as sent, or text."""

import codecs
import contextlib
import json
import math
from typing import Any, Dict, Mapping, Tuple

import requests

from framework.exact import EXACT, ExactFloat, NumberText

RESPONSE_TEXT_LIMIT = 64 * 1024  # bytes of a non-JSON body kept in response_text


class NotStandardJSON(ValueError):
    """NaN, Infinity or -Infinity: not JSON (RFC 8259); Python would print them back as such."""


def _refuse_constant(name: str) -> Any:
    raise NotStandardJSON(name)


def _big_int(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        EXACT["seen"] = True
        return NumberText(text)


def _float(text: str) -> Any:
    value = float(text)
    if math.isfinite(value) and repr(value) == text:
        return value
    EXACT["seen"] = True
    return ExactFloat(text) if math.isfinite(value) else NumberText(text)


def _parse_body(body: bytes) -> Tuple[bool, Any]:
    """(True, value) for a JSON body Python can hold and print back as JSON; else (False, None)."""
    if not body.strip():
        return False, None
    try:  # decoded as json.loads decodes bytes: UTF-8, -16 or -32, told by the first bytes
        text = body.decode(json.detect_encoding(body), "surrogatepass")
    except UnicodeDecodeError:
        return False, None  # not UTF-8
    for parse_int in (int, _big_int):  # int: the C fast path; _big_int keeps too long digits
        try:
            return True, json.loads(
                text, parse_constant=_refuse_constant, parse_float=_float, parse_int=parse_int
            )
        except (json.JSONDecodeError, NotStandardJSON, RecursionError):
            break  # not JSON, NaN/Infinity, or nested too deep for Python
        except ValueError:  # an integer too long for int(): parse again, keeping its digits
            continue
    return False, None


def build_envelope(response: requests.Response, body: bytes) -> dict:
    ok, parsed = _parse_body(body)
    envelope = {
        "status_code": response.status_code,
        "reason": response.reason,
        "json_body": parsed,
        "response_headers": response_headers(response),
    }
    if not ok:
        envelope["response_text"] = response_text(body, response.headers.get("Content-Type", ""))
    return envelope


def response_headers(response: requests.Response) -> Dict[str, Any]:
    """The headers as sent, in order: a header sent more than once (two X-RQID, Set-Cookie) is
    the list of its values, read from urllib3's response (requests joins them with ", ")."""
    raw = response.raw.headers
    values = {name: raw.getlist(name) for name in raw}
    return {name: each[0] if len(each) == 1 else each for name, each in values.items()}


def header_value(headers: Any, name: str) -> Any:
    """Header ``name`` (any case) of an envelope's ``response_headers``, the first if repeated."""
    if not isinstance(headers, Mapping):
        return None
    value = next((v for k, v in headers.items() if str(k).lower() == name.lower()), None)
    if isinstance(value, list):
        return value[0] if value else None
    return value


# Codecs Python knows that are not charsets of text: decoding with them is not what was sent.
NOT_CHARSETS = {"idna", "punycode", "undefined", "unicode-escape", "raw-unicode-escape"}


def response_text(body: bytes, content_type: str) -> str:
    """The first RESPONSE_TEXT_LIMIT bytes of a body as text, in its declared charset if that is
    a real text charset, else UTF-8; undecodable bytes become U+FFFD."""
    head = body[:RESPONSE_TEXT_LIMIT]
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            with contextlib.suppress(LookupError, UnicodeError, ValueError, TypeError):
                info = codecs.lookup(value.strip("\"' "))
                if info.name not in NOT_CHARSETS and getattr(info, "_is_text_encoding", True):
                    return head.decode(info.name, errors="replace")
            break
    return head.decode("utf-8", errors="replace")
