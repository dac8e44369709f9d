"""What every command writes: exit codes, CliError, stdout (all of it or exit 5), answer lines."""

import contextlib
import errno
import os
import sys
from typing import Any, Dict, List, Mapping, Optional, Tuple

from framework.errors import os_reason
from framework.exact import dumps

EXIT_OK, EXIT_BROKEN, EXIT_INPUT, EXIT_TRANSPORT, EXIT_HTTP, EXIT_OUTPUT = 0, 1, 2, 3, 4, 5
EXIT_INTERRUPTED = 130
REASONS = {errno.ENOSPC: "no space left on the device", errno.EBADF: "stdout is closed"}


class CliError(Exception):
    def __init__(self, code: int, lines: List[str]) -> None:
        super().__init__("\n".join(lines))
        self.code = code
        self.lines = lines


def invalid(line: str) -> CliError:
    return CliError(EXIT_INPUT, [f"invalid option: {line}"])


def blocking(stream: Any) -> Any:
    """``stream`` made blocking: a reader may have made the pipe non-blocking (writes fail)."""
    with contextlib.suppress(OSError, ValueError):  # ValueError: a stream captured in-process
        os.set_blocking(stream.fileno(), True)
    return stream


def write_stdout(
    data: bytes, what: str = "the envelope", part_of: Optional[Tuple[int, Optional[int]]] = None
) -> None:
    """All of ``data``, or CliError; ``part_of``: (bytes written before, whole size or None)."""
    done, total = part_of if part_of is not None else (0, len(data))
    if sys.stdout is None:  # closed at start (>&-): fd 1 is then not ours
        raise CliError(EXIT_OUTPUT, [f"output error: stdout is closed, so {what} was not written."])
    written = 0
    try:
        sys.stdout.flush()
        stream = blocking(sys.stdout.buffer)
        stream.flush()
        raw = getattr(stream, "raw", stream)  # unbuffered: each write says how much got out
        while written < len(data):
            written += raw.write(memoryview(data)[written:]) or 0
    except BrokenPipeError:
        # fd 1 onto /dev/null: the interpreter's last flush of sys.stdout cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        raise CliError(EXIT_OK, []) from None
    except OSError as exc:
        reason = REASONS.get(exc.errno or 0, os_reason(exc))
        of = f" of {total:,}" if total is not None else ""
        raise CliError(
            EXIT_OUTPUT,
            [f"output error: writing {what} to stdout failed after {done + written:,}{of} bytes "
             f"({reason}); the output is incomplete."],
        ) from None  # fmt: skip


def utf8(text_of: Any) -> bytes:
    """``text_of(ascii=False)`` as UTF-8, or \\u escapes if a lone surrogate has no UTF-8 form."""
    try:
        return text_of(False).encode("utf-8")
    except UnicodeEncodeError:
        return text_of(True).encode("ascii")


def encode_json(value: Any, pretty: bool) -> bytes:
    indent = 2 if pretty else None
    return utf8(lambda ascii: dumps(value, indent=indent, ensure_ascii=ascii)) + b"\n"


def as_dict(value: Any) -> Dict[str, Any]:
    return value if isinstance(value, dict) else {}


def run_failed(exc: Any, kept: str) -> CliError:
    """The CLI's words for a RunError; ``kept``: where the events read before it are, or ""."""
    if exc.kind == "transport":
        return CliError(EXIT_TRANSPORT, [f"transport error: {exc} {kept}".rstrip()])
    if exc.kind == "interrupted":
        kept = f"{kept[0].lower()}{kept[1:]}" if kept else "nothing was printed."
        return CliError(EXIT_INTERRUPTED, [f"interrupted: {kept}"])
    return CliError(EXIT_INPUT, exc.lines)  # the inputs or the asset: nothing was sent


def plain(value: Any, limit: int) -> str:
    """Server text for a terminal line: printable characters only (no escape sequences)."""
    text = value if isinstance(value, str) else ""
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


STATUS_MEANING = {
    400: "the console refused the request; check the inputs",
    401: "the token is invalid or expired",
    403: "the token lacks the permission for this request",
    404: "not found",
    407: "the proxy requires authentication",
    429: "too many requests; retry later",
    500: "the console failed; try again later",
    502: "a gateway failed; try again later",
    503: "the console is unavailable; try again later",
    504: "a gateway timed out; try again later",
}


def header(envelope: Mapping[str, Any], name: str) -> Any:
    from framework.body import header_value  # requests: imported when a run is under way

    return header_value(envelope.get("response_headers"), name)


def answer_line(envelope: Mapping[str, Any]) -> Optional[str]:
    """``HTTP 401 Authentication Failed: the token is invalid or expired (X-RQID ...)``, or None."""
    status = envelope.get("status_code")
    if not isinstance(status, int) or 200 <= status < 300:
        return None
    errors = as_dict(envelope.get("json_body")).get("errors")
    first = as_dict(errors[0] if isinstance(errors, list) and errors else None)
    title = plain(first.get("title"), 80) or plain(envelope.get("reason"), 80)
    meaning = STATUS_MEANING.get(status, "")
    retry_after = plain(header(envelope, "Retry-After"), 40)
    meaning += f" (Retry-After {retry_after})" if retry_after else ""
    rqid = plain(header(envelope, "X-RQID"), 80)
    line = f"HTTP {status}" + (f" {title}" if title else "") + (f": {meaning}" if meaning else "")
    return line + (f" (X-RQID {rqid})" if rqid else "")
