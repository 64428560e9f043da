"""``make dev``: Azurite (tables) and the Key Vault emulator on their usual local ports.

State persists under ``.local/`` (git-ignored). Prints the ``local.settings.json``
Values that point ``func start`` at both; Ctrl-C stops both. ``make dev SHARDS=2`` (i.e.
``--shards 2``) also serves vaults ``shard1``, ``shard2`` on ports 8445, 8446, ... and
prints ``AZURE_KEY_VAULT_SHARDS`` for them.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from tools.services import REPO_ROOT, Azurite, KeyVaultEmulator, ServiceStartError

LOCAL = REPO_ROOT / ".local"
TABLE_PORT, VAULT_PORT, CONTROL_PORT = 10002, 8443, 8444
FIRST_SHARD_PORT = 8445
MAX_SHARDS = 16


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """``--shards N``: extra emulated vaults beside the default one."""
    p = argparse.ArgumentParser(prog="python -m tools.devservices")
    p.add_argument(
        "--shards", type=int, default=0,
        help=f"extra vaults shard1..shardN on ports {FIRST_SHARD_PORT}+ (0-{MAX_SHARDS})",
    )
    args = p.parse_args(argv)
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
    }
    shards = {name: url for name, url in vault.urls.items() if name != vault.vaults[0]}
    if shards:
        values["AZURE_KEY_VAULT_SHARDS"] = json.dumps(shards)
        values["AZURE_KEY_VAULT_ORG_VAULTS"] = json.dumps({})
    return values


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        azurite = Azurite(port=TABLE_PORT, location=LOCAL / "azurite").start()
    except ServiceStartError as exc:
        print(f"Azurite did not start on port {TABLE_PORT} (already running?): {exc}")
        return 1
    shards = shard_names(args.shards)
    try:
        vault = KeyVaultEmulator(
            state=Path(LOCAL / "kv"), port=VAULT_PORT, control_port=CONTROL_PORT, in_memory=False,
            vaults=("default", *shards),
            vault_ports={name: FIRST_SHARD_PORT + i for i, name in enumerate(shards)},
        ).start()
    except ServiceStartError as exc:
        azurite.stop()
        print(f"Key Vault emulator did not start on ports {VAULT_PORT}+: {exc}")
        return 1
    values = settings_values(azurite, vault)
    print(f"Azurite tables on {azurite.endpoint} (data in {LOCAL / 'azurite'})")
    print(f"Key Vault emulator on {vault.url} (state in {LOCAL / 'kv'})")
    for name in vault.vaults[1:]:
        print(f"  vault {name} on {vault.urls[name]}")
    print("\nPut these Values in local.settings.json for `func start`:")
    print(json.dumps({"IsEncrypted": False, "Values": values}, indent=2))
    if len(vault.vaults) > 1:
        print(
            'Map orgs to the shards with AZURE_KEY_VAULT_ORG_VAULTS, e.g. {"acme": "shard1"}; '
            "unmapped orgs and GLOBAL stay in AZURE_KEY_VAULT_URL."
        )
    env = " ".join(f"{k}={v}" for k, v in vault.dropin_env().items())
    print(f"\nUnmodified SDK code (e.g. Microsoft's samples) runs against it with: {env}")
    print("\nCtrl-C stops both.")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1.0):
            if not azurite.running or (vault.proc is not None and vault.proc.poll() is not None):
                print("a service exited unexpectedly; stopping")
                break
    except KeyboardInterrupt:
        pass
    finally:
        vault.stop()
        azurite.stop()
        print("stopped Azurite and the Key Vault emulator")
    return 0


if __name__ == "__main__":
    sys.exit(main())
