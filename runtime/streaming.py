"""Streamed output of ``runtime run``: pages are written as they arrive, never all held.

``--format envelope`` (the default when following cursors) spools the events and prints, at the
end, the bytes the in-memory path would (the head is the last page's). ``--format ndjson|csv|
markdown --output FILE`` appends whole records page by page (the markdown note is written at the
end) and rewrites FILE.meta.json, the sidecar, after every page, so even a killed run leaves a
file and a sidecar that agree; ``--resume FILE.meta.json`` cuts the file back to what the sidecar
records and follows on from its cursor: no event lost or repeated.
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import fcntl
import io
import json
import os
import shutil
import signal
import stat
import tempfile
import threading
import uuid
from typing import Any, BinaryIO, Dict, Iterator, List, Optional, Sequence

from runtime.output import (
    EXIT_BROKEN,
    EXIT_INPUT,
    EXIT_OK,
    EXIT_OUTPUT,
    CliError,
    answer_line,
    encode_json,
    follow_summary,
    run_failed,
    write_stdout,
)

EVENT_FORMATS = ("ndjson", "csv", "markdown")
DEFAULT_COLUMNS = (
    "id", "createdAt", "eventType", "processName", "pid", "user", "srcIp", "dstIp",
    "fileFullName",
)  # fmt: skip
DEFAULT_ROWS = 20  # events in the markdown note's table
MAX_ROWS = 1000
TOP_PROCESSES = 10
COPY_CHUNK = 1 << 20
SIDECAR_SUFFIX = ".meta.json"
SIDECAR_VERSION = 1


def wanted(args: Any, plugin: Any, inputs: Any) -> bool:
    """Whether ``runtime run`` streams: an output option was given, or the inputs follow
    cursors (the only runs whose output grows with the number of pages)."""
    if args.output or args.format or args.resume or args.columns or args.rows is not None:
        return True
    return _coerced(plugin, args.action, inputs).get("follow_cursor") is True


def _coerced(plugin: Any, name: str, inputs: Any) -> Dict[str, Any]:
    from framework.coerce import coerce
    from framework.errors import InputError
    from framework.runner import find_action

    if not isinstance(inputs, dict):
        return {}
    try:
        spec = find_action(plugin, name)
    except InputError:
        return {}
    coerced = coerce(dict(inputs), spec.input_schema)
    return coerced if isinstance(coerced, dict) else {}


def _refused(line: str) -> CliError:
    """An option, --output or --resume problem, found before anything is sent."""
    return CliError(EXIT_INPUT, [line])


def _body(envelope: Any) -> Dict[str, Any]:
    body = envelope.get("json_body") if isinstance(envelope, dict) else None
    return body if isinstance(body, dict) else {}


def _pagination(body: Dict[str, Any]) -> Dict[str, Any]:
    return body.get("pagination") if isinstance(body.get("pagination"), dict) else {}


def _rqid(envelope: Dict[str, Any]) -> Any:
    headers = envelope.get("response_headers") or {}
    return next((v for k, v in headers.items() if k.lower() == "x-rqid"), None)


# -- the run -------------------------------------------------------------------------------------
def run(
    args: Any, plugin: Any, asset: Any, inputs: Any, progress: Any, on_connect: Any = None
) -> int:
    """``runtime run`` with streamed output; returns the exit code or raises CliError."""
    from framework.errors import RunError
    from framework.runner import check_output, find_action, run_action

    try:
        writer = _plan(args, plugin, inputs, args.stderr.say)
    except CliError as exc:  # framed as every input problem is
        prefix = "invalid inputs: "
        lines = [line if line.startswith(prefix) else prefix + line for line in exc.lines]
        raise CliError(exc.code, lines) from None
    if writer is None:  # --resume of an export that already finished
        return EXIT_OK
    if args.validate_output:
        spec = find_action(plugin, args.action)
        writer.check = lambda envelope: check_output(spec, envelope)
    clear = progress.clear if progress is not None else lambda: None
    try:
        try:
            envelope = run_action(
                plugin, args.action, asset, writer.inputs,
                progress=progress, on_connect=on_connect, pages=writer,
            )  # fmt: skip
        except RunError as exc:
            clear()
            raise _failed(exc, writer) from None
        clear()
        writer.finish(envelope)
    except OutputError as exc:
        clear()
        raise CliError(EXIT_OUTPUT, [str(exc)]) from None
    if writer.check is not None and writer.problem is None:
        writer.problem = writer.check(envelope)  # the head (or the one page, not following)
    if writer.problem:
        raise CliError(EXIT_BROKEN, str(writer.problem).splitlines())
    return EXIT_OK


def _failed(exc: Any, writer: Writer) -> CliError:
    """The error for a run that stopped, once the writer has kept what was read before it."""
    if exc.kind in ("inputs", "asset"):
        return run_failed(exc, "")
    keeps_file = isinstance(writer, EventFile)
    if exc.kind == "interrupted":
        if not writer.pages and not keeps_file:
            return run_failed(exc, "")
        detail = f"interrupted (Ctrl-C) after {writer.events:,} events; nothing was lost."
        writer.finish(writer.partial("Interrupted", detail), stopped="interrupted")
        return run_failed(exc, writer.kept_sentence("so far"))
    if exc.envelope is None and not writer.pages:
        if keeps_file:
            writer.finish(None, stopped=str(exc))
        return run_failed(exc, "")
    writer.finish(exc.envelope or writer.partial("Transport Error", str(exc)), stopped=str(exc))
    return run_failed(exc, writer.kept_sentence("before it"))


class OutputError(Exception):
    """The output file could not be written: one sentence naming it."""


def output_error(exc: OSError, path: str) -> OutputError:
    reason = exc.strerror or type(exc).__name__
    return OutputError(f"output error: cannot write {path} ({reason.lower()}).")


# -- the options ---------------------------------------------------------------------------------
def _plan(args: Any, plugin: Any, inputs: Any, say: Any) -> Optional[Writer]:
    """The writer for these options, opened; None when ``--resume`` finds the export finished."""
    if args.resume:
        return _resume(args, say)
    if args.columns == "list":  # one request: the fields its events hold, on stdout
        return FieldList({**inputs, "follow_cursor": False}, say, None)
    fmt = args.format or "envelope"
    if fmt in EVENT_FORMATS and not args.output:
        raise _refused(
            f"--format {fmt}: needs --output FILE (the events go to a file, and beside it "
            f"FILE{SIDECAR_SUFFIX})."
        )
    if args.columns is not None and fmt not in ("csv", "markdown"):
        raise _refused("--columns: applies to --format csv or markdown only.")
    if args.rows is not None and fmt != "markdown":
        raise _refused("--rows: applies to --format markdown only.")
    if args.pretty and fmt != "envelope":
        raise _refused(f"--pretty: applies to --format envelope, not {fmt}.")
    known = event_fields(plugin.actions[args.action].output_schema)
    columns = _columns(args.columns, known) if fmt in ("csv", "markdown") else ()
    rows = args.rows if args.rows is not None else DEFAULT_ROWS
    if not 0 <= rows <= MAX_ROWS:
        raise _refused(f"--rows: got {rows}; expected an integer from 0 to {MAX_ROWS}.")
    if args.output and args.output != "-":
        _check_writable(args.output)
    writer: Writer
    if fmt == "envelope":
        writer = EnvelopeWriter(inputs, say, args.output, bool(args.pretty))
        writer.terminal = not args.quiet and args.stderr.isatty()
    else:
        options = {"format": fmt, "columns": list(columns) or None}
        options["rows"] = rows if fmt == "markdown" else None
        coerced = _coerced(plugin, args.action, inputs) or inputs
        writer = WRITERS[fmt](coerced, say, args.output, options, quiet=bool(args.quiet))
    writer.open(bool(getattr(args, "force", False)))
    return writer


def _columns(text: Optional[str], known: List[str]) -> Sequence[str]:
    if text is None:
        return DEFAULT_COLUMNS
    if text == "all":
        return known
    names = [name.strip() for name in text.split(",")]
    if not names or any(not name for name in names) or len(set(names)) != len(names):
        raise _refused(
            f"--columns: got {text!r}; expected distinct event field names separated by "
            "commas, such as createdAt,eventType,processName."
        )
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise _refused(
                f"--columns: {name!r} is not an event field{hint}; --columns list shows the "
                "fields of the first page's events, --columns all takes every known field."
            )
    return names


def event_fields(output_schema: Dict[str, Any]) -> List[str]:
    """The properties of the items of the ``data`` array the output schema describes."""
    todo: List[Any] = [output_schema]
    while todo:
        node = todo.pop(0)
        if isinstance(node, list):
            todo.extend(node)
        elif isinstance(node, dict):
            items = ((node.get("properties") or {}).get("data") or {}).get("items")
            if isinstance(items, dict):
                ref = items.get("$ref", "")
                if ref.startswith("#/"):
                    items = output_schema
                    for part in ref[2:].split("/"):
                        items = items.get(part, {})
                if items.get("properties"):
                    return list(items["properties"])
            todo.extend(node.values())
    return []


def _check_writable(path: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise _refused(f"--output: {path} is a folder; expected a file name.")
    if not os.path.isdir(folder):
        raise _refused(f"--output: the folder {folder} does not exist.")
    if not os.path.exists(path) and not os.access(folder, os.W_OK):
        raise _refused(f"--output: the folder {folder} is not writable.")


def _resume(args: Any, say: Any) -> Optional[Writer]:
    path = args.resume
    names = ("inputs", "output", "format", "columns", "rows", "pretty")
    given = [f"--{name}" for name in names if getattr(args, name) not in (None, False)]
    if given:
        raise _refused(
            f"--resume: takes the inputs and options from {path}; leave out {', '.join(given)}."
        )
    try:
        with open(path, encoding="utf-8") as handle:
            meta = json.load(handle)
    except FileNotFoundError:
        raise _refused(f"--resume: the file {path} does not exist.") from None
    except (OSError, ValueError) as exc:
        raise _refused(f"--resume: cannot read {path} ({type(exc).__name__}).") from None
    if (
        not isinstance(meta, dict)
        or meta.get("version") != SIDECAR_VERSION
        or meta.get("format") not in EVENT_FORMATS
        or not path.endswith(SIDECAR_SUFFIX)
    ):
        raise _refused(
            f"--resume: {path} is not a sidecar written by --format ndjson, csv or markdown "
            f"(FILE{SIDECAR_SUFFIX})."
        )
    output = path[: -len(SIDECAR_SUFFIX)]
    wanted_events = (meta.get("inputs") or {}).get("max_events")
    if (
        meta.get("finished")
        or (meta.get("pages") and not meta.get("nextCursor"))  # the last page was read
        or (isinstance(wanted_events, int) and meta.get("events", 0) >= wanted_events)
    ):
        say(
            f"nothing to resume: {path} records a finished export ({meta.get('events', 0):,} "
            f"events in {output})."
        )
        return None
    options = {key: meta.get(key) for key in ("format", "columns", "rows")}
    writer = WRITERS[meta["format"]](
        meta.get("inputs") or {}, say, output, options, quiet=bool(args.quiet)
    )
    writer.resume_from(meta)
    writer.open(False)
    return writer


def utf8(text_of: Any) -> bytes:
    """``text_of(ascii=False)`` as UTF-8, or ``text_of(ascii=True)`` when a lone surrogate
    (valid JSON: "\\udc80") has no UTF-8 form, as the CLI does for a whole envelope."""
    try:
        return text_of(False).encode("utf-8")
    except UnicodeEncodeError:
        return text_of(True).encode("ascii")


@contextlib.contextmanager
def _sigint_held() -> Iterator[None]:
    """Ctrl-C waits until the page in hand is written whole (then it interrupts)."""
    mask = getattr(signal, "pthread_sigmask", None)
    if mask is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    old = mask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        mask(signal.SIG_SETMASK, old)


# -- where --output writes -----------------------------------------------------------------------
class Output:
    """What ``--output`` names, opened before anything is sent; ``-`` is standard output.

    A path is opened as it is (links followed, nothing renamed over it). A regular file is
    locked for the run and gets a sidecar; a device or FIFO is written like standard output. An
    existing regular file is replaced only when empty, an earlier export (its sidecar names it),
    or with ``--force``."""

    def __init__(self, path: str, *, force: bool = False, resume: bool = False) -> None:
        self.path = path
        self.stdout = path == "-"
        self.regular = False
        self.handle: Optional[BinaryIO] = None
        if self.stdout:
            return
        if not resume and not force and _foreign_file(path):
            raise _refused(
                f"--output: {path} exists and is not an earlier export of this command; "
                "choose a new name, or add --force to replace it."
            )
        try:  # O_NONBLOCK: a FIFO with no reader fails at once instead of hanging
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK, 0o644)
        except OSError as exc:
            raise output_error(exc, path) from None
        os.set_blocking(fd, True)
        self.regular = stat.S_ISREG(os.fstat(fd).st_mode)
        if self.regular:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise _refused(
                    f"--output: {path} is being written by another run; wait for it to end, "
                    "or choose another file."
                ) from None
            if not resume:
                os.ftruncate(fd, 0)
        self.handle = os.fdopen(fd, "r+b" if self.regular else "wb")

    def write(self, data: bytes) -> None:
        if self.stdout:
            write_stdout(data)
            return
        try:
            self.handle.write(data)
            self.handle.flush()
        except OSError as exc:
            raise output_error(exc, self.path) from None

    def rewind(self) -> None:
        """Back to an empty file, to write it whole again (a regular file only)."""
        if self.regular and self.handle is not None:
            self.handle.seek(0)
            self.handle.truncate()

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()  # the lock goes with it
            self.handle = None


def _foreign_file(path: str) -> bool:
    """A non-empty regular file that no sidecar of this command names: not ours to replace."""
    try:
        info = os.stat(path)
    except OSError:
        return False
    if not stat.S_ISREG(info.st_mode) or info.st_size == 0:
        return False
    try:
        with open(path + SIDECAR_SUFFIX, encoding="utf-8") as handle:
            meta = json.load(handle)
    except (OSError, ValueError):
        return True
    return not (isinstance(meta, dict) and meta.get("output") == os.path.basename(path))


# -- writers -------------------------------------------------------------------------------------
class Writer:
    """The page sink: each page's items are written, then counted, then committed."""

    unlimited = False  # the action's default max_events applies

    def __init__(self, inputs: Any, say: Any, output: Optional[str]) -> None:
        self.inputs = inputs
        self.say = say  # one line to stderr
        self.output = output
        self.path = output  # where the events are, for messages
        self.events = 0
        self.pages = 0
        self.total: Optional[int] = None
        self.cursor: Optional[str] = None  # the next page's cursor
        self.last: Optional[Dict[str, Any]] = None  # the last page's envelope, without data
        self.check: Any = None
        self.problem: Any = None

    def __call__(self, envelope: Dict[str, Any], items: List[Any]) -> None:
        if self.check is not None and self.problem is None:
            self.problem = self.check(envelope)
        with _sigint_held():
            self.write_page(items)
            body = envelope["json_body"]
            pagination = _pagination(body)
            self.events += len(items)
            self.pages += 1
            self.total = pagination.get("totalItems", self.total)
            self.cursor = pagination.get("nextCursor")
            self.last = {**envelope, "json_body": {**body, "data": []}}
            self.commit()

    def write_page(self, items: List[Any]) -> None:
        """Not following: the one page arrives in finish()."""

    def commit(self) -> None:
        """After a page: make what was written durable (flush, sidecar)."""

    def partial(self, title: str, detail: str) -> Dict[str, Any]:
        """The envelope of a run that stopped after the last page: resume at its cursor."""
        last = self.last or {"status_code": None, "reason": None, "response_headers": {}}
        body = dict(last.get("json_body") or {})
        pagination = {**_pagination(body), "nextCursor": self.cursor, "totalItems": self.total}
        body.update(data=[], pagination=pagination)
        body["errors"] = [{"code": None, "title": title, "detail": detail}]
        return {**last, "json_body": body}

    def resume_hint(self) -> str:
        return "its json_body.pagination.nextCursor"

    def kept_sentence(self, when: str) -> str:
        """Where the events read before an interruption or failure are, and how to go on."""
        return (
            f"The {self.events:,} events read {when} are in {self.path}; resume with "
            f"{self.resume_hint()}."
        )


class FieldList(Writer):
    """``--columns list``: the field names of the first page's events, one a line on stdout."""

    def finish(self, envelope: Optional[Dict[str, Any]], stopped: Optional[str] = None) -> None:
        data = _body(envelope).get("data")
        names = {name: None for event in data or [] if isinstance(event, dict) for name in event}
        if not names:
            self.say(f"no events on the first page (HTTP {(envelope or {}).get('status_code')}).")
        write_stdout("".join(f"{name}\n" for name in names).encode("utf-8"))

    def kept_sentence(self, when: str) -> str:
        return ""


class EnvelopeWriter(Writer):
    """The envelope, byte for byte as the in-memory path prints it; the events wait in a spool
    file until the head (the last page's) is known."""

    def __init__(self, inputs: Any, say: Any, output: Optional[str], pretty: bool) -> None:
        super().__init__(inputs, say, output)
        self.path = output or "the envelope on stdout"
        self.pretty = pretty
        self.pad = "\n" + " " * 6 if pretty else ""  # events sit at depth 3: json_body > data
        self.sep = "," + self.pad if pretty else ", "
        folder = os.path.dirname(os.path.abspath(output)) if output and output != "-" else None
        self.spool_dir = folder or tempfile.gettempdir()
        self.spool = tempfile.TemporaryFile(prefix="events-", suffix=".spool", dir=folder)
        self.out = Output("-")
        self.terminal = False  # stderr is a terminal: the in-memory path's lines there too

    def open(self, force: bool) -> None:
        self.out = Output(self.output or "-", force=force)

    def write_page(self, items: List[Any]) -> None:
        if not items:
            return
        indent = 2 if self.pretty else None
        text = utf8(
            lambda ascii: self.sep.join(
                json.dumps(event, indent=indent, ensure_ascii=ascii).replace("\n", self.pad)
                for event in items
            )
        )
        try:
            self.spool.write((self.sep if self.events else self.pad).encode() + text)
        except OSError as exc:
            raise output_error(exc, f"the temporary spool file in {self.spool_dir}") from None

    def finish(self, envelope: Optional[Dict[str, Any]], stopped: Optional[str] = None) -> None:
        try:
            if envelope is not None:
                self.out.rewind()
                self._write(envelope)
        finally:
            self.spool.close()
            self.out.close()
        if envelope is not None and self.terminal:  # as the in-memory path shows them
            line = answer_line(envelope)
            if line:
                self.say(line)
            if self.pages:
                self.say(follow_summary(envelope, self.pages, self.events))

    def _write(self, envelope: Dict[str, Any]) -> None:
        out = self.out
        if not self.pages:  # one request, or the first page failed: nothing was spooled
            out.write(encode_json(envelope, self.pretty))
            return
        marker = f"streamed-events-{uuid.uuid4().hex}"
        outer = {**envelope, "json_body": {**envelope["json_body"], "data": marker}}
        head, tail = encode_json(outer, self.pretty).split(json.dumps(marker).encode("ascii"))
        out.write(head)
        if not self.events:
            out.write(b"[]")
        else:
            out.write(b"[")
            self.spool.flush()
            self.spool.seek(0)
            shutil.copyfileobj(self.spool, out, COPY_CHUNK)
            out.write(b"\n    ]" if self.pretty else b"]")
        out.write(tail)


class EventFile(Writer):
    """An event file with its sidecar FILE.meta.json, committed after every page."""

    unlimited = True  # events are not kept: only the user's own max_events applies
    record_end = b"\n"  # what a whole record ends with: resume cuts only there

    def __init__(
        self, inputs: Any, say: Any, output: str, options: Dict[str, Any], quiet: bool = False
    ) -> None:
        super().__init__(inputs, say, output)
        self.path = "standard output" if output == "-" else output
        self.sidecar: Optional[str] = output + SIDECAR_SUFFIX
        self.out: Optional[Output] = None
        self.options = {key: value for key, value in options.items() if value is not None}
        self.columns: Sequence[str] = self.options.get("columns") or DEFAULT_COLUMNS
        self.export_inputs = inputs  # as the export began (a resume keeps them)
        self.more = False  # the export ended as asked, with events left to read
        self.bytes = 0
        self.resumed = False
        self.quiet = quiet  # no summary line (the sidecar has it all)

    # -- the file ----------------------------------------------------------------------------
    def open(self, force: bool) -> None:
        """Open (and lock) the output before anything is sent; a new file gets its start."""
        self.out = Output(self.output, force=force, resume=self.resumed)
        if not self.out.regular:
            self.sidecar = None  # standard output, a device, a FIFO: nothing to resume from
        if self.resumed:
            assert self.out.handle is not None
            self.out.handle.truncate(self.bytes)
            self.out.handle.seek(self.bytes)
        else:
            self.start()

    def start(self) -> None:
        """Write what opens a new file (a csv header)."""

    def append(self, data: bytes) -> None:
        """Write a page's records; on failure, cut the file back to its last whole page."""
        assert self.out is not None
        try:
            self.out.write(data)
        except BaseException:
            if self.out.regular and self.out.handle is not None:
                with contextlib.suppress(OSError, ValueError):
                    self.out.handle.seek(self.bytes)
                    self.out.handle.truncate()
            raise
        self.bytes += len(data)

    def row(self, event: Any) -> List[str]:
        """The chosen columns of an event, as text."""
        return [_cell(event.get(name)) if isinstance(event, dict) else "" for name in self.columns]

    def commit(self) -> None:
        self.write_sidecar(self.last or {}, self.cursor, finished=False, last=False)

    # -- the sidecar -------------------------------------------------------------------------
    def meta(
        self, envelope: Dict[str, Any], cursor: Optional[str], finished: bool
    ) -> Dict[str, Any]:
        meta: Dict[str, Any] = {
            "version": SIDECAR_VERSION,
            "output": os.path.basename(self.path),
            **self.options,
            "inputs": self.export_inputs,
            "finished": finished,
            "status_code": envelope.get("status_code"),
            "reason": envelope.get("reason"),
            "response_headers": envelope.get("response_headers") or {},
            "totalItems": self.total,
            "events": self.events,
            "pages": self.pages,
            "bytes": self.bytes,
            "nextCursor": cursor,
        }
        if _body(envelope).get("errors") is not None:
            meta["errors"] = _body(envelope)["errors"]
        if "response_text" in envelope:
            meta["response_text"] = envelope["response_text"]
        return meta

    def write_sidecar(
        self, envelope: Dict[str, Any], cursor: Optional[str], finished: bool, last: bool = True
    ) -> None:
        """FILE.meta.json replaced whole; compact after each page (cheap), indented at the end."""
        if self.sidecar is None:
            return
        meta = self.meta(envelope, cursor, finished)
        text = json.dumps(meta, indent=2 if last else None, ensure_ascii=False, default=str)
        partial = f"{self.sidecar}.{os.getpid()}.partial"  # one per run
        try:
            with open(partial, "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
            os.replace(partial, self.sidecar)
        except OSError as exc:
            raise output_error(exc, self.sidecar) from None

    # -- resume ------------------------------------------------------------------------------
    def resume_from(self, meta: Dict[str, Any]) -> None:
        """Continue the export that ``meta`` (its sidecar) describes."""
        try:
            size = os.path.getsize(self.path)
        except OSError:
            size = -1
        recorded = meta.get("bytes")
        if not isinstance(recorded, int) or size < recorded:
            raise _refused(
                f"--resume: {self.path} is missing or shorter than {self.sidecar} records "
                f"({recorded} bytes); start the export again."
            )
        if not self.whole_records_end_at(recorded):
            raise _refused(
                f"--resume: {self.sidecar} records {recorded} bytes, which is not where a "
                f"record of {self.path} ends; start the export again."
            )
        self.resumed = True
        self.bytes = recorded
        self.events, self.pages = meta.get("events", 0), meta.get("pages", 0)
        self.total = meta.get("totalItems")
        self.cursor = meta.get("nextCursor")
        inputs = dict(self.export_inputs)
        parameters = dict(inputs.get("parameters") or {})
        if self.pages:  # the cursor carries the position, as between pages
            parameters.pop("skip", None)
            parameters["cursor"] = self.cursor
        inputs["parameters"] = parameters
        if isinstance(inputs.get("max_events"), int):
            inputs["max_events"] = max(1, inputs["max_events"] - self.events)
        self.inputs = inputs

    def whole_records_end_at(self, offset: int) -> bool:
        """Whether the file's first ``offset`` bytes end with a whole record (or are none)."""
        if offset == 0 or not self.record_end:
            return True
        size = len(self.record_end)
        with open(self.path, "rb") as handle:
            handle.seek(max(offset - size, 0))
            return handle.read(size) == self.record_end

    # -- the end -----------------------------------------------------------------------------
    def finish(self, envelope: Optional[Dict[str, Any]], stopped: Optional[str] = None) -> None:
        if envelope is None:  # nothing arrived (transport failure on the first page)
            envelope = self.partial("Transport Error", stopped or "") if self.last else {}
        body = _body(envelope)
        status = envelope.get("status_code")
        ok = isinstance(status, int) and 200 <= status < 300
        if not self.pages and ok and isinstance(body.get("data"), list) and body["data"]:
            self(envelope, body["data"])  # one request, not following: that page is the export
        pagination = _pagination(body)
        self.cursor = cursor = pagination.get("nextCursor", self.cursor)
        if self.total is None:
            self.total = pagination.get("totalItems")
        ended = ok and stopped is None and body.get("errors") is None
        self.more = ended and cursor is not None  # one page, or max_events: the rest remains
        finished = ended and cursor is None  # the console said there is nothing more
        self.finalize(envelope, finished, stopped)
        self.write_sidecar(envelope, cursor, finished)
        self.summary(envelope, finished, stopped)

    def finalize(self, envelope: Dict[str, Any], finished: bool, stopped: Optional[str]) -> None:
        """The file complete as it stands (created even when no event arrived), closed."""
        if self.out is not None:
            self.out.close()

    def summary(self, envelope: Dict[str, Any], finished: bool, stopped: Optional[str]) -> None:
        """One line on stderr: what was written, the status, and how to resume."""
        if self.quiet or stopped is not None:
            return  # a stopped run's error message says it (kept_sentence)
        status = envelope.get("status_code")
        wrote = (
            f"{self.events:,} event{'' if self.events == 1 else 's'} "
            f"({self.pages:,} page{'' if self.pages == 1 else 's'}) in {self.path}"
        )
        total = f"totalItems {self.total:,}" if isinstance(self.total, int) else "totalItems null"
        answer = f"HTTP {status} {envelope.get('reason')}" if status is not None else "no answer"
        rqid = _rqid(envelope)
        if rqid:
            answer += f", X-RQID {rqid}"
        if finished:
            details = f"details in {self.sidecar}" if self.sidecar else "no sidecar"
            self.say(f"wrote {wrote}; {answer}; {total}; {details}.")
        elif self.more:
            self.say(
                f"wrote {wrote}; {answer}; {total}; more remain: resume with {self.resume_hint()}."
            )
        else:
            self.say(
                f"stopped at page {self.pages + 1:,}: {answer}; wrote {wrote}; {total}; "
                f"resume with {self.resume_hint()}."
            )

    def resume_hint(self, short: bool = False) -> str:
        """``--resume FILE.meta.json``, or (no sidecar) the cursor to pass."""
        if self.sidecar is None:
            return f"parameters.cursor {self.cursor}"
        return f"--resume {os.path.basename(self.sidecar) if short else self.sidecar}"


def _cell(value: Any) -> str:
    """An event field as text: strings as they are, null empty, the rest as JSON."""
    if isinstance(value, str):
        return value
    return "" if value is None else json.dumps(value, ensure_ascii=False)


class NdjsonFile(EventFile):
    """One event per line, as ``json.dumps`` (the CLI's compact settings) writes it."""

    def write_page(self, items: List[Any]) -> None:
        if items:
            self.append(
                utf8(lambda ascii: "".join(json.dumps(e, ensure_ascii=ascii) + "\n" for e in items))
            )


class CsvFile(EventFile):
    """The chosen columns (RFC 4180: header row, CRLF, quoted where needed)."""

    record_end = b"\r\n"

    def append_rows(self, rows: List[List[str]]) -> None:
        text = io.StringIO()
        csv.writer(text).writerows(rows)
        self.append(text.getvalue().encode("utf-8", "backslashreplace"))

    def start(self) -> None:
        self.append_rows([list(self.columns)])

    def write_page(self, items: List[Any]) -> None:
        if items:
            self.append_rows([self.row(event) for event in items])


class MarkdownNote(EventFile):
    """A short case note written when the export ends: counts by eventType, the time range, the
    agents, the top processes and the first N events. Its running counts live in the sidecar
    (``summary``) so a resumed export carries on counting; past KEPT names per table, events
    count as "(others)", so the counts stay bounded."""

    record_end = b""  # written whole at the end: nothing to cut back

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_rows = self.options.get("rows", DEFAULT_ROWS)
        self.counts = empty_summary()

    def write_page(self, items: List[Any]) -> None:
        counts = self.counts
        for event in items:
            if not isinstance(event, dict):
                continue
            tally(counts["types"], _cell(event.get("eventType")) or "(none)")
            if event.get("processName"):
                tally(counts["processes"], _cell(event["processName"]))
            created = event.get("createdAt")
            if isinstance(created, str) and created:  # ISO 8601 UTC: text order is time order
                counts["first"] = min(created, counts["first"] or created)
                counts["last"] = max(created, counts["last"] or created)
            agent = event.get("agentId") or event.get("agentUuid") or event.get("agentName")
            if agent:
                agents = counts["agents"]
                name = _cell(agent)
                if name not in agents:
                    name = name if len(agents) < KEPT else OTHERS
                    facts = {key: event.get(key) for key in AGENT_FACTS if name != OTHERS}
                    agents.setdefault(name, {**dict.fromkeys(AGENT_FACTS), **facts, "events": 0})
                agents[name]["events"] += 1
            if len(counts["rows"]) < self.max_rows:
                counts["rows"].append(self.row(event))

    def meta(
        self, envelope: Dict[str, Any], cursor: Optional[str], finished: bool
    ) -> Dict[str, Any]:
        return {**super().meta(envelope, cursor, finished), "summary": self.counts}

    def resume_from(self, meta: Dict[str, Any]) -> None:
        super().resume_from(meta)
        self.counts = meta.get("summary") or empty_summary()

    def finalize(self, envelope: Dict[str, Any], finished: bool, stopped: Optional[str]) -> None:
        data = self.render(envelope, finished, stopped).encode("utf-8", "backslashreplace")
        assert self.out is not None
        self.out.rewind()
        self.out.write(data)
        self.out.close()
        self.bytes = len(data)

    def render(self, envelope: Dict[str, Any], finished: bool, stopped: Optional[str]) -> str:
        state = self.counts
        threat = (self.export_inputs.get("path_parameters") or {}).get("threat_id", "?")
        resume = f"resume with {self.resume_hint(short=True)}"
        if finished:
            how = "complete"
        elif self.more:
            how = f"more remain; {resume}"
        elif stopped == "interrupted":
            how = f"interrupted; {resume}"
        elif stopped is not None:
            how = f"stopped by a transport failure; {resume}"
        else:
            answer = f"HTTP {envelope.get('status_code')} {envelope.get('reason')}"
            how = f"stopped at page {self.pages + 1}, {answer}; {resume}"
        of = f" of {self.total:,}" if isinstance(self.total, int) else ""
        lines = [
            f"# SentinelOne threat {md(_cell(threat))}: {self.events:,} events",
            "",
            f"- **Events:** {self.events:,}{of} ({md(how)})",
            f"- **Time range (createdAt):** {md(state['first'] or '-')} to "
            f"{md(state['last'] or '-')}",
        ]
        rqid = _rqid(envelope)
        if rqid:
            lines.append(f"- **Last request id (X-RQID):** {md(_cell(rqid))}")
        agents = [
            [_cell(v) for v in (e["agentName"], agent_id, e["agentOs"], e["agentIp"])]
            + [f"{e['events']:,}"]
            for agent_id, e in top(state["agents"], TOP_AGENTS)
        ]
        types = _counted(top(state["types"], KEPT))
        processes = _counted(top(state["processes"], TOP_PROCESSES))
        rows = state["rows"]
        lines += _section(
            "Agents", ["agentName", "agentId", "agentOs", "agentIp", "events"], agents
        )
        lines += _section("Events by type", ["eventType", "events"], types)
        lines += _section(f"Top processes ({len(processes)})", ["processName", "events"], processes)
        lines += ["", f"## First {len(rows)} events", ""]
        if rows:
            lines += _table(list(self.columns), rows, numeric=False)
        return "\n".join(lines) + "\n"


KEPT = 1000  # names counted per table of the case note; events of further names: "(others)"
TOP_AGENTS = 20
OTHERS = "(others)"
AGENT_FACTS = ("agentName", "agentOs", "agentIp")


def tally(counts: Dict[str, int], name: str) -> None:
    """Count one event of ``name``, or of "(others)" once KEPT names are counted."""
    if name not in counts and len(counts) >= KEPT:
        name = OTHERS
    counts[name] = counts.get(name, 0) + 1


def top(counts: Dict[str, Any], n: int) -> List[Any]:
    """The n largest entries (a count, or an agent's entry with its "events"), then "(others)"
    holding the rest: the names past n added to the events already counted there."""

    def count(value: Any) -> int:
        return value["events"] if isinstance(value, dict) else value

    named = sorted(
        ((k, v) for k, v in counts.items() if k != OTHERS), key=lambda kv: (-count(kv[1]), kv[0])
    )
    rest = sum(count(v) for _, v in named[n:]) + count(counts.get(OTHERS, 0))
    if not rest:
        return named[:n]
    agents = isinstance(next(iter(counts.values())), dict)
    others = {**dict.fromkeys(AGENT_FACTS), "events": rest} if agents else rest
    return [*named[:n], (OTHERS, others)]


def _counted(pairs: List[Any]) -> List[List[str]]:
    return [[name, f"{count:,}"] for name, count in pairs]


def _section(title: str, head: List[str], rows: List[List[str]]) -> List[str]:
    return ["", f"## {title}", "", *_table(head, rows)]


def _table(head: List[str], rows: List[List[str]], numeric: bool = True) -> List[str]:
    """A markdown table, every cell escaped; ``numeric``: the last column aligned right."""
    lines = ["| " + " | ".join(md(cell) for cell in row) + " |" for row in [head, *rows]]
    rule = "|" + "---|" * (len(head) - numeric) + ("---:|" if numeric else "")
    return [lines[0], rule, *lines[1:]]


def empty_summary() -> Dict[str, Any]:
    return {"types": {}, "first": None, "last": None, "processes": {}, "agents": {}, "rows": []}


MARKDOWN_SPECIAL = str.maketrans({ch: "\\" + ch for ch in "\\`*_[]<>|#"} | {"\n": " ", "\r": " "})


def md(text: str) -> str:
    """Text for a markdown line or table cell: what could format, link or break it escaped."""
    return text.translate(MARKDOWN_SPECIAL)


WRITERS = {"ndjson": NdjsonFile, "csv": CsvFile, "markdown": MarkdownNote}
