"""Failures that are not HTTP responses, and how a requests/urllib3 exception is classified.

Every error here carries a one-sentence message that is safe to show to a user: it names hosts
(``host:port``), never URLs with credentials, tokens or headers.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable
from urllib.parse import urlsplit


class ConnectorError(Exception):
    """A failure with a one-sentence message that is safe to show to a user."""


class AssetError(ConnectorError):
    """The asset (connection settings) is invalid; nothing was sent."""


class TransportError(ConnectorError):
    """No HTTP response arrived (DNS, refused, TLS, proxy, timeout, reset, oversized body).

    ``cause`` names what happened, for callers that diagnose: dns, refused, connect, tls,
    tls_handshake, proxy, proxy_auth, timeout, reset, too_large or transport."""

    def __init__(self, message: str, cause: str = "transport") -> None:
        super().__init__(message)
        self.cause = cause


class ConnectionLost(TransportError):
    """The connection was reset or closed before a whole response arrived (retryable)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, cause="reset")


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


class Secret(str):
    """A string whose repr never shows its value (proxy URLs with credentials)."""

    def __repr__(self) -> str:
        return "'***'"


def host_of(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{host}:{parts.port}" if parts.port else host


def causes_of(exc: BaseException) -> Iterable[BaseException]:
    """The exception, its arguments and its chain: where requests/urllib3 hide the real cause."""
    seen = set()
    todo = [exc]
    while todo:
        item = todo.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo.extend(arg for arg in getattr(item, "args", ()) if isinstance(arg, BaseException))
        for attr in ("reason", "__cause__", "__context__"):
            nested = getattr(item, attr, None)
            if isinstance(nested, BaseException):
                todo.append(nested)


def os_detail(exc: BaseException) -> str:
    for item in causes_of(exc):
        if isinstance(item, OSError) and item.strerror:
            return item.strerror.lower()
    return ""
