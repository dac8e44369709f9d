"""HTTP front end: a threaded HTTP/1.1 (keep-alive) server answering like a SentinelOne console.

Routes:

* ``GET /web/api/v2.1/threats/{threat_id}/explore/events``: see ``api.py`` and ``data.py``.
* ``GET /web/api/v2.1/system/info``: a cheap authenticated read (any valid token).
* ``GET /web/api/v2.1/threats``: the threat list (only the seed threat; ``limit``, ``skip``,
  ``skipCount``, ``countOnly``): a cheap read that also needs the threats permission, which
  is what a "test connection" must prove (the viewer token gets 403 here).
* other ``/web/api/...`` paths: 404 with SentinelOne's error body.
* ``/_sim/...``: control endpoints for tests (no auth, loopback clients only): ``faults``
  (POST appends, DELETE clears, GET lists), ``requests`` (GET lists, DELETE clears), ``reset``.

Order of checks on an API request: injected fault, route (404), method (405), token (401), rate
limit (429, per token, only when configured), permission (403 for the viewer token on threats),
parameters (400).
"""

import gzip
import hmac
import http
import ipaddress
import json
import math
import re
import socket
import ssl
import struct
import threading
import time
import uuid
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any, Callable, Deque, Dict, Iterable, Iterator, List, Optional, Tuple
from urllib.parse import parse_qs

from .api import (
    KNOWN_PARAMS,
    THREATS_LIST_PARAMS,
    ApiError,
    error_body,
    threat_events,
    threats_list,
)
from .data import EventStore
from .faults import FaultError, FaultQueue
from .seed import SEED_EVENTS

DEFAULT_TOKEN = "simulator-token"
DEFAULT_VIEWER_TOKEN = "simulator-viewer-token"

API_PREFIX = "/web/api/"
CONTROL_PREFIX = "/_sim/"
EVENTS_PATH = re.compile(r"/web/api/v2\.1/threats/([^/]+)/explore/events")
SYSTEM_INFO_PATH = "/web/api/v2.1/system/info"
THREATS_PATH = "/web/api/v2.1/threats"
SYSTEM_INFO = {"data": {"build": "23.4.2.15", "patch": "2", "release": "GA", "version": "23.4.2"}}

MAX_LOGGED_REQUESTS = 10_000  # oldest entries are dropped beyond this
MAX_REQUEST_BODY = 1 << 20
GZIP_LEVEL = 5
HUGE_CHUNK = 1 << 16


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


class Reply:
    """A response before encoding.  ``gzip``: None follows Accept-Encoding, True/False force."""

    def __init__(
        self,
        status: int,
        body: Any = b"",
        headers: Optional[Dict[str, str]] = None,
        content_type: str = "application/json",
        gzip: Optional[bool] = None,
    ) -> None:
        self.status = status
        self.body = body if isinstance(body, bytes) else json_bytes(body)
        self.headers = headers or {}
        self.content_type = content_type
        self.gzip = gzip


def error_reply(status: int, detail: Optional[str] = None, **headers: str) -> Reply:
    return Reply(status, error_body(status, detail), headers=headers)


class RateLimiter:
    """Token bucket per key: ``rate`` tokens/s, at most ``burst``.  Disabled when rate is None."""

    def __init__(self, rate: Optional[float] = None, burst: Optional[int] = None) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = burst if burst is not None else max(1, math.ceil(rate or 1))
        if self.burst < 1:
            raise ValueError("burst must be at least 1")
        self._lock = threading.Lock()
        self._buckets: Dict[str, Tuple[float, float]] = {}

    def wait_time(self, key: str) -> float:
        """0 when a request may go ahead now (and take a token), else seconds until it may."""
        if self.rate is None:
            return 0.0
        with self._lock:
            now = time.monotonic()
            tokens, then = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - then) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()


class Simulator:
    """State shared by all connections of one server."""

    def __init__(
        self,
        token: str,
        viewer_token: str,
        rate: Optional[float],
        burst: Optional[int],
        verbose: bool,
    ) -> None:
        self.token = token
        self.viewer_token = viewer_token
        self.verbose = verbose
        self.store = EventStore()
        self.faults = FaultQueue()
        self.limiter = RateLimiter(rate, burst)
        self.stopping = threading.Event()
        self._log_lock = threading.Lock()
        self._log: Deque[Dict[str, Any]] = deque(maxlen=MAX_LOGGED_REQUESTS)
        self._connections_lock = threading.Lock()
        self._connections: set[socket.socket] = set()

    def classify(self, authorization: Optional[str]) -> str:
        """``ok``, ``viewer``, ``missing`` or ``wrong`` for an Authorization header value."""
        if authorization is None or not authorization.strip():
            return "missing"
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "apitoken":
            presented = value.strip().encode("utf-8")
            if hmac.compare_digest(presented, self.token.encode("utf-8")):
                return "ok"
            if hmac.compare_digest(presented, self.viewer_token.encode("utf-8")):
                return "viewer"
        return "wrong"

    def log(self, entry: Dict[str, Any]) -> None:
        with self._log_lock:
            self._log.append(entry)

    def requests(self) -> List[Dict[str, Any]]:
        with self._log_lock:
            return list(self._log)

    def clear_requests(self) -> None:
        with self._log_lock:
            self._log.clear()

    def reset(self) -> None:
        self.faults.clear()
        self.clear_requests()
        self.limiter.reset()

    def track(self, connection: socket.socket, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:  # the plain socket method: unblocks readers without touching TLS state
                socket.socket.shutdown(connection, socket.SHUT_RDWR)
            except OSError:
                pass


def _is_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or bool(mapped and mapped.is_loopback)


def _accepts_gzip(accept_encoding: str) -> bool:
    for part in accept_encoding.split(","):
        name, _, parameters = part.partition(";")
        if name.strip().lower() in ("gzip", "x-gzip"):
            quality = parameters.replace(" ", "").lower()
            if not quality.startswith("q="):
                return True
            try:
                return float(quality[2:].split(";")[0]) > 0
            except ValueError:
                return True
    return False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 120  # idle keep-alive connections and stalled clients
    server: "HTTPServer"

    # --- plumbing ------------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()  # here, in the connection's thread, not in accept()

    def version_string(self) -> str:
        return "nginx"

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.sim.verbose:
            super().log_message(format, *args)

    @property
    def sim(self) -> Simulator:
        return self.server.sim

    def do_GET(self) -> None:
        self._handle()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def _read_body(self) -> Optional[bytes]:
        """The request body, or None after answering a body this server will not read."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            self._send(error_reply(411, "Send a Content-Length"))
            return None
        length = self.headers.get("Content-Length", "0").strip() or "0"
        if not length.isdigit() or int(length) > MAX_REQUEST_BODY:
            self.close_connection = True
            self._send(error_reply(413, "Request body too large"))
            return None
        return self.rfile.read(int(length))

    def _head(self, content_type: str, length: Optional[int]) -> Dict[str, str]:
        headers = {
            "Server": "nginx",
            "Date": self.date_time_string(),
            "Content-Type": content_type,
            "X-RQID": self._rqid,
            "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
            "X-Frame-Options": "SAMEORIGIN",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
            "Pragma": "no-cache",
            "Expires": "-1",
            "Vary": "Accept-Encoding",
        }
        if length is not None:
            headers["Content-Length"] = str(length)
        return headers

    def _write_head(self, status: int, headers: Dict[str, str]) -> None:
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = ""
        lines = [f"{self.protocol_version} {status} {reason}\r\n"]
        lines += [f"{name}: {value}\r\n" for name, value in headers.items()]
        lines.append("\r\n")
        self.wfile.write("".join(lines).encode("latin-1", "replace"))
        if getattr(self, "_entry", None) is not None:
            self._entry["status"] = status
        self.log_request(status)

    def _encode(self, reply: Reply) -> Tuple[Dict[str, str], bytes]:
        """Headers and payload of ``reply`` (gzipped when asked for or forced)."""
        body = reply.body
        use_gzip = reply.gzip
        if use_gzip is None:
            use_gzip = bool(body) and _accepts_gzip(self.headers.get("Accept-Encoding", ""))
        if reply.status in (204, 304):
            body, use_gzip = b"", False
        if use_gzip:
            body = gzip.compress(body, GZIP_LEVEL, mtime=0)
        length = None if reply.status in (204, 304) else len(body)
        headers = self._head(reply.content_type, length)
        if use_gzip:
            headers["Content-Encoding"] = "gzip"
        for name, value in reply.headers.items():  # fault headers replace ours, any case
            for same in [key for key in headers if key.lower() == name.lower()]:
                del headers[same]
            headers[name] = value
            if name.lower() == "content-length" or (
                name.lower() == "connection" and value.lower() == "close"
            ):
                self.close_connection = True
        return headers, body

    def _send(self, reply: Reply) -> None:
        headers, body = self._encode(reply)
        self._write_head(reply.status, headers)
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _stream(self, pieces: Iterable[bytes], interval: float = 0.0) -> None:
        """Write pieces, waiting ``interval`` before each; stop on shutdown or hang-up."""
        try:
            for piece in pieces:
                if self.sim.stopping.wait(interval):
                    break
                self.wfile.write(piece)
            else:
                return
        except OSError:
            pass
        self.close_connection = True

    def _reset(self) -> None:
        """Close with a TCP RST (SO_LINGER 0) instead of a FIN."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        for stream in (self.wfile, self.rfile):
            try:
                stream.close()
            except OSError:
                pass
        self.connection.close()

    def _wait_until_sent(self, limit: float = 2.0) -> None:
        """Wait (bounded) until the peer acknowledged what was written, so a RST cannot drop it."""
        try:
            import fcntl
            import termios

            deadline = time.monotonic() + limit
            while time.monotonic() < deadline:
                raw = fcntl.ioctl(self.connection.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
                if struct.unpack("i", raw)[0] <= 0 or self.sim.stopping.wait(0.002):
                    return
        except (ImportError, OSError, AttributeError):
            return

    # --- dispatch ------------------------------------------------------------------------

    def _handle(self) -> None:
        self._rqid = str(uuid.uuid4())
        self._entry: Optional[Dict[str, Any]] = None
        body = self._read_body()
        if body is None:
            return
        raw_path, _, query = self.path.partition("?")
        path = re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/]*", "", raw_path)  # absolute-form target
        if path.startswith(CONTROL_PREFIX):
            self._send(self._control(path, body))
        elif path.startswith(API_PREFIX):
            self._api_request(raw_path, path, query)
        else:
            self._send(error_reply(404, "Not found"))

    def _api_request(self, raw_path: str, path: str, query: str) -> None:
        params = parse_qs(query, keep_blank_values=True)
        authorization = self.headers.get("Authorization")
        auth = self.sim.classify(authorization)
        known = KNOWN_PARAMS if EVENTS_PATH.fullmatch(path) else frozenset()
        if path == THREATS_PATH:
            known = THREATS_LIST_PARAMS
        self._entry = {
            "method": self.command,
            "path": raw_path,
            "query": query,
            "params": params,
            "headers": self._logged_headers(),
            "auth": auth,
            "rqid": self._rqid,
            "ignored_params": sorted(key for key in params if key not in known),
            "status": None,  # the status sent back, once it is (None: no response was sent)
        }
        self.sim.log(self._entry)

        def normal() -> Reply:
            return self._api(path, params, auth, authorization or "")

        fault = self.sim.faults.take()
        if fault is None:
            self._send(normal())
        else:
            self._apply_fault(fault, normal)

    def _logged_headers(self) -> Dict[str, str]:
        headers: Dict[str, str] = {}
        for name, value in self.headers.items():
            if name.lower() == "authorization":
                value = "<redacted>"
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        return headers

    def _api(self, path: str, params: Dict[str, List[str]], auth: str, token: str) -> Reply:
        match = EVENTS_PATH.fullmatch(path)
        if match is None and path not in (SYSTEM_INFO_PATH, THREATS_PATH):
            return error_reply(404, "Not found")
        if self.command not in ("GET", "HEAD"):
            return error_reply(405, f"Method {self.command} not allowed", Allow="GET, HEAD")
        if auth in ("missing", "wrong"):
            return error_reply(401)
        wait = self.sim.limiter.wait_time(token)
        if wait:
            return error_reply(429, "Rate limit exceeded", **{"Retry-After": str(math.ceil(wait))})
        if path == SYSTEM_INFO_PATH:
            return Reply(200, SYSTEM_INFO)
        if auth == "viewer":
            return error_reply(403, "Insufficient permissions")
        try:
            if match is None:
                return Reply(200, threats_list(params))
            return Reply(200, threat_events(self.sim.store, match.group(1), params))
        except ApiError as error:
            return Reply(error.status, error.body)

    def _control(self, path: str, body: bytes) -> Reply:
        if not _is_loopback(self.client_address[0]):
            return error_reply(403, "Control endpoints answer loopback clients only")
        routes: Dict[str, Dict[str, Callable[[], Any]]] = {
            "/_sim/faults": {
                "POST": lambda: self._add_faults(body),
                "DELETE": lambda: self.sim.faults.clear(),
                "GET": lambda: {"faults": self.sim.faults.pending()},
            },
            "/_sim/requests": {
                "GET": lambda: {"requests": self.sim.requests()},
                "DELETE": self.sim.clear_requests,
            },
            "/_sim/reset": {"POST": self.sim.reset},
        }
        methods = routes.get(path.rstrip("/"))
        if methods is None:
            return error_reply(404, "Not found")
        action = methods.get(self.command)
        if action is None:
            return error_reply(405, f"Method {self.command} not allowed", Allow=", ".join(methods))
        try:
            result = action()
        except (FaultError, ValueError) as error:
            return error_reply(400, str(error))
        return Reply(200, result if result is not None else {"ok": True})

    def _add_faults(self, body: bytes) -> Dict[str, Any]:
        try:
            document = json.loads(body or b"null")
        except ValueError:
            raise FaultError('the body must be JSON: {"faults": [...]}') from None
        if not isinstance(document, dict) or set(document) != {"faults"}:
            raise FaultError('the body must be {"faults": [...]}')
        return {"ok": True, "queued": self.sim.faults.add(document["faults"])}

    # --- faults --------------------------------------------------------------------------

    def _apply_fault(self, fault: Dict[str, Any], normal: Callable[[], Reply]) -> None:
        kind = fault["kind"]
        if kind == "status":
            self._send(self._status_fault(fault, normal))
        elif kind == "delay":
            if self.sim.stopping.wait(fault["seconds"]):
                self.close_connection = True
            elif "then" in fault:
                self._apply_fault(fault["then"], normal)
            else:
                self._send(normal())
        elif kind == "drop":
            self.close_connection = True  # nothing written; the server closes with a FIN
        elif kind == "reset":
            self._reset()
        elif kind == "reset_mid_body":
            reply = normal()
            headers, body = self._encode(reply)
            self._write_head(reply.status, headers)
            self.wfile.write(body[: len(body) // 2])
            self._wait_until_sent()
            self._reset()
        elif kind == "trickle":
            self._trickle(normal(), fault["bytes_per_second"], fault.get("total_bytes"))
        elif kind == "truncated_gzip":
            reply = normal()
            compressed = gzip.compress(reply.body, GZIP_LEVEL, mtime=0)
            cut = compressed[: len(compressed) // 2]
            headers = self._head(reply.content_type, len(cut))
            headers["Content-Encoding"] = "gzip"
            self._write_head(reply.status, headers)
            self.wfile.write(cut)
        elif kind == "huge":
            self._huge(int(fault["megabytes"] * (1 << 20)))
        elif kind == "pass":
            self._send(normal())

    def _status_fault(self, fault: Dict[str, Any], normal: Callable[[], Reply]) -> Reply:
        status = fault["status"]
        body = fault.get("body")
        content_type = fault.get("content_type", "application/json")
        if body is None:
            if 200 <= status < 300:
                body = normal().body
            elif 300 <= status < 400:
                body = b""
            else:
                body = json_bytes(error_body(status))
        return Reply(status, body, dict(fault["headers"]), content_type, fault.get("gzip"))

    def _trickle(self, reply: Reply, per_second: float, total: Optional[int]) -> None:
        body = reply.body
        if total is None:
            total = len(body)
        payload = (body + b" " * max(0, total - len(body)))[:total]
        self._write_head(reply.status, self._head(reply.content_type, total))
        step = max(1, int(per_second / 20))  # about 20 writes a second, at least one byte each
        self._stream((payload[at : at + step] for at in range(0, total, step)), step / per_second)

    def _huge(self, size: int) -> None:
        """A valid JSON page of exactly ``size`` bytes (at least its skeleton), streamed."""
        item = json_bytes(SEED_EVENTS[0])
        prefix = b'{"data":['

        def suffix(count: int) -> bytes:
            return b'],"pagination":{"nextCursor":null,"totalItems":%d}}' % count

        room = size - len(prefix) - len(suffix(10 ** len(str(size))))
        count = max(0, (room + 1) // (len(item) + 1))
        used = len(prefix) + count * (len(item) + 1) - (1 if count else 0) + len(suffix(count))
        tail = suffix(count) + b" " * max(0, size - used)
        per_chunk = max(1, HUGE_CHUNK // (len(item) + 1))

        def pieces() -> Iterator[bytes]:
            yield prefix
            for start in range(0, count, per_chunk):
                end = min(count, start + per_chunk)
                chunk = b",".join([item] * (end - start))
                yield chunk + b"," if end < count else chunk
            yield tail

        self._write_head(200, self._head("application/json", max(size, used)))
        self._stream(pieces())


class HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: Tuple[str, int],
        sim: Simulator,
        ssl_context: Optional[ssl.SSLContext] = None,
    ) -> None:
        self.sim = sim
        self.ssl_context = ssl_context
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)

    def server_bind(self) -> None:
        TCPServer.server_bind(self)  # HTTPServer's version calls getfqdn(): slow without DNS
        self.server_name, self.server_port = self.server_address[:2]

    def get_request(self) -> Tuple[socket.socket, Any]:
        connection, address = super().get_request()
        if self.ssl_context is not None:
            connection = self.ssl_context.wrap_socket(
                connection, server_side=True, do_handshake_on_connect=False
            )
        return connection, address

    def process_request(self, request: Any, client_address: Any) -> None:
        self.sim.track(request, True)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        self.sim.track(request, False)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.sim.verbose:
            super().handle_error(request, client_address)


class SimulatorServer:
    """A running simulator on a background daemon thread.

    ``SimulatorServer(...).start()`` (or ``simulator.start(...)``) binds and serves; ``url``,
    ``port`` and ``token`` tell clients where to go; ``shutdown()`` (or leaving a ``with`` block)
    stops it and closes open connections.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str = DEFAULT_TOKEN,
        viewer_token: str = DEFAULT_VIEWER_TOKEN,
        tls_cert: Optional[str] = None,
        tls_key: Optional[str] = None,
        rate: Optional[float] = None,
        burst: Optional[int] = None,
        verbose: bool = False,
    ) -> None:
        if (tls_cert is None) != (tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        self.host = host
        self.token = token
        self.viewer_token = viewer_token
        self._sim = Simulator(token, viewer_token, rate, burst, verbose)
        context = None
        if tls_cert is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            try:
                context.load_cert_chain(tls_cert, tls_key)
            except (OSError, ssl.SSLError) as error:
                message = f"cannot load TLS certificate/key {tls_cert}, {tls_key}: {error}"
                raise ValueError(message) from error
        self._httpd = HTTPServer((host, port), self._sim, context)
        self.port: int = self._httpd.server_address[1]
        shown = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
        shown = f"[{shown}]" if ":" in shown else shown
        self.url = f"{'https' if context else 'http'}://{shown}:{self.port}"
        self._thread: Optional[threading.Thread] = None

    def start(self) -> "SimulatorServer":
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"simulator:{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def shutdown(self) -> None:
        self._sim.stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
        self._httpd.server_close()
        self._sim.close_connections()

    def __enter__(self) -> "SimulatorServer":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.shutdown()

    # --- the control API, in process ------------------------------------------------------

    def requests(self) -> List[Dict[str, Any]]:
        """Requests received under /web/api/, oldest first (see the /_sim/requests endpoint)."""
        return self._sim.requests()

    def clear_requests(self) -> None:
        self._sim.clear_requests()

    def add_faults(self, faults: List[Dict[str, Any]]) -> None:
        """Queue faults (see ``faults.py``); raises ``FaultError`` (a ValueError) if invalid."""
        self._sim.faults.add(faults)

    def clear_faults(self) -> None:
        self._sim.faults.clear()

    def pending_faults(self) -> List[Dict[str, Any]]:
        return self._sim.faults.pending()

    def reset(self) -> None:
        """Clear faults, the request log and rate-limit buckets."""
        self._sim.reset()


def start(
    host: str = "127.0.0.1",
    port: int = 0,
    token: str = DEFAULT_TOKEN,
    tls_cert: Optional[str] = None,
    tls_key: Optional[str] = None,
    **options: Any,
) -> SimulatorServer:
    """Start a simulator in the background; options: viewer_token, rate, burst, verbose."""
    return SimulatorServer(host, port, token, tls_cert=tls_cert, tls_key=tls_key, **options).start()
