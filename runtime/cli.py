"""Command line: ``python -m runtime run ACTION --asset FILE --inputs FILE`` and friends
(also installed as the console script ``sentinelone-plugin``).

Exit codes: 0 an HTTP response arrived (any status; the envelope is on stdout), 2 invalid
inputs or asset (nothing was sent), 3 transport failure (no HTTP response), 1 a broken plugin
or an internal error; ``test-asset`` also exits 4 when the console answered but the test failed
(401, 403, 407, an unexpected status); 5 the output could not be written (stdout closed, full
or a broken pipe); 130 interrupted (Ctrl-C).

Output is data: the envelope is printed exactly as it arrived, never filtered. Messages go to
stderr, one sentence each, ``<what failed>: <sentence>``. Secrets are kept out of them at their
source; as a last safety net, every line written to stderr (messages, logs, the progress line)
has the secrets the connector really sends (``connector.secrets``) replaced by ``***``.

The third-party dependencies (requests, jsonschema, PyYAML: the framework, runtime.documents,
runtime.lint, runtime.package, the exporters) are imported inside the commands, never when this
module is: outside the venv, a missing one is then one line from main(), not a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import time
import traceback
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

from runtime import streaming
from runtime.output import (
    EXIT_BROKEN,
    EXIT_HTTP,
    EXIT_INPUT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_OUTPUT,
    EXIT_TRANSPORT,
    CliError,
    answer_line,
    blocking,
    encode_json,
    follow_summary,
    run_failed,
    stdout_closed,
    write_stdout,
)

# Secrets shorter than this are kept out of messages at their source only: replacing every
# "abc" in a message would garble it without protecting anything.
SAFETY_NET_MIN = 4
# import name -> the distribution to install (what a ModuleNotFoundError outside the venv names)
DEPENDENCIES = {
    "requests": "requests",
    "urllib3": "requests",
    "idna": "requests",
    "certifi": "requests",
    "charset_normalizer": "requests",
    "yaml": "PyYAML",
    "jsonschema": "jsonschema",
    "referencing": "jsonschema",
    "rpds": "jsonschema",
    "attrs": "jsonschema",
    "jsonschema_specifications": "jsonschema",
}


def scrub(text: str, secrets: Sequence[str]) -> str:
    """The last safety net for stderr: each known secret replaced by ``***``."""
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= SAFETY_NET_MIN and secret in text:
            text = text.replace(secret, "***")
    return text


class Stderr:
    """Text to stderr, written at once and never raising: a closed or full stderr loses the
    message but must not change the exit code or end in a traceback."""

    def __init__(self, secrets: Sequence[str]) -> None:
        self.secrets = secrets

    def write(self, text: str) -> int:
        data = scrub(text, self.secrets).encode("utf-8", "backslashreplace")
        try:
            stream = blocking(sys.stderr.buffer)
            stream.write(data)
            stream.flush()
        except (AttributeError, OSError, ValueError):  # None (closed at start), full, broken
            pass
        return len(text)

    def say(self, line: str) -> None:
        self.write(line + "\n")

    def flush(self) -> None:
        pass

    @staticmethod
    def isatty() -> bool:
        try:
            return sys.stderr.isatty()
        except (AttributeError, OSError, ValueError):
            return False


def _write_json(value: Any, pretty: bool) -> None:
    write_stdout(encode_json(value, pretty))


class LineFormatter(logging.Formatter):
    """A warning reads like every other line (``warning: <sentence>``); --debug lines also name
    their module."""

    def format(self, record: logging.LogRecord) -> str:
        if record.levelno >= logging.WARNING:
            return f"{record.levelname.lower()}: {record.getMessage()}"
        return f"{record.levelname} {record.name}: {record.getMessage()}"


@contextlib.contextmanager
def _logging_to(stream: Stderr, debug: bool) -> Iterator[None]:
    """Log records to ``stream`` (WARNING and up; all with --debug) while a command runs; the
    root logger's level is only ever lowered, so a caller's own handlers still see theirs."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(LineFormatter())
    handler.setLevel(logging.DEBUG if debug else logging.WARNING)
    root = logging.getLogger()
    level, raise_exceptions = root.level, logging.raiseExceptions
    root.addHandler(handler)
    root.setLevel(min(level, handler.level))
    logging.raiseExceptions = False  # a failing stderr must not print logging's own traceback
    logging.captureWarnings(True)
    try:
        yield
    finally:
        logging.captureWarnings(False)
        logging.raiseExceptions = raise_exceptions
        root.setLevel(level)
        root.removeHandler(handler)


class ProgressLine:
    """One status line on a terminal, rewritten in place (\\r) after each page and cleared at
    the end: events fetched / totalItems, pages and rate; while a retry waits, how long and
    why. At most ten page updates a second."""

    def __init__(self, stream: Stderr) -> None:
        self.stream = stream
        self.started = time.monotonic()
        self.shown_at: Optional[float] = None
        self.width = 0
        self.fetched = 0
        self.total: Any = None
        self.pages = 0

    def __call__(self, fetched: int, total: Any, pages: int) -> None:
        self.fetched, self.total, self.pages = fetched, total, pages
        now = time.monotonic()
        if self.shown_at is not None and now - self.shown_at < 0.1 and fetched != total:
            return
        self.shown_at = now
        self._show(self._counts(now))

    def waiting(self, seconds: float, status: Optional[int]) -> None:
        """The connector is about to wait ``seconds`` before retrying (``status`` None: the
        connection was lost)."""
        why = f"HTTP {status}" if status is not None else "connection lost"
        wait = f"{seconds:.0f}" if seconds >= 1 else f"{seconds:.1f}"
        text = f"waiting {wait} s ({why})"
        self._show(f"{self._counts(time.monotonic())}, {text}" if self.pages else text)

    def _counts(self, now: float) -> str:
        total = self.total
        known = isinstance(total, int) and not isinstance(total, bool)
        of = f" / {total:,}" if known else ""
        rate = self.fetched / max(now - self.started, 1e-3)
        return (
            f"fetched {self.fetched:,}{of} events, {self.pages:,} "
            f"page{'' if self.pages == 1 else 's'}, {rate:,.0f} events/s"
        )

    def _show(self, text: str) -> None:
        self.stream.write("\r" + text.ljust(self.width))
        self.width = max(self.width, len(text))

    def clear(self) -> None:
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.width = 0


def _learn_secrets(secrets: List[str]) -> Callable[[Any], None]:
    """The runner's on_connect hook: the safety net learns what the connector really sends (the
    token as sent, the proxy credentials as parsed) before anything is sent. An invalid asset
    never gets a connector, and then nothing is sent at all."""

    def learn(connector: Any) -> None:
        secrets.extend(getattr(connector, "secrets", ()))

    return learn


def read_file(path: str, option: str) -> Any:
    """A JSON or YAML document from a file, or from stdin for '-' (see runtime.documents:
    size-capped, never blocking on a FIFO, depth-bounded, no YAML aliases); its failures framed
    like every other: ``invalid asset: --asset: ...``, ``invalid inputs: --inputs: ...``."""
    from runtime.documents import DocumentError, read_document_file

    try:
        return read_document_file(path)
    except DocumentError as exc:
        what = "asset" if option == "--asset" else "inputs"
        raise CliError(EXIT_INPUT, [f"invalid {what}: {option}: {exc}"]) from None


def _check_stdout() -> None:
    if stdout_closed():
        raise CliError(
            EXIT_OUTPUT,
            ["output error: stdout is closed, so no envelope can be printed; nothing was sent."],
        )


def cmd_run(args: argparse.Namespace, secrets: List[str]) -> int:
    from framework.errors import RunError
    from framework.manifest import load_plugin
    from framework.runner import check_output, run_action

    _check_stdout()
    if args.asset == "-" and args.inputs == "-":
        raise CliError(
            EXIT_INPUT, ["invalid option: --asset and --inputs cannot both read stdin (-)."]
        )
    asset = read_file(args.asset, "--asset")
    plugin = load_plugin()
    inputs = read_file(args.inputs, "--inputs") if args.inputs else {}
    action = plugin.actions.get(args.action)
    needed = action.input_schema.get("required", []) if action else []
    if needed and not args.inputs and not args.resume:  # rather than "path_parameters: missing"
        raise CliError(
            EXIT_INPUT,
            [f"invalid inputs: no inputs were given; {args.action} needs {', '.join(needed)} "
             "(--inputs FILE, or - for stdin)."],
        )  # fmt: skip
    stderr = args.stderr
    terminal = not args.quiet and stderr.isatty()
    progress = ProgressLine(stderr) if terminal else None
    if streaming.wanted(args, plugin, inputs):  # following cursors, or an output option
        return streaming.run(args, plugin, asset, inputs, progress, _learn_secrets(secrets))
    try:
        envelope = run_action(
            plugin,
            args.action,
            asset,
            inputs,
            progress=progress,
            on_connect=_learn_secrets(secrets),
        )
    except RunError as exc:
        if progress is not None:
            progress.clear()
        kept = ""
        if exc.envelope is not None:  # following cursors: what arrived before it
            _write_json(exc.envelope, args.pretty)
            when = "so far" if exc.kind == "interrupted" else "before it"
            kept = (
                f"The {exc.fetched:,} events read {when} are in the envelope on stdout; "
                "resume with its json_body.pagination.nextCursor."
            )
        raise run_failed(exc, kept) from None
    finally:
        if progress is not None:
            progress.clear()
    _write_json(envelope, args.pretty)
    if terminal:
        line = answer_line(envelope)
        if line:
            stderr.say(line)
        if progress is not None and progress.pages:
            stderr.say(follow_summary(envelope, progress.pages))
    if args.validate_output:
        problem = check_output(plugin.actions[args.action], envelope)
        if problem:
            raise CliError(EXIT_BROKEN, str(problem).splitlines())
    return EXIT_OK


def connection_result(cause: str, diagnosis: str) -> Dict[str, Any]:
    """A test-asset result for a failure before anything was sent: the connector's shape."""
    return {
        "ok": False,
        "status_code": None,
        "cause": cause,
        "diagnosis": diagnosis,
        "request_id": None,
    }


def cmd_test_asset(args: argparse.Namespace, secrets: List[str]) -> int:
    """The asset's connection test (plugin.yaml ``asset.test``): the result as JSON on stdout
    (always, in one shape), its diagnosis on stderr; exit 0 ok, 2 invalid asset, 3 not
    reached, 4 answered but failed, 1 broken plugin."""
    from framework.errors import RunError
    from framework.manifest import load_plugin
    from framework.runner import run_asset_test

    _check_stdout()

    def failed(code: int, cause: str, lines: List[str]) -> CliError:
        sentences = [line.split(": ", 1)[1] if ": " in line else line for line in lines]
        _write_json(connection_result(cause, " ".join(sentences)), args.pretty)
        return CliError(code, lines)

    try:
        asset = read_file(args.asset, "--asset")
    except CliError as exc:
        raise failed(exc.code, "invalid_asset", exc.lines) from None
    plugin = load_plugin()
    if not plugin.asset.test:
        lines = ["plugin error: plugin.yaml declares no connection test (asset.test)."]
        raise failed(EXIT_BROKEN, "plugin_error", lines)
    try:
        result = run_asset_test(plugin, asset, on_connect=_learn_secrets(secrets))
    except RunError as exc:  # an invalid asset (the test itself reports transport failures)
        if exc.kind == "interrupted":  # the one result is printed all the same
            lines = ["interrupted: the connection test was stopped (Ctrl-C) before it ended."]
            raise failed(EXIT_INTERRUPTED, "interrupted", lines) from None
        raise failed(EXIT_INPUT, "invalid_asset", exc.lines) from None
    _write_json(result, args.pretty)
    diagnosis = str(result.get("diagnosis"))
    if result.get("ok"):
        if not args.quiet:
            args.stderr.say(diagnosis)
        return EXIT_OK
    if result.get("status_code") is None:
        args.stderr.say(f"transport error: {diagnosis}")
        return EXIT_TRANSPORT
    args.stderr.say(f"connection test failed: {diagnosis}")
    return EXIT_HTTP


def cmd_validate(args: argparse.Namespace, secrets: List[str]) -> int:
    from runtime.lint import lint_plugin

    problems = lint_plugin(args.root)
    for line in problems:
        args.stderr.say(line)
    if problems:
        args.stderr.say(f"{len(problems)} problem(s) found.")
        return EXIT_BROKEN
    if not args.quiet:
        args.stderr.say("plugin is valid.")
    return EXIT_OK


def cmd_package(args: argparse.Namespace, secrets: List[str]) -> int:
    from runtime.package import cmd_package as package

    return package(args, secrets)


def cmd_export(args: argparse.Namespace, secrets: List[str]) -> int:
    from exporters.common import cmd_export as export

    return export(args, secrets)


# exporters/ beside runtime/: a checkout. The bundle (runtime package) leaves it out: platform
# packages are built from the sources, where git says which files are the plugin's.
EXPORTERS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "exporters")
HAS_EXPORTERS = os.path.isfile(os.path.join(EXPORTERS, "common.py"))


def _platform_names() -> List[str]:
    """The platform folders of exporters/ (read, not imported: export's --help lists them)."""
    return sorted(
        name
        for name in os.listdir(EXPORTERS)
        if os.path.isfile(os.path.join(EXPORTERS, name, "__init__.py"))
    )


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Help text as written (examples and exit codes keep their lines)."""


COMMON_OPTIONS = (
    ("--debug", "log each request to stderr, secrets left out (default: off)"),
    ("--quiet", "no progress line, no summary or HTTP status line on a terminal (default: off)"),
    ("--pretty", "indent the JSON output (default: off)"),
)
EXIT_CODES = {
    "run": """\
  0    an HTTP response arrived, any status (4xx/5xx too); the envelope is on stdout
  1    the plugin is broken, an internal error, or --validate-output found a mismatch
  2    invalid inputs or asset, or an unreadable file; nothing was sent
  3    transport failure (no HTTP response); while following cursors, what was read is on stdout
  5    the envelope could not be written to stdout (closed, full, broken pipe) or --output
  130  interrupted (Ctrl-C); while following cursors, what was read is on stdout (or in
       --output FILE and its FILE.meta.json: continue with --resume FILE.meta.json)""",
    "test-asset": """\
  0    connected: the console accepted the token and it can read threats
  1    the plugin is broken, or an internal error
  2    invalid asset or unreadable file; nothing was sent
  3    not reached (DNS, refused, TLS, proxy, timeout)
  4    the console or proxy answered, but the test failed (401, 403, 407, other)
  5    the result could not be written to stdout""",
    "validate": """\
  0    the plugin is valid
  1    problems found (one line each on stderr)""",
    "package": """\
  0    built; the zip's path is on stdout, a summary on stderr
  1    the bundle cannot be built (one line per reason on stderr)
  2    a bad option value""",
    "export": """\
  0    written; the folder and the archive are on stdout, a summary on stderr
  1    the platform's package cannot be made (nothing written)
  2    an unknown platform name (with a suggestion)""",
}
EXAMPLES = {
    "run": "{prog} run get_threat_events --asset examples/asset.simulator.yaml \\\n"
    "      --inputs examples/inputs/first-page.yaml --pretty",
    "test-asset": "{prog} test-asset --asset examples/asset.simulator.yaml",
    "validate": "{prog} validate",
    "package": "{prog} package --no-wheels --output /tmp/bundle",
    "export": "{prog} export swimlane --output /tmp/swimlane",
}


def _epilog(command: str, prog: str) -> str:
    return (
        f"example:\n  {EXAMPLES[command].format(prog=prog)}\n\nexit codes:\n{EXIT_CODES[command]}"
    )


class VersionAction(argparse.Action):
    """--version: the program and the plugin's version from plugin.yaml (read only when asked)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        from framework.manifest import load_plugin

        plugin = load_plugin()
        write_stdout(f"{parser.prog} {plugin.version}\n".encode(), "the version")
        parser.exit(EXIT_OK)


def build_parser(prog: str = "python -m runtime") -> argparse.ArgumentParser:
    # --debug, --quiet and --pretty are accepted before or after the subcommand: each parser
    # declares them with SUPPRESS defaults, so a later parser never resets an earlier flag. A
    # subcommand offers only those it uses.
    def output_options(flags: Sequence[str]) -> argparse.ArgumentParser:
        options = argparse.ArgumentParser(add_help=False)
        group = options.add_argument_group("output options (accepted anywhere on the line)")
        for flag, text in COMMON_OPTIONS:
            if flag in flags:
                group.add_argument(flag, action="store_true", default=argparse.SUPPRESS, help=text)
        return options

    every = [flag for flag, _ in COMMON_OPTIONS]
    common = output_options(every)
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Local SOAR runtime for this plugin: run its actions, test an asset, "
        "validate and package the plugin.",
        parents=[common],
        formatter_class=HelpFormatter,
        epilog=f"example:\n  {EXAMPLES['run'].format(prog=prog)}\n\n"
        f"'{prog} COMMAND --help' shows each command's options, defaults and exit codes.",
    )
    parser.add_argument("--version", action=VersionAction, help="print the plugin's version")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, text: str, flags: Sequence[str] = every) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            help=text,
            description=text,
            parents=[output_options(flags)],
            formatter_class=HelpFormatter,
            epilog=_epilog(name, prog),
        )
        return sub

    run = command("run", "run an action and print its envelope as JSON on stdout")
    run.add_argument("action", help="action id from plugin.yaml, e.g. get_threat_events")
    run.add_argument(
        "--asset", required=True, help="asset file, JSON or YAML; - reads stdin (required)"
    )
    run.add_argument(
        "--inputs", help="inputs file, JSON or YAML; - reads stdin (default: no inputs, {})"
    )
    run.add_argument(
        "--validate-output",
        action="store_true",
        help="also check the envelope against the output schema; exit 1 if it does not match "
        "(default: off)",
    )
    run.add_argument("--output", metavar="FILE", help="write the output to FILE instead of stdout")
    run.add_argument(
        "--format",
        choices=("envelope", "ndjson", "csv", "markdown"),
        help="envelope (default: the JSON envelope); with --output FILE: ndjson (one event a "
        "line), csv (--columns), markdown (a case note); their status, headers and resume "
        "cursor go to FILE.meta.json",
    )
    run.add_argument(
        "--columns",
        metavar="LIST",
        help="csv and markdown: event fields, comma-separated (default: createdAt,eventType,"
        "processName,pid,user,srcIp,dstIp,fileFullName)",
    )
    run.add_argument(
        "--rows", type=int, metavar="N", help="markdown: the first N events as a table (20)"
    )
    run.add_argument(
        "--force",
        action="store_true",
        help="with --output: replace an existing file that is not an earlier export (default: off)",
    )
    run.add_argument(
        "--resume",
        metavar="FILE.meta.json",
        help="continue the export this sidecar describes, appending to its file",
    )
    run.set_defaults(handler=cmd_run)

    test = command(
        "test-asset", "test the asset's connection: one cheap authenticated read, one diagnosis"
    )
    test.add_argument(
        "--asset", required=True, help="asset file, JSON or YAML; - reads stdin (required)"
    )
    test.set_defaults(handler=cmd_test_asset)

    check = command("validate", "check plugin.yaml and everything it references", ["--quiet"])
    check.add_argument("--root", default=None, help="plugin folder (default: this plugin)")
    check.set_defaults(handler=cmd_validate)

    package = command(
        "package", "build the importable bundle dist/<id>-<version>.zip (wheels included)", []
    )
    package.add_argument("--root", default=None, help="plugin folder (default: this plugin)")
    package.add_argument("--output", default=None, help="folder for the zip (default: ROOT/dist)")
    package.add_argument(
        "--no-wheels",
        action="store_true",
        help="leave wheels/ out: no package index needed, but installing the bundle then "
        "needs one (default: off)",
    )
    package.add_argument(
        "--wheels-from",
        default=None,
        metavar="DIR",
        help="take the wheels from DIR (e.g. dist/wheels) instead of the package index "
        "(default: the package index)",
    )
    package.set_defaults(handler=cmd_package)

    if HAS_EXPORTERS:  # the bundle ships no exporters/: its CLI does not offer export
        export = command("export", "write a SOAR platform's package (exporters/)", [])
        export.add_argument("platform", help=f"one of: {', '.join(_platform_names())}")
        export.add_argument(
            "--output", default=None, help="folder (default: dist/platforms/PLATFORM)"
        )
        export.add_argument("--root", default=None, help="plugin folder (default: this plugin)")
        export.set_defaults(handler=cmd_export)
    return parser


def _prog() -> str:
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return "python -m runtime" if name in ("", "__main__.py", "-c") else name


def _missing_dependency(exc: ModuleNotFoundError) -> Optional[str]:
    top = (exc.name or "").split(".")[0]
    if top not in DEPENDENCIES:
        return None
    return (
        f"missing dependency: {DEPENDENCIES[top]} (module {top}) is not installed for "
        f"{sys.executable}; run `make demo` to create .venv and use .venv/bin/python -m runtime, "
        "or install the dependencies: pip install -r requirements.txt."
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    secrets: List[str] = []
    stderr = Stderr(secrets)
    debug = False
    try:
        args = build_parser(_prog()).parse_args(argv)
        args.prog = _prog()  # for hints that must work as printed
        for flag, _ in COMMON_OPTIONS:  # absent anywhere on the line: off
            setattr(args, flag[2:], getattr(args, flag[2:], False))
        args.stderr = stderr
        debug = args.debug
        with _logging_to(stderr, debug):
            return args.handler(args, secrets)
    except CliError as exc:
        code, lines = exc.code, exc.lines
    except KeyboardInterrupt:
        code, lines = EXIT_INTERRUPTED, ["interrupted: nothing was printed."]
    except Exception as exc:  # the last line of defence: no traceback reaches a user
        code, lines = EXIT_BROKEN, _explain_internal(exc, debug)
    for line in lines:
        stderr.say(line)
    return code


def _explain_internal(exc: Exception, debug: bool) -> List[str]:
    if isinstance(exc, ModuleNotFoundError):
        missing = _missing_dependency(exc)
        if missing:
            return [missing]
    from framework.manifest import ManifestError

    if isinstance(exc, ManifestError):
        return ["plugin error: the plugin is broken:", *exc.problems]
    lines = [f"internal error ({type(exc).__name__}); re-run with --debug for details."]
    if debug:
        lines.append(traceback.format_exc())
    return lines
