"""Injected faults: their validation and the FIFO queue API requests consume them from.

A fault is a JSON object with a ``kind`` and an optional ``count`` (how many consecutive API
requests it applies to, default 1):

* ``{"kind": "status", "status": 503, "headers": {...}, "body": "...", "body_b64": "...",
  "content_type": "text/html", "gzip": true}``: answer with that status.  Without a body:
  a 2xx answers the normal response body (so ``headers`` can decorate a real page; 204 has no
  body), a 3xx an empty body, a 4xx/5xx SentinelOne's JSON error for that status.  ``gzip``
  forces (true) or suppresses (false) gzip; by default it follows Accept-Encoding.
* ``{"kind": "delay", "seconds": 2.5, "then": FAULT}``: wait, then answer normally (or apply the
  ``then`` fault).
* ``{"kind": "drop"}``: close the connection without sending a byte.
* ``{"kind": "reset"}``: close with a TCP RST, without sending a byte.
* ``{"kind": "reset_mid_body"}``: headers announcing the full normal body, half of it, then RST.
* ``{"kind": "trickle", "bytes_per_second": 1, "total_bytes": 200}``: headers, then the normal
  (uncompressed) body padded with spaces or cut to ``total_bytes``, sent slowly.
* ``{"kind": "truncated_gzip"}``: the normal body gzipped and cut in half (Content-Length matches
  what is sent).
* ``{"kind": "huge", "megabytes": 80}``: a valid 200 JSON body of exactly that size, streamed.
* ``{"kind": "pass"}``: answer normally.  With ``count`` it lets that many requests through
  before the faults queued after it, e.g. ``[{"kind": "pass", "count": 2}, {"kind": "status",
  "status": 500}]`` fails the third request.
"""

import base64
import binascii
import threading
from collections import deque
from typing import Any, Deque, Dict, List, Optional

FAULT_FIELDS = {
    "status": {"status", "headers", "body", "body_b64", "content_type", "gzip"},
    "delay": {"seconds", "then"},
    "drop": set(),
    "reset": set(),
    "reset_mid_body": set(),
    "trickle": {"bytes_per_second", "total_bytes"},
    "truncated_gzip": set(),
    "huge": {"megabytes"},
    "pass": set(),
}


class FaultError(ValueError):
    """A fault description that cannot be used."""


def _number(fault: Dict[str, Any], name: str, low: float, high: float, default: Any) -> Any:
    value = fault.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise FaultError(f"{fault['kind']} fault: {name} must be a number in [{low}, {high}]")
    return value


def validate_fault(fault: Any, nested: bool = False) -> Dict[str, Any]:
    """A checked, normalised copy of ``fault`` (raises FaultError naming the problem)."""
    if not isinstance(fault, dict):
        raise FaultError("a fault must be a JSON object")
    kind = fault.get("kind")
    if kind not in FAULT_FIELDS:
        raise FaultError(f"unknown fault kind {kind!r}; expected one of {', '.join(FAULT_FIELDS)}")
    allowed = FAULT_FIELDS[kind] | ({"kind"} if nested else {"kind", "count"})
    extra = sorted(set(fault) - allowed)
    if extra:
        raise FaultError(f"{kind} fault: unexpected field {extra[0]!r}")
    checked: Dict[str, Any] = {"kind": kind}
    if not nested:
        count = fault.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise FaultError(f"{kind} fault: count must be a positive integer")
        checked["count"] = count
    if kind == "status":
        checked.update(_validate_status(fault))
    elif kind == "delay":
        checked["seconds"] = _number(fault, "seconds", 0, 600, None)
        if fault.get("then") is not None:
            checked["then"] = validate_fault(fault["then"], nested=True)
    elif kind == "trickle":
        checked["bytes_per_second"] = _number(fault, "bytes_per_second", 0.001, 10**9, 1)
        if fault.get("total_bytes") is not None:
            total = fault["total_bytes"]
            if isinstance(total, bool) or not isinstance(total, int) or total < 0:
                raise FaultError("trickle fault: total_bytes must be a non-negative integer")
            checked["total_bytes"] = total
    elif kind == "huge":
        checked["megabytes"] = _number(fault, "megabytes", 0.001, 4096, 80)
    return checked


def _validate_status(fault: Dict[str, Any]) -> Dict[str, Any]:
    status = fault.get("status")
    if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
        raise FaultError("status fault: status must be an integer from 200 to 599")
    headers = fault.get("headers") or {}
    if not isinstance(headers, dict) or not all(
        isinstance(name, str) and isinstance(value, (str, int)) for name, value in headers.items()
    ):
        raise FaultError("status fault: headers must be an object of header names to strings")
    checked: Dict[str, Any] = {
        "status": status,
        "headers": {name: str(value) for name, value in headers.items()},
    }
    if "body" in fault and "body_b64" in fault:
        raise FaultError("status fault: give body or body_b64, not both")
    if fault.get("body") is not None:
        if not isinstance(fault["body"], str):
            raise FaultError("status fault: body must be a string")
        checked["body"] = fault["body"].encode("utf-8")
    elif fault.get("body_b64") is not None:
        try:
            checked["body"] = base64.b64decode(fault["body_b64"], validate=True)
        except (TypeError, ValueError, binascii.Error):
            raise FaultError("status fault: body_b64 must be base64") from None
    for name, kinds in (("content_type", str), ("gzip", bool)):
        if fault.get(name) is not None:
            if not isinstance(fault[name], kinds):
                raise FaultError(f"status fault: {name} must be a {kinds.__name__}")
            checked[name] = fault[name]
    return checked


def describe(fault: Dict[str, Any]) -> Dict[str, Any]:
    """A JSON-friendly view of a checked fault (bodies as text)."""
    view = dict(fault)
    if isinstance(view.get("body"), bytes):
        view["body"] = view["body"].decode("utf-8", "replace")
    if isinstance(view.get("then"), dict):
        view["then"] = describe(view["then"])
    return view


class FaultQueue:
    """FIFO of faults; each API request takes one application of the head fault."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: Deque[Dict[str, Any]] = deque()

    def add(self, faults: List[Any]) -> int:
        if not isinstance(faults, list):
            raise FaultError("faults must be a list of fault objects")
        checked = [validate_fault(fault) for fault in faults]  # all or nothing
        with self._lock:
            self._queue.extend(checked)
            return len(self._queue)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()

    def take(self) -> Optional[Dict[str, Any]]:
        with self._lock:
            if not self._queue:
                return None
            head = self._queue[0]
            head["count"] -= 1
            if head["count"] <= 0:
                self._queue.popleft()
            return head

    def pending(self) -> List[Dict[str, Any]]:
        with self._lock:
            return [describe(fault) for fault in self._queue]
