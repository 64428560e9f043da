"""``make dev``: Azurite (tables) and the Key Vault emulator on their usual local ports.

State persists under ``.local/`` (git-ignored). Prints the ``local.settings.json``
Values that point ``func start`` at both, and turns the secret catalog on (builds it once
if the table has none, as the app's first instance would: ``catalog_bootstrap``); Ctrl-C
stops both. ``make dev SHARDS=2`` (i.e. ``--shards 2``) also serves vaults ``shard1``,
``shard2`` on ports 8445, 8446, ... and prints ``AZURE_KEY_VAULT_SHARDS`` for them.

The emulator delivers Key Vault's Event Grid events to the ``keyvault_events`` function of
``func start`` on port 7071 (``--functions-port``), at the Functions host's Event Grid
webhook; until the host runs, deliveries fail and are retried a few times, then dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from shared.admin.catalog_bootstrap import ensure_catalog
from shared.admin.catalog_sync import SecretCatalog
from shared.errors import ConfigError
from shared.resolver import ConfigResolver
from shared.settings import Settings
from tools.services import (
    REPO_ROOT,
    Azurite,
    KeyVaultEmulator,
    ServiceStartError,
    busy_ports,
    exited_service,
)

LOCAL = REPO_ROOT / ".local"
TABLE_PORT, VAULT_PORT, CONTROL_PORT = 10002, 8443, 8444
FIRST_SHARD_PORT = 8445
FUNCTIONS_PORT = 7071  # func start's default


def events_endpoint(functions_port: int) -> str:
    """The Functions host's Event Grid webhook for the app's ``keyvault_events``."""
    return (f"http://localhost:{functions_port}/runtime/webhooks/eventgrid"
            "?functionName=keyvault_events")
MAX_SHARDS = 16


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """``--shards N``: extra emulated vaults beside the default one."""
    p = argparse.ArgumentParser(prog="python -m tools.devservices")
    p.add_argument(
        "--shards", type=int, default=0,
        help=f"extra vaults shard1..shardN on ports {FIRST_SHARD_PORT}+ (0-{MAX_SHARDS})",
    )
    p.add_argument(
        "--functions-port", type=int, default=FUNCTIONS_PORT,
        help="the port of `func start` (its --port), where the emulator delivers Key Vault's "
        f"events to keyvault_events (default {FUNCTIONS_PORT})",
    )
    args = p.parse_args(argv)
    if not 1 <= args.functions_port <= 65535:
        p.error("--functions-port must be between 1 and 65535")
    if not 0 <= args.shards <= MAX_SHARDS:
        p.error(f"--shards must be between 0 and {MAX_SHARDS}")
    return args


def shard_names(count: int) -> tuple[str, ...]:
    """``shard1`` .. ``shard{count}``."""
    return tuple(f"shard{i}" for i in range(1, count + 1))


def settings_values(azurite: Azurite, vault: KeyVaultEmulator) -> dict[str, str]:
    """The ``local.settings.json`` Values for these services (shards when there are any)."""
    values = {
        "AzureWebJobsStorage": "UseDevelopmentStorage=true",
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "AZURE_FUNCTIONS_ENVIRONMENT": "Development",
        "CONFIG_STORAGE_CONNECTION": azurite.connection_string,
        "CONFIG_TABLE_NAME": "Config",
        "AZURE_KEY_VAULT_URL": vault.url,
        "AZURE_KEY_VAULT_CA_FILE": vault.ca_file,
        # the admin routes need a caller: trust X-MS-CLIENT-PRINCIPAL (Development only)
        "ORGCONFIG_TRUST_DEV_PRINCIPAL": "true",
    }
    shards = {name: url for name, url in vault.urls.items() if name != vault.vaults[0]}
    if shards:
        values["AZURE_KEY_VAULT_SHARDS"] = json.dumps(shards)
        values["AZURE_KEY_VAULT_ORG_VAULTS"] = json.dumps({})
    return values


async def catalog_on(values: dict[str, str]) -> str:
    """Build the secret catalog if the table has none (one claim at a time, as the app's
    instances do); a line saying what the catalog holds."""
    try:
        async with ConfigResolver(Settings.from_env(values)) as resolver:
            built = await ensure_catalog(resolver)
            marker = await SecretCatalog(resolver).marker()
    except ConfigError:
        marker = None
    if marker is None:
        return ("secret catalog: not built now (see the warning above); the app's first "
                "instance builds it on its first request")
    return (f"secret catalog: {'built now' if built else 'in use'} ({marker.secrets} "
            "secrets): lookups of names the vault lacks cost no request")


def main(argv: Sequence[str] | None = None, *, table_port: int = TABLE_PORT,
         vault_port: int = VAULT_PORT, control_port: int = CONTROL_PORT,
         first_shard_port: int = FIRST_SHARD_PORT, local: Path = LOCAL) -> int:
    args = parse_args(argv)
    shards = shard_names(args.shards)
    shard_ports = [first_shard_port + i for i in range(len(shards))]
    busy = busy_ports(table_port, vault_port, control_port, *shard_ports)
    if busy:
        # Checked before anything starts: a second `make dev` fails at once, not after a
        # service's start timeout.
        print(f"port {', '.join(map(str, busy))} of 127.0.0.1 is in use: is `make dev` (or "
              "`make serve`, which uses the same ports) already running in another terminal? "
              "Stop it with Ctrl-C there (or stop whatever holds the port) and run `make dev` "
              "again.")
        return 1
    try:
        azurite = Azurite(port=table_port, location=local / "azurite").start()
    except ServiceStartError as exc:
        print(f"Azurite did not start on port {table_port}: {exc}")
        return 1
    try:
        vault = KeyVaultEmulator(
            state=local / "kv", port=vault_port, control_port=control_port, in_memory=False,
            vaults=("default", *shards), vault_ports=dict(zip(shards, shard_ports, strict=True)),
            event_endpoint=events_endpoint(args.functions_port),
        ).start()
    except ServiceStartError as exc:
        azurite.stop()
        print(f"Key Vault emulator did not start on ports {vault_port}+: {exc}")
        return 1
    values = settings_values(azurite, vault)
    print(f"Azurite tables on {azurite.endpoint} (data in {local / 'azurite'})")
    print(f"Key Vault emulator on {vault.url} (state in {local / 'kv'})")
    print(asyncio.run(catalog_on(values)))
    for name in vault.vaults[1:]:
        print(f"  vault {name} on {vault.urls[name]}")
    print("\nPut these Values in local.settings.json for `func start`:")
    print(json.dumps({"IsEncrypted": False, "Values": values}, indent=2))
    if len(vault.vaults) > 1:
        print(
            'Map orgs to the shards with AZURE_KEY_VAULT_ORG_VAULTS, e.g. {"acme": "shard1"}; '
            "unmapped orgs and GLOBAL stay in AZURE_KEY_VAULT_URL."
        )
    print(f"\nKey Vault events go to {events_endpoint(args.functions_port)} (the "
          "keyvault_events function of `func start`)")
    env = " ".join(f"{k}={v}" for k, v in vault.dropin_env().items())
    print(f"\nUnmodified SDK code (e.g. Microsoft's samples) runs against it with: {env}")
    print("\nCtrl-C stops both.", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    died = None
    try:
        while not stop.wait(1.0):
            died = exited_service(azurite, vault)
            if died is not None:
                print(f"{died}\nstopping the other service", flush=True)
                break
    except KeyboardInterrupt:
        pass
    finally:
        vault.stop()
        azurite.stop()
        print("stopped Azurite and the Key Vault emulator", flush=True)
    return 1 if died else 0


if __name__ == "__main__":
    sys.exit(main())
