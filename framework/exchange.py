"""One deadline per HTTP attempt, and a strict response head. requests' ``timeout`` bounds each
socket operation, so a peer sending one byte a second never trips it: a timer shuts down the
socket in use (found through urllib3's ``ConnectionCls``) and the blocked read returns at once."""

import contextlib
import http.client
import signal
import socket
import threading
from email.errors import MultipartInvariantViolationDefect, StartBoundaryNotFoundDefect
from typing import Any, Optional

import requests.adapters
import urllib3.connection
import urllib3.connectionpool

_current = threading.local()


class MalformedHead(ValueError):
    """The response head is not valid HTTP/1.x (how, for people). A ValueError: urllib3 would
    wrap an HTTPException as a lost connection and retry it."""


class Exchange:
    """The attempts of one request on this thread (``restart()`` begins the next), each with a
    deadline: a timer that, when due, shuts the sockets the attempt was shown."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.expired = False
        self._attempt = 0  # a timer acts only for the attempt it was started for
        self._conn: Any = None
        self._sockets: list = []  # the response keeps its socket after the connection drops it
        self._lock = threading.Lock()
        self._timer: Optional[threading.Timer] = None

    def restart(self) -> None:
        with self._lock:
            self._end()
            self.expired, self._conn, self._sockets = False, None, []
            self._timer = threading.Timer(self.timeout, self._expire, (self._attempt,))
        self._timer.daemon = True
        # A process-directed signal goes to any thread that does not block it: delivered to the
        # timer, Ctrl-C would not wake the main thread blocked on a slow read. It inherits this.
        mask = getattr(signal, "pthread_sigmask", None)  # not POSIX: signals go to main anyway
        previous = mask and mask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            self._timer.start()
        finally:
            if mask:
                mask(signal.SIG_SETMASK, previous)

    def _end(self) -> None:
        self._attempt += 1  # an attempt that ended keeps its connection: never cut it
        if self._timer is not None:
            self._timer.cancel()

    def attach(self, conn: Any) -> None:
        with self._lock:
            self._conn = conn
            if conn.sock is not None:
                self._sockets.append(conn.sock)
            if self.expired:
                self._cut()

    def _cut(self) -> None:
        for sock in [*self._sockets, getattr(self._conn, "sock", None)]:
            with contextlib.suppress(OSError, TypeError):  # already closed, or None
                # The fd itself, below any TLS layer (urllib3's SSLTransport keeps it as .socket).
                socket.socket.shutdown(getattr(sock, "socket", sock), socket.SHUT_RDWR)

    def _expire(self, attempt: int) -> None:
        with self._lock:
            if attempt == self._attempt:
                self.expired = True
                self._cut()

    def __enter__(self) -> "Exchange":
        _current.exchange = self
        self.restart()
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._end()
        _current.exchange = None


def current() -> Optional[Exchange]:
    return getattr(_current, "exchange", None)


def _attach(conn: Any) -> None:
    exchange = current()
    if exchange is not None:
        exchange.attach(conn)


IGNORED_DEFECTS = (StartBoundaryNotFoundDefect, MultipartInvariantViolationDefect)
NOT_HTTP = {  # what http.client raises for a malformed head, in people's words
    http.client.LineTooLong: "a status or header line longer than 64 KiB",
    http.client.UnknownProtocol: "an unknown protocol version in its status line",
    http.client.BadStatusLine: "no status line such as 'HTTP/1.1 200 OK' with a status from "
    "100 to 999",
}


class StrictResponse(http.client.HTTPResponse):
    """Skips 1xx heads (http.client skips only 100) and refuses malformed ones."""

    def _read_status(self) -> Any:
        status = super()._read_status()
        while 101 < status[1] < 200:  # 100 is skipped by begin(); 101 is not informational
            http.client.parse_headers(self.fp)
            status = super()._read_status()
        return status

    def begin(self) -> None:
        try:
            super().begin()
        except http.client.RemoteDisconnected:
            raise  # closed before any response: a reset, retryable
        except http.client.HTTPException as exc:
            detail = next((d for kind, d in NOT_HTTP.items() if isinstance(exc, kind)), None)
            if detail is None and "headers" not in str(exc):  # "got more than 100 headers"
                raise
            raise MalformedHead(detail or "more than 100 header lines") from None
        defects = [d for d in self.msg.defects if not isinstance(d, IGNORED_DEFECTS)]
        if defects or self.msg.get_payload():
            raise MalformedHead("a header line without a colon, or a stray line break")


class _Watched:
    response_class = StrictResponse

    def connect(self) -> None:
        _attach(self)  # a CONNECT to a proxy happens in here, on self.sock
        super().connect()  # type: ignore[misc]
        _attach(self)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach(self)  # a kept-alive connection: no connect()
        super().request(*args, **kwargs)  # type: ignore[misc]


class WatchedHTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = type("WatchedHTTPConnection", (_Watched, urllib3.connection.HTTPConnection), {})


class WatchedHTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = type(
        "WatchedHTTPSConnection", (_Watched, urllib3.connection.HTTPSConnection), {}
    )


POOLS = {"http": WatchedHTTPPool, "https": WatchedHTTPSPool}


class WatchedAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter whose pools (direct and through a proxy) use the watched connections."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = POOLS
        return manager
