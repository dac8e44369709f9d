"""SentinelOne's cursor paging: repeat a request with ``cursor`` = the previous page's
``pagination.nextCursor`` over the connector's one Session, and merge the pages into one envelope.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

from framework.action import Action, encode_query
from framework.connector import BudgetSpent, ByteBudget
from framework.errors import RunError, TransportError


def follow_cursor(
    action: Action, path: str, parameters: Mapping[str, Any], *, max_items: int, page_size: int
) -> Dict[str, Any]:
    """See ``_follow``. A transport failure or Ctrl-C after at least one page raises a RunError
    carrying the partial envelope (what was read, an ``errors`` entry saying why it stopped,
    and the cursor to resume from) and its event count."""
    kept: List[Any] = []  # _follow's last (items kept, cursor, total, page envelope, items)
    try:
        return _follow(action, path, parameters, max_items, page_size, kept)
    except (TransportError, KeyboardInterrupt) as exc:
        if not kept:
            raise
        count, cursor, total, page, items = kept[0]
        if isinstance(exc, KeyboardInterrupt):
            kind, lines, title = RunError.INTERRUPTED, ["interrupted (Ctrl-C)"], "Interrupted"
        else:
            kind, lines, title = RunError.TRANSPORT, exc.lines, "Transport Error"
        error = {"code": None, "title": title, "detail": " ".join(lines)}
        partial = _with_items(page, items[:count], cursor, total, errors=[error])
        cause = getattr(exc, "cause", None)
        raise RunError(kind, lines, cause=cause, envelope=partial, fetched=count) from None


def _follow(
    action: Action,
    path: str,
    parameters: Mapping[str, Any],
    max_items: int,
    page_size: int,
    kept: List[Any],
) -> Dict[str, Any]:
    """Read page after page (``cursor`` = the previous ``pagination.nextCursor``) until the
    cursor is null, ``max_items`` items are in, or the bodies read reach the connector's
    ``max_response_mb`` (what one run may hold in memory); return one envelope.

    Success: the last page's envelope with ``json_body.data`` = every item in server order
    and ``pagination.nextCursor`` = where to resume (null when everything was read). The
    last page asks only for the items still missing, so the resume cursor is exact; a page
    that would not fit in the byte budget is not kept, and the cursor resumes at it. A page
    that answers non-2xx (after the connector's retries), or whose body is not a page, ends
    it: that page's envelope, its body (SentinelOne's ``errors``) plus ``data`` so far and
    ``pagination.nextCursor`` = the failed page's cursor. A cursor that repeats one already
    followed (a loop), or that is not a string, ends it too, with an ``errors`` entry. A
    transport failure after at least one page ends it with a RunError carrying the same kind
    of partial envelope (``follow_cursor``); before any page, the connector's TransportError.

    With a page sink (``action.pages``) each page's items are handed to it as they arrive,
    ``sink(page_envelope, items)``, and not kept: the envelope returned (or raised) then has
    an empty ``data``, and no byte budget applies, as nothing accumulates in memory."""
    params = dict(parameters)
    cursor = params.get("cursor")
    items: List[Any] = []
    sink = action.pages
    fetched, pages, total = 0, 0, None
    seen = {cursor} if isinstance(cursor, str) else set()
    # A sink holds no events in memory: only each response's own size is capped.
    budget = None if sink is not None else ByteBudget(action.connector.max_response_bytes)
    last: Optional[Dict[str, Any]] = None  # the last page that arrived whole
    while fetched < max_items:
        page = dict(params, limit=min(page_size, max_items - fetched))
        if pages:  # the cursor carries the position now
            page.pop("skip", None)
            page["cursor"] = cursor
        try:
            envelope = action.connector.request(
                action.method, path, params=encode_query(page), byte_budget=budget
            )
        except BudgetSpent:
            if last is None:
                raise
            break  # like max_items: resume at this page's cursor
        body = envelope.get("json_body")
        status = envelope["status_code"]
        if not (200 <= status < 300 and isinstance(body, dict) and _is_list(body, "data")):
            return _with_items(envelope, items, cursor, total, errors=_no_page(status, body))
        pages += 1
        fetched += len(body["data"])
        if sink is None:
            items.extend(body["data"])
        else:
            sink(envelope, body["data"])
        pagination = body.get("pagination") if isinstance(body.get("pagination"), dict) else {}
        total = pagination.get("totalItems", total)
        cursor = pagination.get("nextCursor")
        last = envelope
        kept[:] = [(len(items), cursor, total, envelope, items)]  # one step: always consistent
        if action.progress is not None:
            action.progress(fetched, total, pages)
        if cursor is not None and not isinstance(cursor, str):
            kind = type(cursor).__name__
            detail = f"pagination.nextCursor is not a string (a {kind}); stopped following."
            error = {"code": None, "title": "Invalid cursor", "detail": detail}
            return _with_items(envelope, items, None, total, errors=[error])
        if not cursor or not body["data"]:
            break
        if cursor in seen:
            detail = "pagination.nextCursor repeats a cursor already followed; stopped (a loop)."
            error = {"code": None, "title": "Cursor loop", "detail": detail}
            return _with_items(envelope, items, cursor, total, errors=[error])
        seen.add(cursor)
    return _with_items(last or {}, items, cursor, total)


def _is_list(body: Mapping[str, Any], key: str) -> bool:
    return isinstance(body.get(key), list)


def _no_page(status: int, body: Any) -> Optional[List[Dict[str, Any]]]:
    """The errors to report for a page that is not a page: SentinelOne's own, or one saying so."""
    if isinstance(body, dict) and _is_list(body, "errors"):
        return None  # keep the body's errors as they are
    title = "Unexpected response" if 200 <= status < 300 else "HTTP Error"
    return [{"code": None, "title": title, "detail": f"HTTP {status}: not a page of events"}]


def _with_items(
    envelope: Dict[str, Any],
    items: List[Any],
    cursor: Optional[str],
    total: Optional[int],
    errors: Optional[List[Dict[str, Any]]] = None,
) -> Dict[str, Any]:
    """``envelope`` with ``json_body`` holding ``items`` and the cursor to resume from."""
    body = envelope.get("json_body")
    merged: Dict[str, Any] = dict(body) if isinstance(body, dict) else {}
    pagination = merged.get("pagination") if isinstance(merged.get("pagination"), dict) else {}
    merged["data"] = items
    merged["pagination"] = {**pagination, "nextCursor": cursor, "totalItems": total}
    if errors:
        merged["errors"] = errors
    return {**envelope, "json_body": merged}
