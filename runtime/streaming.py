"""Streamed output of ``runtime run``: docs/cli.md, "Streaming output and event files"."""

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
from typing import Any, Dict, Iterator, List, Optional, Sequence

from framework.errors import os_reason
from framework.exact import dumps
from runtime import output
from runtime.output import CliError, as_dict, header, invalid, utf8

EVENT_FORMATS = ("ndjson", "csv", "markdown")
DEFAULT_COLUMNS = tuple(
    "id createdAt eventType processName pid user srcIp dstIp fileFullName".split()
)
DEFAULT_ROWS, MAX_ROWS = 20, 1000  # events in the markdown note's table
KEPT, OTHERS = 1000, "(others)"  # names counted per table of the note; further ones: OTHERS
AGENT_FACTS = ("agentName", "agentOs", "agentIp")
SIDECAR = ".meta.json"
MARKDOWN_SPECIAL = str.maketrans({ch: "\\" + ch for ch in "\\`*_[]<>|#"} | {"\n": " ", "\r": " "})


def wanted(args: Any, plugin: Any, inputs: Any) -> bool:
    """An output option was given, or the inputs follow cursors (output grows with pages)."""
    given = args.output or args.format or args.resume or args.columns or args.rows is not None
    return bool(given) or _coerced(plugin, args.action, inputs).get("follow_cursor") is True


def _coerced(plugin: Any, name: str, inputs: Any) -> Dict[str, Any]:
    from framework.coerce import coerce

    spec = plugin.actions.get(name)
    if spec is None or not isinstance(inputs, dict):
        return {}
    return as_dict(coerce(dict(inputs), spec.input_schema))


def run(args: Any, plugin: Any, asset: Any, inputs: Any, progress: Any, on_connect: Any) -> int:
    from framework.errors import RunError
    from framework.runner import check_output, find_action, run_action

    writer = _resume(args, inputs) if args.resume else _plan(args, plugin, inputs)
    if writer is None:  # --resume of an export that already finished
        return output.EXIT_OK
    writer.open()
    if args.validate_output:
        spec = find_action(plugin, args.action)
        writer.check = lambda envelope: check_output(spec, envelope)
    try:
        try:
            envelope = run_action(
                plugin, args.action, asset, writer.inputs, progress, on_connect, writer
            )
        finally:
            if progress is not None:
                progress.clear()
    except RunError as exc:
        raise output.run_failed(exc, writer.stopped(exc)) from None
    writer.finish(envelope)
    problem = writer.problem or writer.check(envelope)  # the head (or the one page, not following)
    if problem:
        raise CliError(output.EXIT_BROKEN, str(problem).splitlines())
    return output.EXIT_OK


def _plan(args: Any, plugin: Any, inputs: Any) -> Writer:
    """The writer for these options, all checked before anything is sent."""
    if args.columns == "list":  # one request: the fields its events hold, on stdout
        return FieldList({**inputs, "follow_cursor": False}, args, None, {})
    fmt = args.format or "envelope"
    if fmt in EVENT_FORMATS and not args.output:
        raise invalid(
            f"--format {fmt}: needs --output FILE (the events go to a file, and beside it "
            f"FILE{SIDECAR})."
        )
    if args.columns is not None and fmt not in ("csv", "markdown"):
        raise invalid("--columns: applies to --format csv or markdown only.")
    if args.rows is not None and fmt != "markdown":
        raise invalid("--rows: applies to --format markdown only.")
    if args.pretty and fmt != "envelope":
        raise invalid(f"--pretty: applies to --format envelope, not {fmt}.")
    options: Dict[str, Any] = {"format": fmt}
    if fmt in ("csv", "markdown"):
        options["columns"] = _columns(args.columns, plugin.actions[args.action].output_schema)
    if fmt == "markdown":
        options["rows"] = DEFAULT_ROWS if args.rows is None else args.rows
        if not 0 <= options["rows"] <= MAX_ROWS:
            raise invalid(f"--rows: got {args.rows}; expected an integer from 0 to {MAX_ROWS}.")
    path = args.output
    if path and path != "-":
        folder = os.path.dirname(os.path.abspath(path))
        if os.path.isdir(path):
            raise invalid(f"--output: {path} is a folder; expected a file name.")
        if not os.path.isdir(folder):
            raise invalid(f"--output: the folder {folder} does not exist.")
        if not os.path.exists(path) and not os.access(folder, os.W_OK):
            raise invalid(f"--output: the folder {folder} is not writable.")
    if fmt != "envelope":  # the sidecar records the inputs as coerced
        inputs = _coerced(plugin, args.action, inputs) or inputs
    return WRITERS[fmt](inputs, args, path, options)


def _columns(text: Optional[str], output_schema: Dict[str, Any]) -> List[str]:
    if text is None:
        return list(DEFAULT_COLUMNS)
    event = as_dict(as_dict(output_schema.get("$defs")).get("event"))  # json_body.data's items
    known = list(as_dict(event.get("properties")))
    if text == "all":
        return known
    names = [name.strip() for name in text.split(",")]
    if any(not name for name in names) or len(set(names)) != len(names):
        raise invalid(
            f"--columns: got {text!r}; expected distinct event field names separated by "
            "commas, such as createdAt,eventType,processName."
        )
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise invalid(
                f"--columns: {name!r} is not an event field{hint}; --columns list shows the "
                "fields of the first page's events, --columns all takes every known field."
            )
    return names


def _resume(args: Any, inputs: Any) -> Optional[Writer]:
    path = args.resume
    names = ("output", "format", "columns", "rows", "pretty")  # the sidecar's to give
    given = [f"--{name}" for name in names if getattr(args, name) not in (None, False)]
    if given:
        raise invalid(
            f"--resume: takes the inputs and options from {path}; leave out {', '.join(given)}."
        )
    try:
        with open(path, encoding="utf-8") as handle:
            meta = json.load(handle)
    except FileNotFoundError:
        raise invalid(f"--resume: the file {path} does not exist.") from None
    except (OSError, ValueError) as exc:
        raise invalid(f"--resume: cannot read {path} ({type(exc).__name__}).") from None
    meta = as_dict(meta) if path.endswith(SIDECAR) else {}
    if meta.get("version") != 1 or meta.get("format") not in EVENT_FORMATS:
        raise invalid(
            f"--resume: {path} is not a sidecar written by --format ndjson, csv or markdown "
            f"(FILE{SIDECAR})."
        )
    if args.inputs:  # only a new max_events: read more than the export first asked for
        if not isinstance(inputs, dict) or set(inputs) != {"max_events"}:
            raise invalid(
                "--resume: takes the inputs from the sidecar; --inputs may give only "
                "max_events, the new total to read."
            )
        meta["inputs"] = {**as_dict(meta.get("inputs")), **inputs}
    file = path[: -len(SIDECAR)]
    most, events = as_dict(meta.get("inputs")).get("max_events"), meta.get("events", 0)
    ended = meta.get("finished") or (meta.get("pages") and not meta.get("nextCursor"))  # last page
    if ended or (isinstance(most, int) and events >= most):
        args.stderr.say(
            f"nothing to resume: {path} records a finished export ({events:,} events in {file})."
        )
        return None
    options = {k: meta[k] for k in ("format", "columns", "rows") if meta.get(k) is not None}
    writer = WRITERS[meta["format"]](as_dict(meta.get("inputs")), args, file, options)
    recorded, where = meta.get("bytes"), writer.where
    end = {"csv": b"\r\n", "ndjson": b"\n"}.get(meta["format"], b"")  # a note is written whole
    size = os.path.getsize(where) if os.path.isfile(where) else -1
    if not isinstance(recorded, int) or size < recorded:
        raise invalid(
            f"--resume: {where} is missing or shorter than {path} records "
            f"({recorded} bytes); start the export again."
        )
    with open(where, "rb") as handle:  # FILE is cut back to there: a record must end there
        handle.seek(max(recorded - len(end), 0))
        if recorded and handle.read(len(end)) != end:
            raise invalid(
                f"--resume: {path} records {recorded} bytes, which is not where a "
                f"record of {where} ends; start the export again."
            )
    writer.resumed, writer.bytes, writer.total = True, recorded, meta.get("totalItems")
    writer.events, writer.pages = events, meta.get("pages", 0)
    writer.cursor, begun = meta.get("nextCursor"), writer.export_inputs
    parameters = dict(begun.get("parameters") or {})
    if writer.pages:  # the cursor carries the position, as between pages
        parameters.pop("skip", None)
        parameters["cursor"] = writer.cursor
    writer.inputs = {**begun, "parameters": parameters}
    if isinstance(most, int):
        writer.inputs["max_events"] = max(1, most - events)
    writer.counts = meta.get("summary") or writer.counts  # the markdown note's go on
    return writer


def _foreign_file(path: str) -> bool:
    """A non-empty regular file that no sidecar of this command names: not ours to replace."""
    try:
        if not os.path.isfile(path) or os.path.getsize(path) == 0:
            return False
        with open(path + SIDECAR, encoding="utf-8") as handle:
            return as_dict(json.load(handle)).get("output") != os.path.basename(path)
    except (OSError, ValueError):
        return True


class Writer:
    """The runner's page sink; a regular file is written in place (a link followed), locked."""

    unlimited = False  # read by the action: True lifts the default max_events
    what = "the envelope"
    resumed = False
    sidecar: Optional[str] = None

    def __init__(self, inputs: Any, args: Any, path: Optional[str], options: Any) -> None:
        self.inputs, self.args, self.path, self.options = inputs, args, path, options
        self.say = args.stderr.say
        self.where = path or "the envelope on stdout"  # for sentences
        self.events = self.pages = self.bytes = 0  # bytes: written, or the file's whole pages
        self.size: Optional[int] = None  # of the whole output on stdout, when known
        self.total: Optional[int] = None
        self.cursor: Optional[str] = None  # the next page's cursor
        self.last: Optional[Dict[str, Any]] = None  # the last page's envelope, without data
        self.check: Any = lambda envelope: None
        self.problem: Any = None
        self.handle: Optional[io.FileIO] = None
        self.regular = self.created = False

    def open(self) -> None:
        path = self.path
        if path is None or path == "-":
            return
        if not self.resumed and not self.args.force and _foreign_file(path):
            raise invalid(
                f"--output: {path} exists and is not an earlier export of this command; "
                "choose a new name, or add --force to replace it."
            )
        self.created = not os.path.lexists(path)  # ours to remove if nothing is written
        with self.writing(path):  # O_NONBLOCK: a FIFO with no reader fails at once, not hangs
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK, 0o644)
        os.set_blocking(fd, True)
        self.regular = stat.S_ISREG(os.fstat(fd).st_mode)
        self.handle = io.FileIO(fd, "r+" if self.regular else "w")  # unbuffered: no write lost
        if self.regular:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                self.handle.close()
                raise invalid(
                    f"--output: {path} is being written by another run; wait for it to end, "
                    "or choose another file."
                ) from None
            self.cut(self.bytes)  # 0, or where a resumed export goes on

    def write(self, data: bytes) -> None:
        """All of ``data``, or exit 5 (a file cut back to where this write began)."""
        if self.handle is None:
            output.write_stdout(data, self.what, part_of=(self.bytes, self.size))
        else:
            view = memoryview(data)
            with self.writing(str(self.path), cut=True):  # no line cut in half
                while view:
                    view = view[self.handle.write(view) or 0 :]
        self.bytes += len(data)

    @contextlib.contextmanager
    def writing(self, path: str, cut: bool = False) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            if cut:
                self.cut(self.bytes)
            reason = os_reason(exc)
            error = f"output error: cannot write {path} ({reason})."
            raise CliError(output.EXIT_OUTPUT, [error]) from None

    def cut(self, size: int) -> None:
        if self.regular and self.handle is not None:
            with contextlib.suppress(OSError):
                self.handle.truncate(size)
                self.handle.seek(size)
        self.bytes = size

    def close(self, discard: bool = False) -> None:
        if self.handle is not None:
            self.handle.close()  # the lock goes with it
            self.handle = None
            if discard and self.created:
                os.unlink(str(self.path))

    def __call__(self, envelope: Dict[str, Any], items: List[Any]) -> None:
        self.problem = self.problem or self.check(envelope)
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})  # Ctrl-C waits for it
        try:
            self.write_page(items)
            body = envelope["json_body"]
            pagination = as_dict(body.get("pagination"))
            self.events += len(items)
            self.pages += 1
            self.total = pagination.get("totalItems", self.total)
            self.cursor = pagination.get("nextCursor")
            self.last = {**envelope, "json_body": {**body, "data": []}}
            if self.sidecar:
                self.write_sidecar(self.last, finished=False, last=False)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)

    def write_page(self, items: List[Any]) -> None:
        """Not following: the one page arrives in finish()."""

    def stopped(self, exc: Any) -> str:
        """After a RunError: what was read kept (or the output discarded); where it is, or ""."""
        if exc.kind == "interrupted" and (self.pages or isinstance(self, EventFile)):
            detail = f"interrupted (Ctrl-C) after {self.events:,} events; nothing was lost."
            self.finish(self.partial("Interrupted", detail), stopped="interrupted")
            when = "so far"
        elif exc.kind == "transport" and (exc.envelope is not None or self.pages):
            self.finish(exc.envelope or self.partial("Transport Error", str(exc)), str(exc))
            when = "before it"
        elif exc.kind == "transport" and isinstance(self, EventFile):  # a file even with no page
            self.finish({"json_body": None}, stopped=str(exc))
            return ""
        else:  # nothing sent, or no answer: no empty file left behind
            self.close(discard=True)
            return ""
        where = f"{self.where}; resume with {self.hint()}"
        return f"The {self.events:,} events read {when} are in {where}."

    def partial(self, title: str, detail: str) -> Dict[str, Any]:
        """The envelope of a run that stopped after the last page: resume at its cursor."""
        last = self.last or {"status_code": None, "reason": None, "response_headers": {}}
        body = dict(as_dict(last.get("json_body")))
        pagination = {**as_dict(body.get("pagination")), "nextCursor": self.cursor}
        body["data"], body["pagination"] = [], {**pagination, "totalItems": self.total}
        body["errors"] = [{"code": None, "title": title, "detail": detail}]
        return {**last, "json_body": body}

    def hint(self) -> str:
        return "its json_body.pagination.nextCursor"


class FieldList(Writer):
    def finish(self, envelope: Dict[str, Any], stopped: Optional[str] = None) -> None:
        data = as_dict(envelope.get("json_body")).get("data")
        names = {name: None for event in data or [] if isinstance(event, dict) for name in event}
        if not names:
            self.say(f"no events on the first page (HTTP {envelope.get('status_code')}).")
        self.write("".join(f"{name}\n" for name in names).encode("utf-8"))


class EnvelopeWriter(Writer):
    """The envelope as in memory, its events spooled until the head (the last page's) is known."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.pretty = self.args.pretty
        folder = None if self.path in (None, "-") else os.path.dirname(os.path.abspath(self.path))
        self.spool_name = f"the temporary spool file in {folder or tempfile.gettempdir()}"
        with self.writing(self.spool_name):
            self.spool = tempfile.TemporaryFile(prefix="events-", suffix=".spool", dir=folder)

    def write_page(self, items: List[Any]) -> None:
        if not items:
            return
        text = output.encode_json(items, self.pretty)[1:-2]  # the page in one call, in brackets
        if self.pretty:  # the events sit at depth 3 (envelope > json_body > data > event)
            text = text[:-1].replace(b"\n", b"\n    ")
        with self.writing(self.spool_name):
            self.spool.write((b"" if not self.events else b"," if self.pretty else b", ") + text)
            self.spool.flush()

    def finish(self, envelope: Dict[str, Any], stopped: Optional[str] = None) -> None:
        try:  # (nothing was written before: the file was cut to 0 at open)
            if not self.pages:  # one request, or the first page failed: nothing was spooled
                self.write(output.encode_json(envelope, self.pretty))
            else:
                marker = f"streamed-events-{os.urandom(16).hex()}"
                outer = {**envelope, "json_body": {**envelope["json_body"], "data": marker}}
                head, tail = output.encode_json(outer, self.pretty).split(f'"{marker}"'.encode())
                close = b"\n    ]" if self.pretty and self.events else b"]"
                self.size = len(head) + 1 + self.spool.seek(0, os.SEEK_END) + len(close) + len(tail)
                self.write(head + b"[")
                self.spool.seek(0)
                for chunk in iter(lambda: self.spool.read(1 << 20), b""):
                    self.write(chunk)
                self.write(close + tail)
        finally:
            self.spool.close()
            self.close()
        if self.args.quiet or not self.args.stderr.isatty():  # lines as the in-memory path's
            return
        line = output.answer_line(envelope)
        if line:
            self.say(line)
        if not self.pages:
            return
        body, status = as_dict(envelope.get("json_body")), envelope.get("status_code")
        cursor = as_dict(body.get("pagination")).get("nextCursor")
        if not cursor:
            why = "all events read"
        elif isinstance(status, int) and not 200 <= status < 300:
            why = f"stopped at HTTP {status}"
        elif body.get("errors"):
            why = "stopped early (see json_body.errors)"
        else:
            why = "stopped at max_events"
        why += f"; resume with cursor {output.plain(cursor, 1 << 20)}" if cursor else ""
        s = "" if self.pages == 1 else "s"
        self.say(f"{self.events:,} events in {self.pages:,} page{s} ({why})")


class EventFile(Writer):
    """ndjson or csv, and its sidecar FILE.meta.json (a regular file only), committed per page."""

    unlimited = True  # events are not kept: only the user's own max_events applies
    what = "the events"
    counts: Optional[Dict[str, Any]] = None  # the markdown note's

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.where = "standard output" if self.path == "-" else str(self.path)
        self.columns: Sequence[str] = self.options.get("columns") or DEFAULT_COLUMNS
        self.export_inputs = self.inputs  # as the export began (a resume keeps them)
        self.csv = self.options["format"] == "csv"

    def open(self) -> None:
        super().open()
        if self.regular:  # not stdout, a device or a FIFO: there is something to resume
            self.sidecar = f"{self.path}{SIDECAR}"
        if self.csv and not self.resumed:
            self.write(self.rows([list(self.columns)]))

    @staticmethod
    def rows(rows: List[List[str]]) -> bytes:
        text = io.StringIO()
        csv.writer(text).writerows(rows)  # RFC 4180: CRLF, quoted where needed
        return text.getvalue().encode("utf-8", "backslashreplace")

    def write_page(self, items: List[Any]) -> None:
        if items and self.csv:
            self.write(self.rows([[_cell(as_dict(e).get(c)) for c in self.columns] for e in items]))
        elif items:  # one event a line, as the compact envelope writes it
            self.write(
                utf8(lambda ascii: "\n".join([dumps(e, ensure_ascii=ascii) for e in items]) + "\n")
            )

    def write_sidecar(self, envelope: Any, finished: bool, last: bool = True) -> None:
        """FILE.meta.json replaced whole; compact after each page (cheap), indented at the end."""
        if self.sidecar is None:
            return
        meta: Dict[str, Any] = {
            "version": 1,
            "output": os.path.basename(self.where),
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
            "nextCursor": self.cursor,
        }
        errors = as_dict(envelope.get("json_body")).get("errors")
        if errors is not None:
            meta["errors"] = errors
        if "response_text" in envelope:
            meta["response_text"] = envelope["response_text"]
        if self.counts is not None:  # the note's, so that a resumed export counts on
            meta["summary"] = self.counts
        text = json.dumps(meta, indent=2 if last else None, ensure_ascii=False, default=str)
        partial = f"{self.sidecar}.{os.getpid()}.partial"  # one per run
        with self.writing(self.sidecar):
            with open(partial, "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
            os.replace(partial, self.sidecar)

    def finish(self, envelope: Dict[str, Any], stopped: Optional[str] = None) -> None:
        body = as_dict(envelope.get("json_body"))
        status = envelope.get("status_code")
        ok = isinstance(status, int) and 200 <= status < 300
        if not self.pages and ok and isinstance(body.get("data"), list) and body["data"]:
            self(envelope, body["data"])  # one request, not following: that page is the export
        pagination = as_dict(body.get("pagination"))
        self.cursor = cursor = pagination.get("nextCursor", self.cursor)
        self.total = pagination.get("totalItems") if self.total is None else self.total
        ended = ok and stopped is None and body.get("errors") is None
        self.more = ended and cursor is not None  # one page, or max_events: the rest remains
        finished = ended and cursor is None  # the console said there is nothing more
        if isinstance(self, MarkdownNote):  # the note is written whole, before the sidecar
            self.write_note(envelope, finished, stopped)
        self.close()
        self.write_sidecar(envelope, finished)
        if self.args.quiet or stopped is not None:  # else the run's error says it
            return
        status, rqid = envelope.get("status_code"), header(envelope, "X-RQID")
        s, pages = "" if self.events == 1 else "s", "" if self.pages == 1 else "s"
        wrote = f"{self.events:,} event{s} ({self.pages:,} page{pages}) in {self.where}"
        total = f"totalItems {self.total:,}" if isinstance(self.total, int) else "totalItems null"
        answer = f"HTTP {status} {envelope.get('reason')}" if status is not None else "no answer"
        answer += f", X-RQID {rqid}" if rqid else ""
        if finished or self.more:
            end = f"details in {self.sidecar}" if self.sidecar else "no sidecar"
            end = end if finished else f"more remain: resume with {self.hint()}"
            self.say(f"wrote {wrote}; {answer}; {total}; {end}.")
        else:
            self.say(
                f"stopped at page {self.pages + 1:,}: {answer}; wrote {wrote}; {total}; "
                f"resume with {self.hint()}."
            )

    def hint(self) -> str:
        """The command that resumes from the sidecar, as typed; or (none) the cursor to pass."""
        if self.sidecar is None:
            return f"parameters.cursor {self.cursor}"
        words = [self.args.action, "--asset", self.args.asset, "--resume", self.sidecar]
        return f"{self.args.prog} run {shlex.join(words)}"


def _cell(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else dumps(value)


class MarkdownNote(EventFile):
    """A case note written whole at the end, from counts kept in the sidecar (KEPT names each)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.counts = dict(types={}, first=None, last=None, processes={}, agents={}, rows=[])

    def write_page(self, items: List[Any]) -> None:
        counts = self.counts
        for event in filter(lambda event: isinstance(event, dict), items):
            tally(counts["types"], _cell(event.get("eventType")) or "(none)")
            if event.get("processName"):
                tally(counts["processes"], _cell(event["processName"]))
            created = event.get("createdAt")
            if isinstance(created, str) and created:  # ISO 8601 UTC: text order is time order
                counts["first"] = min(created, counts["first"] or created)
                counts["last"] = max(created, counts["last"] or created)
            agent = event.get("agentId") or event.get("agentUuid") or event.get("agentName")
            if agent:
                agents, name = counts["agents"], _cell(agent)
                if name not in agents:
                    name = name if len(agents) < KEPT else OTHERS
                    facts = {key: event.get(key) for key in AGENT_FACTS if name != OTHERS}
                    agents.setdefault(name, {**dict.fromkeys(AGENT_FACTS), **facts, "events": 0})
                agents[name]["events"] += 1
            if len(counts["rows"]) < self.options.get("rows", DEFAULT_ROWS):
                counts["rows"].append([_cell(event.get(name)) for name in self.columns])

    def write_note(self, envelope: Dict[str, Any], finished: bool, stopped: Optional[str]) -> None:
        state, rqid = self.counts, header(envelope, "X-RQID")
        threat = as_dict(self.export_inputs.get("path_parameters")).get("threat_id", "?")
        hint = f"--resume {os.path.basename(self.sidecar)}" if self.sidecar else self.hint()
        if stopped is None:  # (finished and more: neither stopped)
            answer = f"HTTP {envelope.get('status_code')} {envelope.get('reason')}"
            why = "more remain" if self.more else f"stopped at page {self.pages + 1}, {answer}"
        else:
            why = "interrupted" if stopped == "interrupted" else "stopped by a transport failure"
        how = "complete" if finished else f"{why}; resume with {hint}"
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
        agents = [
            [*map(_cell, [e.get("agentName"), name, e.get("agentOs"), e.get("agentIp")]), n]
            for name, n in top(state["agents"], 20)
            for e in [state["agents"].get(name, {})]
        ]
        lines += table("Agents", ["agentName", "agentId", "agentOs", "agentIp", "events"], agents)
        lines += table("Events by type", ["eventType", "events"], top(state["types"], KEPT))
        processes = top(state["processes"], 10)
        lines += table(f"Top processes ({len(processes)})", ["processName", "events"], processes)
        if state["rows"]:  # (--rows 0: no table, and no heading over nothing)
            title = f"First {len(state['rows'])} events"
            lines += table(title, self.columns, state["rows"], counted=False)
        self.cut(0)
        self.write(("\n".join(lines) + "\n").encode("utf-8", "backslashreplace"))


def table(title: str, names: Sequence[str], rows: List[Any], counted: bool = True) -> List[str]:
    lines = ["| " + " | ".join(map(md, cells)) + " |" for cells in [names, *rows]]
    rule = "|" + "---|" * (len(names) - counted) + ("---:|" if counted else "")
    return ["", f"## {title}", "", lines[0], rule, *lines[1:]]


def tally(counts: Dict[str, int], name: str) -> None:
    name = name if name in counts or len(counts) < KEPT else OTHERS
    counts[name] = counts.get(name, 0) + 1


def top(counts: Dict[str, Any], n: int) -> List[Any]:
    """Rows of the n largest [name, count] (an agent's: its "events"), then OTHERS with the rest."""
    total = {k: v["events"] if isinstance(v, dict) else v for k, v in counts.items()}
    rest = total.pop(OTHERS, 0)
    named = sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))
    rest += sum(v for _, v in named[n:])
    return [[k, f"{v:,}"] for k, v in named[:n]] + ([[OTHERS, f"{rest:,}"]] if rest else [])


def md(text: str) -> str:
    return text.translate(MARKDOWN_SPECIAL)


WRITERS = dict(envelope=EnvelopeWriter, ndjson=EventFile, csv=EventFile, markdown=MarkdownNote)
