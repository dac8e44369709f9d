"""A scripted raw-socket HTTP server on 127.0.0.1, for answers no real server would give.

Each request (or CONNECT) gets the next step of the script; when the script runs out, the
``default`` step answers. A step is bytes (sent whole, then the connection is closed), a
``Send`` (bytes, optionally keeping the connection open for the next request) or a ``Trickle``
(bytes sent slowly, as a hostile or broken peer would). The server records each request line.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union


class Send:
    """``data`` at once (after ``delay`` seconds); then close, or wait for the next request."""

    def __init__(self, data: bytes, keep_open: bool = False, delay: float = 0.0) -> None:
        self.data = data
        self.keep_open = keep_open
        self.delay = delay


class Trickle:
    """``data`` one ``step`` bytes at a time, ``interval`` seconds apart, until the peer leaves."""

    def __init__(self, data: bytes, interval: float = 0.2, step: int = 1) -> None:
        self.data = data
        self.interval = interval
        self.step = step


Step = Union[bytes, Send, Trickle]


def response(
    status: int = 200,
    body: Union[bytes, str, Any] = b"",
    headers: Optional[Mapping[str, str]] = None,
    reason: str = "OK",
    keep_open: bool = False,
) -> Send:
    """A well-formed HTTP/1.1 response; a non-bytes, non-str body is sent as JSON."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    elif not isinstance(body, bytes):
        body = json.dumps(body).encode("utf-8")
    head = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    head.update(headers or {})
    if not keep_open:
        head["Connection"] = "close"
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in head.items()]
    return Send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body, keep_open)


def page(data: Sequence[Any], cursor: Any = None, total: Any = None, keep: bool = True) -> Send:
    """A SentinelOne-shaped page of events."""
    body = {"data": list(data), "pagination": {"nextCursor": cursor, "totalItems": total}}
    return response(200, body, keep_open=keep)


class HostileServer:
    def __init__(
        self,
        steps: Sequence[Step] = (),
        default: Optional[Step] = None,
        tls: Optional[ssl.SSLContext] = None,
    ) -> None:
        self.steps: List[Step] = list(steps)
        self.default = default
        self.tls = tls
        self.requests: List[str] = []
        self.connections = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(5)
        self.listener.close()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except (socket.timeout, OSError):
                continue
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _next(self) -> Optional[Step]:
        with self.lock:
            return self.steps.pop(0) if self.steps else self.default

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(10)
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            buffer = b""
            while not self.stopping.is_set():
                while b"\r\n\r\n" not in buffer:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffer += data
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                with self.lock:
                    self.requests.append(head.split(b"\r\n", 1)[0].decode("latin-1"))
                step = self._next()
                if step is None:
                    return
                if isinstance(step, bytes):
                    step = Send(step)
                if isinstance(step, Trickle):
                    for start in range(0, len(step.data), step.step):
                        if self.stopping.wait(step.interval):
                            return
                        conn.sendall(step.data[start : start + step.step])
                    return
                if step.delay and self.stopping.wait(step.delay):
                    return
                conn.sendall(step.data)
                if not step.keep_open:
                    return
        except (OSError, ssl.SSLError):
            return
        finally:
            conn.close()


def events(count: int, start: int = 0) -> List[Dict[str, Any]]:
    return [{"id": str(start + n), "eventType": "process"} for n in range(count)]
