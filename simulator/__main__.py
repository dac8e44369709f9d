"""``python -m simulator``: serve the simulator until SIGTERM or SIGINT.

Prints exactly one line on stdout, ``SIMULATOR_URL=<url>``, once it is listening (``make demo``
reads it to learn the port), then stays quiet and exits 0 when told to stop.
"""

import argparse
import signal
import sys
import threading
from typing import List, Optional

from .server import DEFAULT_TOKEN, DEFAULT_VIEWER_TOKEN, SimulatorServer, _is_loopback


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulator", description="Local SentinelOne Get Threat Events simulator."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback)")
    parser.add_argument("--port", type=_port, default=0, help="port; 0 picks a free one")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="API token with Threats.view")
    parser.add_argument("--viewer-token", default=DEFAULT_VIEWER_TOKEN, help="token without it")
    parser.add_argument("--tls-cert", help="PEM certificate: serve https")
    parser.add_argument("--tls-key", help="PEM private key for --tls-cert")
    parser.add_argument("--rate", type=float, help="rate limit per token, requests/second")
    parser.add_argument("--burst", type=int, help="rate limit burst (default: ceil(rate))")
    parser.add_argument("--allow-remote", action="store_true", help="allow a non-loopback host")
    parser.add_argument("--verbose", action="store_true", help="log requests to stderr")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    host_is_local = args.host == "localhost" or _is_loopback(args.host)
    if not host_is_local and not args.allow_remote:
        print(
            f"simulator: refusing to listen on non-loopback host {args.host!r} "
            "(add --allow-remote to do so)",
            file=sys.stderr,
        )
        return 2
    if (args.tls_cert is None) != (args.tls_key is None):
        print("simulator: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    if (args.rate is not None and args.rate <= 0) or (args.burst is not None and args.burst < 1):
        print("simulator: --rate must be positive and --burst at least 1", file=sys.stderr)
        return 2

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        server = SimulatorServer(
            host=args.host,
            port=args.port,
            token=args.token,
            viewer_token=args.viewer_token,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            rate=args.rate,
            burst=args.burst,
            verbose=args.verbose,
        ).start()
    except (OSError, ValueError) as error:
        print(f"simulator: cannot start on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    try:
        print(f"SIMULATOR_URL={server.url}", flush=True)
        stop.wait()
    finally:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
