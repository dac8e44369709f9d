"""Connection-test diagnoses: the one thing that went wrong, in plain words.

``ConnectionTest`` turns the cause of a ``TransportError`` (no HTTP response arrived; the
connector classified it), or the envelope of the response that did arrive, into the result of
an asset's connection test::

    {"ok": false, "status_code": 401, "cause": "token_invalid",
     "diagnosis": "Token invalid or expired (HTTP 401): ...", "request_id": "<X-RQID>"}

``status_code`` is null when no response arrived. Nothing here ever shows a secret: messages
name hosts (``host:port``), never URLs with credentials, tokens or headers.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import requests

from framework.errors import TransportError

Result = Dict[str, Any]


class ConnectionTest:
    """Builds connection-test results for one console (``host`` is ``name:port``, no secrets)."""

    def __init__(
        self,
        *,
        host: str,
        hostname: str,
        proxy_host: Optional[str],
        timeout: float,
        token_invalid: str,
        permission: str,
    ) -> None:
        self.host = host
        self.hostname = hostname
        self.proxy_host = proxy_host
        self.timeout = timeout
        self.token_invalid = token_invalid  # the product's words for a 401 and a 403
        self.permission = permission

    @staticmethod
    def result(
        ok: bool, cause: str, diagnosis: str, status: Optional[int] = None, rqid: Any = None
    ) -> Result:
        return {
            "ok": ok,
            "status_code": status,
            "cause": cause,
            "diagnosis": diagnosis,
            "request_id": rqid if isinstance(rqid, str) else None,
        }

    def from_transport_error(self, exc: TransportError) -> Result:
        """The connector already classified the failure (``exc.cause``); say it plainly."""
        cause = "tls" if exc.cause == "tls_handshake" else exc.cause
        return self.result(False, cause, self.explain(exc.cause) or str(exc))

    def explain(self, cause: str) -> str:
        """The sentence for a cause that is not an HTTP status ("" for an unknown cause)."""
        host, proxy = self.host, self.proxy_host or "?"
        return {
            "dns": f"DNS name not found: {self.hostname} does not resolve; check the console "
            "URL (e.g. https://usea1-acme.sentinelone.net) and this machine's DNS.",
            "refused": f"Connection refused: nothing accepts connections at {host}; check the "
            "host and port in the URL, and that a firewall lets this machine reach it.",
            "tls": f"TLS certificate not trusted: the certificate of {host} is not signed by a "
            "CA this machine trusts; set ca_bundle to the PEM file of your CA (private CA or "
            "TLS-inspecting proxy) instead of turning verify_ssl off.",
            "tls_handshake": f"TLS handshake failed with {host}: check that the URL's port "
            "speaks HTTPS; behind a TLS-inspecting proxy set ca_bundle to its CA's PEM file.",
            "proxy": f"Proxy refused: the proxy {proxy} refused or failed the connection to "
            f"{host}; check http_proxy (host and port) and that the proxy allows this console.",
            "proxy_auth": f"Proxy needs authentication (HTTP 407): the proxy {proxy} wants "
            "credentials it did not get or did not accept; set them in http_proxy as "
            "http://user:password@proxy:port.",
            "timeout": f"Timeout: {host} did not answer within {self.timeout:g} s; check the "
            "network path (firewall, proxy) or raise the asset's timeout.",
        }.get(cause, "")

    def from_envelope(self, envelope: Result) -> Result:
        status = envelope["status_code"]
        reason = envelope.get("reason") or ""
        headers = requests.structures.CaseInsensitiveDict(envelope.get("response_headers") or {})
        rqid = headers.get("X-RQID")
        body = envelope.get("json_body")
        if 200 <= status < 300 and isinstance(body, dict) and isinstance(body.get("data"), list):
            return self.result(
                True,
                "ok",
                f"Connected: {self.host} accepted the API token and it can read threats "
                f"(HTTP {status}).",
                status,
                rqid,
            )
        if status == 401:
            return self.result(False, "token_invalid", self.token_invalid, status, rqid)
        if status == 403:
            return self.result(False, "permission", self.permission, status, rqid)
        if status == 407:  # a plain-http target through the proxy: the 407 arrives as a response
            return self.result(False, "proxy_auth", self.explain("proxy_auth"), status, rqid)
        what = "a body that is not the API's JSON" if 200 <= status < 300 else "an error"
        where = f", X-RQID {rqid}" if rqid else ""
        return self.result(
            False,
            "unexpected",
            f"Unexpected response: {self.host} answered HTTP {status} {reason}{where} with "
            f"{what}; check that the URL is the console's base URL, and quote the X-RQID to "
            "support if it persists.",
            status,
            rqid,
        )
