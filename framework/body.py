"""The response body: bounded gzip/deflate decoding, and the envelope built from it."""

from __future__ import annotations

import json
import zlib
from typing import Any, Iterator, Optional, Tuple

import requests
import urllib3.exceptions

RESPONSE_TEXT_LIMIT = 64 * 1024  # bytes of a non-JSON body kept in response_text
READ_CHUNK = 64 * 1024


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
