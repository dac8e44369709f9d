"""The SentinelOne asset connector: a console URL and an API token, one configured Session."""

import contextlib
import ipaddress
import math
import os
import re
import ssl
from typing import Any, Dict, Mapping, Optional, Sequence
from urllib.parse import SplitResult, urlsplit, urlunsplit

from framework.body import header_value
from framework.connector import HttpConnector
from framework.errors import AssetError, Cause, Secret, TransportError, bracketed, os_reason

EXAMPLE_URL = "https://usea1-acme.sentinelone.net"
# The only path a console URL may have: a pasted API suffix, dropped (see normalize_url).
API_SUFFIX = re.compile(r"(/web/api(/v[0-9]+(\.[0-9]+)?)?)?/?", re.IGNORECASE)
HOST_LABEL = re.compile(r"[A-Za-z0-9_-]{1,63}")
# Spaces (whatever str.isspace() calls one), the C0 controls and DEL: never in a typed URL.
SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")
PEM_BEGIN = b"-----BEGIN CERTIFICATE-----"
MAX_CA_BUNDLE = 16 * 1024 * 1024
# The connection test reads one threat: cheap, authenticated, and it needs the same permission
# (Threats.view) as Get Threat Events, so a 403 here means the actions would get 403 too.
TEST_PATH = "/web/api/v2.1/threats"
TEST_QUERY = (("limit", "1"),)
EXPIRED_OR_INVALID = (
    "Token invalid or expired (HTTP 401): the console rejected the API token; SentinelOne "
    "tokens expire (typically every 6 months), so generate a new one (Settings > Users > "
    "Service Users) and update api_token."
)
NO_PERMISSION = (
    "Token lacks permission (HTTP 403): the API token is valid but its user may not view "
    "threats; give it a role with the Threats.view permission (Threats: view) for the sites "
    "the playbooks read."
)
REJECTED = {401: ("token_invalid", EXPIRED_OR_INVALID), 403: ("permission", NO_PERMISSION)}


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host.rstrip(".").lower() == "localhost"


def _split(value: str, field: str) -> SplitResult:
    """URL parts, or an AssetError naming ``field`` (never the value: it may hold credentials)."""
    text = value.strip()
    if SPACE_OR_CONTROL.search(text):
        raise AssetError(
            f"{field}: must not contain spaces, tabs, line breaks or control characters."
        )
    try:
        parts = urlsplit(text)
    except ValueError:
        raise AssetError(
            f"{field}: not a valid URL; an IPv6 address needs both brackets, as in "
            "https://[2001:db8::1]:8443."
        ) from None
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise AssetError(
            f"{field}: the port of {bracketed(parts.hostname)} is not a valid port number (1 to "
            "65535)."
        ) from None
    return parts


def _check_host(host: str, field: str) -> None:
    """An IP address, or dot-separated labels of 1 to 63 letters, digits, hyphens or underscores
    (international names in their IDNA form)."""
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(host)
        return
    try:
        name = host.encode("idna").decode("ascii")
    except UnicodeError:
        name = ""
    labels = name[:-1].split(".") if name.endswith(".") else name.split(".")
    if not name or len(name) > 253 or not all(HOST_LABEL.fullmatch(label) for label in labels):
        raise AssetError(
            f"{field}: the host name {host[:80]!r} is not valid; expected dot-separated labels "
            "of 1 to 63 letters, digits or hyphens, e.g. usea1-acme.sentinelone.net."
        )


def normalize_url(url: str) -> str:
    """The console's base URL: https (or loopback http), host and port only. Consoles have no
    path: a pasted ``/web/api[/vX.Y]`` suffix is dropped; any other path (a prefix, dot
    segments, percent-escapes) could move requests off ``/web/api/v2.1/...``."""
    parts = _split(url, "url")
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in ("https", "http") or not host:
        raise AssetError(
            f"url: expected the console's base URL starting with https://, e.g. {EXAMPLE_URL}."
        )
    if parts.username is not None or parts.password is not None:
        raise AssetError("url: must not contain credentials; put the API token in api_token.")
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise AssetError(f"url: must not contain a query or fragment; got host {bracketed(host)}.")
    _check_host(host, "url")
    if scheme == "http" and not is_loopback(host):
        raise AssetError(
            f"url: plain http:// is refused for {bracketed(host)}; use https:// (http is "
            "allowed only for a loopback host such as the local simulator)."
        )
    if not API_SUFFIX.fullmatch(parts.path):
        raise AssetError(  # (credentials were refused above: the value can be quoted)
            f"url: got {url.strip()!r}; expected the console's base URL with no path, e.g. "
            f"{EXAMPLE_URL} (consoles have none; a pasted /web/api/v2.1 suffix is fine)."
        )
    return urlunsplit((scheme, parts.netloc, "", "", ""))


def check_ca_bundle(path: str) -> None:
    """An AssetError unless ``path`` is a PEM certificate bundle OpenSSL loads."""
    if not os.path.isfile(path):  # a directory, or a FIFO that would block the open
        raise AssetError(f"ca_bundle: the file {path} does not exist or is not a file.")
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CA_BUNDLE + 1)
    except OSError as exc:
        reason = os_reason(exc)
        raise AssetError(f"ca_bundle: cannot read the file {path} ({reason}).") from None
    if not data.strip():
        raise AssetError(
            f"ca_bundle: the file {path} is empty; expected a PEM certificate bundle "
            "(-----BEGIN CERTIFICATE----- blocks)."
        )
    if len(data) > MAX_CA_BUNDLE or PEM_BEGIN not in data:
        raise AssetError(
            f"ca_bundle: the file {path} is not a PEM certificate bundle (no -----BEGIN "
            "CERTIFICATE----- block); convert a DER file with openssl x509 -inform der."
        )
    try:
        ssl.create_default_context().load_verify_locations(cafile=path)
    except (ssl.SSLError, ValueError, OSError):
        raise AssetError(
            f"ca_bundle: the file {path} is not a PEM certificate bundle (a certificate in it "
            "cannot be read)."
        ) from None


def _finite(asset: Mapping[str, Any], field: str, unit: str, maximum: int) -> float:
    value = float(asset[field])
    if not math.isfinite(value):
        raise AssetError(
            f"{field}: got {value}; expected a number of {unit} greater than 0 and at most "
            f"{maximum}."
        )
    return value


class SentinelOneConnector(HttpConnector):
    """Connector for one SentinelOne console, built from a validated asset (defaults applied)."""

    url_example = EXAMPLE_URL

    def __init__(self, asset: Mapping[str, Any], *, user_agent: str, **tuning: Any) -> None:
        ca_bundle: Optional[str] = asset.get("ca_bundle")
        if ca_bundle:
            check_ca_bundle(ca_bundle)  # read now: a bad file is an asset error, not a TLS one
        timeout = _finite(asset, "timeout", "seconds", 600)
        max_mb = _finite(asset, "max_response_mb", "megabytes", 1024)
        base_url = normalize_url(asset["url"])
        proxy = asset.get("http_proxy")
        if proxy:
            parts = _split(proxy, "http_proxy")
            if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
                raise AssetError(
                    "http_proxy: expected a proxy URL such as http://proxy.example:3128 "
                    "(credentials, if any, as http://user:password@proxy.example:3128)."
                )
            _check_host(parts.hostname, "http_proxy")
        token = asset["api_token"]
        super().__init__(
            base_url,
            # Secret: the prepared request's headers show '***' in their repr, not the token.
            headers={"User-Agent": user_agent, "Authorization": Secret(f"ApiToken {token}")},
            secrets=(token,),
            verify=(ca_bundle or True) if asset["verify_ssl"] else False,
            proxy=proxy.strip() if proxy else None,
            timeout=timeout,
            max_retries=asset["max_retries"],
            max_response_bytes=int(max_mb * 1024 * 1024),
            **tuning,  # wait_budget, and urllib3 Retry settings such as backoff_factor
        )

    def test_connection(self) -> Dict[str, Any]:
        """The asset's connection test (plugin.yaml ``asset.test``): one cheap threats read,
        then success or exactly one diagnosed cause (``status_code`` null: no HTTP response)."""
        try:
            envelope = self.request("GET", TEST_PATH, params=TEST_QUERY)
        except TransportError as exc:
            return _result(False, exc.cause.value, str(exc))
        status, body = envelope["status_code"], envelope["json_body"]
        # A server may echo the token in what the diagnosis quotes (reason, X-RQID): masked.
        reason = _masked(envelope["reason"] or "", self.secrets)
        rqid = _masked(header_value(envelope["response_headers"], "X-RQID"), self.secrets)
        if 200 <= status < 300 and isinstance(body, dict) and isinstance(body.get("data"), list):
            sentence = (
                f"Connected: {self.host} accepted the API token and it can read threats "
                f"(HTTP {status})."
            )
            return _result(True, "ok", sentence, status, rqid)
        if status in REJECTED:
            return _result(False, *REJECTED[status], status, rqid)
        if status == 407:  # a plain-http target through the proxy: the 407 arrives as a response
            return _result(False, "proxy_auth", str(self.error(Cause.PROXY_AUTH)), status, rqid)
        what = "a body that is not the API's JSON" if 200 <= status < 300 else "an error"
        where = f", X-RQID {rqid}" if rqid else ""
        sentence = (
            f"Unexpected response: {self.host} answered HTTP {status} {reason}{where} with "
            f"{what}; check that the URL is the console's base URL, and quote the X-RQID to "
            "support if it persists."
        )
        return _result(False, "unexpected", sentence, status, rqid)


def _masked(text: Any, secrets: Sequence[str]) -> Any:
    if isinstance(text, str):
        for secret in secrets:
            text = text.replace(secret, "***")
    return text


def _result(
    ok: bool, cause: str, diagnosis: str, status: Optional[int] = None, rqid: Any = None
) -> Dict[str, Any]:
    return dict(ok=ok, status_code=status, cause=cause, diagnosis=diagnosis, request_id=rqid)
