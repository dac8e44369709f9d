"""One deadline for a whole HTTP exchange, and a strict response head.

requests' ``timeout`` bounds each socket operation, so a peer that sends one byte a second
never trips it: not while answering a proxy CONNECT, nor while sending the response head, a
chunk-size line or the body. Each exchange here arms a watchdog instead: at the deadline it
shuts down the socket of the connection in use, the blocked read returns at once, and the
connector reports the timeout (``Exchange.expired``). One watchdog thread serves every exchange.

The watchdog finds that socket through the pools' connection class (urllib3's ``ConnectionCls``
extension point), which attaches itself to the current exchange before it connects or sends.
Its response class skips 1xx informational responses (``103 Early Hints``; http.client skips
only ``100``) and refuses a malformed head with a sentence (``MalformedHead``) instead of
urllib3 logging a traceback and dropping the headers after the bad line.
"""

from __future__ import annotations

import http.client
import math
import signal
import socket
import threading
import time
from contextlib import contextmanager
from email.errors import MultipartInvariantViolationDefect, StartBoundaryNotFoundDefect
from typing import Any, Dict, Iterator, List, Optional

import requests.adapters
import urllib3.connection
import urllib3.connectionpool

_current = threading.local()
MAX_LINE = 65536  # http.client's limits for a status or header line, and the header count
MAX_HEADERS = 100
RECHECK = 0.05  # after the deadline, how often a socket still being created is looked for


class MalformedHead(http.client.HTTPException):
    """The response head is not valid HTTP/1.x; ``detail`` says how, for people."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@contextmanager
def _signals_blocked() -> Iterator[None]:
    """SIGINT and SIGTERM blocked in this thread meanwhile (and in threads started meanwhile).

    A process-directed signal goes to any thread that does not block it. Delivered to the
    watchdog, Python would only note it, and the main thread, blocked reading a slow response,
    would not be woken: Ctrl-C during a follow could go unnoticed until the run ended."""
    mask = getattr(signal, "pthread_sigmask", None)
    if mask is None:  # not POSIX: signals go to the main thread anyway
        yield
        return
    previous = mask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        mask(signal.SIG_SETMASK, previous)


def _shut(sock: Any) -> None:
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the fd itself, below any TLS layer
    except (OSError, TypeError):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except Exception:  # noqa: S110 - already closed: nothing left to cut
            pass


class Watchdog:
    """One daemon thread for every exchange of the process: it sleeps until the earliest
    deadline and expires what is due. Arming and disarming are a dict update under a lock (no
    thread per request); the thread is woken only when a deadline is earlier than its wake-up."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._armed: Dict[Exchange, float] = {}
        self._wake_at = math.inf
        self._thread: Optional[threading.Thread] = None

    def arm(self, exchange: Exchange, deadline: float) -> None:
        with self._cond:
            self._armed[exchange] = deadline
            if self._thread is None or not self._thread.is_alive():  # first use, or a fork
                self._thread = threading.Thread(target=self._run, name="deadline", daemon=True)
                with _signals_blocked():  # the thread inherits the mask: Ctrl-C is not its
                    self._thread.start()
            if deadline < self._wake_at:
                self._wake_at = deadline
                self._cond.notify()

    def disarm(self, exchange: Exchange) -> None:
        with self._cond:
            self._armed.pop(exchange, None)

    def _run(self) -> None:
        while True:
            with self._cond:
                now = time.monotonic()
                due = [e for e, deadline in self._armed.items() if deadline <= now]
                for exchange in due:  # until it ends: cut a socket still being created
                    self._armed[exchange] = now + RECHECK
                if not due:
                    self._wake_at = min(self._armed.values(), default=math.inf)
                    wait = None if self._wake_at == math.inf else self._wake_at - now
                    self._cond.wait(wait)
                    continue
            for exchange in due:
                exchange.expire()


class Exchange:
    """The deadline of one request and its response, as a context manager on this thread."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.expired = False
        self._conn: Any = None
        self._sockets: List[Any] = []
        self._done = False
        self._lock = threading.Lock()

    def __enter__(self) -> Exchange:
        _current.exchange = self
        WATCHDOG.arm(self, time.monotonic() + self.timeout)
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._done = True
        WATCHDOG.disarm(self)
        _current.exchange = None

    def attach(self, conn: Any) -> None:
        with self._lock:
            self._conn = conn
            if conn.sock is not None and conn.sock not in self._sockets:
                self._sockets.append(conn.sock)
            if self.expired:
                self._cut()

    def _cut(self) -> None:
        sockets = list(self._sockets)
        if self._conn is not None and self._conn.sock is not None:
            sockets.append(self._conn.sock)
        for sock in sockets:
            _shut(sock)

    def expire(self) -> None:
        with self._lock:
            if not self._done:
                self.expired = True
                self._cut()


WATCHDOG = Watchdog()


def _attach(conn: Any) -> None:
    exchange = getattr(_current, "exchange", None)
    if exchange is not None:
        exchange.attach(conn)


def _skip_head(fp: Any) -> None:
    for _ in range(MAX_HEADERS + 1):
        line = fp.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise MalformedHead("a header line longer than 64 KiB")
        if line in (b"\r\n", b"\n", b""):
            return
    raise MalformedHead(f"more than {MAX_HEADERS} header lines")


IGNORED_DEFECTS = (StartBoundaryNotFoundDefect, MultipartInvariantViolationDefect)


class StrictResponse(http.client.HTTPResponse):
    """http.client's response, skipping 1xx heads and refusing malformed ones."""

    def _read_status(self) -> Any:
        while True:
            version, status, reason = super()._read_status()
            if not 101 < status < 200:  # 100 is skipped by begin(); 101 is not informational
                return version, status, reason
            _skip_head(self.fp)

    def begin(self) -> None:
        try:
            super().begin()
        except http.client.RemoteDisconnected:
            raise  # closed before any response: a reset, retryable
        except http.client.LineTooLong:
            raise MalformedHead("a status or header line longer than 64 KiB") from None
        except http.client.UnknownProtocol:
            raise MalformedHead("an unknown protocol version in its status line") from None
        except http.client.BadStatusLine:
            raise MalformedHead(
                "no status line such as 'HTTP/1.1 200 OK' with a status from 100 to 999"
            ) from None
        except http.client.HTTPException as exc:
            if "headers" in str(exc):  # "got more than 100 headers"
                raise MalformedHead(f"more than {MAX_HEADERS} header lines") from None
            raise
        defects = [d for d in self.msg.defects if not isinstance(d, IGNORED_DEFECTS)]
        if defects or self.msg.get_payload():
            raise MalformedHead("a header line without a colon, or a stray line break")


class _Watched:
    response_class = StrictResponse

    def connect(self) -> None:
        _attach(self)
        super().connect()  # type: ignore[misc]

    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach(self)
        super().request(*args, **kwargs)  # type: ignore[misc]

    def getresponse(self) -> Any:
        _attach(self)  # the response keeps this socket after the connection lets it go
        return super().getresponse()  # type: ignore[misc]


class WatchedHTTPConnection(_Watched, urllib3.connection.HTTPConnection):
    pass


class WatchedHTTPSConnection(_Watched, urllib3.connection.HTTPSConnection):
    pass


class WatchedHTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = WatchedHTTPConnection


class WatchedHTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = WatchedHTTPSConnection


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
