"""The "Get Threat Events" endpoint without HTTP: parameter validation, cursors, pages.

``threat_events(store, threat_id, params)`` returns the JSON body of a 200 answer or raises
``ApiError`` carrying the status and SentinelOne-style error body; ``threats_list(params)``
answers ``GET /threats`` (only the seed threat: a cheap authenticated read to test a connection).

Parameters follow SentinelOne's documented behaviour; where the documentation is silent the
simulator is strict (so a client bug shows up as a 400 here rather than in production):

* integers are plain decimal digits; booleans are exactly ``true`` or ``false``;
* a repeated scalar parameter uses its last value; ``eventTypes``/``eventSubTypes`` may be given
  comma-joined, repeated, or both;
* ``eventTypes`` values must be known object types; ``eventSubTypes`` codes are not checked (the
  real list is long and open-ended), unknown codes simply match nothing;
* sorting puts null values last in both directions; ties are broken by createdAt, then id;
* ``skip`` is still validated when a ``cursor`` is given, but not applied;
* unknown query keys are ignored (the request log lists them as ``ignored_params``).

Cursors are opaque: urlsafe base64 of ``{"o": offset, "s": signature}`` where the signature is an
HMAC over the offset, the threat id and the selection (filters and sort).  ``limit`` may change
between pages.  Anything that does not decode and verify is "Invalid cursor value received".
"""

import base64
import binascii
import hashlib
import hmac
import json
import re
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import unquote

from .data import KNOWN_OBJECT_TYPES, SORT_KEYS, EventStore, Selection
from .seed import SEED_EVENTS, SEED_THREAT_ID

KNOWN_PARAMS = frozenset(
    (
        "limit",
        "skip",
        "sortBy",
        "sortOrder",
        "skipCount",
        "countOnly",
        "cursor",
        "eventTypes",
        "eventSubTypes",
        "processName__like",
        "eventId",
    )
)
THREATS_LIST_PARAMS = frozenset(("limit", "skip", "skipCount", "countOnly"))  # GET /threats
DEFAULT_LIMIT = 10
MAX_LIMIT = 1000
MAX_SKIP = 1000
INVALID_CURSOR = "Invalid cursor value received"

_CURSOR_KEY = b"sentinelone-simulator/cursor/v1"
_DIGITS = re.compile(r"[0-9]+")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")

_ERROR_TITLES = {
    400: "Validation Error",
    401: "Authentication Failed",
    403: "Forbidden",
    404: "Resource not found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal server error",
}


def error_body(status: int, detail: Optional[str] = None, title: Optional[str] = None) -> Dict:
    """SentinelOne's error envelope: code is the status followed by ``0010``."""
    if title is None:
        title = _ERROR_TITLES.get(status, "Error")
    return {"errors": [{"code": status * 10_000 + 10, "detail": detail, "title": title}]}


class ApiError(Exception):
    def __init__(self, status: int, detail: Optional[str], title: Optional[str] = None) -> None:
        super().__init__(detail)
        self.status = status
        self.body = error_body(status, detail, title)


def validation_error(detail: str) -> ApiError:
    return ApiError(400, detail)


def _last(params: Dict[str, List[str]], name: str) -> Optional[str]:
    values = params.get(name)
    return values[-1] if values else None


def _int(params: Dict[str, List[str]], name: str, low: int, high: int) -> Optional[int]:
    text = _last(params, name)
    if text is None:
        return None
    if not _DIGITS.fullmatch(text):
        raise validation_error(f"{name}: must be an integer between {low} and {high}, got {text!r}")
    value = int(text)
    if value < low or value > high:
        if name == "skip":
            raise validation_error(
                f"skip: must be between 0 and {MAX_SKIP}, got {value}; "
                "use cursor (the previous page's pagination.nextCursor) to page further"
            )
        raise validation_error(f"{name}: must be between {low} and {high}, got {value}")
    return value


def _bool(params: Dict[str, List[str]], name: str) -> bool:
    text = _last(params, name)
    if text is None or text == "false":
        return False
    if text == "true":
        return True
    raise validation_error(f"{name}: must be 'true' or 'false', got {text!r}")


def _choice(params: Dict[str, List[str]], name: str, choices: Tuple[str, ...], default: str) -> str:
    text = _last(params, name)
    if text is None:
        return default
    if text not in choices:
        raise validation_error(f"{name}: must be one of {', '.join(choices)}; got {text!r}")
    return text


def _list(params: Dict[str, List[str]], name: str) -> Tuple[str, ...]:
    items = (item.strip() for value in params.get(name, ()) for item in value.split(","))
    return tuple(sorted({item for item in items if item}))


def parse_selection(params: Dict[str, List[str]]) -> Selection:
    object_types = _list(params, "eventTypes")
    unknown = [kind for kind in object_types if kind not in KNOWN_OBJECT_TYPES]
    if unknown:
        raise validation_error(
            f"eventTypes: unknown value {unknown[0]!r}; "
            f"expected any of {', '.join(sorted(KNOWN_OBJECT_TYPES))}"
        )
    name_like = _last(params, "processName__like")
    return Selection(
        object_types=object_types,
        sub_types=_list(params, "eventSubTypes"),
        name_like=name_like.lower() if name_like is not None else None,
        event_id=_last(params, "eventId"),
        sort_by=_choice(params, "sortBy", tuple(SORT_KEYS), "createdAt"),
        descending=_choice(params, "sortOrder", ("asc", "desc"), "asc") == "desc",
    )


def _signature(threat_id: str, selection: Selection, offset: int) -> str:
    message = json.dumps([offset, threat_id, list(selection)]).encode()
    return hmac.new(_CURSOR_KEY, message, hashlib.sha256).hexdigest()[:24]


def encode_cursor(threat_id: str, selection: Selection, offset: int) -> str:
    payload = json.dumps({"o": offset, "s": _signature(threat_id, selection, offset)})
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, threat_id: str, selection: Selection) -> int:
    """The offset a cursor points at; ApiError unless it was made for this threat+selection."""
    try:
        if len(cursor) > 512 or not _BASE64URL.fullmatch(cursor):
            raise ValueError("not base64url")
        raw = cursor.rstrip("=")
        data = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        payload = json.loads(data.decode())
        offset = payload["o"]
        signature = payload["s"]
        if set(payload) != {"o", "s"} or type(offset) is not int or offset < 0:
            raise ValueError("bad payload")
        if not isinstance(signature, str) or not hmac.compare_digest(
            signature, _signature(threat_id, selection, offset)
        ):
            raise ValueError("bad signature")
    except (ValueError, TypeError, KeyError, RecursionError, binascii.Error):
        raise validation_error(INVALID_CURSOR) from None
    return offset


def parse_threat_id(segment: str) -> str:
    """The threat id from its raw (percent-encoded) path segment; ApiError unless digits."""
    threat_id = unquote(segment)
    if not _DIGITS.fullmatch(threat_id):
        raise validation_error(f"threat_id: must be a decimal id, got {threat_id!r}")
    return threat_id


def threat_events(store: EventStore, segment: str, params: Dict[str, List[str]]) -> Dict[str, Any]:
    """The body of a successful "Get Threat Events" answer (ApiError for a 4xx)."""
    threat_id = parse_threat_id(segment)
    limit = _int(params, "limit", 1, MAX_LIMIT)
    skip = _int(params, "skip", 0, MAX_SKIP) or 0
    skip_count = _bool(params, "skipCount")
    count_only = _bool(params, "countOnly")
    selection = parse_selection(params)
    cursor = _last(params, "cursor")
    offset = skip if cursor is None else decode_cursor(cursor, threat_id, selection)
    if limit is None:
        limit = DEFAULT_LIMIT

    threat, rows = store.select(threat_id, selection)
    total = len(rows)
    if count_only:
        return {"data": [], "pagination": {"nextCursor": None, "totalItems": total}}
    end = offset + limit
    return {
        "data": [threat.expand(row) for row in rows[offset:end]] if threat else [],
        "pagination": {
            "nextCursor": encode_cursor(threat_id, selection, end) if end < total else None,
            "totalItems": None if skip_count else total,
        },
    }


def _seed_threat_summary() -> Dict[str, Any]:
    """The seed threat as ``GET /threats`` lists it (a subset of SentinelOne's fields)."""
    first = SEED_EVENTS[0]
    return {
        "id": SEED_THREAT_ID,
        "agentDetectionInfo": {"agentOsName": first["agentOs"], "siteName": first["siteName"]},
        "agentRealtimeInfo": {
            "agentComputerName": first["agentName"],
            "agentId": first["agentId"],
            "agentOsType": first["agentOs"],
            "agentVersion": first["agentVersion"],
        },
        "threatInfo": {
            "threatId": SEED_THREAT_ID,
            "threatName": "eicar.com",
            "classification": "Malware",
            "confidenceLevel": "malicious",
            "createdAt": "2021-12-14T20:23:46.232000Z",
            "filePath": "/home/swimlane-host/eicar.com",
            "sha1": first["sha1"],
            "mitigationStatus": "mitigated",
            "incidentStatus": "unresolved",
        },
    }


def threats_list(params: Dict[str, List[str]]) -> Dict[str, Any]:
    """The body of ``GET /web/api/v2.1/threats``: the console's threats, here the seed threat.

    Enough for a "test connection" read (``limit=1``): ``limit``, ``skip``, ``skipCount`` and
    ``countOnly`` are honoured; other filters are ignored.  Synthetic threats are not listed
    (there are a million of them, made on demand)."""
    limit = _int(params, "limit", 1, MAX_LIMIT) or DEFAULT_LIMIT
    skip = _int(params, "skip", 0, MAX_SKIP) or 0
    skip_count = _bool(params, "skipCount")
    threats = [_seed_threat_summary()]
    total = None if skip_count else len(threats)
    if _bool(params, "countOnly"):
        return {"data": [], "pagination": {"nextCursor": None, "totalItems": len(threats)}}
    return {
        "data": threats[skip : skip + limit],
        "pagination": {"nextCursor": None, "totalItems": total},
    }
