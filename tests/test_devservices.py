"""``make dev``: the printed Values are valid settings that reach every vault (with
``SHARDS=n`` too) and include the dev-principal opt-in; a second run fails at once."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from shared.settings import Settings
from tools import devservices
from tools.devservices import parse_args, settings_values, shard_names
from tools.services import REPO_ROOT, Azurite, KeyVaultEmulator, free_port

pytestmark = pytest.mark.integration


def test_shards_are_named_shard1_to_n() -> None:
    assert shard_names(0) == ()
    assert shard_names(2) == ("shard1", "shard2")


@pytest.mark.parametrize("count", ["-1", "17", "two"])
def test_a_bad_shard_count_is_refused(count: str) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--shards", count])


def test_printed_values_name_every_shard_and_parse_as_settings(
    sharded_keyvault: KeyVaultEmulator,
) -> None:
    values = settings_values(Azurite(port=10002), sharded_keyvault)
    shards = json.loads(values["AZURE_KEY_VAULT_SHARDS"])
    assert shards == {"shard1": sharded_keyvault.urls["shard1"],
                      "shard2": sharded_keyvault.urls["shard2"]}
    mapped = dict(values, AZURE_KEY_VAULT_ORG_VAULTS='{"acme": "shard2"}')
    settings = Settings.from_env(mapped)
    assert settings.vault_url_for("acme") == sharded_keyvault.urls["shard2"]
    assert settings.vault_url_for("GLOBAL") == sharded_keyvault.url


def test_without_shards_no_shard_settings_are_printed(keyvault: KeyVaultEmulator) -> None:
    values = settings_values(Azurite(port=10002), keyvault)
    assert "AZURE_KEY_VAULT_SHARDS" not in values
    assert Settings.from_env(values).vault_url_for("acme") == keyvault.url


@pytest.fixture(scope="module")
def running_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[int], str]]:
    """``make dev`` (tools.devservices) on free ports with its state in a temp folder;
    yields its ports and what it printed up to "Ctrl-C stops both."."""
    ports = [free_port(), free_port(), free_port()]
    local = tmp_path_factory.mktemp("dev-local")
    code = (f"from pathlib import Path; from tools.devservices import main; main([], "
            f"table_port={ports[0]}, vault_port={ports[1]}, control_port={ports[2]}, "
            f"local=Path({str(local)!r}))")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO_ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("Ctrl-C stops both."):
            break
    try:
        yield ports, "".join(lines)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)


def printed_values(output: str) -> dict[str, str]:
    start = output.index("{")
    document = json.loads(output[start: output.rindex("}") + 1])
    return dict(document["Values"])


def test_the_printed_values_include_the_dev_principal_opt_in(running_dev: tuple[list[int], str]
                                                             ) -> None:
    values = printed_values(running_dev[1])
    assert values["ORGCONFIG_TRUST_DEV_PRINCIPAL"] == "true"
    settings = Settings.from_env(values)
    assert settings.is_development and settings.trust_dev_principal
    assert settings.key_vault_ca_file and Path(settings.key_vault_ca_file).is_file()


def test_make_dev_turns_the_secret_catalog_on(running_dev: tuple[list[int], str]) -> None:
    # a fresh table and vault: the catalog is built at once (empty), not at the hourly timer
    assert "secret catalog: built now (0 secrets)" in running_dev[1]


def test_a_second_make_dev_fails_at_once_saying_why(running_dev: tuple[list[int], str],
                                                    tmp_path: Path) -> None:
    out = io.StringIO()
    started = time.monotonic()
    with redirect_stdout(out):
        code = devservices.main([], table_port=running_dev[0][0], vault_port=running_dev[0][1],
                                control_port=running_dev[0][2], local=tmp_path)
    assert code == 1 and time.monotonic() - started < 2
    message = out.getvalue()
    assert str(running_dev[0][0]) in message and "already running" in message
    assert "--port" not in message
    assert not (tmp_path / "azurite").exists()  # nothing was started


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()]


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


@pytest.mark.parametrize(("marker", "name"), [("azurite", "Azurite"),
                                              ("tools.keyvault_emulator", "Key Vault emulator")])
def test_a_service_dying_stops_make_dev_naming_it(tmp_path: Path, marker: str, name: str
                                                  ) -> None:
    ports = [free_port(), free_port(), free_port()]
    code = (f"import sys; from pathlib import Path; from tools.devservices import main; "
            f"sys.exit(main([], table_port={ports[0]}, vault_port={ports[1]}, "
            f"control_port={ports[2]}, local=Path({str(tmp_path)!r})))")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO_ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Ctrl-C stops both."):
                break
        [service] = [pid for pid in _children(proc.pid) if marker in _cmdline(pid)]
        os.killpg(service, signal.SIGKILL)
        rest = proc.stdout.read()
        assert proc.wait(30) == 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert f"{name} exited unexpectedly (killed by SIGKILL); last lines of its log:" in rest
    assert "stopped Azurite and the Key Vault emulator" in rest


def test_make_dev_points_the_emulators_events_at_func_starts_keyvault_events(
    running_dev: tuple[list[int], str]
) -> None:
    from tools.keyvault_emulator.control import EmulatorControl

    url = devservices.events_endpoint(devservices.FUNCTIONS_PORT)
    assert url == ("http://localhost:7071/runtime/webhooks/eventgrid"
                   "?functionName=keyvault_events")
    assert f"Key Vault events go to {url}" in running_dev[1]
    status = EmulatorControl(f"http://127.0.0.1:{running_dev[0][2]}").events()
    assert status["endpoint"] == "http://localhost:7071/runtime/webhooks/eventgrid?..."
    assert parse_args(["--functions-port", "7072"]).functions_port == 7072
    with pytest.raises(SystemExit):
        parse_args(["--functions-port", "0"])
