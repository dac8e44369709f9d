"""Command line: ``python -m runtime COMMAND`` (also ``sentinelone-plugin``). Third-party
dependencies are imported inside the commands: outside the venv, a missing one is one line from
main(), not a traceback."""

import argparse
import contextlib
import importlib
import json
import logging
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple

from framework.errors import RunError
from framework.manifest import ManifestError, load_plugin
from runtime import output, streaming

# Shorter secrets are kept out at their source only: replacing every "abc" would garble messages.
SAFETY_NET_MIN = 4
# The distribution to install for each module a ModuleNotFoundError outside the venv may name.
DISTRIBUTIONS = {
    "requests": ("requests", "urllib3", "idna", "certifi", "charset_normalizer"),
    "jsonschema": ("jsonschema", "referencing", "rpds", "attrs", "jsonschema_specifications"),
    "PyYAML": ("yaml",),
}


class Stderr(logging.Handler):
    """Lines and log records to stderr, the known secrets replaced, written at once and never
    raising: a closed or full stderr loses the text but changes no exit code."""

    def __init__(self, secrets: List[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def learn(self, connector: Any) -> None:
        """on_connect: the safety net learns the secrets the connector sends, before it does."""
        self.secrets.extend(getattr(connector, "secrets", ()))

    def write(self, text: str) -> None:
        for secret in sorted(self.secrets, key=len, reverse=True):
            if len(secret) >= SAFETY_NET_MIN:
                text = text.replace(secret, "***")
        with contextlib.suppress(AttributeError, OSError, ValueError):  # None, full, broken
            stream = output.blocking(sys.stderr.buffer)
            stream.write(text.encode("utf-8", "backslashreplace"))
            stream.flush()

    def say(self, line: str) -> None:
        self.write(line + "\n")

    def emit(self, record: logging.LogRecord) -> None:
        try:  # a warning reads like every other line (warning: ...); --debug lines name a module
            warning = record.levelno >= logging.WARNING
            what = record.levelname.lower() if warning else f"{record.levelname} {record.name}"
            self.say(f"{what}: {record.getMessage()}")
        except Exception:
            self.handleError(record)

    @staticmethod
    def isatty() -> bool:
        with contextlib.suppress(AttributeError, OSError, ValueError):
            return sys.stderr.isatty()
        return False


class ProgressLine:
    """One status line on a terminal, rewritten in place (\\r) at most ten times a second."""

    def __init__(self, stream: Stderr) -> None:
        self.stream = stream
        self.started = time.monotonic()
        self.shown_at = float("-inf")
        self.width = 0
        self.seen: Tuple[int, Any, int] = (0, None, 0)  # fetched, total, pages

    def __call__(self, fetched: int, total: Any, pages: int) -> None:
        self.seen = (fetched, total, pages)
        now = time.monotonic()
        if now - self.shown_at >= 0.1 or fetched == total:
            self.shown_at = now
            self._show()

    def waiting(self, seconds: float, status: Optional[int]) -> None:
        why = f"HTTP {status}" if status is not None else "connection lost"
        wait = f"{seconds:.0f}" if seconds >= 1 else f"{seconds:.1f}"
        self._show(f"waiting {wait} s ({why})")

    def _show(self, waiting: str = "") -> None:
        fetched, total, pages = self.seen
        of = f" / {total:,}" if isinstance(total, int) and not isinstance(total, bool) else ""
        rate = fetched / max(time.monotonic() - self.started, 1e-3)
        s = "" if pages == 1 else "s"
        text = f"fetched {fetched:,}{of} events, {pages:,} page{s}, {rate:,.0f} events/s"
        if waiting:  # before a retry
            text = f"{text}, {waiting}" if pages else waiting
        self.stream.write("\r" + text.ljust(self.width))
        self.width = max(self.width, len(text))

    def clear(self) -> None:
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.width = 0


def read_file(path: str, option: str) -> Any:
    from runtime.documents import DocumentError, read_document_file

    try:
        return read_document_file(path)
    except DocumentError as exc:
        what = "asset" if option == "--asset" else "inputs"
        raise output.CliError(output.EXIT_INPUT, [f"invalid {what}: {option}: {exc}"]) from None


def _check_stdout() -> None:
    if sys.stdout is None:  # closed at start (>&-): Python leaves it None
        raise output.CliError(
            output.EXIT_OUTPUT,
            ["output error: stdout is closed, so no envelope can be printed; nothing was sent."],
        )


def cmd_run(args: argparse.Namespace, secrets: List[str]) -> int:
    from framework.runner import check_output, run_action

    _check_stdout()
    if args.asset == "-" and args.inputs == "-":
        raise output.invalid("--asset and --inputs cannot both read stdin (-).")
    asset = read_file(args.asset, "--asset")
    plugin = load_plugin()
    inputs = read_file(args.inputs, "--inputs") if args.inputs else {}
    action = plugin.actions.get(args.action)
    needed = action.input_schema.get("required", []) if action else []
    if needed and not args.inputs and not args.resume:  # rather than "path_parameters: missing"
        raise output.CliError(
            output.EXIT_INPUT,
            [f"invalid inputs: no inputs were given; {args.action} needs {', '.join(needed)} "
             "(--inputs FILE, or - for stdin)."],
        )  # fmt: skip
    terminal = not args.quiet and args.stderr.isatty()
    progress = ProgressLine(args.stderr) if terminal else None
    if streaming.wanted(args, plugin, inputs):  # following cursors, or an output option
        return streaming.run(args, plugin, asset, inputs, progress, args.stderr.learn)
    try:
        envelope = run_action(
            plugin, args.action, asset, inputs, progress=progress, on_connect=args.stderr.learn
        )
    except RunError as exc:  # a follow (whose events are kept) is streaming's: nothing is kept here
        raise output.run_failed(exc, "") from None
    finally:
        if progress is not None:
            progress.clear()
    output.write_stdout(output.encode_json(envelope, args.pretty))
    line = output.answer_line(envelope) if terminal else None
    if line:
        args.stderr.say(line)
    if args.validate_output:
        problem = check_output(plugin.actions[args.action], envelope)
        if problem:
            raise output.CliError(output.EXIT_BROKEN, str(problem).splitlines())
    return output.EXIT_OK


def cmd_test_asset(args: argparse.Namespace, secrets: List[str]) -> int:
    """The connection test (``asset.test``): the result on stdout, always one shape; stderr: why."""
    from framework.runner import run_asset_test

    _check_stdout()

    def failed(code: int, cause: str, lines: List[str]) -> output.CliError:  # nothing was sent
        diagnosis = " ".join(line.split(": ", 1)[1] if ": " in line else line for line in lines)
        result = {"ok": False, "status_code": None, "cause": cause, "diagnosis": diagnosis}
        output.write_stdout(output.encode_json({**result, "request_id": None}, args.pretty))
        return output.CliError(code, lines)

    try:
        asset = read_file(args.asset, "--asset")
    except output.CliError as exc:
        raise failed(exc.code, "invalid_asset", exc.lines) from None
    plugin = load_plugin()
    if not plugin.asset.test:
        lines = ["plugin error: plugin.yaml declares no connection test (asset.test)."]
        raise failed(output.EXIT_BROKEN, "plugin_error", lines)
    try:
        result = run_asset_test(plugin, asset, on_connect=args.stderr.learn)
    except RunError as exc:  # an invalid asset (the test itself reports transport failures)
        if exc.kind == "interrupted":  # the one result is printed all the same
            lines = ["interrupted: the connection test was stopped (Ctrl-C) before it ended."]
            raise failed(output.EXIT_INTERRUPTED, "interrupted", lines) from None
        raise failed(output.EXIT_INPUT, "invalid_asset", exc.lines) from None
    output.write_stdout(output.encode_json(result, args.pretty))
    diagnosis = str(result.get("diagnosis"))
    if result.get("ok"):
        if not args.quiet:
            args.stderr.say(diagnosis)
        return output.EXIT_OK
    transport = result.get("status_code") is None  # no answer, else an HTTP failure
    args.stderr.say(f"{'transport error' if transport else 'connection test failed'}: {diagnosis}")
    return output.EXIT_TRANSPORT if transport else output.EXIT_HTTP


# exporters/ beside runtime/: a checkout. The bundle leaves it out, and its CLI offers no export.
EXPORTERS = Path(__file__).absolute().parent.parent / "exporters"
SPEC = json.loads(Path(__file__).with_name("commands.json").read_text(encoding="utf-8"))


class VersionAction(argparse.Action):
    """--version: the program and the plugin's version from plugin.yaml (read only when asked)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        output.write_stdout(f"{parser.prog} {load_plugin().version}\n".encode(), "the version")
        parser.exit(output.EXIT_OK)


def build_parser(prog: str = "python -m runtime") -> argparse.ArgumentParser:
    # Output options may come before or after the subcommand: with SUPPRESS defaults, a later
    # parser never resets an earlier flag. A subcommand offers only those it uses.
    def output_options(flags: Sequence[str]) -> argparse.ArgumentParser:
        options = argparse.ArgumentParser(add_help=False)
        group = options.add_argument_group("output options (accepted anywhere on the line)")
        for flag, text in SPEC["options"].items():
            if flag in flags:
                group.add_argument(flag, action="store_true", default=argparse.SUPPRESS, help=text)
        return options

    def example(name: str) -> str:
        return f"example:\n  {SPEC['commands'][name]['example'].format(prog=prog)}\n\n"

    parser = argparse.ArgumentParser(
        prog=prog,
        description=SPEC["description"],
        parents=[output_options(SPEC["options"])],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=example("run")
        + f"'{prog} COMMAND --help' shows each command's options, defaults and exit codes.",
    )
    parser.add_argument("--version", action=VersionAction, help="print the plugin's version")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, spec in SPEC["commands"].items():
        if name == "export" and not (EXPORTERS / "common.py").is_file():
            continue
        command = commands.add_parser(
            name,
            help=spec["help"],
            description=spec["help"],
            parents=[output_options(spec["flags"])],
            formatter_class=argparse.RawDescriptionHelpFormatter,
            epilog=example(name) + "exit codes:\n" + "\n".join(spec["exit codes"]),
        )
        for flag, options in spec["arguments"].items():
            if flag == "platform":  # export: one of the exporters/ packages
                found = sorted(path.parent.name for path in EXPORTERS.glob("*/__init__.py"))
                options = {**options, "help": options["help"] + ", ".join(found)}
            if "type" in options:  # "int", the one type JSON cannot hold
                options = {**options, "type": int}
            command.add_argument(flag, **options)
        command.set_defaults(handler=spec["handler"])
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    stderr = Stderr([])  # level NOTSET until --debug is known: no traceback before
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    prog = "python -m runtime" if name in ("", "__main__.py", "-c") else name
    root = logging.getLogger()
    level, raise_exceptions = root.level, logging.raiseExceptions
    try:
        off = {flag[2:]: False for flag in SPEC["options"]}  # an option absent everywhere: off
        given = argparse.Namespace(prog=prog, stderr=stderr, **off)  # prog: for hints as printed
        args = build_parser(prog).parse_args(argv, given)
        stderr.setLevel(logging.DEBUG if args.debug else logging.WARNING)
        module, _, name = args.handler.partition(":")  # imported only when its command runs
        handler = getattr(importlib.import_module(module), name)
        # The root logger's level is only ever lowered: a caller's own handlers still see theirs.
        root.addHandler(stderr)
        root.setLevel(min(level, stderr.level))
        logging.raiseExceptions = False  # a failing stderr must not print logging's own traceback
        logging.captureWarnings(True)
        return handler(args, stderr.secrets)
    except output.CliError as exc:
        code, lines = exc.code, exc.lines
    except KeyboardInterrupt:
        code, lines = output.EXIT_INTERRUPTED, ["interrupted: nothing was printed."]
    except Exception as exc:  # the last line of defence: no traceback reaches a user
        code, lines = output.EXIT_BROKEN, _explain_internal(exc, stderr.level == logging.DEBUG)
    finally:
        logging.captureWarnings(False)
        logging.raiseExceptions = raise_exceptions
        root.setLevel(level)
        root.removeHandler(stderr)
    for line in lines:
        stderr.say(line)
    return code


def _explain_internal(exc: Exception, debug: bool) -> List[str]:
    top = (getattr(exc, "name", None) or "").split(".")[0]
    for distribution, modules in DISTRIBUTIONS.items():
        if isinstance(exc, ModuleNotFoundError) and top in modules:
            return [
                f"missing dependency: {distribution} (module {top}) is not installed for "
                f"{sys.executable}; run `make demo` to create .venv and use .venv/bin/python -m "
                "runtime, or install the dependencies: pip install -r requirements.txt."
            ]
    if isinstance(exc, ManifestError):
        return ["plugin error: the plugin is broken:", *exc.problems]
    lines = [f"internal error ({type(exc).__name__}); re-run with --debug for details."]
    return [*lines, traceback.format_exc()] if debug else lines
