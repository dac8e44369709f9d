"""framework.body: bounded gzip/deflate decoding that knows whether the stream ended."""

from __future__ import annotations

import gzip
import zlib

import pytest
import urllib3.exceptions

from framework.body import READ_CHUNK, BodyDecoder


def decode(decoder: BodyDecoder, data: bytes, step: int = 7) -> bytes:
    return b"".join(
        part for i in range(0, len(data), step) for part in decoder.feed(data[i : i + step])
    )


def test_identity_and_unknown_encodings_need_no_decoder() -> None:
    assert BodyDecoder.for_encoding("") is None
    assert BodyDecoder.for_encoding("br") is None


@pytest.mark.parametrize("name", ["gzip", "x-gzip", " GZIP "])
def test_gzip_in_small_pieces(name: str) -> None:
    body = b'{"data": [1, 2, 3]}' * 100
    decoder = BodyDecoder.for_encoding(name)
    assert decoder is not None
    assert decode(decoder, gzip.compress(body)) == body
    assert decoder.complete


def test_deflate() -> None:
    decoder = BodyDecoder.for_encoding("deflate")
    assert decoder is not None
    assert decode(decoder, zlib.compress(b"hello")) == b"hello" and decoder.complete


def test_concatenated_gzip_members_are_all_decoded() -> None:
    decoder = BodyDecoder.for_encoding("gzip")
    assert decoder is not None
    assert decode(decoder, gzip.compress(b"one,") + gzip.compress(b"two")) == b"one,two"


def test_a_stream_cut_short_is_not_complete() -> None:
    decoder = BodyDecoder.for_encoding("gzip")
    assert decoder is not None
    data = gzip.compress(b"x" * 10_000)
    decode(decoder, data[: len(data) // 2])
    assert not decoder.complete


def test_output_comes_in_bounded_pieces_even_for_a_bomb() -> None:
    decoder = BodyDecoder.for_encoding("gzip")
    assert decoder is not None
    bomb = gzip.compress(b"\0" * (8 * READ_CHUNK))
    sizes = [len(part) for part in decoder.feed(bomb)]
    assert sum(sizes) == 8 * READ_CHUNK
    assert max(sizes) <= READ_CHUNK


def test_corrupt_data_is_a_decode_error() -> None:
    decoder = BodyDecoder.for_encoding("gzip")
    assert decoder is not None
    with pytest.raises(urllib3.exceptions.DecodeError):
        list(decoder.feed(b"definitely not gzip"))
