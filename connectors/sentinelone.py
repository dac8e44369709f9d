"""The SentinelOne asset connector: a console URL and an API token, one configured Session."""

from __future__ import annotations

import ipaddress
import os
import re
from typing import Any, Mapping, Optional
from urllib.parse import urlsplit, urlunsplit

import requests

from connectors.base import AssetError, HttpConnector

API_SUFFIX = re.compile(r"/web/api(/v[0-9.]+)?$", re.IGNORECASE)


class ApiTokenAuth(requests.auth.AuthBase):
    """Adds ``Authorization: ApiToken <token>`` to each request; its repr hides the token."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"ApiToken {self._token}"
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
            max_retries=asset["max_retries"],
            max_response_bytes=int(asset["max_response_mb"] * 1024 * 1024),
            **tuning,
        )
