"""``make serve``: the whole API on localhost without Core Tools.

Starts Azurite and the Key Vault emulator (state under ``.local/``, as ``make dev``),
points this process's environment at them in ``Development`` with the dev-principal
opt-in, seeds ``examples/seed.json`` when the table is empty (and reconciles the secret
catalog, as ``make demo`` and the hourly timer in Azure do), and serves the function
app with :class:`tools.localhost.LocalFunctionsHost` on ``127.0.0.1:7071`` (prefix from
host.json). The emulator delivers Key Vault's Event Grid events to the app's
``keyvault_events`` function (the host's Event Grid webhook), so a secret rotated directly
in the emulator reaches the app as it would in Azure. Prints the page URL and a ready
``curl`` line; Ctrl-C (SIGINT) or SIGTERM
stops the host and both services.

Ports and the state folder are options (``make serve PORT=... TABLE_PORT=...``), so
tests and parallel runs use free ports. A line starting with :data:`READY_PREFIX`
(JSON: url, service PIDs) tells a supervising test that everything is up. A port in use
stops it at once, before anything starts; a service that dies stops everything, naming
the service, its exit code and the end of its log (exit status 1).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables.aio import TableClient

from shared.admin.catalog_sync import SecretCatalog
from shared.read.coherence import SENTINEL_PARTITION
from shared.resolver import ConfigResolver, reset_resolver
from shared.settings import Settings
from tools.localhost import LocalFunctionsHost
from tools.services import (
    REPO_ROOT,
    Azurite,
    KeyVaultEmulator,
    ServiceStartError,
    busy_ports,
    exited_service,
)

READY_PREFIX = "ORGCONFIG_SERVE_READY "
#: the app's Event Grid-triggered function the emulator's events go to
EVENTS_FUNCTION = "keyvault_events"
TABLE_NAME = "Config"
SEED_FILE = REPO_ROOT / "examples" / "seed.json"
#: what to type for other ports (the Makefile's variables; 0 = a free port)
OTHER_PORTS = "make serve PORT=7072 TABLE_PORT=0 VAULT_PORT=0 CONTROL_PORT=0"


def dev_principal(name: str = "dev-admin@localhost") -> str:
    """A base64 ``X-MS-CLIENT-PRINCIPAL`` of a PlatformAdmin, as App Service sends it."""
    document = {"auth_typ": "aad", "claims": [
        {"typ": "name", "val": name}, {"typ": "roles", "val": "PlatformAdmin"}]}
    return base64.b64encode(json.dumps(document).encode()).decode()


def app_environment(azurite: Azurite, vault: KeyVaultEmulator) -> dict[str, str]:
    """The settings the function app reads, pointing at the local services."""
    return {
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "AZURE_FUNCTIONS_ENVIRONMENT": "Development",
        "ORGCONFIG_TRUST_DEV_PRINCIPAL": "true",
        "WEBSITE_AUTH_ENABLED": "false",
        "CONFIG_STORAGE_CONNECTION": azurite.connection_string,
        "CONFIG_TABLE_NAME": TABLE_NAME,
        "AZURE_KEY_VAULT_URL": vault.url,
        "AZURE_KEY_VAULT_CA_FILE": vault.ca_file,
    }


async def table_is_empty(settings: Settings) -> bool:
    """True when the config table holds no entry (the change sentinel aside)."""
    assert settings.storage_connection is not None
    client = TableClient.from_connection_string(settings.storage_connection, settings.table_name)
    async with client:
        try:
            async for entity in client.list_entities(results_per_page=50):
                if entity["PartitionKey"] != SENTINEL_PARTITION:
                    return False
        except ResourceNotFoundError:
            return True
    return True


async def seed_if_empty(settings: Settings) -> bool:
    """Import examples/seed.json (the demo's path: CLI import parsing) into an empty table,
    then reconcile the secret catalog (as ``make demo`` does and the hourly timer would in
    Azure) so lookups of names the vault lacks are answered without a request. A table
    seeded before that (no catalog marker yet) gets its first reconcile too."""
    from tools.demo import seed

    empty = await table_is_empty(settings)
    async with ConfigResolver(settings) as resolver:
        catalog = SecretCatalog(resolver)
        if empty:
            await resolver.config_store.ensure_table()
            await seed(resolver)
            print(f"seeded {SEED_FILE} into the empty table")
        elif await catalog.marker() is not None:
            return False
        report = await catalog.reconcile()
    print(f"secret catalog reconciled ({report.listed} secrets), as the hourly timer does "
          "in Azure")
    return empty


async def _watch(azurite: Azurite, vault: KeyVaultEmulator,
                 stop: asyncio.Event) -> str | None:
    """Wait for ``stop``; when a service exits first, say which (and return that)."""
    while not stop.is_set():
        died = exited_service(azurite, vault)
        if died is not None:
            print(f"{died}\nstopping the host and the other service", flush=True)
            stop.set()
            return died
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
    return None


async def run(args: argparse.Namespace, azurite: Azurite, vault: KeyVaultEmulator) -> bool:
    """Seed, serve and wait for a stop signal (or a service dying: then False)."""
    from function_app import app

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    settings = Settings.from_env()
    await seed_if_empty(settings)
    # The browser is signed in as a PlatformAdmin, as App Service authentication would
    # sign it in: the admin page works without a principal header from the browser.
    host = LocalFunctionsHost(app, host="127.0.0.1", port=args.port, sign_in=dev_principal())
    try:
        async with host:
            principal = dev_principal()
            events_url = host.eventgrid_url(EVENTS_FUNCTION)
            # set once the host listens (its port may have been 0); the emulator validates
            # the subscription before its first delivery, as Event Grid does
            await asyncio.to_thread(vault.control().set_event_endpoint, events_url)
            print(f"Functions on {host.base_url} (function keys off, as under Core Tools):")
            print("\n".join(host.describe()))
            print(f"\nadmin page: {host.base_url}/admin (signed in as dev-admin@localhost, "
                  "PlatformAdmin)")
            print("try:\n  curl -H 'X-MS-CLIENT-PRINCIPAL: "
                  f"{principal}' {host.base_url}/orgs/acme/config")
            print(f"\nKey Vault events: the emulator delivers SecretNewVersionCreated, "
                  f"SecretNearExpiry and SecretExpired to {EVENTS_FUNCTION} ({events_url})")
            print("\nCtrl-C stops the host, Azurite and the Key Vault emulator.")
            ready = {"url": host.url, "base_url": host.base_url, "events_url": events_url,
                     "vault_url": vault.url, "ca_file": vault.ca_file,
                     "control_url": vault.control_url,
                     "pids": [p.pid for p in (azurite.proc, vault.proc) if p is not None]}
            print(READY_PREFIX + json.dumps(ready), flush=True)
            return await _watch(azurite, vault, stop) is None
    finally:
        await reset_resolver()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.serve", description=__doc__)
    parser.add_argument("--port", type=int, default=7071, help="the API (0: a free port)")
    parser.add_argument("--table-port", type=int, default=10002, help="Azurite (0: free)")
    parser.add_argument("--vault-port", type=int, default=8443, help="the emulator (0: free)")
    parser.add_argument("--control-port", type=int, default=8444,
                        help="the emulator's control API (0: free)")
    parser.add_argument("--state", type=Path, default=REPO_ROOT / ".local",
                        help="folder for the tables and the vault's state")
    return parser


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # SIGTERM while the services start takes the same way out as Ctrl-C (they run in
    # sessions of their own, so nothing else would stop them); once serving, the event
    # loop's handlers take over.
    signal.signal(signal.SIGTERM, _interrupt)
    busy = busy_ports(args.port, args.table_port, args.vault_port, args.control_port)
    if busy:
        # Checked before anything starts: a second `make serve` fails at once, not after a
        # service's start timeout.
        print(f"port {', '.join(map(str, busy))} of 127.0.0.1 is in use: is `make serve` or "
              "`make dev` already running in another terminal? Stop it with Ctrl-C there (or "
              f"stop whatever holds the port), or use other ports: {OTHER_PORTS} "
              "(0 picks a free port)", flush=True)
        return 1
    azurite = Azurite(port=args.table_port, location=args.state / "azurite")
    vault = KeyVaultEmulator(state=args.state / "kv", port=args.vault_port,
                             control_port=args.control_port, in_memory=False)
    clean = True
    try:
        azurite.start()
        vault.start()
        os.environ.update(app_environment(azurite, vault))
        print(f"Azurite tables on {azurite.endpoint}, Key Vault emulator on {vault.url} "
              f"(state in {args.state})")
        clean = asyncio.run(run(args, azurite, vault))
    except ServiceStartError as exc:
        print(f"a local service did not start: {exc}\n(a port taken meanwhile? other ports: "
              f"{OTHER_PORTS})")
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        vault.stop()
        azurite.stop()
        print("stopped the host, Azurite and the Key Vault emulator", flush=True)
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
