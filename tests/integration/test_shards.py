"""Several vaults (AZURE_KEY_VAULT_SHARDS / _ORG_VAULTS) against the multi-vault emulator,
through the real SDKs: each org's secrets are read from and written to its own vault,
GLOBAL's from the default vault; events, health, breakers and the catalog follow."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from azure.keyvault.secrets.aio import SecretClient
from pydantic import SecretStr

from shared.admin.catalog_sync import SecretCatalog
from shared.admin.events import handle_keyvault_event
from shared.admin.health import probe_keyvault
from shared.admin.secret_admin import SecretAdmin
from shared.api.health import breakers
from shared.core.values import ConfigEntry
from shared.errors import BackendUnavailableError
from shared.resolver import ConfigResolver
from shared.settings import Settings
from tests.integration.shards import names_read, sharded_settings, vault_client
from tools.services import Azurite, KeyVaultEmulator

pytestmark = pytest.mark.integration
NEW_VERSION = "Microsoft.KeyVault.SecretNewVersionCreated"


@pytest.fixture
def shard_settings(azurite: Azurite, sharded_keyvault: KeyVaultEmulator) -> Settings:
    return sharded_settings(azurite, sharded_keyvault)


@pytest.fixture
async def shard_resolver(shard_settings: Settings) -> AsyncIterator[ConfigResolver]:
    async with ConfigResolver(shard_settings) as resolver:
        yield resolver


async def put(settings: Settings, kv: KeyVaultEmulator, vault: str, name: str,
              value: str) -> None:
    async with vault_client(settings, kv, vault) as client:
        await client.set_secret(name, value)


async def seed_refs(resolver: ConfigResolver) -> None:
    await resolver.config_store.upsert_many([
        ConfigEntry("GLOBAL", "api_key", "api-key", "secret_ref"),
        ConfigEntry("GLOBAL", "smtp_password", "smtp-password", "secret_ref"),
    ])


async def seed_with_decoys(settings: Settings, kv: KeyVaultEmulator) -> None:
    """Each org's secret in its own vault, GLOBAL's in the default vault, and the same names
    as decoys in every other vault (a copy left behind by a move, a misplaced write)."""
    homes = {"acme": "shard1", "beta": "shard2", "contoso": "default", "GLOBAL": "default"}
    for scope, home in homes.items():
        name = "smtp-password" if scope == "GLOBAL" else "api-key"
        for vault in ("default", "shard1", "shard2"):
            value = f"{scope}-own" if vault == home else f"decoy-{scope}-in-{vault}"
            await put(settings, kv, vault, f"{scope}--{name}", value)


# -- reads ------------------------------------------------------------------------------------
async def test_each_org_reads_its_own_vault_and_globals_from_the_default(
    shard_settings: Settings, shard_resolver: ConfigResolver,
    sharded_keyvault: KeyVaultEmulator,
) -> None:
    await seed_with_decoys(shard_settings, sharded_keyvault)
    await seed_refs(shard_resolver)
    for vault in ("default", "shard1", "shard2"):
        sharded_keyvault.control(vault).reset_counters()
    for org in ("acme", "beta", "contoso"):
        ctx = shard_resolver.context(org)
        assert await ctx.get_config("api_key") == f"{org}-own"
        assert await ctx.get_config("smtp_password") == "GLOBAL-own"
    assert names_read(sharded_keyvault, "shard1") <= {"acme--api-key", "acme--smtp-password"}
    assert names_read(sharded_keyvault, "shard2") <= {"beta--api-key", "beta--smtp-password"}
    assert names_read(sharded_keyvault, "default") <= {
        "contoso--api-key", "contoso--smtp-password", "global--smtp-password"}
    assert "acme--api-key" in names_read(sharded_keyvault, "shard1")
    assert "global--smtp-password" in names_read(sharded_keyvault, "default")


async def test_an_orgs_secret_missing_from_its_vault_falls_back_to_global_not_to_a_copy(
    shard_settings: Settings, shard_resolver: ConfigResolver,
    sharded_keyvault: KeyVaultEmulator,
) -> None:
    await put(shard_settings, sharded_keyvault, "default", "acme--smtp-password", "stray-copy")
    await put(shard_settings, sharded_keyvault, "default", "GLOBAL--smtp-password", "global")
    await seed_refs(shard_resolver)
    assert await shard_resolver.context("acme").get_config("smtp_password") == "global"


async def test_vault_counters_are_labelled_per_vault_with_several_vaults(
    shard_settings: Settings, shard_resolver: ConfigResolver,
    sharded_keyvault: KeyVaultEmulator,
) -> None:
    await seed_with_decoys(shard_settings, sharded_keyvault)
    await seed_refs(shard_resolver)
    await shard_resolver.context("acme").get_config("api_key")
    await shard_resolver.context("beta").get_config("api_key")
    metrics = shard_resolver.metrics.snapshot()
    assert metrics["vault.get[shard1]"] >= 1 and metrics["vault.get[shard2]"] >= 1
    assert metrics["vault.get"] == sum(v for k, v in metrics.items()
                                       if k.startswith("vault.get["))


async def test_a_single_vault_deployment_counts_without_labels(
    resolver: ConfigResolver, vault: SecretClient,
) -> None:
    await vault.set_secret("GLOBAL--api-key", "v")
    await resolver.config_store.upsert_many([ConfigEntry("GLOBAL", "k", "api-key",
                                                         "secret_ref")])
    assert await resolver.context("acme").get_config("k") == "v"
    assert not [k for k in resolver.metrics.snapshot() if "[" in k]
    assert [v.name for v in resolver.secret_store.vaults] == ["default"]


# -- admin writes -----------------------------------------------------------------------------
async def test_admin_writes_land_in_the_scopes_vault(
    shard_settings: Settings, shard_resolver: ConfigResolver,
    sharded_keyvault: KeyVaultEmulator,
) -> None:
    admin = SecretAdmin(shard_resolver)
    acme = await admin.create("acme", "token", SecretStr("acme-token"))
    glob = await admin.create("GLOBAL", "token", SecretStr("global-token"))
    contoso = await admin.create("contoso", "token", SecretStr("contoso-token"))
    assert (acme.vault, glob.vault, contoso.vault) == ("shard1", "default", "default")
    async with vault_client(shard_settings, sharded_keyvault, "shard1") as shard1, \
            vault_client(shard_settings, sharded_keyvault, "default") as default:
        assert [p.name async for p in shard1.list_properties_of_secrets()] == ["acme--token"]
        assert sorted([p.name async for p in default.list_properties_of_secrets()]) == [
            "GLOBAL--token", "contoso--token"]
    await admin.update("acme", "token", SecretStr("acme-token-2"))
    assert [s.vault_name for s in await admin.list_secrets("acme", "GLOBAL")] == [
        "GLOBAL--token", "acme--token"]
    await admin.delete("acme", "token")
    assert await admin.get_deleted("acme", "token") is not None
    assert sharded_keyvault.control("shard1").count("delete_secret", "acme--token") == 1
    recovered = await admin.recover("acme", "token")
    assert recovered.vault == "shard1"
    assert sharded_keyvault.control("default").count("delete_secret") == 0


async def test_admin_listing_ignores_a_copy_in_a_vault_the_org_does_not_live_in(
    shard_settings: Settings, shard_resolver: ConfigResolver,
    sharded_keyvault: KeyVaultEmulator,
) -> None:
    await put(shard_settings, sharded_keyvault, "default", "acme--left-behind", "x")
    await put(shard_settings, sharded_keyvault, "shard1", "acme--current", "y")
    listed = await SecretAdmin(shard_resolver).list_secrets("acme")
    assert [(s.vault_name, s.vault) for s in listed] == [("acme--current", "shard1")]


# -- catalog ----------------------------------------------------------------------------------
async def test_reconcile_lists_every_vault_and_records_each_scope_from_its_own(
    shard_settings: Settings, shard_resolver: ConfigResolver,
    sharded_keyvault: KeyVaultEmulator,
) -> None:
    await seed_with_decoys(shard_settings, sharded_keyvault)
    report = await SecretCatalog(shard_resolver).reconcile()
    assert report.added == ["GLOBAL--smtp-password", "acme--api-key", "beta--api-key",
                            "contoso--api-key"]
    for vault in ("default", "shard1", "shard2"):
        assert sharded_keyvault.control(vault).count("list_secrets") >= 1
    assert shard_resolver.metrics.get("catalog.stray_names") == 8


# -- events -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("vault", "name", "accepted"), [
    ("shard1", "acme--api-key", True),
    ("shard2", "acme--api-key", False),      # acme lives in shard1
    ("default", "acme--api-key", False),     # a copy left in the default vault
    ("shard1", "GLOBAL--api-key", False),    # GLOBAL lives in the default vault only
    ("default", "GLOBAL--api-key", True),
    ("default", "contoso--api-key", True),   # unmapped: the default vault
    ("elsewhere", "contoso--api-key", False),
])
async def test_an_event_is_accepted_only_from_the_vault_its_scope_lives_in(
    shard_resolver: ConfigResolver, vault: str, name: str, accepted: bool,
) -> None:
    handled = await handle_keyvault_event(shard_resolver, NEW_VERSION, name,
                                          {"ObjectName": name, "VaultName": vault})
    assert (handled == name) is accepted
    assert shard_resolver.metrics.get("events.refused") == (0 if accepted else 1)


async def test_an_event_from_a_shard_refreshes_that_orgs_cached_secret(
    shard_settings: Settings, shard_resolver: ConfigResolver,
    sharded_keyvault: KeyVaultEmulator,
) -> None:
    await put(shard_settings, sharded_keyvault, "shard1", "acme--api-key", "v1")
    await seed_refs(shard_resolver)
    ctx = shard_resolver.context("acme")
    assert await ctx.get_config("api_key") == "v1"
    await put(shard_settings, sharded_keyvault, "shard1", "acme--api-key", "v2")
    await handle_keyvault_event(shard_resolver, NEW_VERSION, None,
                                {"ObjectName": "acme--api-key", "VaultName": "shard1"})
    assert await ctx.get_config("api_key") == "v2"


# -- health and breakers ----------------------------------------------------------------------
async def test_health_probes_each_vault_and_reports_the_worst(
    shard_resolver: ConfigResolver, sharded_keyvault: KeyVaultEmulator,
) -> None:
    sharded_keyvault.control("shard2").refuse_connections()
    try:
        health = await probe_keyvault(shard_resolver)
    finally:
        sharded_keyvault.control("shard2").refuse_connections(False)
    assert health.status == "disconnected" and health.failure == "network"
    assert "shard2" in str(health.guidance)
    assert {v.vault: v.status for v in health.vaults} == {
        "default": "connected", "shard1": "connected", "shard2": "disconnected"}
    assert health.vaults[2].vault_url == sharded_keyvault.urls["shard2"]


async def test_health_is_connected_when_every_vault_is(
    shard_resolver: ConfigResolver,
) -> None:
    health = await probe_keyvault(shard_resolver)
    assert health.status == "connected" and len(health.vaults) == 3


async def test_a_failing_shard_opens_only_its_own_breaker(
    shard_settings: Settings, sharded_keyvault: KeyVaultEmulator,
) -> None:
    settings = replace(shard_settings, breaker_threshold=1, secret_name_index=False)
    await put(settings, sharded_keyvault, "shard1", "acme--api-key", "fine")
    sharded_keyvault.control("shard2").fail_next(20, 503)
    async with ConfigResolver(settings) as resolver:
        await seed_refs(resolver)
        with pytest.raises(BackendUnavailableError):
            await resolver.context("beta").get_config("api_key")
        assert await resolver.context("acme").get_config("api_key") == "fine"
        states = {name: b["state"] for name, b in breakers(resolver).items()}
    assert states["vault[shard2]"] == "open"
    assert states["vault[shard1]"] == states["vault[default]"] == "closed"


async def test_versions_rollback_and_deleted_listing_use_the_scopes_vault(
    shard_resolver: ConfigResolver, sharded_keyvault: KeyVaultEmulator,
) -> None:
    admin = SecretAdmin(shard_resolver)
    first = await admin.create("beta", "token", SecretStr("beta-1"))
    await admin.update("beta", "token", SecretStr("beta-2"))
    versions = await admin.versions("beta", "token")
    assert len(versions) == 2 and {v.vault for v in versions} == {"shard2"}
    rolled = await admin.rollback("beta", "token", str(first.version))
    assert (rolled.vault, rolled.rolled_back_from) == ("shard2", first.version)
    assert sharded_keyvault.control("shard2").count("set_secret", "beta--token") == 3
    await admin.delete("beta", "token")
    [(info, deleted)] = await admin.list_deleted("beta", "GLOBAL")
    assert (info.vault, deleted.vault_name) == ("shard2", "beta--token")
    for vault in ("default", "shard1"):
        assert sharded_keyvault.control(vault).count("set_secret") == 0
