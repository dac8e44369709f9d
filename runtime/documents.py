"""The --asset and --inputs files: read at most a small cap, then parse JSON or a safe YAML.

Hostile or mistaken files fail with one sentence and never hang, exhaust memory or crash:

- at most ``MAX_BYTES`` are read; a FIFO is opened without blocking (no writer: empty), and
  devices, directories and sockets are refused before a byte is read;
- nesting deeper than ``MAX_DEPTH`` is refused (PyYAML's C loader segfaults on very deep
  documents, so YAML goes through a pure-Python loader that stops at the limit);
- YAML aliases (``*name``) are refused, so "billion laughs" cannot expand;
- an unquoted YAML integer keeps its text unless it is plain decimal: ``0123`` stays "0123"
  and ``0x1F`` stays "0x1F" (YAML 1.1 would read 83 and 31, and a different id would be sent).

Messages name the place (line, column), never the content: a file may hold a token.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from functools import cache
from typing import Any

MAX_BYTES = 1024 * 1024  # an asset or inputs file is a few hundred bytes
MAX_DEPTH = 32  # as framework.coerce.MAX_DEPTH: a few levels are all the schemas have
DECIMAL = re.compile(r"^-?(?:0|[1-9][0-9]*)$")


class DocumentError(Exception):
    """One sentence about a file, without the option name."""


def read_document_file(path: str) -> Any:
    """The parsed document at ``path`` ('-': stdin); raises DocumentError."""
    data = _read_capped(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DocumentError(f"{path} is not UTF-8 text.") from None
    if not text.strip():
        raise DocumentError(f"{path} is empty; expected a JSON or YAML document.")
    return parse(text, path)


def _read_capped(path: str) -> bytes:
    if path == "-":
        data = sys.stdin.buffer.read(MAX_BYTES + 1)
    else:
        try:  # O_NONBLOCK: a FIFO with no writer would otherwise block in open()
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except FileNotFoundError:
            raise DocumentError(f"the file {path} does not exist.") from None
        except PermissionError:
            raise DocumentError(f"cannot read {path} (permission denied).") from None
        except OSError as exc:
            raise DocumentError(
                f"cannot read {path} ({exc.strerror or type(exc).__name__})."
            ) from None
        try:
            mode = os.fstat(fd).st_mode
            if stat.S_ISDIR(mode):
                raise DocumentError(f"{path} is a directory; expected a JSON or YAML file.")
            if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
                raise DocumentError(
                    f"{path} is not a regular file (a device or socket); expected a JSON or "
                    "YAML file, or - for stdin."
                )
            if stat.S_ISFIFO(mode):
                os.set_blocking(fd, True)  # wait for a writer that is there; none: end of file
            chunks = []
            size = 0
            while size <= MAX_BYTES:
                chunk = os.read(fd, MAX_BYTES + 1 - size)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            data = b"".join(chunks)
        except OSError as exc:
            raise DocumentError(
                f"cannot read {path} ({exc.strerror or type(exc).__name__})."
            ) from None
        finally:
            os.close(fd)
    if len(data) > MAX_BYTES:
        raise DocumentError(
            f"{path} is larger than {MAX_BYTES // 1024 // 1024} MiB, the limit for an asset or "
            "inputs file."
        )
    return data


def parse(text: str, path: str = "the document") -> Any:
    """JSON, else YAML (safe, bounded); raises DocumentError."""
    too_deep = DocumentError(f"{path} nests deeper than {MAX_DEPTH} levels; expected a few levels.")
    try:
        document = json.loads(text)
    except RecursionError:
        raise too_deep from None
    except ValueError:
        pass
    else:
        from framework.coerce import too_deep as nests_too_deep

        if nests_too_deep(document, MAX_DEPTH):
            raise too_deep
        return document
    return _parse_yaml(text, path, too_deep)


def _parse_yaml(text: str, path: str, too_deep: DocumentError) -> Any:
    import yaml

    try:
        return yaml.load(text, Loader=_loader())  # noqa: S506 - a SafeLoader subclass
    except _Refused as exc:
        if exc.reason == "depth":
            raise too_deep from None
        raise DocumentError(
            f"{path} uses a YAML alias{_where(exc.mark)}; aliases (*name) are not supported "
            "in an asset or inputs file: write the value out."
        ) from None
    except RecursionError:
        raise too_deep from None
    except yaml.YAMLError as exc:  # its text may quote a secret: say only where
        mark = getattr(exc, "problem_mark", None)
        if _is_tab_problem(exc, mark, text):
            raise DocumentError(
                f"{path} is not valid YAML{_where(mark)}: tabs are not allowed in YAML "
                "indentation; indent with spaces."
            ) from None
        raise DocumentError(f"{path} is not valid JSON or YAML{_where(mark)}.") from None


def _where(mark: Any) -> str:
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


def _is_tab_problem(exc: Any, mark: Any, text: str) -> bool:
    if "'\\t'" in str(getattr(exc, "problem", "") or ""):
        return True
    if mark is None:
        return False
    lines = text.splitlines()
    line = lines[mark.line] if mark.line < len(lines) else ""
    return "\t" in line[: len(line) - len(line.lstrip())]


class _Refused(Exception):
    def __init__(self, reason: str, mark: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.mark = mark


@cache
def _loader() -> Any:
    import yaml

    class BoundedLoader(yaml.SafeLoader):
        """SafeLoader (pure Python, so depth is checked before the C stack could overflow),
        without aliases, reading only plain decimal integers as integers."""

        def __init__(self, stream: Any) -> None:
            super().__init__(stream)
            self.depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                raise _Refused("alias", self.peek_event().start_mark)
            nests = self.check_event(yaml.SequenceStartEvent, yaml.MappingStartEvent)
            self.depth += nests  # collections only: as framework.coerce.too_deep counts
            try:
                if self.depth > MAX_DEPTH:
                    raise _Refused("depth", self.peek_event().start_mark)
                return super().compose_node(parent, index)
            finally:
                self.depth -= nests

    int_tag = "tag:yaml.org,2002:int"
    BoundedLoader.yaml_implicit_resolvers = {
        first: [(tag, regex) for tag, regex in resolvers if tag != int_tag]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    BoundedLoader.add_implicit_resolver(int_tag, DECIMAL, list("-0123456789"))
    return BoundedLoader
