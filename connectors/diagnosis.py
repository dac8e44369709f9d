"""Connection-test diagnoses: the one thing that went wrong, in plain words.

``ConnectionTest`` turns a ``TransportError`` (no usable HTTP response arrived; the connector
classified it and worded it from the cause table), or the envelope of the response that did
arrive, into the result of an asset's connection test::

    {"ok": false, "status_code": 401, "cause": "token_invalid",
     "diagnosis": "Token invalid or expired (HTTP 401): ...", "request_id": "<X-RQID>"}

``status_code`` is null when no response arrived. Nothing here ever shows a secret: messages
name hosts (``host:port``), never URLs with credentials, tokens or headers.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

from framework.body import header_value
from framework.errors import Cause, TransportError, describe

Result = Dict[str, Any]


class ConnectionTest:
    """Builds connection-test results for one console. Transport failures keep the sentence of
    their cause (framework.errors.CAUSES, the same words as a run); only the product's words
    for a 401 and a 403 are its own. ``facts`` fill the cause table (host, proxy, ...).
    ``secrets`` (what the connector sends) are replaced by ``***`` in what the server said that
    the diagnosis quotes (its reason phrase, its X-RQID): a server may echo the token there."""

    def __init__(
        self,
        *,
        facts: Dict[str, Any],
        token_invalid: str,
        permission: str,
        secrets: Sequence[str] = (),
    ) -> None:
        self.facts = facts
        self.secrets = sorted((s for s in secrets if s), key=len, reverse=True)
        self.host = facts["host"]
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
        """The connector already classified the failure and worded it (``exc.cause``)."""
        return self.result(False, Cause(exc.cause).value, str(exc))

    def quoted(self, text: Any) -> Any:
        """Server text as the diagnosis quotes it: every secret replaced by ``***``."""
        if not isinstance(text, str):
            return text
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def from_envelope(self, envelope: Result) -> Result:
        status = envelope["status_code"]
        reason = self.quoted(envelope.get("reason") or "")
        rqid = self.quoted(header_value(envelope.get("response_headers"), "X-RQID"))
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
            sentence = describe(Cause.PROXY_AUTH, **self.facts)
            return self.result(False, Cause.PROXY_AUTH.value, sentence, status, rqid)
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
