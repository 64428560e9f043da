"""Backup and restore through the real SDK: the operations of Microsoft's
``backup_restore_operations`` samples, restore into another vault, and the error cases.

The blob is opaque (AES-GCM under the state folder's key): it restores into any vault of
an emulator sharing that state folder, and nowhere else; Key Vault itself restores only
within the subscription and geography the backup came from.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from tests.test_keyvault_emulator import raw, sync_client
from tests.test_keyvault_emulator_vaults import async_vault_client, vault_client
from tools.services import KeyVaultEmulator

pytestmark = pytest.mark.integration


def test_backup_delete_purge_restore_brings_back_every_version(
    keyvault: KeyVaultEmulator,
) -> None:
    with sync_client(keyvault) as client:
        first = client.set_secret("Rotated", "v1", content_type="text/plain", tags={"a": "1"})
        client.update_secret_properties("Rotated", first.properties.version, enabled=False)
        latest = client.set_secret("Rotated", "v2", tags={"a": "2"})
        blob = client.backup_secret("rotated")

        client.begin_delete_secret("Rotated", _polling_interval=0).wait()
        client.purge_deleted_secret("Rotated")
        with pytest.raises(ResourceNotFoundError):
            client.get_secret("Rotated")

        restored = client.restore_secret_backup(blob)
        assert (restored.name, restored.version) == ("Rotated", latest.properties.version)
        assert client.get_secret("Rotated").value == "v2"
        versions = {p.version: p for p in client.list_properties_of_secret_versions("Rotated")}
        assert set(versions) == {first.properties.version, latest.properties.version}
        old = versions[first.properties.version]
        assert (old.enabled, old.content_type, old.tags) == (False, "text/plain", {"a": "1"})
        assert versions[latest.properties.version].created_on == latest.properties.created_on
        client.update_secret_properties("Rotated", first.properties.version, enabled=True)
        assert client.get_secret("Rotated", first.properties.version).value == "v1"


def test_a_disabled_version_stays_disabled_after_restore(keyvault: KeyVaultEmulator) -> None:
    with sync_client(keyvault) as client:
        first = client.set_secret("flag", "v1")
        client.update_secret_properties("flag", first.properties.version, enabled=False)
        client.set_secret("flag", "v2")
        blob = client.backup_secret("flag")
        client.begin_delete_secret("flag", _polling_interval=0).wait()
        client.purge_deleted_secret("flag")
        client.restore_secret_backup(blob)
        with pytest.raises(HttpResponseError) as err:
            client.get_secret("flag", first.properties.version)
    assert err.value.status_code == 403


async def test_restore_into_another_vault_of_the_emulator(
    sharded_keyvault: KeyVaultEmulator,
) -> None:
    async with async_vault_client(sharded_keyvault, "default") as source, \
            async_vault_client(sharded_keyvault, "shard1") as target:
        await source.set_secret("acme--api-key", "k1")
        blob = await source.backup_secret("acme--api-key")
        props = await target.restore_secret_backup(blob)
        assert props.vault_url == sharded_keyvault.urls["shard1"]
        assert (await target.get_secret("acme--api-key")).value == "k1"
        # A copy, not a move: the source still has it, and the two now evolve apart.
        await target.set_secret("acme--api-key", "k2")
        assert (await source.get_secret("acme--api-key")).value == "k1"
    assert sharded_keyvault.control().count("backup_secret", "acme--api-key") == 1
    assert sharded_keyvault.control("shard1").count("restore_secret") == 1
    assert sharded_keyvault.control("shard1").count("backup_secret") == 0


def test_restore_over_an_existing_secret_is_a_conflict(keyvault: KeyVaultEmulator) -> None:
    with sync_client(keyvault) as client:
        client.set_secret("present", "original")
        blob = client.backup_secret("present")
        client.set_secret("present", "newer")
        with pytest.raises(HttpResponseError) as err:
            client.restore_secret_backup(blob)
        assert err.value.status_code == 409
        assert err.value.error is not None and err.value.error.code == "Conflict"
        assert client.get_secret("present").value == "newer"  # nothing changed


def test_restore_over_a_soft_deleted_secret_is_a_conflict(keyvault: KeyVaultEmulator) -> None:
    with sync_client(keyvault) as client:
        client.set_secret("tomb", "v")
        blob = client.backup_secret("tomb")
        client.begin_delete_secret("tomb", _polling_interval=0).wait()
        with pytest.raises(HttpResponseError) as err:
            client.restore_secret_backup(blob)
        assert err.value.status_code == 409
        assert [d.name for d in client.list_deleted_secrets()] == ["tomb"]


def test_backup_of_an_absent_or_deleted_secret_is_not_found(keyvault: KeyVaultEmulator) -> None:
    with sync_client(keyvault) as client:
        with pytest.raises(ResourceNotFoundError):
            client.backup_secret("never-set")
        client.set_secret("gone", "v")
        client.begin_delete_secret("gone", _polling_interval=0).wait()
        with pytest.raises(ResourceNotFoundError):
            client.backup_secret("gone")


@pytest.mark.parametrize(
    "blob",
    [b"not a backup", b"KVEMUBK1" + b"\0" * 40, b""],
    ids=["garbage", "right-marker-wrong-content", "empty"],
)
def test_a_garbled_blob_is_a_bad_parameter(keyvault: KeyVaultEmulator, blob: bytes) -> None:
    with sync_client(keyvault) as client, pytest.raises(HttpResponseError) as err:
        client.restore_secret_backup(blob)
    assert err.value.status_code == 400
    assert err.value.error is not None and err.value.error.code == "BadParameter"


def test_a_blob_changed_by_one_bit_is_refused(keyvault: KeyVaultEmulator) -> None:
    with sync_client(keyvault) as client:
        client.set_secret("intact", "v")
        blob = bytearray(client.backup_secret("intact"))
        client.begin_delete_secret("intact", _polling_interval=0).wait()
        client.purge_deleted_secret("intact")
        blob[len(blob) // 2] ^= 1
        with pytest.raises(HttpResponseError) as err:
            client.restore_secret_backup(bytes(blob))
        assert err.value.status_code == 400
        with pytest.raises(ResourceNotFoundError):
            client.get_secret("intact")


@pytest.mark.parametrize(
    "body",
    [{}, {"value": 5}, {"value": "***not base64url***"}],
    ids=["missing", "not-a-string", "not-base64url"],
)
def test_a_malformed_restore_body_is_a_bad_parameter(
    keyvault: KeyVaultEmulator, body: dict[str, object]
) -> None:
    status, _, answer = raw(keyvault, "POST", "/secrets/restore?api-version=7.5", body)
    assert status == 400
    assert answer["error"]["code"] == "BadParameter"


def test_the_blob_is_opaque(keyvault: KeyVaultEmulator) -> None:
    value = "a-recognisable-secret-value-1234567890"
    with sync_client(keyvault) as client:
        client.set_secret("opaque", value, tags={"owner": "visible-tag"})
        blob = client.backup_secret("opaque")
    status, _, answer = raw(keyvault, "POST", "/secrets/opaque/backup?api-version=7.5")
    assert status == 200 and set(answer) == {"value"}
    assert "=" not in answer["value"]  # base64url without padding, as Key Vault sends
    for encoded in (blob, answer["value"].encode()):
        for text in (value, "visible-tag", "opaque"):
            assert text.encode() not in encoded
            assert base64.b64encode(text.encode())[:12] not in encoded


def test_a_blob_from_another_state_folder_is_refused(
    keyvault: KeyVaultEmulator, tmp_path: Path
) -> None:
    other = KeyVaultEmulator(state=tmp_path).start()  # its own backup key
    try:
        with vault_client(other, "default") as foreign:
            foreign.set_secret("elsewhere", "v")
            blob = foreign.backup_secret("elsewhere")
    finally:
        other.stop()
    with sync_client(keyvault) as client, pytest.raises(HttpResponseError) as err:
        client.restore_secret_backup(blob)
    assert err.value.status_code == 400


def test_a_blob_restores_after_the_emulator_restarts(tmp_path: Path) -> None:
    emulator = KeyVaultEmulator(state=tmp_path).start()  # in-memory secrets, key on disk
    try:
        with vault_client(emulator, "default") as client:
            client.set_secret("survivor", "v")
            blob = client.backup_secret("survivor")
    finally:
        emulator.stop()
    assert (tmp_path / "backup-key").stat().st_mode & 0o077 == 0
    emulator.start()
    try:
        with vault_client(emulator, "default") as client:
            client.restore_secret_backup(blob)
            assert client.get_secret("survivor").value == "v"
    finally:
        emulator.stop()
