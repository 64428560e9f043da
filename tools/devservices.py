"""``make dev``: Azurite (tables) and the Key Vault emulator on their usual local ports.

State persists under ``.local/`` (git-ignored). Prints the ``local.settings.json``
Values that point ``func start`` at both; Ctrl-C stops both.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

from tools.services import REPO_ROOT, Azurite, KeyVaultEmulator, ServiceStartError

LOCAL = REPO_ROOT / ".local"
TABLE_PORT, VAULT_PORT, CONTROL_PORT = 10002, 8443, 8444


def main() -> int:
    try:
        azurite = Azurite(port=TABLE_PORT, location=LOCAL / "azurite").start()
    except ServiceStartError as exc:
        print(f"Azurite did not start on port {TABLE_PORT} (already running?): {exc}")
        return 1
    try:
        vault = KeyVaultEmulator(
            state=Path(LOCAL / "kv"), port=VAULT_PORT, control_port=CONTROL_PORT, in_memory=False
        ).start()
    except ServiceStartError as exc:
        azurite.stop()
        print(f"Key Vault emulator did not start on port {VAULT_PORT}: {exc}")
        return 1
    values = {
        "AzureWebJobsStorage": "UseDevelopmentStorage=true",
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "AZURE_FUNCTIONS_ENVIRONMENT": "Development",
        "CONFIG_STORAGE_CONNECTION": azurite.connection_string,
        "CONFIG_TABLE_NAME": "Config",
        "AZURE_KEY_VAULT_URL": vault.url,
        "AZURE_KEY_VAULT_CA_FILE": vault.ca_file,
    }
    print(f"Azurite tables on {azurite.endpoint} (data in {LOCAL / 'azurite'})")
    print(f"Key Vault emulator on {vault.url} (state in {LOCAL / 'kv'})")
    print("\nPut these Values in local.settings.json for `func start`:")
    print(json.dumps({"IsEncrypted": False, "Values": values}, indent=2))
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
