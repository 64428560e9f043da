"""One emulator, several vaults: the real sync and aio SecretClient see independent vaults.

Each vault has its own HTTPS port, secrets, soft-deleted space, counters and faults; the
control API addresses one vault at a time (``control.vault(name)``), and the unprefixed
API keeps meaning the default (first) vault.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError, ServiceRequestError
from azure.keyvault.secrets import SecretClient
from azure.keyvault.secrets.aio import SecretClient as AsyncSecretClient

from tests.test_keyvault_emulator import AsyncFakeCredential, FakeCredential, _run_cli
from tools.keyvault_emulator.control import EmulatorControlError
from tools.services import KeyVaultEmulator

pytestmark = pytest.mark.integration

FAST_RETRY = {"retry_total": 1, "retry_backoff_factor": 0.01, "retry_backoff_max": 0.05}


def vault_client(kv: KeyVaultEmulator, vault: str, **kwargs: Any) -> SecretClient:
    """A sync SecretClient on the named vault of the emulator."""
    return SecretClient(
        kv.urls[vault], FakeCredential(), verify_challenge_resource=False,
        connection_verify=kv.ca_file, **kwargs,
    )


def async_vault_client(kv: KeyVaultEmulator, vault: str, **kwargs: Any) -> AsyncSecretClient:
    """An aio SecretClient on the named vault of the emulator."""
    return AsyncSecretClient(
        kv.urls[vault], AsyncFakeCredential(), verify_challenge_resource=False,
        connection_verify=kv.ca_file, **kwargs,
    )


def test_every_vault_has_its_own_port_and_the_first_is_the_default(
    sharded_keyvault: KeyVaultEmulator,
) -> None:
    urls = sharded_keyvault.urls
    assert list(urls) == ["default", "shard1", "shard2"]
    assert sharded_keyvault.url == urls["default"]
    ports = {urlsplit(u).port for u in urls.values()}
    assert len(ports) == 3
    assert sharded_keyvault.control().vaults() == urls
    assert sharded_keyvault.control("shard1").health()["url"] == urls["shard1"]
    assert sharded_keyvault.control().health()["url"] == urls["default"]


def test_a_secret_set_in_one_vault_is_not_found_in_another(
    sharded_keyvault: KeyVaultEmulator,
) -> None:
    with vault_client(sharded_keyvault, "shard1") as shard1, \
            vault_client(sharded_keyvault, "default") as default:
        shard1.set_secret("acme--smtp-password", "in-shard1")
        assert shard1.get_secret("acme--smtp-password").value == "in-shard1"
        with pytest.raises(ResourceNotFoundError):
            default.get_secret("acme--smtp-password")
        assert list(default.list_properties_of_secrets()) == []
        assert [p.name for p in shard1.list_properties_of_secrets()] == ["acme--smtp-password"]


def test_ids_name_the_vault_that_answered(sharded_keyvault: KeyVaultEmulator) -> None:
    with vault_client(sharded_keyvault, "shard2") as shard2:
        secret = shard2.set_secret("where", "v")
    assert secret.properties.vault_url == sharded_keyvault.urls["shard2"]


async def test_aio_clients_see_independent_versions_and_soft_delete(
    sharded_keyvault: KeyVaultEmulator,
) -> None:
    async with async_vault_client(sharded_keyvault, "default") as default, \
            async_vault_client(sharded_keyvault, "shard1") as shard1:
        await default.set_secret("same-name", "default-1")
        await shard1.set_secret("same-name", "shard1-1")
        await shard1.set_secret("same-name", "shard1-2")
        assert (await default.get_secret("same-name")).value == "default-1"
        assert (await shard1.get_secret("same-name")).value == "shard1-2"
        versions = [p async for p in shard1.list_properties_of_secret_versions("same-name")]
        assert len(versions) == 2

        await default.delete_secret("same-name")
        # The name is soft-deleted in the default vault only: shard1 still serves and
        # accepts it, and the default vault's deleted list is its own.
        assert (await shard1.get_secret("same-name")).value == "shard1-2"
        await shard1.set_secret("same-name", "shard1-3")
        assert [d.name async for d in default.list_deleted_secrets()] == ["same-name"]
        assert [d.name async for d in shard1.list_deleted_secrets()] == []
        with pytest.raises(HttpResponseError) as conflict:
            await default.set_secret("same-name", "x")
        assert conflict.value.status_code == 409


def test_counters_are_per_vault(sharded_keyvault: KeyVaultEmulator) -> None:
    with vault_client(sharded_keyvault, "shard1") as shard1, \
            vault_client(sharded_keyvault, "shard2") as shard2:
        shard1.set_secret("counted", "v")
        shard1.get_secret("counted")
        shard1.get_secret("counted")
        shard2.set_secret("counted", "v")
    assert sharded_keyvault.control("shard1").count("get_secret", "counted") == 2
    assert sharded_keyvault.control("shard2").count("get_secret", "counted") == 0
    assert sharded_keyvault.control("shard2").count("set_secret") == 1
    assert sharded_keyvault.control().counters()["total"] == 0

    sharded_keyvault.control("shard1").reset_counters()
    assert sharded_keyvault.control("shard1").counters()["total"] == 0
    assert sharded_keyvault.control("shard2").counters()["total"] == 1


def test_injected_errors_hit_only_their_vault(sharded_keyvault: KeyVaultEmulator) -> None:
    sharded_keyvault.control("shard1").fail_next(5, 503, operation="get_secret")
    with vault_client(sharded_keyvault, "shard1", **FAST_RETRY) as shard1, \
            vault_client(sharded_keyvault, "default", **FAST_RETRY) as default:
        shard1.set_secret("s", "v")
        default.set_secret("s", "v")
        assert default.get_secret("s").value == "v"
        with pytest.raises(HttpResponseError) as err:
            shard1.get_secret("s")
    assert err.value.status_code == 503
    assert sharded_keyvault.control("shard1").faults()["fail_next"][0]["remaining"] == 3
    assert sharded_keyvault.control().faults()["fail_next"] == []


def test_a_refusing_vault_leaves_the_others_listening(sharded_keyvault: KeyVaultEmulator) -> None:
    sharded_keyvault.control("shard2").refuse_connections()
    with vault_client(sharded_keyvault, "shard2", **FAST_RETRY) as shard2, \
            vault_client(sharded_keyvault, "shard1") as shard1:
        shard1.set_secret("up", "v")
        with pytest.raises(ServiceRequestError):
            shard2.get_secret("up")
        sharded_keyvault.control("shard2").refuse_connections(False)
        with pytest.raises(ResourceNotFoundError):
            shard2.get_secret("up")


def test_reset_of_one_vault_leaves_the_others(sharded_keyvault: KeyVaultEmulator) -> None:
    with vault_client(sharded_keyvault, "shard1") as shard1, \
            vault_client(sharded_keyvault, "default") as default:
        shard1.set_secret("kept", "v")
        default.set_secret("dropped", "v")
        sharded_keyvault.control().reset()  # the default vault only
        assert shard1.get_secret("kept").value == "v"
        with pytest.raises(ResourceNotFoundError):
            default.get_secret("dropped")
        sharded_keyvault.control().reset_all()
        with pytest.raises(ResourceNotFoundError):
            shard1.get_secret("kept")


def test_control_api_refuses_an_unknown_vault(sharded_keyvault: KeyVaultEmulator) -> None:
    with pytest.raises(EmulatorControlError, match="no vault 'nope'"):
        sharded_keyvault.control("nope").counters()


def test_each_vault_persists_in_its_own_file_and_keeps_its_port(tmp_path: Path) -> None:
    emulator = KeyVaultEmulator(state=tmp_path, in_memory=False, vaults=("default", "euro")).start()
    try:
        urls = dict(emulator.urls)
        with vault_client(emulator, "default") as default, vault_client(emulator, "euro") as eu:
            default.set_secret("home", "d")
            eu.set_secret("away", "e")
    finally:
        emulator.stop()
    assert (tmp_path / "secrets.json").exists() and (tmp_path / "secrets-euro.json").exists()
    assert b"away" not in (tmp_path / "secrets.json").read_bytes()

    emulator.start()  # same state folder: same ports, same secrets, each in its vault
    try:
        assert emulator.urls == urls
        with vault_client(emulator, "default") as default, vault_client(emulator, "euro") as eu:
            assert default.get_secret("home").value == "d"
            assert eu.get_secret("away").value == "e"
            with pytest.raises(ResourceNotFoundError):
                eu.get_secret("home")
    finally:
        emulator.stop()


@pytest.mark.parametrize(
    ("vaults", "message"),
    [
        (("Default",), "vault name"),
        (("a",), "vault name"),
        (("x--y",), "vault name"),
        (("one", "one"), "given twice"),
        (("one=99999",), "port must be"),
    ],
)
def test_bad_vault_options_are_refused(
    tmp_path: Path, vaults: tuple[str, ...], message: str
) -> None:
    args = [a for v in vaults for a in ("--vault", v)]
    result = _run_cli(*args, "--port", "0", "--state", str(tmp_path), "--in-memory")
    assert result.returncode == 2
    assert message in result.stderr
    assert "KEYVAULT_EMULATOR_READY" not in result.stdout
