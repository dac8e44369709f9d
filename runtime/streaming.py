"""Streamed output of ``runtime run``: pages are written as they arrive, never all held.

* ``--format envelope`` (the default, when the inputs follow cursors): the same bytes as the
  in-memory path would print. The envelope's head (status, reason) is the last page's, known
  only at the end, so each page's events are written to a spool file as they arrive; at the
  end the head is written, the spool copied in bounded chunks, then the tail.
* ``--format ndjson|csv|markdown --output FILE``: event files. ndjson and csv are appended to
  page by page (whole lines only, flushed per page); the markdown case note is rewritten after
  every page. Beside FILE, ``FILE.meta.json`` (the sidecar) records the last page's status,
  reason and headers, totalItems, events and pages written, the cursor to resume from, the
  inputs and options of the export and whether it finished; it is rewritten (atomically)
  after every page, so even a killed process leaves a file and a sidecar that agree.
* ``--resume FILE.meta.json`` continues such an export: the file is cut back to the bytes the
  sidecar records, and following goes on from its cursor, appending; no event is lost or
  repeated.

A page failure, a transport failure or Ctrl-C ends the export with everything read so far in
the file and the sidecar saying where to resume.
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import fcntl
import io
import json
import os
import shlex
import signal
import stat
import tempfile
import threading
import uuid
from typing import Any, BinaryIO, Dict, Iterator, List, Optional, Sequence

from framework.exact import dumps
from runtime.output import (
    EXIT_BROKEN,
    EXIT_INPUT,
    EXIT_OK,
    EXIT_OUTPUT,
    CliError,
    answer_line,
    follow_summary,
    header,
    run_failed,
    write_stdout,
)

FORMATS = ("envelope", "ndjson", "csv", "markdown")
EVENT_FORMATS = FORMATS[1:]
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


# -- when the CLI streams ------------------------------------------------------------------------
def wanted(args: Any, plugin: Any, inputs: Any) -> bool:
    """Whether ``runtime run`` goes through this module: an output option was given, or the
    inputs follow cursors (the only runs whose output grows with the number of pages)."""
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


# -- the run -------------------------------------------------------------------------------------
def run(
    args: Any, plugin: Any, asset: Any, inputs: Any, progress: Any, on_connect: Any = None
) -> int:
    """``runtime run`` with streamed output; returns the exit code or raises CliError.
    ``progress`` and ``on_connect`` are handed to the runner as the in-memory path does."""
    from framework.runner import check_output, find_action

    try:
        writer = _plan(args, plugin, inputs, args.stderr.say)
    except CliError as exc:  # an option (or its file) that cannot be used
        prefix = "invalid option: "
        lines = [line if line.startswith(prefix) else prefix + line for line in exc.lines]
        raise CliError(exc.code, lines) from None
    if writer is None:  # --resume of an export that already finished
        return EXIT_OK
    spec = find_action(plugin, args.action) if args.validate_output else None
    if spec is not None:
        writer.check = lambda envelope: check_output(spec, envelope)
    try:
        return _run(args, plugin, asset, writer, progress, on_connect)
    except OutputError as exc:
        if progress is not None:
            progress.clear()
        raise CliError(EXIT_OUTPUT, [str(exc)]) from None


def _run(args: Any, plugin: Any, asset: Any, writer: Writer, progress: Any, on_connect: Any) -> int:
    from framework.errors import RunError
    from framework.runner import run_action

    try:
        envelope = run_action(
            plugin,
            args.action,
            asset,
            writer.inputs,
            progress=progress,
            on_connect=on_connect,
            pages=writer,
        )
    except RunError as exc:
        if progress is not None:
            progress.clear()
        if exc.kind in ("inputs", "asset"):
            writer.discard()
            raise run_failed(exc, "") from None
        if exc.kind == "interrupted":
            if not writer.pages and not writer.keeps_file:
                writer.discard()
                raise run_failed(exc, "") from None
            detail = f"interrupted (Ctrl-C) after {writer.events:,} events; nothing was lost."
            writer.finish(writer.partial("Interrupted", detail), stopped="interrupted")
            raise run_failed(exc, writer.kept_sentence("so far")) from None
        if exc.envelope is None and not writer.pages:
            if writer.keeps_file:
                writer.finish(None, stopped=str(exc))
            else:
                writer.discard()
            raise run_failed(exc, "") from None
        partial = exc.envelope or writer.partial("Transport Error", str(exc))
        writer.finish(partial, stopped=str(exc))
        raise run_failed(exc, writer.kept_sentence("before it")) from None
    if progress is not None:
        progress.clear()
    writer.finish(envelope)
    if writer.check is not None and writer.problem is None:
        writer.problem = writer.check(envelope)  # the head (or the one page, not following)
    if writer.problem:
        raise CliError(EXIT_BROKEN, str(writer.problem).splitlines())
    return EXIT_OK


class OutputError(Exception):
    """The output file could not be written: one sentence naming it."""


def _plan(args: Any, plugin: Any, inputs: Any, say: Any) -> Optional[Writer]:
    """The writer for these options (checked before anything is sent), or None when
    ``--resume`` finds the export already finished."""
    if args.resume:
        return _resume(args, say)
    if args.columns == "list":  # one request: the fields its events hold, on stdout
        return FieldList({**inputs, "follow_cursor": False}, say, None)
    fmt = args.format or "envelope"
    if fmt in EVENT_FORMATS and not args.output:
        raise CliError(
            EXIT_INPUT,
            [f"--format {fmt}: needs --output FILE (the events go to a file, and beside it "
             f"FILE{SIDECAR_SUFFIX})."],
        )  # fmt: skip
    if args.columns is not None and fmt not in ("csv", "markdown"):
        raise CliError(EXIT_INPUT, ["--columns: applies to --format csv or markdown only."])
    if args.rows is not None and fmt != "markdown":
        raise CliError(EXIT_INPUT, ["--rows: applies to --format markdown only."])
    if args.pretty and fmt != "envelope":
        raise CliError(EXIT_INPUT, [f"--pretty: applies to --format envelope, not {fmt}."])
    known = event_fields(plugin.actions[args.action].output_schema)
    columns = _columns(args.columns, known) if fmt in ("csv", "markdown") else None
    rows = args.rows if args.rows is not None else DEFAULT_ROWS
    if not 0 <= rows <= MAX_ROWS:
        raise CliError(
            EXIT_INPUT, [f"--rows: got {rows}; expected an integer from 0 to {MAX_ROWS}."]
        )
    if args.output and args.output != "-":
        _check_writable(args.output)
    force = bool(getattr(args, "force", False))
    if fmt == "envelope":
        writer = EnvelopeWriter(inputs, say, args.output, bool(args.pretty))
        writer.terminal = not args.quiet and args.stderr.isatty()
        writer.open(force)
        return writer
    coerced = _coerced(plugin, args.action, inputs) or inputs
    options: Dict[str, Any] = {"format": fmt}
    if columns:
        options["columns"] = list(columns)
    if fmt == "markdown":
        options["rows"] = rows
    writer = WRITERS[fmt](coerced, say, args.output, options)
    writer.quiet = bool(args.quiet)
    writer.rerun = rerun_command(args)
    writer.open(force)
    return writer


def rerun_command(args: Any) -> str:
    """The command line that continues this export (with ``--resume SIDECAR``), as typed."""
    prog = getattr(args, "prog", "python -m runtime")
    return f"{prog} run {shlex.quote(args.action)} --asset {shlex.quote(args.asset)} --resume"


def _columns(text: Optional[str], known: List[str]) -> Sequence[str]:
    if text is None:
        return DEFAULT_COLUMNS
    if text == "all":
        return known
    names = [name.strip() for name in text.split(",")]
    if not names or any(not name for name in names) or len(set(names)) != len(names):
        raise CliError(
            EXIT_INPUT,
            [f"--columns: got {text!r}; expected distinct event field names separated by "
             "commas, such as createdAt,eventType,processName."],
        )  # fmt: skip
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise CliError(
                EXIT_INPUT,
                [f"--columns: {name!r} is not an event field{hint}; --columns list shows the "
                 "fields of the first page's events, --columns all takes every known field."],
            )  # fmt: skip
    return names


def event_fields(output_schema: Dict[str, Any]) -> List[str]:
    """The event field names the output schema knows: the properties of the items of the
    ``data`` array it describes (a local $ref followed)."""
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
        raise CliError(EXIT_INPUT, [f"--output: {path} is a folder; expected a file name."])
    if not os.path.isdir(folder):
        raise CliError(EXIT_INPUT, [f"--output: the folder {folder} does not exist."])
    if not os.path.exists(path) and not os.access(folder, os.W_OK):
        raise CliError(EXIT_INPUT, [f"--output: the folder {folder} is not writable."])


def _more_events(path: str) -> Dict[str, Any]:
    """``{"max_events": N}`` from the --inputs file given with --resume: the new total."""
    from runtime.documents import DocumentError, read_document_file

    try:
        given = read_document_file(path)
    except DocumentError as exc:
        raise CliError(EXIT_INPUT, [f"--inputs: {exc}"]) from None
    if not isinstance(given, dict) or set(given) != {"max_events"}:
        raise CliError(
            EXIT_INPUT,
            ["--resume: takes the inputs from the sidecar; --inputs may give only max_events, "
             "the new total to read."],
        )  # fmt: skip
    return given


def _resume(args: Any, say: Any) -> Optional[Writer]:
    given = [
        option
        for option, value in (
            ("--output", args.output), ("--format", args.format),
            ("--columns", args.columns), ("--rows", args.rows), ("--pretty", args.pretty),
        )
        if value not in (None, False)
    ]  # fmt: skip
    if given:
        raise CliError(
            EXIT_INPUT,
            [f"--resume: takes the inputs and options from {args.resume}; leave out "
             f"{', '.join(given)}."],
        )  # fmt: skip
    path = args.resume
    try:
        with open(path, encoding="utf-8") as handle:
            meta = json.load(handle)
    except FileNotFoundError:
        raise CliError(EXIT_INPUT, [f"--resume: the file {path} does not exist."]) from None
    except (OSError, ValueError) as exc:
        raise CliError(
            EXIT_INPUT, [f"--resume: cannot read {path} ({type(exc).__name__})."]
        ) from None
    if (
        not isinstance(meta, dict)
        or meta.get("version") != SIDECAR_VERSION
        or meta.get("format") not in EVENT_FORMATS
        or not path.endswith(SIDECAR_SUFFIX)
    ):
        raise CliError(
            EXIT_INPUT,
            [f"--resume: {path} is not a sidecar written by --format ndjson, csv or markdown "
             f"(FILE{SIDECAR_SUFFIX})."],
        )  # fmt: skip
    output = path[: -len(SIDECAR_SUFFIX)]
    if args.inputs:  # only a new max_events: read more than the export first asked for
        meta["inputs"] = {**(meta.get("inputs") or {}), **_more_events(args.inputs)}
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
    fmt = meta["format"]
    options = {k: meta[k] for k in ("format", "columns", "rows") if meta.get(k) is not None}
    writer = WRITERS[fmt](meta.get("inputs") or {}, say, output, options)
    writer.quiet = bool(args.quiet)
    writer.rerun = rerun_command(args)
    writer.resume_from(meta)
    writer.open(False)
    return writer


def utf8(text_of: Any) -> bytes:
    """``text_of(ascii=False)`` as UTF-8; a string with a lone surrogate (valid JSON such as
    "\\udc80") has no UTF-8 form, so then ``text_of(ascii=True)`` (\\u escapes, same data),
    as the CLI does for a whole envelope."""
    try:
        return text_of(False).encode("utf-8")
    except UnicodeEncodeError:
        return text_of(True).encode("ascii")


class Stdout:
    """An output to stdout through the CLI's writer (every byte, or exit 5 saying why), in
    pieces: a failure counts the bytes of all of them (of ``total``, when known)."""

    def __init__(self, what: str = "the envelope") -> None:
        self.what = what
        self.written = 0
        self.total: Optional[int] = None

    def write(self, data: bytes) -> None:
        write_stdout(data, self.what, part_of=(self.written, self.total))
        self.written += len(data)


# -- SIGINT is held while a page is committed ------------------------------------------------------
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
    """What ``--output`` names, opened before anything is sent, written through as given.

    ``-`` is standard output. Any other path is opened as it is (a symbolic link is followed;
    nothing is ever renamed over it): a regular file is locked for the run, so a second run
    writing the same file is refused, and only a regular file gets a sidecar; a device or a
    FIFO is written like standard output. An existing regular file is replaced only when it is
    empty, an earlier export of this command (its sidecar names it), or with ``--force``."""

    def __init__(self, path: str, *, force: bool = False, resume: bool = False) -> None:
        self.path = path
        self.stdout = path == "-"
        self.sink = Stdout("the events")
        self.regular = self.created = False
        self.handle: Optional[BinaryIO] = None
        if self.stdout:
            return
        if not resume and not force and _foreign_file(path):
            raise CliError(
                EXIT_INPUT,
                [f"--output: {path} exists and is not an earlier export of this command; "
                 "choose a new name, or add --force to replace it."],
            )  # fmt: skip
        self.created = not os.path.lexists(path)  # ours to remove if nothing is written
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
                raise CliError(
                    EXIT_INPUT,
                    [f"--output: {path} is being written by another run; wait for it to end, "
                     "or choose another file."],
                ) from None  # fmt: skip
            if not resume:
                os.ftruncate(fd, 0)
        self.handle = os.fdopen(fd, "r+b" if self.regular else "wb")

    def write(self, data: bytes) -> None:
        if self.stdout:
            self.sink.write(data)
            return
        assert self.handle is not None
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


def output_error(exc: OSError, path: str) -> OutputError:
    reason = exc.strerror or type(exc).__name__
    return OutputError(f"output error: cannot write {path} ({reason.lower()}).")


# -- writers -------------------------------------------------------------------------------------
class Writer:
    """The page sink: each page's items are written, then counted, then committed."""

    unlimited = False
    keeps_file = False  # writes a file (and a sidecar) even when no page arrived

    def __init__(self, inputs: Any, say: Any, output: Optional[str]) -> None:
        self.inputs = inputs
        self.say = say  # one line to stderr
        self.output = output
        self.events = 0
        self.pages = 0
        self.total: Optional[int] = None
        self.cursor: Optional[str] = None  # the next page's cursor
        self.last: Optional[Dict[str, Any]] = None  # the last page's envelope, without data
        self.check: Any = None
        self.problem: Any = None

    # the sink
    def __call__(self, envelope: Dict[str, Any], items: List[Any]) -> None:
        if self.check is not None and self.problem is None:
            self.problem = self.check(envelope)
        with _sigint_held():
            self.write_page(items)
            body = envelope["json_body"]
            pagination = body.get("pagination") if isinstance(body.get("pagination"), dict) else {}
            self.events += len(items)
            self.pages += 1
            self.total = pagination.get("totalItems", self.total)
            self.cursor = pagination.get("nextCursor")
            self.last = {**envelope, "json_body": {**body, "data": []}}
            self.commit()

    def write_page(self, items: List[Any]) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        """After a page: make what was written durable (flush, sidecar)."""

    def partial(self, title: str, detail: str) -> Dict[str, Any]:
        """The envelope of a run that stopped after the last page: resume at its cursor."""
        last = self.last or {"status_code": None, "reason": None, "response_headers": {}}
        body = dict(last.get("json_body") or {})
        pagination = body.get("pagination") if isinstance(body.get("pagination"), dict) else {}
        body["data"] = []
        body["pagination"] = {**pagination, "nextCursor": self.cursor, "totalItems": self.total}
        body["errors"] = [{"code": None, "title": title, "detail": detail}]
        return {**last, "json_body": body}

    def finish(self, envelope: Optional[Dict[str, Any]], stopped: Optional[str] = None) -> None:
        raise NotImplementedError

    def discard(self) -> None:
        """Nothing to write after all (nothing sent, or no answer): --output was opened before
        the run, and a file this run created is not left behind empty."""
        out = getattr(self, "out", None)
        if out is not None and out.handle is not None:
            out.close()
            if out.created:
                os.unlink(out.path)

    def kept_sentence(self, when: str) -> str:
        """``The N events read <when> are in <where>; resume with ...``."""
        raise NotImplementedError


class EnvelopeWriter(Writer):
    """The envelope, byte for byte as ``json.dumps`` of the in-memory envelope would print it,
    with the events spooled to a temporary file until the head (the last page's) is known."""

    def __init__(self, inputs: Any, say: Any, output: Optional[str], pretty: bool) -> None:
        super().__init__(inputs, say, output)
        self.indent = 2 if pretty else None
        # The events sit at depth 3 (envelope > json_body > data > event).
        self.pad = "\n" + " " * 6 if pretty else ""
        self.first_sep = self.pad.encode()
        self.sep = ("," + self.pad).encode() if pretty else b", "

        self.out: Optional[Output] = None
        folder = os.path.dirname(os.path.abspath(output)) if output and output != "-" else None
        self.spool_dir = folder or tempfile.gettempdir()
        self.spool = tempfile.TemporaryFile(prefix="events-", suffix=".spool", dir=folder)
        self.terminal = False  # stderr is a terminal: the in-memory path's lines there too

    def open(self, force: bool) -> None:
        if self.output and self.output != "-":
            self.out = Output(self.output, force=force)

    def write_page(self, items: List[Any]) -> None:
        if not items:
            return
        prefix = self.sep if self.events else self.first_sep
        try:
            self.spool.write(prefix + utf8(lambda ascii: self.page_text(items, ascii)))
        except OSError as exc:
            raise output_error(exc, f"the temporary spool file in {self.spool_dir}") from None

    def page_text(self, items: List[Any], ascii: bool) -> str:
        if self.indent is None:  # a list's items are joined by ", ": the page is one call
            return dumps(items, ensure_ascii=ascii)[1:-1]
        pad = self.pad
        return self.sep.decode().join(
            dumps(event, indent=self.indent, ensure_ascii=ascii).replace("\n", pad)
            for event in items
        )

    def finish(self, envelope: Optional[Dict[str, Any]], stopped: Optional[str] = None) -> None:
        try:
            if envelope is not None:
                out = self.out or Stdout()
                if self.out is not None:
                    self.out.rewind()
                self._write(out, envelope)
        finally:
            self.spool.close()
            if self.out is not None:
                self.out.close()
        if envelope is None:
            return
        if self.terminal:
            self.terminal_lines(envelope)

    def _write(self, out: Any, envelope: Dict[str, Any]) -> None:
        if not self.pages:  # one request, or the first page failed: nothing was spooled
            out.write(
                utf8(lambda ascii: dumps(envelope, indent=self.indent, ensure_ascii=ascii)) + b"\n"
            )
            return

        marker = f"streamed-events-{uuid.uuid4().hex}"
        body = {**envelope["json_body"], "data": marker}
        outer = {**envelope, "json_body": body}
        text = utf8(lambda ascii: dumps(outer, indent=self.indent, ensure_ascii=ascii))
        head, tail = text.split(json.dumps(marker).encode("ascii"))
        close = b"\n    ]" if self.indent else b"]"
        self.spool.flush()
        events = 1 + self.spool.seek(0, os.SEEK_END) + len(close) if self.events else 2
        if isinstance(out, Stdout):
            out.total = len(head) + events + len(tail) + 1
        out.write(head)
        if not self.events:
            out.write(b"[]")
        else:
            out.write(b"[")
            self.spool.seek(0)
            while True:
                chunk = self.spool.read(COPY_CHUNK)
                if not chunk:
                    break
                out.write(chunk)
            out.write(close)
        out.write(tail + b"\n")

    def terminal_lines(self, envelope: Dict[str, Any]) -> None:
        """On a terminal, as the in-memory path shows them: a non-2xx answer, the summary."""
        line = answer_line(envelope)
        if line:
            self.say(line)
        if self.pages:
            self.say(follow_summary(envelope, self.pages, self.events))

    def kept_sentence(self, when: str) -> str:
        where = self.output or "the envelope on stdout"
        return (
            f"The {self.events:,} events read {when} are in {where}; resume with its "
            "json_body.pagination.nextCursor."
        )


class EventFile(Writer):
    """An event file with its sidecar FILE.meta.json, committed after every page."""

    unlimited = True  # events are not kept: only the user's own max_events applies
    keeps_file = True

    record_end = b"\n"  # what a whole record ends with: resume cuts only there

    def __init__(self, inputs: Any, say: Any, output: str, options: Dict[str, Any]) -> None:
        super().__init__(inputs, say, output)
        self.path = "standard output" if output == "-" else output
        self.sidecar: Optional[str] = output + SIDECAR_SUFFIX
        self.out: Optional[Output] = None
        self.options = options
        self.columns: Sequence[str] = options.get("columns") or DEFAULT_COLUMNS
        self.export_inputs = inputs  # as the export began (a resume keeps them)
        self.more = False  # the export ended as asked, with events left to read
        self.rerun = "python -m runtime run ACTION --asset ASSET --resume"  # set by the CLI
        self.bytes = 0
        self.resumed = False
        self.quiet = False  # --quiet: no summary line (the sidecar has it all)

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
        assert self.out is not None
        try:
            self.out.write(data)
        except BaseException:
            self.cut_back()
            raise
        self.bytes += len(data)

    def cut_back(self) -> None:
        """The file back to its last whole page (no line cut in half)."""
        if self.out is not None and self.out.regular and self.out.handle is not None:
            with contextlib.suppress(OSError, ValueError):
                self.out.handle.seek(self.bytes)
                self.out.handle.truncate()

    def commit(self) -> None:
        self.write_sidecar(self.last or {}, self.cursor, finished=False, last=False)

    # -- the sidecar -------------------------------------------------------------------------
    def meta(
        self, envelope: Dict[str, Any], cursor: Optional[str], finished: bool
    ) -> Dict[str, Any]:
        body = envelope.get("json_body") if isinstance(envelope.get("json_body"), dict) else {}
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
        if body.get("errors") is not None:
            meta["errors"] = body["errors"]
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
        indent = 2 if last else None
        text = json.dumps(meta, indent=indent, ensure_ascii=False, default=str)
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
            raise CliError(
                EXIT_INPUT,
                [f"--resume: {self.path} is missing or shorter than {self.sidecar} records "
                 f"({recorded} bytes); start the export again."],
            )  # fmt: skip
        if not self.whole_records_end_at(recorded):
            raise CliError(
                EXIT_INPUT,
                [f"--resume: {self.sidecar} records {recorded} bytes, which is not where a "
                 f"record of {self.path} ends; start the export again."],
            )  # fmt: skip
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
            envelope = {"json_body": None}
            if self.last is not None:
                envelope = self.partial("Transport Error", stopped or "")
        body = envelope.get("json_body") if isinstance(envelope.get("json_body"), dict) else {}
        status = envelope.get("status_code")
        ok = isinstance(status, int) and 200 <= status < 300
        if not self.pages and ok and isinstance(body.get("data"), list) and body["data"]:
            self(envelope, body["data"])  # one request, not following: that page is the export
        pagination = body.get("pagination") if isinstance(body.get("pagination"), dict) else {}
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
        if self.quiet:
            return
        rqid = header(envelope, "X-RQID")
        status = envelope.get("status_code")
        wrote = (
            f"{self.events:,} event{'' if self.events == 1 else 's'} "
            f"({self.pages:,} page{'' if self.pages == 1 else 's'}) in {self.path}"
        )
        total = f"totalItems {self.total:,}" if isinstance(self.total, int) else "totalItems null"
        answer = f"HTTP {status} {envelope.get('reason')}" if status is not None else "no answer"
        if rqid:
            answer += f", X-RQID {rqid}"
        if finished:
            details = f"details in {self.sidecar}" if self.sidecar else "no sidecar"
            line = f"wrote {wrote}; {answer}; {total}; {details}."
        elif self.more:
            line = (
                f"wrote {wrote}; {answer}; {total}; more remain: resume with {self.resume_hint()}."
            )
        elif stopped is not None:
            return  # the run's error message says it (kept_sentence)
        else:
            line = (
                f"stopped at page {self.pages + 1:,}: {answer}; wrote {wrote}; {total}; "
                f"resume with {self.resume_hint()}."
            )
        self.say(line)

    def resume_hint(self, short: bool = False) -> str:
        """How to go on: the command that resumes from the sidecar (for the case note, just
        ``--resume FILE.meta.json``), or (no sidecar) the cursor to pass."""
        if self.sidecar is None:
            return f"parameters.cursor {self.cursor}"
        if short:
            return f"--resume {os.path.basename(self.sidecar)}"
        return f"{self.rerun} {shlex.quote(self.sidecar)}"

    def kept_sentence(self, when: str) -> str:
        return (
            f"The {self.events:,} events read {when} are in {self.path}; resume with "
            f"{self.resume_hint()}."
        )


def _cell(value: Any) -> str:
    """An event field as text: strings (and numbers Python has no number for) as they are, null
    empty, the rest as JSON, numbers as they were sent."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return dumps(value)


class FieldList(Writer):
    """``--columns list``: the field names of the first page's events, one a line on stdout."""

    def write_page(self, items: List[Any]) -> None:
        """Not following: the page arrives in finish()."""

    def finish(self, envelope: Optional[Dict[str, Any]], stopped: Optional[str] = None) -> None:
        body = (envelope or {}).get("json_body")
        data = body.get("data") if isinstance(body, dict) else None
        names = {name: None for event in data or [] if isinstance(event, dict) for name in event}
        if not names:
            self.say(f"no events on the first page (HTTP {(envelope or {}).get('status_code')}).")
        Stdout().write("".join(f"{name}\n" for name in names).encode("utf-8"))

    def kept_sentence(self, when: str) -> str:
        return ""


class NdjsonFile(EventFile):
    """One event per line, as ``json.dumps`` (the CLI's compact settings) writes it."""

    def write_page(self, items: List[Any]) -> None:
        if items:
            self.append(utf8(lambda ascii: self.lines(items, ascii)) + b"\n")

    @staticmethod
    def lines(items: List[Any], ascii: bool) -> str:
        return "\n".join([dumps(event, ensure_ascii=ascii) for event in items])


class CsvFile(EventFile):
    """The chosen columns (RFC 4180: header row, CRLF, quoted where needed)."""

    record_end = b"\r\n"

    def rows(self, rows: List[List[str]]) -> bytes:

        text = io.StringIO()
        csv.writer(text).writerows(rows)
        return text.getvalue().encode("utf-8", "backslashreplace")

    def start(self) -> None:
        self.append(self.rows([list(self.columns)]))

    def write_page(self, items: List[Any]) -> None:
        columns = self.columns
        rows = [
            [_cell(event.get(name)) if isinstance(event, dict) else "" for name in columns]
            for event in items
        ]
        if rows:
            self.append(self.rows(rows))


class MarkdownNote(EventFile):
    """A short case note: counts by eventType, the time range, the agents, the top processes
    and the first N events as a table, written when the export ends. Its running counts live in
    the sidecar (``summary``), so that a resumed export carries on counting; each table counts
    at most KEPT names, and events of further names count as "(others)": the counts stay
    bounded whatever the number of events."""

    record_end = b""  # written whole at the end: nothing to cut back

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        rows = self.options.get("rows")
        self.max_rows = DEFAULT_ROWS if rows is None else rows
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
                first, last = counts["first"], counts["last"]
                counts["first"] = created if first is None or created < first else first
                counts["last"] = created if last is None or created > last else last
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
                counts["rows"].append([_cell(event.get(name)) for name in self.columns])

    def cut_back(self) -> None:
        """Nothing to cut: the note is written whole when the export ends."""

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
        status = envelope.get("status_code")
        rqid = header(envelope, "X-RQID")
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
            answer = f"HTTP {status} {envelope.get('reason')}"
            how = f"stopped at page {self.pages + 1}, {answer}; {resume}"
        of = f" of {self.total:,}" if isinstance(self.total, int) else ""
        lines = [
            f"# SentinelOne threat {md(_cell(threat))}: {self.events:,} events",
            "",
            f"- **Events:** {self.events:,}{of} ({md(how)})",
            f"- **Time range (createdAt):** {md(state['first'] or '-')} to "
            f"{md(state['last'] or '-')}",
        ]
        if rqid:
            lines.append(f"- **Last request id (X-RQID):** {md(_cell(rqid))}")
        lines += ["", "## Agents", "", "| agentName | agentId | agentOs | agentIp | events |"]
        lines.append("|---|---|---|---|---:|")
        for agent_id, entry in top(state["agents"], TOP_AGENTS):
            cells = [entry["agentName"], agent_id, entry["agentOs"], entry["agentIp"]]
            lines.append(
                "| " + " | ".join(md(_cell(c)) for c in cells) + f" | {entry['events']:,} |"
            )
        lines += ["", "## Events by type", "", "| eventType | events |", "|---|---:|"]
        lines += [f"| {md(name)} | {count:,} |" for name, count in top(state["types"], KEPT)]
        processes = top(state["processes"], TOP_PROCESSES)
        lines += ["", f"## Top processes ({len(processes)})", "", "| processName | events |"]
        lines.append("|---|---:|")
        lines += [f"| {md(name)} | {count:,} |" for name, count in processes]
        rows = state["rows"]
        if rows:  # (--rows 0: no table, and no heading over nothing)
            lines += ["", f"## First {len(rows)} events", ""]
            lines.append("| " + " | ".join(md(name) for name in self.columns) + " |")
            lines.append("|" + "---|" * len(self.columns))
            lines += ["| " + " | ".join(md(cell) for cell in row) + " |" for row in rows]
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


def empty_summary() -> Dict[str, Any]:
    return {"types": {}, "first": None, "last": None, "processes": {}, "agents": {}, "rows": []}


MARKDOWN_SPECIAL = str.maketrans({ch: "\\" + ch for ch in "\\`*_[]<>|#"} | {"\n": " ", "\r": " "})


def md(text: str) -> str:
    """Text for a markdown line or table cell: what could format, link or break it escaped."""
    return text.translate(MARKDOWN_SPECIAL)


WRITERS = {"ndjson": NdjsonFile, "csv": CsvFile, "markdown": MarkdownNote}
