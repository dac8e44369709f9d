"""The SentinelOne asset connector: a console URL and an API token, one configured Session."""

from __future__ import annotations

import ipaddress
import os
import re
from typing import Any, Dict, Mapping, Optional
from urllib.parse import urlsplit, urlunsplit

import requests

from connectors.diagnosis import ConnectionTest
from framework.connector import HttpConnector
from framework.errors import AssetError, Secret, TransportError
from framework.retry import RetryPolicy

API_SUFFIX = re.compile(r"/web/api(/v[0-9.]+)?$", re.IGNORECASE)
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


class ApiTokenAuth(requests.auth.AuthBase):
    """Adds ``Authorization: ApiToken <token>`` to each request; its repr hides the token."""

    def __init__(self, token: str) -> None:
        self._token = token

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self._token,)  # as sent

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        # Secret: the prepared request's headers show '***' in their repr, not the token.
        request.headers["Authorization"] = Secret(f"ApiToken {self._token}")
        return request

    def __repr__(self) -> str:
        return "ApiTokenAuth(<redacted>)"


def is_loopback(host: str) -> bool:
    if host.rstrip(".").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalize_url(url: str) -> str:
    """The console's base URL: https (or loopback http), no trailing slash or /web/api suffix."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not parts.hostname:
        raise AssetError(
            "url: expected the console's base URL starting with https://, "
            "e.g. https://usea1-acme.sentinelone.net."
        )
    if parts.username is not None or parts.password is not None:
        raise AssetError("url: must not contain credentials; put the API token in api_token.")
    if parts.query or parts.fragment:
        raise AssetError(f"url: must not contain a query or fragment; got host {parts.hostname}.")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise AssetError(f"url: the port of {parts.hostname} is not a valid port number.") from None
    if scheme == "http" and not is_loopback(parts.hostname):
        raise AssetError(
            f"url: plain http:// is refused for {parts.hostname}; use https:// (http is allowed "
            "only for a loopback host such as the local simulator)."
        )
    path = API_SUFFIX.sub("", parts.path.rstrip("/")).rstrip("/")
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def check_proxy(proxy: str) -> str:
    parts = urlsplit(proxy.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise AssetError(
            "http_proxy: expected a proxy URL such as http://proxy.example:3128 "
            "(credentials, if any, as http://user:password@proxy.example:3128)."
        )
    try:
        parts.port  # noqa: B018
    except ValueError:
        raise AssetError(f"http_proxy: the port of {parts.hostname} is not valid.") from None
    return proxy.strip()


class SentinelOneConnector(HttpConnector):
    """Connector for one SentinelOne console, built from a validated asset (defaults applied)."""

    def __init__(self, asset: Mapping[str, Any], *, user_agent: str, **tuning: Any) -> None:
        ca_bundle: Optional[str] = asset.get("ca_bundle")
        if ca_bundle and not os.path.isfile(ca_bundle):
            raise AssetError(f"ca_bundle: the file {ca_bundle} does not exist or is not a file.")
        verify = (ca_bundle or True) if asset["verify_ssl"] else False
        proxy = asset.get("http_proxy")
        super().__init__(
            normalize_url(asset["url"]),
            auth=ApiTokenAuth(asset["api_token"]),
            user_agent=user_agent,
            verify=verify,
            proxy=check_proxy(proxy) if proxy else None,
            timeout=asset["timeout"],
            retry=RetryPolicy(max_retries=asset["max_retries"], **tuning),
            max_response_bytes=int(asset["max_response_mb"] * 1024 * 1024),
        )

    def test_connection(self) -> Dict[str, Any]:
        """The asset's connection test (plugin.yaml ``asset.test``): one cheap threats read.

        Returns ``{"ok", "status_code", "cause", "diagnosis", "request_id"}``: success, or
        exactly one diagnosed cause (``status_code`` null when no HTTP response arrived)."""
        parts = urlsplit(self.base_url)
        test = ConnectionTest(
            host=self.host,
            hostname=parts.hostname or "?",
            proxy_host=self.proxy_host,
            timeout=self.timeout,
            token_invalid=EXPIRED_OR_INVALID,
            permission=NO_PERMISSION,
        )
        try:
            envelope = self.request("GET", TEST_PATH, params=TEST_QUERY)
        except TransportError as exc:
            return test.from_transport_error(exc)
        return test.from_envelope(envelope)
