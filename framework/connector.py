"""The HTTP connector base: one requests.Session configured once, retried by urllib3's Retry.
Status codes are data: every response that arrives is the envelope (body.py); only failures
that are not HTTP responses raise a ``TransportError`` (one sentence, never a secret)."""

import contextlib
import functools
import gzip
import logging
import random
import re
import ssl
import time
import zlib
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union
from urllib.parse import quote, unquote, urlencode, urlsplit

import requests
import urllib3.exceptions
from urllib3.exceptions import HTTPError, InvalidHeader, MaxRetryError, ReadTimeoutError
from urllib3.util.retry import Retry

from framework.body import build_envelope
from framework.errors import Cause, ConnectionLost, Secret, TransportError, causes_of, host_of
from framework.exchange import Exchange, MalformedHead, WatchedAdapter, current

log = logging.getLogger(__name__)


def _retry_is_debug(record: logging.LogRecord) -> bool:
    # urllib3 logs each retry after a lost connection as a WARNING; here a retry is routine (the
    # progress line shows the wait) and a failure is one sentence: it is DEBUG.
    if not str(record.msg).startswith("Retrying ("):
        return True
    record.levelno, record.levelname = logging.DEBUG, "DEBUG"
    return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


logging.getLogger("urllib3.connectionpool").addFilter(_retry_is_debug)

# "Tunnel connection failed: 407 Proxy Authentication Required", not a port such as :44071.
PROXY_407 = re.compile(r"(?<![\d.:])407(?![\d.:])")
RETRYABLE = (Cause.RESET, Cause.BROKEN, Cause.CUT_SHORT)
READ_CHUNK = 64 * 1024
RETRY_STATUSES = frozenset({429, 502, 503, 504})
RETRY_AFTER_CAP = 30.0  # longest single wait: a longer Retry-After is waited for this long
RETRY_WAIT_BUDGET = 120.0  # most time one run may spend waiting between retries, all requests


class RunRetry(Retry):
    """urllib3's Retry for one run (GET only; 429/502/503/504 and lost connections). Retry keeps
    no state across requests: each wait is checked against the connector's ``run.wait_left``."""

    RETRY_AFTER_STATUS_CODES = RETRY_STATUSES  # not urllib3's 413 with a Retry-After too
    run: Any = None
    delay = 0.0  # the wait before the attempt this Retry allows
    # Ours, not urllib3's retry_after_max: the platforms' urllib3 may predate it (Shuffle: 2.3.0).
    retry_after_cap = RETRY_AFTER_CAP

    @classmethod
    def for_run(cls, run: Any, max_retries: int, **tuning: Any) -> "RunRetry":
        cap = tuning.pop("retry_after_max", RETRY_AFTER_CAP)
        retry = cls(
            total=max_retries,
            connect=0,  # refused, DNS: asking again does not help
            other=0,  # TLS and proxy failures: neither
            redirect=False,  # a 3xx is returned, never followed: the token stays on its host
            allowed_methods=frozenset({"GET"}),
            status_forcelist=RETRY_STATUSES,
            raise_on_status=False,  # retries run out: the last response is returned as it is
            **{"backoff_factor": 0.5, "backoff_max": 8.0, **tuning},
        )
        retry.run, retry.retry_after_cap = run, cap
        return retry

    def new(self, **kw: Any) -> "RunRetry":
        retry = super().new(**kw)
        retry.run, retry.retry_after_cap = self.run, self.retry_after_cap
        return retry

    def parse_retry_after(self, retry_after: str) -> float:
        return min(super().parse_retry_after(retry_after), self.retry_after_cap)

    def get_backoff_time(self) -> float:
        # urllib3 retries the first time at once and adds jitter only from the second: runs
        # sharing one token would retry in step. Full jitter under a doubling ceiling instead.
        ceiling = self.backoff_factor * 2 ** max(len(self.history) - 1, 0)
        return random.uniform(0, min(self.backoff_max, ceiling))

    def increment(
        self,
        method: Optional[str] = None,
        url: Optional[str] = None,
        response: Any = None,
        error: Optional[Exception] = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> "RunRetry":
        if isinstance(error, ReadTimeoutError) or getattr(current(), "expired", False):
            raise MaxRetryError(_pool, url, error)  # a timeout is not retried
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        asked = None
        with contextlib.suppress(InvalidHeader):  # neither seconds nor an HTTP date
            asked = retry.get_retry_after(response) if response is not None else None
        retry.delay = asked if asked else retry.get_backoff_time()
        if retry.delay > self.run.wait_left:
            raise MaxRetryError(_pool, url, error)  # the run's budget is spent
        if response is not None:  # urllib3 drains the answer retried in one unbounded read()
            with contextlib.suppress(HTTPError, OSError):
                while response.read(READ_CHUNK, decode_content=False):
                    pass
        return retry

    def sleep(self, response: Any = None) -> None:
        self.run.wait_left -= self.delay
        if self.run.on_wait is not None:
            self.run.on_wait(self.delay, response.status if response is not None else None)
        time.sleep(self.delay)
        under_way = current()
        if under_way is not None:
            under_way.restart()  # the next attempt gets a whole timeout of its own


class BudgetSpent(TransportError):
    """The response would not fit in what is left of the run's ``held_left`` (nothing kept)."""


class HttpConnector:
    """One run's Session: ``wait_left`` (seconds of retry waits) is shared by all its requests."""

    url_example = ""  # the product's example console URL, for the DNS hint

    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str],
        secrets: Sequence[str],
        verify: Union[bool, str],
        proxy: Optional[str],
        timeout: float,
        max_retries: int,
        max_response_bytes: int,
        wait_budget: float = RETRY_WAIT_BUDGET,
        **retry_tuning: Any,
    ) -> None:
        self.base_url = base_url
        self.host = host_of(base_url)
        self.timeout = float(timeout)
        self.wait_left = wait_budget
        self.max_response_bytes = int(max_response_bytes)
        self.held_left = self.max_response_bytes  # bytes of bodies the run may still hold
        self.on_wait: Optional[Any] = None
        self.retry = RunRetry.for_run(self, max_retries, **retry_tuning)
        self.session = requests.Session()
        # The asset is the whole configuration: no environment proxies, CA bundles or .netrc
        # credentials (a .netrc entry would silently replace the API token).
        self.session.trust_env = False
        self.session.verify = verify
        self.session.headers.update({"Accept": "application/json", "Accept-Encoding": "gzip"})
        self.session.headers.update(headers)
        found = set(secrets)
        if proxy:
            self.session.proxies = {"http": Secret(proxy), "https": Secret(proxy)}
            parts = urlsplit(proxy)  # its credentials as parsed, quoted and unquoted
            for item in filter(None, (parts.username, parts.password)):
                found.update((item, unquote(item)))
        # What this connector sends that must never be shown, longest first.
        self.secrets: Tuple[str, ...] = tuple(sorted(found, key=len, reverse=True))
        self.adapter = WatchedAdapter(max_retries=self.retry)  # deadlines: exchange.py
        self.session.mount("https://", self.adapter)
        self.session.mount("http://", self.adapter)

    @property
    def facts(self) -> Dict[str, Any]:
        proxy = self.session.proxies.get("https")
        return {
            "host": self.host,
            "hostname": urlsplit(self.base_url).hostname or "?",
            "proxy": host_of(proxy) if proxy else "?",
            "timeout": f"{self.timeout:g}",
            "limit_mb": f"{self.max_response_bytes / (1024 * 1024):g}",
            "example": f" (e.g. {self.url_example})" if self.url_example else "",
        }

    def close(self) -> None:
        self.session.close()

    def error(self, cause: Cause, detail: str = "") -> TransportError:
        kind = ConnectionLost if cause in RETRYABLE else TransportError
        return kind.of(cause, **self.facts, detail=f" ({detail})" if detail else "")

    def request(
        self,
        method: str,
        path: str,
        params: Optional[Sequence[Tuple[str, str]]] = None,
        hold: bool = False,
    ) -> dict:
        """One request's envelope (429/502/503/504 and lost connections retried). With ``hold``
        the body is charged to ``held_left``; one larger than what is left raises BudgetSpent."""
        url = self.base_url + path
        # Commas stay literal: arrays travel as one comma-joined value (a,b).
        query = urlencode(params, quote_via=quote, safe=",") if params else None
        self.adapter.max_retries = self.retry
        with Exchange(self.timeout) as exchange:
            while True:
                try:
                    response = self.session.request(
                        method,
                        url,
                        params=query,
                        timeout=(self.timeout, self.timeout),
                        stream=True,
                        allow_redirects=False,
                    )
                except (MalformedHead, requests.RequestException) as exc:
                    if exchange.expired:  # the deadline cut the socket: whatever broke, it was that
                        raise self.error(Cause.TIMEOUT) from None
                    if isinstance(exc, MalformedHead):
                        raise self.error(Cause.PROTOCOL, str(exc)) from None
                    raise self._transport_error(exc) from None
                try:
                    body = self._read_body(response, exchange, hold)
                    break
                except ConnectionLost as lost:
                    # urllib3 retries until the head arrives; the body is read after, so a
                    # body lost mid-way is retried here, with the Retry state the request left.
                    try:
                        error = urllib3.exceptions.ProtocolError(lost.cause.value)
                        retry = response.raw.retries.increment(method, url, error=error)
                    except urllib3.exceptions.MaxRetryError:
                        raise lost from None
                    retry.sleep()
                    self.adapter.max_retries = retry
                finally:
                    response.close()
        log.debug("%s %s -> %s (%d bytes)", method, path, response.status_code, len(body))
        if hold:
            self.held_left -= len(body)
        return build_envelope(response, body)

    def _read_body(self, response: requests.Response, exchange: Exchange, hold: bool) -> bytes:
        """The whole decoded body, read within the deadline and the size caps in bounded steps."""
        limit, spent = self.max_response_bytes, None
        if hold and self.held_left < limit:
            limit = max(self.held_left, 0)
            spent = BudgetSpent(
                f"The responses from {self.host} reached max_response_mb "
                f"({self.facts['limit_mb']} MB) for this run; resume from the cursor returned.",
                Cause.TOO_LARGE,
            )
        if response.headers.get("Content-Encoding", "").strip().lower() in ("gzip", "x-gzip"):
            # urllib3's gzip decoder ends a stream cut short as if complete, and shows no end
            # flag; the stdlib's GzipFile raises EOFError (and reads multi-member streams).
            read = gzip.GzipFile(fileobj=response.raw, mode="rb").read
        else:
            read = functools.partial(response.raw.read, decode_content=True)
        chunks, size = [], 0
        try:
            for chunk in iter(lambda: read(READ_CHUNK), b""):
                size += len(chunk)
                if size > limit:
                    raise spent or self.error(Cause.TOO_LARGE)
                chunks.append(chunk)
        except (EOFError, urllib3.exceptions.HTTPError, OSError, zlib.error) as exc:
            if exchange.expired or isinstance(exc, urllib3.exceptions.ReadTimeoutError):
                raise self.error(Cause.TIMEOUT) from None
            cause = Cause.CUT_SHORT if isinstance(exc, EOFError) else Cause.BROKEN
            raise self.error(cause) from None
        if exchange.expired:  # the deadline cut the socket: what arrived may be partial
            raise self.error(Cause.TIMEOUT)
        return b"".join(chunks)

    def _transport_error(self, exc: requests.RequestException) -> TransportError:
        causes = list(causes_of(exc))
        detail = next(
            (c.strerror.lower() for c in causes if isinstance(c, OSError) and c.strerror), ""
        )
        if isinstance(exc, requests.exceptions.ProxyError):
            if any(PROXY_407.search(str(c)) for c in causes):
                return self.error(Cause.PROXY_AUTH)
            return self.error(Cause.PROXY, detail)
        if isinstance(exc, requests.exceptions.SSLError):
            for item in causes:
                if isinstance(item, ssl.SSLCertVerificationError):
                    code = getattr(item, "verify_code", None)
                    if code in (9, 10):  # X509_V_ERR_*: not yet valid, expired (no CA fixes it)
                        return self.error(Cause.TLS_EXPIRED)
                    if code in (62, 64):  # X509_V_ERR_*: host name, IP address mismatch
                        return self.error(Cause.TLS_HOSTNAME)
                    return self.error(Cause.TLS_UNTRUSTED)
            return self.error(Cause.TLS_HANDSHAKE)
        if isinstance(exc, requests.exceptions.Timeout) or any(
            isinstance(c, urllib3.exceptions.ReadTimeoutError) for c in causes
        ):
            return self.error(Cause.TIMEOUT)
        if any(type(c).__name__ in {"NameResolutionError", "gaierror"} for c in causes):
            return self.error(Cause.DNS)
        if any(isinstance(c, ConnectionRefusedError) for c in causes):
            return self.error(Cause.REFUSED)
        if any(isinstance(c, urllib3.exceptions.NewConnectionError) for c in causes):
            return self.error(Cause.CONNECT, detail)
        if isinstance(exc, requests.exceptions.ConnectionError):
            return self.error(Cause.RESET)
        return self.error(Cause.TRANSPORT, type(exc).__name__)
