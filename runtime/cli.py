"""Command line: ``python -m runtime run ACTION --asset FILE --inputs FILE`` and friends.

Exit codes: 0 an HTTP response arrived (any status; the envelope is on stdout), 2 invalid
inputs or asset (nothing was sent), 3 transport failure (no HTTP response), 1 a broken plugin
or an internal error; ``test-asset`` also exits 4 when the console answered but the test failed
(401, 403, 407, an unexpected status). Messages go to stderr, one sentence each, with every
secret redacted.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from typing import Any, List, Optional, Sequence, TextIO

EXIT_OK, EXIT_BROKEN, EXIT_INPUT, EXIT_TRANSPORT, EXIT_HTTP = 0, 1, 2, 3, 4


class RedactingFilter(logging.Filter):
    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        from framework.runner import redact

        record.msg = redact(record.getMessage(), self.secrets)
        record.args = ()
        return True


class CliError(Exception):
    def __init__(self, code: int, lines: List[str]) -> None:
        super().__init__("\n".join(lines))
        self.code = code
        self.lines = lines


def read_document(path: str, option: str) -> Any:
    """A JSON or YAML document from a file, or from stdin for '-'."""
    from framework.manifest import load_yaml

    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
    except FileNotFoundError:
        raise CliError(EXIT_INPUT, [f"{option}: the file {path} does not exist."]) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = type(exc).__name__
        raise CliError(EXIT_INPUT, [f"{option}: cannot read {path} ({reason})."]) from None
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return load_yaml(text)
    except Exception as exc:  # any YAML error; its text may quote a secret, so show only where
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise CliError(
            EXIT_INPUT, [f"{option}: {path} is not valid JSON or YAML{where}."]
        ) from None


def _setup_logging(debug: bool, secrets: Sequence[str]) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter(secrets))
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    logging.captureWarnings(True)


def _write_json(value: Any, pretty: bool, secrets: Sequence[str]) -> None:
    from framework.runner import redact

    text = json.dumps(value, indent=2 if pretty else None, ensure_ascii=False)
    sys.stdout.buffer.write(redact(text, secrets).encode("utf-8") + b"\n")
    sys.stdout.flush()


class ProgressLine:
    """One status line on a terminal, rewritten in place (\\r) after each page and cleared at
    the end: events fetched / totalItems, pages and rate. At most ten updates a second."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.started = time.monotonic()
        self.shown_at: Optional[float] = None
        self.width = 0

    def __call__(self, fetched: int, total: Optional[int], pages: int) -> None:
        now = time.monotonic()
        if self.shown_at is not None and now - self.shown_at < 0.1 and fetched != total:
            return
        self.shown_at = now
        of = f" / {total:,}" if total is not None else ""
        rate = fetched / max(now - self.started, 1e-3)
        text = (
            f"fetched {fetched:,}{of} events, {pages:,} page{'' if pages == 1 else 's'}, "
            f"{rate:,.0f} events/s"
        )
        self.stream.write("\r" + text.ljust(self.width))
        self.stream.flush()
        self.width = max(self.width, len(text))

    def clear(self) -> None:
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0


def cmd_run(args: argparse.Namespace, secrets: List[str]) -> int:
    from framework.errors import AssetError, TransportError
    from framework.inputs import InputError
    from framework.manifest import load_plugin
    from framework.runner import check_output, run_action, secrets_of

    if args.asset == "-" and args.inputs == "-":
        raise CliError(EXIT_INPUT, ["--asset and --inputs cannot both read stdin (-)."])
    asset = read_document(args.asset, "--asset")
    plugin = load_plugin()
    secrets.extend(secrets_of(asset, plugin.asset.secrets))
    inputs = read_document(args.inputs, "--inputs") if args.inputs else {}
    progress = None if args.quiet or not sys.stderr.isatty() else ProgressLine(sys.stderr)
    from runtime import streaming

    if streaming.wanted(args, plugin, inputs):  # following cursors, or an output option
        return streaming.run(args, plugin, asset, inputs, secrets, progress)
    try:
        envelope = run_action(plugin, args.action, asset, inputs, progress=progress)
    except InputError as exc:
        raise CliError(EXIT_INPUT, str(exc).splitlines()) from None
    except AssetError as exc:
        raise CliError(EXIT_INPUT, [f"invalid asset: {exc}"]) from None
    except TransportError as exc:
        partial = getattr(exc, "envelope", None)  # following cursors: what arrived before it
        if partial is None:
            raise CliError(EXIT_TRANSPORT, [f"error: {exc}"]) from None
        _write_json(partial, args.pretty, secrets)
        raise CliError(
            EXIT_TRANSPORT,
            [
                f"error: {exc} The {getattr(exc, 'fetched', 0):,} events read before it are in "
                "the envelope on stdout; resume with its json_body.pagination.nextCursor."
            ],
        ) from None
    finally:
        if progress is not None:
            progress.clear()
    _write_json(envelope, args.pretty, secrets)
    if args.validate_output:
        problem = check_output(plugin.actions[args.action], envelope)
        if problem:
            raise CliError(EXIT_BROKEN, str(problem).splitlines())
    return EXIT_OK


def cmd_test_asset(args: argparse.Namespace, secrets: List[str]) -> int:
    """The asset's connection test (plugin.yaml ``asset.test``): the result as JSON on stdout,
    its diagnosis on stderr; exit 0 ok, 2 invalid asset, 3 not reached, 4 answered but failed."""
    from framework.errors import AssetError
    from framework.inputs import InputError
    from framework.manifest import load_plugin
    from framework.runner import redact, run_asset_test, secrets_of

    asset = read_document(args.asset, "--asset")
    plugin = load_plugin()
    secrets.extend(secrets_of(asset, plugin.asset.secrets))
    if not plugin.asset.test:
        raise CliError(EXIT_BROKEN, ["plugin.yaml declares no connection test (asset.test)."])
    try:
        result = run_asset_test(plugin, asset)
    except (InputError, AssetError) as exc:
        prefix = "invalid asset: " if isinstance(exc, AssetError) else ""
        lines = [prefix + line for line in str(exc).splitlines()]
        invalid = {"ok": False, "status_code": None, "cause": "invalid_asset"}
        _write_json({**invalid, "diagnosis": " ".join(lines)}, args.pretty, secrets)
        raise CliError(EXIT_INPUT, lines) from None
    _write_json(result, args.pretty, secrets)
    print(redact(str(result.get("diagnosis")), secrets), file=sys.stderr)
    if result.get("ok"):
        return EXIT_OK
    return EXIT_TRANSPORT if result.get("status_code") is None else EXIT_HTTP


def cmd_validate(args: argparse.Namespace, secrets: List[str]) -> int:
    from runtime.lint import lint_plugin

    problems = lint_plugin(args.root)
    for line in problems:
        print(line, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) found.", file=sys.stderr)
        return EXIT_BROKEN
    print("plugin is valid.", file=sys.stderr)
    return EXIT_OK


def cmd_package(args: argparse.Namespace, secrets: List[str]) -> int:
    from runtime.package import cmd_package as package  # only this command pays for it

    return package(args, secrets)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m runtime", description="Local SOAR runtime for this plugin."
    )
    parser.add_argument("--debug", action="store_true", help="log requests to stderr (redacted)")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run an action and print its envelope as JSON")
    run.add_argument("action", help="action id from plugin.yaml, e.g. get_threat_events")
    run.add_argument("--asset", required=True, help="asset file (JSON or YAML; - for stdin)")
    run.add_argument("--inputs", help="inputs file (JSON or YAML; - for stdin)")
    run.add_argument("--pretty", action="store_true", help="indent the JSON output")
    run.add_argument(
        "--validate-output",
        action="store_true",
        help="also check the envelope against the output schema (exit 1 if it does not match)",
    )
    run.add_argument(
        "--quiet", action="store_true", help="no progress line while following cursors"
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
        "--resume",
        metavar="FILE.meta.json",
        help="continue the export this sidecar describes, appending to its file",
    )
    run.set_defaults(handler=cmd_run)

    test = commands.add_parser(
        "test-asset",
        help="test the asset's connection: one cheap authenticated read, one diagnosis",
    )
    test.add_argument("--asset", required=True, help="asset file (JSON or YAML; - for stdin)")
    test.add_argument("--pretty", action="store_true", help="indent the JSON output")
    test.set_defaults(handler=cmd_test_asset)

    check = commands.add_parser("validate", help="check plugin.yaml and everything it references")
    check.add_argument("--root", default=None, help="plugin directory (default: this plugin)")
    check.set_defaults(handler=cmd_validate)

    package = commands.add_parser(
        "package", help="build the importable bundle dist/<id>-<version>.zip (wheels included)"
    )
    package.add_argument("--root", default=None, help="plugin directory (default: this plugin)")
    package.add_argument("--output", default=None, help="folder for the zip (default: ROOT/dist)")
    package.add_argument(
        "--no-wheels",
        action="store_true",
        help="leave wheels/ out (no package index needed; installing the bundle then needs it)",
    )
    package.add_argument(
        "--wheels-from",
        default=None,
        metavar="DIR",
        help="take the wheels from DIR (e.g. dist/wheels) instead of the package index",
    )
    package.set_defaults(handler=cmd_package)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    secrets: List[str] = []
    _setup_logging(args.debug, secrets)
    try:
        return args.handler(args, secrets)
    except CliError as exc:
        code, lines = exc.code, exc.lines
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the last line of defence: no traceback reaches a user
        from framework.manifest import ManifestError

        if isinstance(exc, ManifestError):
            code, lines = EXIT_BROKEN, ["the plugin is broken:", *exc.problems]
        else:
            code = EXIT_BROKEN
            lines = [f"internal error ({type(exc).__name__}); re-run with --debug for details."]
            if args.debug:
                import traceback

                lines.append(traceback.format_exc())
    from framework.runner import redact

    for line in lines:
        print(redact(line, secrets), file=sys.stderr)
    return code
