"""HTTP connector base: one configured requests.Session, retries, and the response envelope.

Status codes are data: every HTTP response that arrives becomes the envelope
``status_code / reason / json_body / response_headers`` (plus ``response_text`` when the body is
not JSON), 4xx and 5xx included. Only failures that are not HTTP responses raise, as a
``TransportError`` whose message is one sentence naming the host and what to do, never a secret.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import random
import re
import ssl
import time
import zlib
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator, Optional, Sequence, Tuple, Union
from urllib.parse import quote, urlencode, urlsplit

import requests
import urllib3.exceptions

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 502, 503, 504})
RESPONSE_TEXT_LIMIT = 64 * 1024  # bytes of a non-JSON body kept in response_text
RETRY_AFTER_CAP = 30.0  # longest single wait: a longer Retry-After is waited for this long
RETRY_WAIT_BUDGET = 120.0  # most time one request may spend waiting between retries
BACKOFF_BASE = 0.5  # first backoff ceiling; doubles per retry (full jitter)
BACKOFF_CAP = 8.0
READ_CHUNK = 64 * 1024
# "Tunnel connection failed: 407 Proxy Authentication Required", not a port such as :44071.
PROXY_407 = re.compile(r"(?<![\d.:])407(?![\d.:])")

Query = Sequence[Tuple[str, str]]


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


class Secret(str):
    """A string whose repr never shows its value (proxy URLs with credentials)."""

    def __repr__(self) -> str:
        return "'***'"


def host_of(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{host}:{parts.port}" if parts.port else host


def retry_after_seconds(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds asked for by a Retry-After header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        current = datetime.now(timezone.utc).timestamp() if now is None else now
        return max(0.0, when.timestamp() - current)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _parse_body(body: bytes) -> Tuple[bool, Any]:
    if not body.strip():
        return False, None
    try:
        return True, json.loads(body)
    except ValueError:  # includes UnicodeDecodeError
        return False, None


def build_envelope(response: requests.Response, body: bytes) -> dict:
    """The response as the action's output: nothing reshaped."""
    ok, parsed = _parse_body(body)
    envelope = {
        "status_code": response.status_code,
        "reason": response.reason,
        "json_body": parsed,
        "response_headers": dict(response.headers),
    }
    if not ok:
        charset = _charset(response.headers.get("Content-Type", ""))
        envelope["response_text"] = body[:RESPONSE_TEXT_LIMIT].decode(charset, errors="replace")
    return envelope


def _charset(content_type: str) -> str:
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            name = value.strip("\"' ")
            try:
                "".encode(name)
                return name
            except LookupError:
                break
    return "utf-8"


def _causes(exc: BaseException) -> Iterable[BaseException]:
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


def _os_detail(exc: BaseException) -> str:
    for item in _causes(exc):
        if isinstance(item, OSError) and item.strerror:
            return item.strerror.lower()
    return ""


class BodyDecoder:
    """gzip/deflate decoding that knows whether the stream ended (a cut-short body is an error)
    and hands out bounded pieces, so a small compressed body cannot expand unchecked."""

    def __init__(self, wbits: int) -> None:
        self.wbits = wbits
        self.inflater = zlib.decompressobj(wbits)
        self.complete = False

    @classmethod
    def for_encoding(cls, content_encoding: str) -> Optional[BodyDecoder]:
        encoding = content_encoding.strip().lower()
        if encoding in ("gzip", "x-gzip"):
            return cls(16 + zlib.MAX_WBITS)
        if encoding == "deflate":
            return cls(zlib.MAX_WBITS)
        return None  # identity, or something urllib3 decodes for us

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data:
            if self.complete:  # another gzip member follows
                self.inflater, self.complete = zlib.decompressobj(self.wbits), False
            try:
                yield self.inflater.decompress(data, READ_CHUNK)
                while self.inflater.unconsumed_tail:
                    yield self.inflater.decompress(self.inflater.unconsumed_tail, READ_CHUNK)
            except zlib.error:
                raise urllib3.exceptions.DecodeError("corrupt compressed body") from None
            self.complete = self.inflater.eof
            data = self.inflater.unused_data if self.complete else b""


class HttpConnector:
    """One requests.Session configured once: TLS, proxy, headers, timeout and retries."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: Optional[requests.auth.AuthBase],
        user_agent: str,
        verify: Union[bool, str],
        proxy: Optional[str],
        timeout: float,
        max_retries: int,
        max_response_bytes: int,
        backoff_base: float = BACKOFF_BASE,
        retry_wait_budget: float = RETRY_WAIT_BUDGET,
        retry_after_cap: float = RETRY_AFTER_CAP,
    ) -> None:
        self.base_url = base_url
        self.host = host_of(base_url)
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.max_response_bytes = int(max_response_bytes)
        self.backoff_base = backoff_base
        self.retry_wait_budget = retry_wait_budget
        self.retry_after_cap = retry_after_cap
        self.proxy_host = host_of(proxy) if proxy else None
        session = requests.Session()
        # The asset is the whole configuration: no environment proxies, CA bundles or .netrc
        # credentials (a .netrc entry would silently replace the API token).
        session.trust_env = False
        session.auth = auth
        session.verify = verify
        session.headers.update(
            {"Accept": "application/json", "Accept-Encoding": "gzip", "User-Agent": user_agent}
        )
        if proxy:
            session.proxies = {"http": Secret(proxy), "https": Secret(proxy)}
        self.session = session

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> HttpConnector:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- one request, with retries ---------------------------------------------------------
    def request(self, method: str, path: str, params: Optional[Query] = None) -> dict:
        """Send one request (retrying 429/502/503/504 and resets) and return its envelope."""
        url = self.base_url + path
        waited = 0.0
        attempt = 0
        while True:
            try:
                envelope = self._send_once(method, url, params)
            except ConnectionLost:
                if attempt >= self.max_retries:
                    raise
                delay = self._backoff(attempt)
                if waited + delay > self.retry_wait_budget:
                    raise
                log.debug(
                    "connection to %s lost; retry %d in %.2f s", self.host, attempt + 1, delay
                )
            else:
                if envelope["status_code"] not in RETRY_STATUSES or attempt >= self.max_retries:
                    return envelope
                delay = self._retry_delay(envelope, attempt)
                if waited + delay > self.retry_wait_budget:
                    log.debug("not retrying %s: wait exceeds budget", envelope["status_code"])
                    return envelope
                log.debug(
                    "%s from %s; retry %d in %.2f s",
                    envelope["status_code"],
                    self.host,
                    attempt + 1,
                    delay,
                )
            time.sleep(delay)
            waited += delay
            attempt += 1

    def _backoff(self, attempt: int) -> float:
        return random.uniform(0, min(BACKOFF_CAP, self.backoff_base * (2**attempt)))

    def _retry_delay(self, envelope: dict, attempt: int) -> float:
        headers = requests.structures.CaseInsensitiveDict(envelope["response_headers"])
        asked = retry_after_seconds(headers.get("Retry-After"))
        if asked is None:
            return self._backoff(attempt)
        wait = min(asked, self.retry_after_cap)
        # Never earlier than asked (up to the cap); a little jitter on top against stampedes.
        return wait + random.uniform(0, min(1.0, 0.1 + wait / 4))

    def _send_once(self, method: str, url: str, params: Optional[Query]) -> dict:
        started = time.monotonic()
        try:
            response = self.session.request(
                method,
                url,
                # Commas stay literal: arrays travel as one comma-joined value (a,b).
                params=urlencode(params, quote_via=quote, safe=",") if params else None,
                timeout=(self.timeout, self.timeout),
                stream=True,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise self._transport_error(exc) from None
        try:
            body = self._read_body(response, started + self.timeout)
        finally:
            response.close()
        log.debug(
            "%s %s -> %s (%d bytes, %.3f s)",
            method,
            response.request.path_url if response.request else url,
            response.status_code,
            len(body),
            time.monotonic() - started,
        )
        return build_envelope(response, body)

    def _read_body(self, response: requests.Response, deadline: float) -> bytes:
        """Read the whole decoded body within the deadline and the size cap, in bounded steps."""
        raw = response.raw
        read = getattr(raw, "read1", None) or raw.read  # read1: return what has arrived
        decoder = BodyDecoder.for_encoding(response.headers.get("Content-Encoding", ""))
        chunks = []
        size = 0
        try:
            while True:
                chunk = read(READ_CHUNK, decode_content=decoder is None)
                for part in decoder.feed(chunk) if decoder else (chunk,):
                    size += len(part)
                    if size > self.max_response_bytes:
                        raise self._too_large_error()
                    chunks.append(part)
                if not chunk:
                    break
                if time.monotonic() > deadline:
                    raise self._timeout_error(reading=True)
        except urllib3.exceptions.ReadTimeoutError:
            raise self._timeout_error(reading=True) from None
        except (urllib3.exceptions.ProtocolError, urllib3.exceptions.DecodeError, OSError):
            raise ConnectionLost(
                f"The connection to {self.host} broke before the whole response arrived; "
                "try again, and check the network path if it keeps happening."
            ) from None
        if decoder and not decoder.complete:
            raise ConnectionLost(
                f"The response from {self.host} was cut short (its gzip stream is incomplete); "
                "try again, and check proxies on the network path if it keeps happening."
            )
        return b"".join(chunks)

    def _too_large_error(self) -> TransportError:
        limit_mb = self.max_response_bytes / (1024 * 1024)
        return TransportError(
            f"The response from {self.host} is larger than max_response_mb ({limit_mb:g} MB); "
            "narrow the request (limit, filters) or raise max_response_mb.",
            cause="too_large",
        )

    # -- failures that are not HTTP responses ------------------------------------------------
    def _timeout_error(self, reading: bool) -> TransportError:
        what = "did not send a complete response" if reading else "could not be reached"
        return TransportError(
            f"{self.host} {what} within the timeout of {self.timeout:g} s; "
            "raise the asset's timeout or check the console's health.",
            cause="timeout",
        )

    def _transport_error(self, exc: requests.RequestException) -> TransportError:
        """Classify a requests failure once: a sentence for people, a cause for programs."""
        host = self.host
        detail = _os_detail(exc)
        causes = list(_causes(exc))
        if isinstance(exc, requests.exceptions.ProxyError):
            if any(PROXY_407.search(str(c)) for c in causes):
                return TransportError(
                    f"The proxy {self.proxy_host} requires authentication (HTTP 407); set "
                    "credentials in http_proxy as http://user:password@proxy:port.",
                    cause="proxy_auth",
                )
            return TransportError(
                f"The proxy {self.proxy_host} refused or failed the connection to {host}"
                f"{' (' + detail + ')' if detail else ''}; check http_proxy and its credentials.",
                cause="proxy",
            )
        if isinstance(exc, requests.exceptions.SSLError):
            if any(isinstance(c, ssl.SSLCertVerificationError) for c in causes):
                return TransportError(
                    f"The TLS certificate of {host} is not trusted; set ca_bundle to the PEM "
                    "file of your CA (private CA or TLS-inspecting proxy), or check the URL.",
                    cause="tls",
                )
            return TransportError(
                f"The TLS handshake with {host} failed; check that the URL's port speaks HTTPS "
                "(behind a TLS-inspecting proxy, set ca_bundle to its CA's PEM file).",
                cause="tls_handshake",
            )
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return TransportError(
                f"Connecting to {host} timed out after {self.timeout:g} s; check the URL, "
                "firewall and proxy settings.",
                cause="timeout",
            )
        if isinstance(exc, requests.exceptions.ReadTimeout):
            return self._timeout_error(reading=True)
        if any(type(c).__name__ in {"NameResolutionError", "gaierror"} for c in causes):
            return TransportError(
                f"The host name {urlsplit(self.base_url).hostname} could not be resolved (DNS); "
                "check the console URL.",
                cause="dns",
            )
        if any(isinstance(c, ConnectionRefusedError) for c in causes):
            return TransportError(
                f"The connection to {host} was refused; check the console URL and port, "
                "and that the console is reachable from this host.",
                cause="refused",
            )
        if any(isinstance(c, urllib3.exceptions.NewConnectionError) for c in causes):
            return TransportError(
                f"Could not connect to {host}{' (' + detail + ')' if detail else ''}; "
                "check the console URL and the network path.",
                cause="connect",
            )
        if isinstance(
            exc, (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)
        ):
            return ConnectionLost(
                f"The connection to {host} was closed before a response arrived; try again, "
                "and check the network path if it keeps happening."
            )
        return TransportError(
            f"The request to {host} failed ({type(exc).__name__}); check the asset settings."
        )
