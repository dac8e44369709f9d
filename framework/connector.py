"""The HTTP connector base: one configured requests.Session, the retry loop, the envelope.

Status codes are data: every HTTP response that arrives becomes the envelope
``status_code / reason / json_body / response_headers`` (plus ``response_text`` when the body is
not JSON), 4xx and 5xx included. Only failures that are not HTTP responses raise, as a
``TransportError`` whose message is one sentence naming the host and what to do, never a secret.
"""

from __future__ import annotations

import logging
import re
import ssl
import time
from typing import Callable, Optional, Sequence, Tuple, Union
from urllib.parse import quote, unquote, urlencode, urlsplit

import requests
import urllib3.exceptions

from framework.body import READ_CHUNK, BodyDecoder, build_envelope
from framework.errors import ConnectionLost, Secret, TransportError, causes_of, host_of, os_detail
from framework.retry import RetryPolicy

log = logging.getLogger(__name__)

# "Tunnel connection failed: 407 Proxy Authentication Required", not a port such as :44071.
PROXY_407 = re.compile(r"(?<![\d.:])407(?![\d.:])")

Query = Sequence[Tuple[str, str]]


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
        retry: RetryPolicy,
        max_response_bytes: int,
    ) -> None:
        self.base_url = base_url
        self.host = host_of(base_url)
        self.timeout = float(timeout)
        self.retry = retry
        self.max_response_bytes = int(max_response_bytes)
        self.proxy_host = host_of(proxy) if proxy else None
        # Called with (seconds, status or None for a lost connection) before each retry wait.
        self.on_wait: Optional[Callable[[float, Optional[int]], None]] = None
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

    @property
    def secrets(self) -> Tuple[str, ...]:
        """What this connector sends that must never be shown: its auth's secrets as sent
        (``auth.secrets``) and the proxy credentials as parsed (quoted and unquoted)."""
        found = set(getattr(self.session.auth, "secrets", ()))
        proxy = self.session.proxies.get("https")
        if proxy:
            parts = urlsplit(proxy)
            found.update(
                x
                for item in (parts.username, parts.password)
                if item
                for x in (item, unquote(item))
            )
        return tuple(sorted(found, key=len, reverse=True))

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
        policy = self.retry
        waited = 0.0
        attempt = 0
        while True:
            try:
                envelope = self._send_once(method, url, params)
            except ConnectionLost:
                status = None
                if attempt >= policy.max_retries:
                    raise
                delay = policy.backoff(attempt)
                if waited + delay > policy.wait_budget:
                    raise
                log.debug(
                    "connection to %s lost; retry %d in %.2f s", self.host, attempt + 1, delay
                )
            else:
                status = envelope["status_code"]
                if status not in policy.statuses or attempt >= policy.max_retries:
                    return envelope
                headers = requests.structures.CaseInsensitiveDict(envelope["response_headers"])
                delay = policy.delay_for(headers.get("Retry-After"), attempt)
                if waited + delay > policy.wait_budget:
                    log.debug("not retrying %s: wait exceeds budget", status)
                    return envelope
                log.debug("%s from %s; retry %d in %.2f s", status, self.host, attempt + 1, delay)
            if self.on_wait is not None:
                self.on_wait(delay, status)
            time.sleep(delay)
            waited += delay
            attempt += 1

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
        detail = os_detail(exc)
        causes = list(causes_of(exc))
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
