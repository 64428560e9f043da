"""``python -m shared.cli move-org`` end to end on the multi-vault emulator: copy and verify,
switch the setting, then delete the old copies; never a value in the output."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from azure.core.exceptions import ResourceNotFoundError

from shared.cli.main import run
from shared.core.values import ConfigEntry
from shared.resolver import ConfigResolver
from shared.settings import Settings
from tests.cli_io import Pipe
from tests.integration.shards import names_read, sharded_env, sharded_settings, vault_client
from tools.services import Azurite, KeyVaultEmulator

pytestmark = pytest.mark.integration
VALUES = {"acme--smtp-password": "move-canary-Qx7-a", "acme--api-key": "move-canary-Qx7-b"}
EXPIRES = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)


async def cli(env: dict[str, str], *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = await run(list(argv), out=out, stdin=Pipe(""), env=env, err=out)  # as a terminal
    return code, out.getvalue()


@pytest.fixture
def before(azurite: Azurite, sharded_keyvault: KeyVaultEmulator) -> Settings:
    """acme unmapped (the default vault), beta in shard2."""
    return sharded_settings(azurite, sharded_keyvault, {"beta": "shard2"})


@pytest.fixture
async def acme_in_default(before: Settings, sharded_keyvault: KeyVaultEmulator) -> None:
    async with vault_client(before, sharded_keyvault, "default") as default:
        await default.set_secret("acme--smtp-password", VALUES["acme--smtp-password"],
                                 content_type="text/plain", tags={"owner": "ops"},
                                 expires_on=EXPIRES)
        await default.set_secret("acme--api-key", VALUES["acme--api-key"])
        await default.set_secret("GLOBAL--smtp-password", "global-stays")
        await default.set_secret("acmex--api-key", "another-org-stays")


def assert_no_value(output: str) -> None:
    assert not [v for v in VALUES.values() if v in output]


@pytest.mark.usefixtures("acme_in_default")
async def test_move_copies_verifies_and_prints_the_exact_setting_to_switch(
    before: Settings, sharded_keyvault: KeyVaultEmulator,
) -> None:
    code, output = await cli(sharded_env(before), "move-org", "acme", "--to", "shard1")
    assert code == 0, output
    assert_no_value(output)
    assert "AZURE_KEY_VAULT_ORG_VAULTS={\"acme\":\"shard1\",\"beta\":\"shard2\"}" in output
    assert "--from default --delete-source" in output
    async with vault_client(before, sharded_keyvault, "shard1") as shard1:
        names = sorted([p.name async for p in shard1.list_properties_of_secrets()])
        assert names == ["acme--api-key", "acme--smtp-password"]
        copied = await shard1.get_secret("acme--smtp-password")
    assert copied.value == VALUES["acme--smtp-password"]
    props = copied.properties
    assert (props.content_type, props.tags, props.expires_on, props.enabled) == (
        "text/plain", {"owner": "ops"}, EXPIRES, True)
    # the source is untouched until the switch
    async with vault_client(before, sharded_keyvault, "default") as default:
        assert (await default.get_secret("acme--api-key")).value == VALUES["acme--api-key"]


@pytest.mark.usefixtures("acme_in_default")
async def test_after_the_switch_the_org_reads_its_new_vault_and_the_old_copies_go(
    before: Settings, sharded_keyvault: KeyVaultEmulator,
) -> None:
    assert (await cli(sharded_env(before), "move-org", "acme", "--to", "shard1"))[0] == 0
    after = Settings(**{**before.__dict__, "key_vault_org_vaults": {"acme": "shard1",
                                                                     "beta": "shard2"}})
    env = sharded_env(after)
    async with ConfigResolver(after) as resolver:
        await resolver.config_store.upsert_many(
            [ConfigEntry("GLOBAL", "pwd", "smtp-password", "secret_ref")])
        sharded_keyvault.control("default").reset_counters()
        assert await resolver.context("acme").get_config("pwd") == VALUES["acme--smtp-password"]
    assert "acme--smtp-password" not in names_read(sharded_keyvault, "default")
    code, output = await cli(env, "move-org", "acme", "--to", "shard1", "--from", "default",
                             "--delete-source")
    assert code == 0, output
    assert_no_value(output)
    assert "2 old copies soft-deleted in vault 'default'" in output
    async with vault_client(before, sharded_keyvault, "default") as default:
        remaining = sorted([p.name async for p in default.list_properties_of_secrets()])
        assert remaining == ["GLOBAL--smtp-password", "acmex--api-key"]
        assert (await default.get_deleted_secret("acme--api-key")).name == "acme--api-key"


@pytest.mark.usefixtures("acme_in_default")
async def test_deleting_the_source_is_refused_until_the_setting_is_switched(
    before: Settings, sharded_keyvault: KeyVaultEmulator,
) -> None:
    env = sharded_env(before)
    assert (await cli(env, "move-org", "acme", "--to", "shard1"))[0] == 0
    code, output = await cli(env, "move-org", "acme", "--to", "shard1", "--from", "default",
                             "--delete-source")
    assert code == 2 and "still maps org 'acme' to vault 'default'" in output
    async with vault_client(before, sharded_keyvault, "default") as default:
        assert (await default.get_secret("acme--api-key")).value == VALUES["acme--api-key"]


@pytest.mark.usefixtures("acme_in_default")
async def test_a_different_value_in_the_target_is_kept_unless_overwrite(
    before: Settings, sharded_keyvault: KeyVaultEmulator,
) -> None:
    async with vault_client(before, sharded_keyvault, "shard1") as shard1:
        await shard1.set_secret("acme--api-key", "already-there")
    env = sharded_env(before)
    code, output = await cli(env, "move-org", "acme", "--to", "shard1")
    assert code == 1 and "CONFLICT" in output and "do NOT switch" in output
    assert "AZURE_KEY_VAULT_ORG_VAULTS=" not in output
    async with vault_client(before, sharded_keyvault, "shard1") as shard1:
        assert (await shard1.get_secret("acme--api-key")).value == "already-there"
        code, output = await cli(env, "move-org", "acme", "--to", "shard1", "--overwrite")
        assert code == 0 and "OVERWRITTEN" in output
        assert (await shard1.get_secret("acme--api-key")).value == VALUES["acme--api-key"]
    assert_no_value(output)


@pytest.mark.usefixtures("acme_in_default")
async def test_a_second_run_finds_the_copies_already_there(
    before: Settings,
) -> None:
    env = sharded_env(before)
    assert (await cli(env, "move-org", "acme", "--to", "shard1"))[0] == 0
    code, output = await cli(env, "move-org", "acme", "--to", "shard1")
    assert code == 0 and output.count("SAME") == 2


@pytest.mark.usefixtures("acme_in_default")
async def test_a_disabled_secret_is_not_copied_and_the_switch_is_not_offered(
    before: Settings, sharded_keyvault: KeyVaultEmulator,
) -> None:
    async with vault_client(before, sharded_keyvault, "default") as default:
        await default.update_secret_properties("acme--api-key", enabled=False)
    code, output = await cli(sharded_env(before), "move-org", "acme", "--to", "shard1")
    assert code == 1 and "SKIPPED" in output and "disabled" in output
    async with vault_client(before, sharded_keyvault, "shard1") as shard1:
        with pytest.raises(ResourceNotFoundError):
            await shard1.get_secret("acme--api-key")


async def test_moving_back_to_the_default_vault_unmaps_the_org(
    azurite: Azurite, sharded_keyvault: KeyVaultEmulator,
) -> None:
    settings = sharded_settings(azurite, sharded_keyvault, {"acme": "shard1"})
    async with vault_client(settings, sharded_keyvault, "shard1") as shard1:
        await shard1.set_secret("acme--api-key", VALUES["acme--api-key"])
    code, output = await cli(sharded_env(settings), "move-org", "acme", "--to", "default")
    assert code == 0 and "AZURE_KEY_VAULT_ORG_VAULTS={}" in output


@pytest.mark.parametrize(("argv", "message"), [
    (("move-org", "GLOBAL", "--to", "shard1"), "GLOBAL's secrets always live"),
    (("move-org", "acme", "--to", "nowhere"), "no vault named 'nowhere'"),
    (("move-org", "acme", "--to", "default"), "already lives in vault 'default'"),
    (("move-org", "acme", "--to", "shard1", "--delete-source"), "needs --from"),
])
async def test_bad_moves_are_refused_with_a_clear_message(
    before: Settings, argv: tuple[str, ...], message: str,
) -> None:
    code, output = await cli(sharded_env(before), *argv)
    assert code == 2 and message in output


def test_the_mapping_printed_is_valid_settings_json(before: Settings) -> None:
    from shared.admin.org_move import mapping_after_move

    value = mapping_after_move(before, "acme", "shard1")
    assert json.loads(value) == {"acme": "shard1", "beta": "shard2"}
    env = {**sharded_env(before), "AZURE_KEY_VAULT_ORG_VAULTS": value}
    assert Settings.from_env(env).key_vault_org_vaults["acme"] == "shard1"
