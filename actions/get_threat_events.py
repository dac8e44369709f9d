"""Get Threat Events: GET /web/api/v2.1/threats/{threat_id}/explore/events, envelope unchanged.
With follow_cursor, SentinelOne's cursor paging: the request repeated with ``cursor`` = the
previous page's ``pagination.nextCursor`` over the connector's one Session, pages merged."""

import sys
from typing import Any, Dict, List, Mapping, Optional, Tuple

from framework.action import Action, encode_query
from framework.connector import BudgetSpent
from framework.errors import RunError, TransportError

MAX_PAGE = 1000  # the API's largest limit: the page size when following without a limit
DEFAULT_MAX_EVENTS = 10_000  # with follow_cursor; as in the input schema's default


class GetThreatEvents(Action):
    def run(self, inputs: Mapping[str, Any]) -> dict:
        path = self.build_path(inputs["path_parameters"])
        parameters = inputs.get("parameters") or {}
        if not inputs.get("follow_cursor"):
            return self.connector.request(self.method, path, params=encode_query(parameters))
        max_events = inputs.get("max_events")
        if max_events is None:  # streamed to a file, not kept: only the user's own limit
            unlimited = self.pages is not None and self.pages.unlimited
            max_events = sys.maxsize if unlimited else DEFAULT_MAX_EVENTS
        page_size = parameters.get("limit") or MAX_PAGE
        return follow_cursor(self, path, parameters, max_items=max_events, page_size=page_size)


def follow_cursor(
    action: Action, path: str, parameters: Mapping[str, Any], *, max_items: int, page_size: int
) -> Dict[str, Any]:
    """Pages until the cursor is null, ``max_items`` are in or the bodies reach max_response_mb:
    the last page's envelope with every item and the exact cursor to resume from. A failed page,
    a bad or repeated cursor ends it with an ``errors`` entry; a transport failure or Ctrl-C
    after a page, a RunError with the partial envelope. A page sink gets each page instead."""
    cursor = parameters.get("cursor")
    items: List[Any] = []
    sink = action.pages
    fetched, pages, total = 0, 0, None
    seen = {cursor} if isinstance(cursor, str) else set()
    # (items kept, cursor, total, envelope) of the last page that arrived whole: one assignment,
    # so a Ctrl-C anywhere finds it consistent.
    kept: Optional[Tuple[int, Any, Any, Dict[str, Any]]] = None
    try:
        while fetched < max_items:
            page = dict(parameters, limit=min(page_size, max_items - fetched))
            if pages:  # the cursor carries the position now
                page.pop("skip", None)
                page["cursor"] = cursor
            try:
                envelope = action.connector.request(
                    action.method, path, params=encode_query(page), hold=sink is None
                )
            except BudgetSpent:
                if kept is None:
                    raise
                break  # like max_items: resume at this page's cursor
            status, body = envelope["status_code"], envelope["json_body"]
            data = body.get("data") if isinstance(body, dict) else None
            if not (200 <= status < 300 and isinstance(data, list)):
                return _with_items(envelope, items, cursor, total, errors=_no_page(status, body))
            pages += 1
            fetched += len(data)
            if sink is None:
                items.extend(data)
            else:
                sink(envelope, data)
            pagination = body.get("pagination") if isinstance(body.get("pagination"), dict) else {}
            total = pagination.get("totalItems", total)
            cursor = pagination.get("nextCursor")
            kept = (len(items), cursor, total, envelope)
            if action.progress is not None:
                action.progress(fetched, total, pages)
            if cursor is not None and not isinstance(cursor, str):
                kind = type(cursor).__name__
                detail = f"pagination.nextCursor is not a string (a {kind}); stopped following."
                error = {"code": None, "title": "Invalid cursor", "detail": detail}
                return _with_items(envelope, items, None, total, errors=[error])
            if not cursor or not data:
                break
            if cursor in seen:
                detail = (
                    "pagination.nextCursor repeats a cursor already followed; stopped (a loop)."
                )
                error = {"code": None, "title": "Cursor loop", "detail": detail}
                return _with_items(envelope, items, cursor, total, errors=[error])
            seen.add(cursor)
    except (TransportError, KeyboardInterrupt) as exc:
        if kept is None:
            raise
        count, cursor, total, last = kept
        if isinstance(exc, KeyboardInterrupt):
            kind, lines, title = RunError.INTERRUPTED, ["interrupted (Ctrl-C)"], "Interrupted"
        else:
            kind, lines, title = RunError.TRANSPORT, exc.lines, "Transport Error"
        error = {"code": None, "title": title, "detail": " ".join(lines)}
        partial = _with_items(last, items[:count], cursor, total, errors=[error])
        raise RunError(kind, lines, cause=getattr(exc, "cause", None), envelope=partial) from None
    return _with_items(kept[3] if kept else {}, items, cursor, total)


def _no_page(status: int, body: Any) -> Optional[List[Dict[str, Any]]]:
    """The errors to report for a page that is not a page: SentinelOne's own, or one saying so."""
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
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
