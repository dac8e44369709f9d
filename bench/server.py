"""A minimal, fast loopback server that replays the simulator's exact response bytes.

The first time a request is seen (same path, same decoded query pairs in any order, same
Authorization header) it is forwarded to an in-process simulator with ``Accept-Encoding: gzip``
and the response (status line, headers, gzip body, as SentinelOne sends it) is stored as one
bytes object; from then on that request is answered with those bytes by a thread that does
nothing else, so every contender of the benchmark receives identical bytes and the server's own
cost is a ``sendall``.  ``python -m bench.server`` prints ``BENCH_URL=http://127.0.0.1:PORT``
once it listens and serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import http.client
import signal
import socket
import socketserver
import sys
import threading
from typing import Dict, Optional, Tuple
from urllib.parse import parse_qsl, urlsplit

import simulator

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}
MAX_HEAD = 64 * 1024


class Replay:
    """The response cache in front of one upstream simulator."""

    def __init__(self, upstream: Tuple[str, int]) -> None:
        self.upstream = upstream
        self.cache: Dict[tuple, bytes] = {}
        self.lock = threading.Lock()

    @staticmethod
    def key(method: str, target: str, authorization: str) -> tuple:
        parts = urlsplit(target)
        query = tuple(sorted(parse_qsl(parts.query, keep_blank_values=True)))
        return method, parts.path, query, authorization

    def response(self, method: str, target: str, headers: Dict[str, str]) -> bytes:
        key = self.key(method, target, headers.get("authorization", ""))
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        with self.lock:
            cached = self.cache.get(key)
            if cached is None:
                cached = self.fetch(method, target, headers)
                self.cache[key] = cached
        return cached

    def fetch(self, method: str, target: str, headers: Dict[str, str]) -> bytes:
        forward = {"Accept-Encoding": "gzip"}
        for name in ("authorization", "accept", "user-agent"):
            if name in headers:
                forward[name] = headers[name]
        connection = http.client.HTTPConnection(*self.upstream, timeout=60)
        try:
            connection.request(method, target, headers=forward)
            upstream = connection.getresponse()
            body = upstream.read()  # http.client does not decode: the gzip bytes as sent
            kept = [(k, v) for k, v in upstream.getheaders() if k.lower() not in HOP_BY_HOP]
            return build(upstream.status, upstream.reason, kept, body)
        finally:
            connection.close()


def build(status: int, reason: str, headers: list, body: bytes) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{name}: {value}" for name, value in headers]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Handler(socketserver.BaseRequestHandler):
    """HTTP/1.1 with keep-alive; GET requests only (no request bodies)."""

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        replay: Replay = self.server.replay  # type: ignore[attr-defined]
        buffer = b""
        while True:
            end = buffer.find(b"\r\n\r\n")
            while end < 0:
                if len(buffer) > MAX_HEAD:
                    return
                try:
                    chunk = sock.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                buffer += chunk
                end = buffer.find(b"\r\n\r\n")
            head, buffer = buffer[:end].decode("latin-1"), buffer[end + 4 :]
            request_line, *header_lines = head.split("\r\n")
            try:
                method, target, version = request_line.split(" ", 2)
            except ValueError:
                return
            headers = {}
            for line in header_lines:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            try:
                sock.sendall(replay.response(method, target, headers))
            except OSError:
                return
            if version == "HTTP/1.0" or headers.get("connection", "").lower() == "close":
                return


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    upstream = simulator.start()
    server = Server(("127.0.0.1", args.port), Handler)
    server.replay = Replay(("127.0.0.1", upstream.port))  # type: ignore[attr-defined]
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.daemon = True
    thread.start()
    print(f"BENCH_URL=http://127.0.0.1:{server.server_address[1]}", flush=True)
    stop.wait()
    server.shutdown()
    server.server_close()
    upstream.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
