"""``python -m tools.localhost --port 7071``: serve function_app's HTTP functions.

The app reads its settings from this process's environment (no local.settings.json is
read: ``make serve`` sets them). Ctrl-C or SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence

from tools.localhost.host import LocalFunctionsHost


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.localhost", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    parser.add_argument("--port", type=int, default=7071, help="0 picks a free port")
    parser.add_argument("--route-prefix", default=None, help="default: host.json's")
    parser.add_argument("--function-key", action="append", default=None,
                        help="enforce function keys; this key is valid (repeatable)")
    parser.add_argument("--master-key", default=None, help="enforce keys; opens admin level")
    parser.add_argument("--max-body-bytes", type=int, default=None)
    return parser


async def serve(host: LocalFunctionsHost, stop: asyncio.Event) -> None:
    """Run ``host`` until ``stop`` is set; prints what it serves."""
    async with host:
        print(f"Functions on {host.url} (prefix {host.route_prefix!r}), "
              f"function keys {'enforced' if host.keys_enforced else 'off'}:")
        print("\n".join(host.describe()), flush=True)
        await stop.wait()


async def _main(args: argparse.Namespace) -> int:
    from function_app import app

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    host = LocalFunctionsHost(
        app, host=args.host, port=args.port, route_prefix=args.route_prefix,
        function_keys=args.function_key, master_key=args.master_key,
        max_body_bytes=args.max_body_bytes,
    )
    await serve(host, stop)
    from shared.resolver import reset_resolver

    with contextlib.suppress(Exception):
        await reset_resolver()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(_main(_parser().parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
