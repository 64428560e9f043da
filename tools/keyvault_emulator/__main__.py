"""Command line: ``python -m tools.keyvault_emulator [--port 8443] [--state .local/kv] ...``.

``--vault NAME[=PORT]`` (repeatable) serves several vaults at once, each on its own port;
the first is the default vault (``url``, and the control API's unprefixed endpoints).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import re
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import READY_PREFIX
from .backup import ensure_backup_key
from .certs import ensure_certificate
from .events import ENDPOINT_ENV, endpoint_problem, shown
from .runtime import VaultSpec, serve
from .store import SecretStore

SECRETS_FILE = "secrets.json"
DEFAULT_VAULT = "default"
#: Key Vault's own vault-name rule (3-24 characters, letter first, no "--"), lower-case here
#: so a name is also a DNS label.
VAULT_NAME_RE = re.compile(r"^(?!.*--)[a-z][a-z0-9-]{1,22}[a-z0-9]$")


def secrets_file(state: Path, vault: str) -> Path:
    """Where ``vault`` persists: ``secrets.json`` for ``default`` (as before), else
    ``secrets-{vault}.json``."""
    return state / (SECRETS_FILE if vault == DEFAULT_VAULT else f"secrets-{vault}.json")


def parse_vaults(
    raw: Sequence[str] | None, default_port: int, p: argparse.ArgumentParser
) -> list[tuple[str, int]]:
    """``NAME[=PORT]`` options as ``(name, port)``; none given means one ``default`` vault
    on ``--port``. The first vault without a port takes ``--port``; others any free port."""
    if not raw:
        return [(DEFAULT_VAULT, default_port)]
    out: list[tuple[str, int]] = []
    for i, item in enumerate(raw):
        name, sep, port_text = item.partition("=")
        if not VAULT_NAME_RE.match(name):
            p.error(
                f"--vault {item}: a vault name is 3-24 characters of a-z, 0-9 and single '-', "
                "starting with a letter"
            )
        if not sep:
            port = default_port if i == 0 else 0
        elif port_text.isdigit() and 0 <= int(port_text) <= 65535:
            port = int(port_text)
        else:
            p.error(f"--vault {item}: the port must be between 0 and 65535")
        if name in (n for n, _ in out):
            p.error(f"--vault {name} is given twice")
        out.append((name, port))
    return out


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
        "--proxy-port", type=int, default=0,
        help="drop-in HTTPS proxy port for {vault}.vault.localhost; 0 = any free port",
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
        "--vault", action="append", metavar="NAME[=PORT]",
        help="serve this vault (repeatable; the first is the default vault); default: one "
        "vault named 'default' on --port",
    )
    p.add_argument(
        "--event-endpoint", default=os.environ.get(ENDPOINT_ENV) or None, metavar="URL",
        help="deliver Key Vault's Event Grid events (SecretNewVersionCreated, "
        "SecretNearExpiry, SecretExpired) to this webhook after the validation handshake; "
        f"default: ${ENDPOINT_ENV}, else none (the control API can set it later)",
    )
    p.add_argument(
        "--allow-remote-event-endpoint", action="store_true",
        help="allow an event endpoint that is not on a loopback address",
    )
    p.add_argument(
        "--event-check-seconds", type=float, default=60.0,
        help="how often to look for secrets near (30 days) or past expiry (default 60)",
    )
    p.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="per-request log lines (method, path, status) are INFO",
    )
    args = p.parse_args(argv)
    for opt in ("port", "control_port", "proxy_port"):
        if not 0 <= getattr(args, opt) <= 65535:
            p.error(f"--{opt.replace('_', '-')} must be between 0 and 65535")
    if args.latency_ms < 0:
        p.error("--latency-ms must not be negative")
    if not args.event_check_seconds > 0:
        p.error("--event-check-seconds must be positive")
    if args.event_endpoint:
        problem = endpoint_problem(args.event_endpoint,
                                   allow_remote=args.allow_remote_event_endpoint)
        if problem:
            p.error(f"--event-endpoint: {problem}")
    args.vaults = parse_vaults(args.vault, args.port, p)
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
        backup_key = ensure_backup_key(state)
        specs = [
            VaultSpec(
                name, port, SecretStore(None if args.in_memory else secrets_file(state, name))
            )
            for name, port in args.vaults
        ]
    except (OSError, ValueError) as exc:
        print(f"error: cannot prepare state folder {state}: {exc}", file=sys.stderr)
        return 2

    def announce(info: dict[str, Any]) -> None:
        url, control_url = info["url"], info["control_url"]
        print(READY_PREFIX + json.dumps({**info, "ca_file": str(cert)}), flush=True)

        def where(name: str) -> str:
            if args.in_memory:
                return "in memory only"
            return f"persisted in {secrets_file(state, name)}"

        (default, _), *others = info["urls"].items()
        print(
            f"Key Vault emulator: vault {url}, control API {control_url}; "
            f"secrets {where(default)}"
        )
        print(f"Use AZURE_KEY_VAULT_URL={url} AZURE_KEY_VAULT_CA_FILE={cert}")
        for name, vault_url in others:
            print(f"Vault {name}: {vault_url}; secrets {where(name)}")
        print(
            "SDK clients need connection_verify=<ca file>, verify_challenge_resource=False "
            "and any credential."
        )
        print(
            "Unmodified SDK code (DefaultAzureCredential, default options) instead: "
            f"VAULT_URL={info['hostname_urls'][default]} HTTPS_PROXY={info['proxy_url']} "
            f"REQUESTS_CA_BUNDLE={cert} SSL_CERT_FILE={cert} "
            f"IDENTITY_ENDPOINT={control_url}/identity/token IDENTITY_HEADER=emulator"
        )
        if args.event_endpoint:
            print(f"Key Vault events (Event Grid schema) go to {shown(args.event_endpoint)}")
        print("Stop with Ctrl+C.", flush=True)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            # Windows has no add_signal_handler; Ctrl+C still interrupts asyncio.run there.
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        await serve(
            specs,
            host=host,
            control_port=args.control_port,
            proxy_port=args.proxy_port,
            cert_file=str(cert),
            key_file=str(key),
            backup_key=backup_key,
            latency_ms=args.latency_ms,
            ready=announce,
            stop=stop,
            event_endpoint=args.event_endpoint,
            allow_remote_events=args.allow_remote_event_endpoint,
            event_check_seconds=args.event_check_seconds,
        )

    try:
        asyncio.run(run())
    except OSError as exc:
        print(
            f"error: cannot listen on {host} (vault ports "
            f"{', '.join(f'{n}={p}' for n, p in args.vaults)}, control port "
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
