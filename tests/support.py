"""Test helpers: run the CLI (in this process, or as the platform would: a process of its own),
and a real forward proxy on loopback."""

from __future__ import annotations

import base64
import io
import json
import os
import pty
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

from simulator import SEED_THREAT_ID, synthetic_threat_id

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "s1-test-token-Zq7Xv3Lm9"  # distinctive, so a leak anywhere is easy to spot
PROXY_USER, PROXY_PASSWORD = "proxyuser", "proxy-pass-Kd83jQ"
SECRETS = (TOKEN, PROXY_PASSWORD)
SEED_THREAT = SEED_THREAT_ID
synthetic_threat = synthetic_threat_id  # the simulator's threat with exactly N events


def sigint_as_on_a_terminal() -> None:
    """``preexec_fn`` for a child that must receive Ctrl-C: a test run started in the background
    (``make test &``) inherits SIGINT ignored, and Python would then keep ignoring it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _read_pty(master: int, chunks: List[bytes]) -> None:
    """Everything a child writes to its pty until it closes its end (run in a thread)."""
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed its end
            return
        if not data:
            return
        chunks.append(data)


def run_with_stderr_on_a_pty(
    argv: List[str], env: Dict[str, str], timeout: float
) -> Tuple[int, bytes, str]:
    """``argv`` from ROOT with stderr on a real pty and stdout a pipe (what a person at a
    terminal sees): (exit code, stdout bytes, terminal text)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, env=env
    )
    os.close(slave)
    chunks: List[bytes] = []
    reader = threading.Thread(target=_read_pty, args=(master, chunks), daemon=True)
    reader.start()
    stdout = proc.stdout.read() if proc.stdout else b""
    code = proc.wait(timeout=timeout)
    reader.join(timeout=10)
    os.close(master)
    return code, stdout, b"".join(chunks).decode("utf-8", "replace")


def tree_files(folder: Path) -> Dict[str, bytes]:
    """{posix path: bytes} of every file under ``folder`` (an export, an unpacked archive); an
    export folder's STAMP (which is not in its archive) left out."""
    from exporters.common import STAMP

    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.relative_to(folder).as_posix() != STAMP
    }


class CliResult:
    def __init__(self, code: int, stdout: str, stderr: str) -> None:
        self.code = code
        self.stdout = stdout
        self.stderr = stderr

    @property
    def envelope(self) -> Dict[str, Any]:
        return json.loads(self.stdout)

    def __repr__(self) -> str:
        return f"CliResult(code={self.code}, stderr={self.stderr!r})"


def checked(result: CliResult) -> CliResult:
    """No secret on either stream, no traceback on stderr."""
    for secret in SECRETS:
        assert secret not in result.stdout, "a secret leaked to stdout"
        assert secret not in result.stderr, "a secret leaked to stderr"
    assert "Traceback" not in result.stderr, result.stderr
    return result


class _Terminal(io.BytesIO):
    def isatty(self) -> bool:
        return True


def run_cli(*args: str, stdin: Optional[str] = None, terminal: bool = False) -> CliResult:
    """``python -m runtime ARGS`` as ``runtime.cli.main`` in this process, from the plugin root,
    with stdin, stdout and stderr of its own (stderr a terminal if ``terminal``); secrets
    checked. What it wrote is then also written to this process's streams, so that pytest
    shows it and the no_secret_leaks fixture checks it."""
    from runtime.cli import main

    out, err = io.BytesIO(), _Terminal() if terminal else io.BytesIO()
    streams = [  # kept here: a wrapper closes its buffer when it goes
        io.TextIOWrapper(io.BytesIO((stdin or "").encode()), encoding="utf-8"),
        io.TextIOWrapper(out, encoding="utf-8", write_through=True),
        io.TextIOWrapper(err, encoding="utf-8", write_through=True),
    ]
    saved = sys.stdin, sys.stdout, sys.stderr, sys.argv, os.getcwd()
    sys.stdin, sys.stdout, sys.stderr = streams
    sys.argv = [str(ROOT / "runtime" / "__main__.py"), *args]  # as python -m runtime sets it
    os.chdir(ROOT)
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse: --help, --version, a usage error
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    finally:
        sys.stdin, sys.stdout, sys.stderr, sys.argv, cwd = saved
        os.chdir(cwd)
    result = CliResult(code, out.getvalue().decode(), err.getvalue().decode())
    for stream in streams:
        stream.detach()
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return checked(result)


def run_process(*args: str, stdin: Optional[str] = None, timeout: float = 60) -> CliResult:
    """``python -m runtime ARGS`` in a fresh process, from the plugin root; secrets checked."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    proc = subprocess.run(
        [sys.executable, "-m", "runtime", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    return checked(CliResult(proc.returncode, proc.stdout, proc.stderr))


PLUGIN_FILES = ("plugin.yaml", "README.md", "pyproject.toml", "requirements.txt", "LICENSE")
PLUGIN_FILES += ("NOTICE", "CHANGELOG.md")
PLUGIN_DIRS = ("schemas", "icons", "framework", "connectors", "actions", "runtime", "examples")


def copy_plugin(root: Path) -> Path:
    """A complete copy of the plugin (all that validate and package read) under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for name in PLUGIN_FILES:
        shutil.copy(ROOT / name, root / name)
    for folder in PLUGIN_DIRS:
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        shutil.copytree(ROOT / folder, root / folder, ignore=ignore)
    return root


def edit_text(path: Path, old: str, new: str) -> None:
    """Replace the first ``old`` in the file with ``new`` (``old`` must be there)."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def write_json(path: Path, value: Any) -> str:
    path.write_text(json.dumps(value), encoding="utf-8")
    return str(path)


class ForwardProxy:
    """A small real HTTP proxy: absolute-URI requests and CONNECT tunnels, optional Basic auth.

    It records what it saw (method and target), so a test can prove the proxy was really used.
    """

    def __init__(self, require_auth: bool = False) -> None:
        self.seen: List[Tuple[str, str]] = []
        self.require_auth = require_auth
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _authorized(self) -> bool:
                if not proxy.require_auth:
                    return True
                expected = base64.b64encode(f"{PROXY_USER}:{PROXY_PASSWORD}".encode()).decode()
                if self.headers.get("Proxy-Authorization") == f"Basic {expected}":
                    return True
                self.send_response(407, "Proxy Authentication Required")
                self.send_header("Proxy-Authenticate", 'Basic realm="test"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return False

            def do_CONNECT(self) -> None:
                proxy.seen.append(("CONNECT", self.path))
                if not self._authorized():
                    return
                host, _, port = self.path.rpartition(":")
                upstream = socket.create_connection((host, int(port)), timeout=10)
                self.send_response(200, "Connection established")
                self.end_headers()
                self.close_connection = True
                sockets = [self.connection, upstream]
                try:
                    while True:
                        ready, _, _ = select.select(sockets, [], [], 10)
                        if not ready:
                            return
                        for sock in ready:
                            data = sock.recv(65536)
                            if not data:
                                return
                            (upstream if sock is self.connection else self.connection).sendall(data)
                finally:
                    upstream.close()

            def do_GET(self) -> None:
                proxy.seen.append(("GET", self.path))
                if not self._authorized():
                    return
                target = urlsplit(self.path)
                upstream = socket.create_connection((target.hostname, target.port), timeout=10)
                path = target.path + (f"?{target.query}" if target.query else "")
                lines = [f"GET {path} HTTP/1.1", f"Host: {target.netloc}", "Connection: close"]
                for name, value in self.headers.items():
                    if name.lower() not in ("host", "connection", "proxy-authorization"):
                        lines.append(f"{name}: {value}")
                upstream.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
                chunks = []
                while True:
                    data = upstream.recv(65536)
                    if not data:
                        break
                    chunks.append(data)
                upstream.close()
                self.connection.sendall(b"".join(chunks))
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, with_credentials: bool = False) -> str:
        auth = f"{PROXY_USER}:{PROXY_PASSWORD}@" if with_credentials else ""
        return f"http://{auth}127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
