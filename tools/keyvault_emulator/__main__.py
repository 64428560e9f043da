"""Command line: ``python -m tools.keyvault_emulator [--port 8443] [--state .local/kv] ...``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from . import READY_PREFIX
from .certs import ensure_certificate
from .runtime import serve
from .store import SecretStore

SECRETS_FILE = "secrets.json"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command-line options (``--help`` lists them)."""
    p = argparse.ArgumentParser(
        prog="python -m tools.keyvault_emulator",
        description="Local Azure Key Vault secrets emulator (HTTPS) with a control API (HTTP).",
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)"
    )
    p.add_argument("--port", type=int, default=8443, help="vault HTTPS port; 0 = any free port")
    p.add_argument(
        "--control-port", type=int, default=0, help="control API HTTP port; 0 = any free port"
    )
    p.add_argument(
        "--state", default=".local/kv", help="folder for the certificate and secrets.json"
    )
    p.add_argument(
        "--in-memory", action="store_true", help="do not persist secrets (the certificate still is)"
    )
    p.add_argument(
        "--latency-ms", type=float, default=0.0, help="initial added delay per vault request"
    )
    p.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="per-request log lines (method, path, status) are INFO",
    )
    args = p.parse_args(argv)
    for opt in ("port", "control_port"):
        if not 0 <= getattr(args, opt) <= 65535:
            p.error(f"--{opt.replace('_', '-')} must be between 0 and 65535")
    if args.latency_ms < 0:
        p.error("--latency-ms must not be negative")
    return args


def loopback_address(host: str) -> str | None:
    """The IP address to bind for ``host``, or ``None`` when it is not a loopback address."""
    if host.lower() == "localhost":
        return "127.0.0.1"  # one concrete address, so an ephemeral port is unambiguous
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    return str(address) if address.is_loopback else None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator until SIGTERM/SIGINT; return the process exit code."""
    args = parse_args(argv)
    host = loopback_address(args.host)
    if host is None:
        print(
            f"error: --host {args.host} is not a loopback address; the emulator accepts any "
            "token and must only be reachable from this machine (use 127.0.0.1 or ::1)",
            file=sys.stderr,
        )
        return 2
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    state = Path(args.state).resolve()
    try:
        cert, key = ensure_certificate(state)
        store = SecretStore(None if args.in_memory else state / SECRETS_FILE)
    except (OSError, ValueError) as exc:
        print(f"error: cannot prepare state folder {state}: {exc}", file=sys.stderr)
        return 2

    def announce(url: str, control_url: str) -> None:
        ready = {"url": url, "control_url": control_url, "ca_file": str(cert)}
        where = f"persisted in {state / SECRETS_FILE}" if not args.in_memory else "in memory only"
        print(READY_PREFIX + json.dumps(ready), flush=True)
        print(f"Key Vault emulator: vault {url}, control API {control_url}; secrets {where}")
        print(f"Use AZURE_KEY_VAULT_URL={url} AZURE_KEY_VAULT_CA_FILE={cert}")
        print(
            "SDK clients need connection_verify=<ca file>, verify_challenge_resource=False "
            "and any credential. Stop with Ctrl+C.",
            flush=True,
        )

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            # Windows has no add_signal_handler; Ctrl+C still interrupts asyncio.run there.
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        await serve(
            store,
            host=host,
            port=args.port,
            control_port=args.control_port,
            cert_file=str(cert),
            key_file=str(key),
            latency_ms=args.latency_ms,
            ready=announce,
            stop=stop,
        )

    try:
        asyncio.run(run())
    except OSError as exc:
        print(
            f"error: cannot listen on {host} (vault port {args.port}, control port "
            f"{args.control_port}): {exc}. Is another emulator running? Pick free ports with "
            "--port/--control-port (0 = any free port).",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
