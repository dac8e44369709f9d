"""How a run ends without an envelope, and the one sentence for each failure that is not an HTTP
response: it names fields and ``host:port``, never credentials, tokens or headers."""

from enum import Enum
from typing import Any, Dict, Iterator, List, Optional, Sequence, Set, Tuple
from urllib.parse import urlsplit


class RunError(Exception):
    """``kind`` INPUTS or ASSET (nothing sent), TRANSPORT (``cause`` says what happened) or
    INTERRUPTED; ``lines``, one sentence per problem; ``envelope``: a follow's partial one."""

    INPUTS, ASSET, TRANSPORT, INTERRUPTED = "inputs", "asset", "transport", "interrupted"

    def __init__(
        self,
        kind: str,
        lines: Sequence[str],
        *,
        cause: Optional["Cause"] = None,
        envelope: Optional[Dict[str, Any]] = None,
    ) -> None:
        self.kind = kind
        self.lines: List[str] = list(lines)
        self.cause = cause
        self.envelope = envelope
        super().__init__("\n".join(self.lines))


class InputError(RunError):
    """Invalid inputs or asset (``what``), each line ``invalid <what>: <problem>``; nothing sent."""

    def __init__(self, what: str, problems: Sequence[str], lines: Sequence[str] = ()) -> None:
        self.problems = list(problems)
        kind = RunError.ASSET if what == "asset" else RunError.INPUTS
        super().__init__(kind, lines or [f"invalid {what}: {problem}" for problem in problems])

    @classmethod
    def joined(cls, errors: Sequence["InputError"]) -> "InputError":
        """One error for several (an invalid asset and invalid inputs): every line of each."""
        if len(errors) == 1:
            return errors[0]
        problems = [problem for error in errors for problem in error.problems]
        return cls("inputs", problems, [line for error in errors for line in error.lines])


class AssetError(InputError):
    """An asset value the connector cannot use (one sentence naming the field); nothing sent."""

    def __init__(self, message: str) -> None:
        super().__init__("asset", [message])


class Cause(str, Enum):
    """Why no usable HTTP response arrived: one message and one hint each (``CAUSES``)."""

    DNS = "dns"
    REFUSED = "refused"
    CONNECT = "connect"
    TLS_UNTRUSTED = "tls"
    TLS_EXPIRED = "tls_expired"
    TLS_HOSTNAME = "tls_hostname"
    TLS_HANDSHAKE = "tls_handshake"
    PROXY = "proxy"
    PROXY_AUTH = "proxy_auth"
    TIMEOUT = "timeout"
    RESET = "reset"
    BROKEN = "broken"
    CUT_SHORT = "cut_short"
    TOO_LARGE = "too_large"
    PROTOCOL = "protocol"
    TRANSPORT = "transport"


RETRY_HINT = "try again, and check the network path if it keeps happening"

# cause: (message, hint). Placeholders: {host} (host:port), {hostname}, {proxy} (host:port),
# {timeout} (seconds), {limit_mb}, {detail} (" (what the OS or the peer said)" or ""),
# {example} (" (e.g. https://console.example)" or "": the product passes its example URL).
CAUSES: Dict[Cause, Tuple[str, str]] = {
    Cause.DNS: (
        "The host name {hostname} could not be resolved (DNS)",
        "check the URL{example} and this machine's DNS",
    ),
    Cause.REFUSED: (
        "The connection to {host} was refused",
        "check the host and port in the URL, and that a firewall lets this machine reach it",
    ),
    Cause.CONNECT: (
        "Could not connect to {host}{detail}",
        "check the URL and the network path (firewall, proxy)",
    ),
    Cause.TLS_UNTRUSTED: (
        "The TLS certificate of {host} is not trusted (no CA this machine trusts signed it)",
        "set ca_bundle to the PEM file of your CA (private CA or TLS-inspecting proxy) "
        "instead of turning verify_ssl off",
    ),
    Cause.TLS_EXPIRED: (
        "The TLS certificate of {host} has expired or is not valid yet",
        "check this machine's clock, then have the certificate renewed (ca_bundle cannot fix this)",
    ),
    Cause.TLS_HOSTNAME: (
        "The TLS certificate of {host} is issued for another host name",
        "use the host name the certificate names in the URL, or check whether a proxy "
        "intercepts TLS (ca_bundle cannot fix this)",
    ),
    Cause.TLS_HANDSHAKE: (
        "The TLS handshake with {host} failed{detail}",
        "check that the URL's port speaks HTTPS",
    ),
    Cause.PROXY: (
        "The proxy {proxy} refused or failed the connection to {host}{detail}",
        "check http_proxy (host and port) and that the proxy allows this host",
    ),
    Cause.PROXY_AUTH: (
        "The proxy {proxy} requires authentication (HTTP 407)",
        "set its credentials in http_proxy as http://user:password@proxy:port",
    ),
    Cause.TIMEOUT: (
        "{host} did not send a complete response within the timeout of {timeout} s",
        "raise the asset's timeout, or check the network path and the server's health",
    ),
    Cause.RESET: ("The connection to {host} was closed before a response arrived", RETRY_HINT),
    Cause.BROKEN: ("The connection to {host} broke before the whole response arrived", RETRY_HINT),
    Cause.CUT_SHORT: (
        "The response from {host} was cut short (its compressed stream is incomplete)",
        "try again, and check proxies on the network path if it keeps happening",
    ),
    Cause.TOO_LARGE: (
        "The response from {host} is larger than max_response_mb ({limit_mb} MB)",
        "narrow the request (limit, filters) or raise max_response_mb",
    ),
    Cause.PROTOCOL: (
        "{host} sent a response that is not valid HTTP/1.1{detail}",
        "check that the URL points at the right server, and any proxy on the path",
    ),
    Cause.TRANSPORT: ("The request to {host} failed{detail}", "check the asset settings"),
}

FACT_DEFAULTS = {"host": "?", "hostname": "?", "proxy": "?", "timeout": "?", "limit_mb": "?"}


def describe(cause: Cause, **facts: Any) -> str:
    message, hint = CAUSES[cause]
    return f"{message}; {hint}.".format_map({**FACT_DEFAULTS, "detail": "", "example": "", **facts})


class TransportError(RunError):
    """No usable HTTP response arrived: one sentence, and its ``cause``."""

    def __init__(self, message: str, cause: Cause = Cause.TRANSPORT) -> None:
        super().__init__(RunError.TRANSPORT, [message], cause=cause)

    @classmethod
    def of(cls, cause: Cause, **facts: Any) -> "TransportError":
        return cls(describe(cause, **facts), cause)


class ConnectionLost(TransportError):
    """The connection was reset or closed before a whole response arrived (retryable)."""


def os_reason(exc: OSError) -> str:
    """What the OS said, for a message: ``no such file or directory``."""
    return (exc.strerror or type(exc).__name__).lower()


class Secret(str):
    """A string whose repr never shows its value (proxy URLs, the Authorization header)."""

    def __repr__(self) -> str:
        return "'***'"


def host_of(url: str) -> str:
    """``host:port`` as people write it: ``[::1]:8443`` for an IPv6 address."""
    parts = urlsplit(url)
    return f"{bracketed(parts.hostname)}:{parts.port}" if parts.port else bracketed(parts.hostname)


def bracketed(host: Optional[str]) -> str:
    """A host as written in a URL: ``[::1]`` for an IPv6 address."""
    host = host or "?"
    return f"[{host}]" if ":" in host else host


def causes_of(exc: BaseException, seen: Optional[Set[int]] = None) -> Iterator[BaseException]:
    """The exception, its arguments and its chain: where requests/urllib3 hide the real cause."""
    seen = set() if seen is None else seen
    if id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        chain = [getattr(exc, name, None) for name in ("reason", "__cause__", "__context__")]
        for nested in reversed([*getattr(exc, "args", ()), *chain]):  # the chain first
            if isinstance(nested, BaseException):
                yield from causes_of(nested, seen)
