"""The --asset and --inputs files: at most ``MAX_BYTES``, then JSON or a safe, bounded YAML.

Deep nesting, YAML aliases ("billion laughs") and a key given twice (a second ``url`` would send the
token there) are refused before anything is built; ``0123`` stays "0123" (YAML 1.1 reads 83).
Messages name the place (line, column), never the content: a file may hold a token.
"""

import contextlib
import json
import os
import re
import stat
import sys
from typing import Any, Dict, List, Optional, Tuple

import yaml

from framework.coerce import MAX_DEPTH, too_deep

MAX_BYTES = 1024 * 1024  # an asset or inputs file is a few hundred bytes
INT = "tag:yaml.org,2002:int"


class Loader(yaml.SafeLoader):
    """PyYAML's safe loader, reading only plain decimal integers as integers."""


Loader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != INT]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Loader.add_implicit_resolver(INT, re.compile(r"^-?(?:0|[1-9][0-9]*)$"), list("-0123456789"))


class DocumentError(Exception):
    """One sentence about a file, without the option name."""


def read_document_file(path: str) -> Any:
    data = sys.stdin.buffer.read(MAX_BYTES + 1) if path == "-" else _read_file(path)
    if len(data) > MAX_BYTES:
        raise DocumentError(
            f"{path} is larger than {MAX_BYTES // 1024 // 1024} MiB, the limit for an asset or "
            "inputs file."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DocumentError(f"{path} is not UTF-8 text.") from None
    if not text.strip():
        raise DocumentError(f"{path} is empty; expected a JSON or YAML document.")
    return parse(text, path)


def _read_file(path: str) -> bytes:
    try:  # O_NONBLOCK: a FIFO with no writer would otherwise block in open()
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        mode = os.fstat(fd).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
            os.close(fd)
            if stat.S_ISDIR(mode):
                raise DocumentError(f"{path} is a directory; expected a JSON or YAML file.")
            raise DocumentError(
                f"{path} is not a regular file (a device or socket); expected a JSON or YAML "
                "file, or - for stdin."
            )
        os.set_blocking(fd, True)  # a FIFO: wait for a writer that is there; none: end of file
        with os.fdopen(fd, "rb") as file:
            return file.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise DocumentError(f"the file {path} does not exist.") from None
    except PermissionError:
        raise DocumentError(f"cannot read {path} (permission denied).") from None
    except OSError as exc:
        raise DocumentError(f"cannot read {path} ({exc.strerror or type(exc).__name__}).") from None


def parse(text: str, path: str = "the document") -> Any:
    """JSON, else YAML (safe, bounded); raises DocumentError."""
    deep = DocumentError(f"{path} nests deeper than {MAX_DEPTH} levels; expected a few levels.")
    try:
        document = json.loads(text, object_pairs_hook=_unique_keys)
        if too_deep(document, MAX_DEPTH):
            raise deep
        return document
    except RecursionError:
        raise deep from None
    except KeyError as exc:  # a key given twice
        with contextlib.suppress(yaml.YAMLError):
            _scan(text, path, deep)  # JSON is YAML: its events say on which lines
        raise DocumentError(
            f"{path}: the key {_key(exc.args[0])} is given twice; keep one."
        ) from None
    except ValueError:  # not JSON
        pass
    try:
        _scan(text, path, deep)
        return yaml.load(text, Loader=Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:  # its text may quote a secret: say only where
        mark = getattr(exc, "problem_mark", None)
        line = "".join(text.splitlines()[mark.line : mark.line + 1]) if mark is not None else ""
        indent = line[: len(line) - len(line.lstrip())]
        if "'\\t'" in str(getattr(exc, "problem", None)) or "\t" in indent:
            raise DocumentError(
                f"{path} is not valid YAML{_where(mark)}: tabs are not allowed in YAML "
                "indentation; indent with spaces."
            ) from None
        raise DocumentError(f"{path} is not valid JSON or YAML{_where(mark)}.") from None


def _unique_keys(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    document: Dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise KeyError(key)
        document[key] = value
    return document


def _key(key: Any) -> str:
    text = "".join(c if c.isprintable() else "?" for c in str(key))
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _scan(text: str, path: str, deep: DocumentError) -> None:
    """Over the parser's events, before anything is built: no alias, deep nesting or key twice."""
    # per open collection: [a mapping's keys by line (None: a sequence), whether a key is next]
    stack: List[List[Any]] = []
    for event in yaml.parse(text, Loader=Loader):
        if isinstance(event, yaml.AliasEvent):
            raise DocumentError(
                f"{path} uses a YAML alias{_where(event.start_mark)}; aliases (*name) are "
                "not supported in an asset or inputs file: write the value out."
            )
        keys: Optional[Dict[str, int]] = stack[-1][0] if stack and stack[-1][1] else None
        if isinstance(event, yaml.ScalarEvent) and keys is not None:
            line = event.start_mark.line + 1
            if event.value in keys:
                first = keys[event.value]
                where = f"on line {line}" if first == line else f"at lines {first} and {line}"
                raise DocumentError(
                    f"{path}: the key {_key(event.value)} is given twice, {where}; keep one."
                )
            keys[event.value] = line
        if isinstance(event, yaml.CollectionStartEvent):
            if len(stack) == MAX_DEPTH:
                raise deep
            stack.append([{} if isinstance(event, yaml.MappingStartEvent) else None, True])
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            stack.pop()
        elif not isinstance(event, yaml.ScalarEvent):
            continue  # stream and document events
        if stack:  # a node ended: in a mapping, a key is followed by its value
            stack[-1][1] = not stack[-1][1]


def _where(mark: Any) -> str:
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
