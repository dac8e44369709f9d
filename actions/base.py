"""What every action shares: a connector, the manifest's method and path, safe request building,
and following SentinelOne's cursors (``pagination.nextCursor``) over the connector's one Session.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from connectors.base import HttpConnector, TransportError

PATH_VALUE = re.compile(r"[A-Za-z0-9_-]{1,128}")
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


# Called after each page while following cursors: (items fetched, totalItems or None, pages).
ProgressHook = Callable[[int, Optional[int], int], None]


class ActionInputError(ValueError):
    """An input the action cannot use; raised before anything is sent."""


class IncompleteFetch(TransportError):
    """A transport failure after some pages arrived while following cursors.

    ``envelope`` holds what was fetched: the last good page's status and headers, ``json_body``
    with every item so far in ``data``, ``pagination.nextCursor`` = the cursor of the page that
    failed (resume there), and one ``errors`` entry with this error's sentence."""

    def __init__(self, message: str, envelope: Dict[str, Any], fetched: int, pages: int) -> None:
        super().__init__(message)
        self.envelope = envelope
        self.fetched = fetched
        self.pages = pages


def encode_query(parameters: Mapping[str, Any]) -> List[Tuple[str, str]]:
    """Query pairs: arrays comma-joined, booleans true/false; null and empty arrays left out."""
    query = []
    for name, value in parameters.items():
        if value is None or (isinstance(value, (list, tuple)) and not value):
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, (list, tuple)):
            text = ",".join(str(item) for item in value)
        else:
            text = str(value)
        query.append((name, text))
    return query


class Action:
    """Base class: subclasses implement ``run(inputs) -> envelope`` with one connector call."""

    def __init__(
        self,
        connector: HttpConnector,
        *,
        method: str,
        path: str,
        progress: Optional[ProgressHook] = None,
    ) -> None:
        self.connector = connector
        self.method = method
        self.path = path
        self.progress = progress

    def build_path(self, values: Mapping[str, Any]) -> str:
        """The path template with each placeholder replaced by a value that cannot escape it."""

        def substitute(match: re.Match) -> str:
            name = match.group(1)
            value = values.get(name)
            if not isinstance(value, str) or not PATH_VALUE.fullmatch(value):
                raise ActionInputError(
                    f"path_parameters.{name}: got {value!r}; expected letters, digits, - or _ only."
                )
            return value

        return PLACEHOLDER.sub(substitute, self.path)

    def run(self, inputs: Mapping[str, Any]) -> dict:
        raise NotImplementedError

    def follow_cursor(
        self, path: str, parameters: Mapping[str, Any], *, max_items: int, page_size: int
    ) -> Dict[str, Any]:
        """Read page after page (``cursor`` = the previous ``pagination.nextCursor``) until the
        cursor is null or ``max_items`` items are in; return one envelope.

        Success: the last page's envelope with ``json_body.data`` = every item in server order
        and ``pagination.nextCursor`` = where to resume (null when everything was read). The
        last page asks only for the items still missing, so the resume cursor is exact. A page
        that answers non-2xx (after the connector's retries) ends it: that page's envelope,
        its body (SentinelOne's ``errors``) plus ``data`` so far and ``pagination.nextCursor``
        = the failed page's cursor. A transport failure after at least one page raises
        IncompleteFetch carrying the same kind of partial envelope; before any page, the
        connector's TransportError."""
        if max_items < 1 or page_size < 1:
            raise ActionInputError(f"max_items {max_items} and page_size {page_size}: need >= 1.")
        params = dict(parameters)
        cursor = params.get("cursor")
        items: List[Any] = []
        pages, total = 0, None
        last: Optional[Dict[str, Any]] = None  # the last page that arrived whole
        while len(items) < max_items:
            page = dict(params, limit=min(page_size, max_items - len(items)))
            if pages:  # the cursor carries the position now
                page.pop("skip", None)
                page["cursor"] = cursor
            try:
                envelope = self.connector.request(self.method, path, params=encode_query(page))
            except TransportError as exc:
                if last is None:
                    raise
                error = {"code": None, "title": "Transport Error", "detail": str(exc)}
                partial = _with_items(last, items, cursor, total, errors=[error])
                raise IncompleteFetch(str(exc), partial, len(items), pages) from exc
            body = envelope.get("json_body")
            status = envelope["status_code"]
            if not (200 <= status < 300 and isinstance(body, dict) and _is_list(body, "data")):
                return _with_items(envelope, items, cursor, total, errors=_no_page(status, body))
            pages += 1
            items.extend(body["data"])
            pagination = body.get("pagination") if isinstance(body.get("pagination"), dict) else {}
            total = pagination.get("totalItems", total)
            cursor = pagination.get("nextCursor")
            last = envelope
            if self.progress is not None:
                self.progress(len(items), total, pages)
            if not cursor or not body["data"]:
                break
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
