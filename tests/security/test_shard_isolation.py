"""Vault isolation with several vaults, property-based: for any org ids, mapping of orgs to
vaults and secret names, an org reads only its own vault (its own names) and the default
vault (GLOBAL's names) — never a shard it does not live in, never GLOBAL's name elsewhere.

The pure property is checked on the lookup plan; the same property end to end on the
multi-vault emulator (real SDKs, request counters of every vault), on fewer examples."""

from __future__ import annotations

import asyncio
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.backends.vaults import DEFAULT_VAULT, vault_lookup_plan, vault_name_for
from shared.core.naming import GLOBAL, keyvault_name
from shared.core.values import ConfigEntry
from shared.resolver import ConfigResolver
from shared.settings import Settings
from tests.integration.shards import SHARDS, vault_client
from tests.security.test_isolation import org_ids, secret_names
from tools.services import Azurite, KeyVaultEmulator

VAULT_CHOICES = (DEFAULT_VAULT, *SHARDS)
mappings = st.dictionaries(org_ids, st.sampled_from(SHARDS), max_size=6)


def shard_settings(mapping: dict[str, str]) -> Settings:
    return Settings(
        key_vault_url="https://main.vault.azure.net",
        key_vault_shards={name: f"https://{name}.vault.azure.net" for name in SHARDS},
        key_vault_org_vaults=mapping,
    )


@given(mapping=mappings, org=org_ids, name=secret_names)
def test_an_orgs_plan_reads_its_own_name_in_its_vault_and_globals_in_the_default(
    mapping: dict[str, str], org: str, name: str,
) -> None:
    s = shard_settings(mapping)
    own_vault = mapping.get(org, DEFAULT_VAULT)
    assert vault_lookup_plan(s, org, name) == [
        (own_vault, keyvault_name(org, name)), (DEFAULT_VAULT, keyvault_name(GLOBAL, name))]


@given(mapping=mappings, org=org_ids, other=org_ids, name=secret_names)
def test_no_plan_touches_another_orgs_vault_unless_they_share_it(
    mapping: dict[str, str], org: str, other: str, name: str,
) -> None:
    s = shard_settings(mapping)
    vaults_read = {vault for vault, _ in vault_lookup_plan(s, org, name)}
    assert vaults_read <= {vault_name_for(s, org), DEFAULT_VAULT}
    for vault, full in vault_lookup_plan(s, org, name):
        scope = full.split("--", 1)[0]
        assert scope in (org, GLOBAL)
        assert vault == (DEFAULT_VAULT if scope == GLOBAL else vault_name_for(s, org))
    if vault_name_for(s, other) not in (vault_name_for(s, org), DEFAULT_VAULT):
        assert vault_name_for(s, other) not in vaults_read


# -- end to end --------------------------------------------------------------------------------
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(orgs=st.lists(org_ids, min_size=2, max_size=4, unique=True),
       homes=st.lists(st.sampled_from(VAULT_CHOICES), min_size=4, max_size=4),
       name=secret_names, global_only=st.booleans())
def test_end_to_end_each_org_asks_only_its_vault_and_the_default_for_global(
    azurite: Azurite, sharded_keyvault_service: KeyVaultEmulator, orgs: list[str],
    homes: list[str], name: str, global_only: bool,
) -> None:
    kv = sharded_keyvault_service
    kv.control().reset_all()
    mapping = {org: home for org, home in zip(orgs, homes, strict=False)
               if home != DEFAULT_VAULT}
    s = Settings(
        storage_connection=azurite.connection_string, table_name=f"Shi{uuid.uuid4().hex[:12]}",
        key_vault_url=kv.urls[DEFAULT_VAULT], key_vault_ca_file=kv.ca_file,
        key_vault_shards={v: kv.urls[v] for v in SHARDS}, key_vault_org_vaults=mapping,
        coherence_check_seconds=0, secret_env_fallback=False,
    )
    own = {org: f"OWN-{org}-{uuid.uuid4().hex[:8]}" for org in orgs}

    async def scenario() -> dict[str, str]:
        # every vault holds every org's name and GLOBAL's (decoys where they do not belong)
        for vault in VAULT_CHOICES:
            async with vault_client(s, kv, vault) as client:
                for org in orgs:
                    home = vault_name_for(s, org)
                    value = own[org] if vault == home else f"DECOY-{vault}"
                    if not (global_only and vault == home):
                        await client.set_secret(keyvault_name(org, name), value)
                await client.set_secret(keyvault_name(GLOBAL, name),
                                        "GLOBAL-OWN" if vault == DEFAULT_VAULT else "DECOY-G")
        for vault in VAULT_CHOICES:
            kv.control(vault).reset_counters()
        got = {}
        async with ConfigResolver(s) as resolver:
            await resolver.config_store.upsert_many([ConfigEntry(GLOBAL, "k", name,
                                                                 "secret_ref")])
            for org in orgs:
                got[org] = await resolver.context(org).get_config("k")
        return got

    got = asyncio.run(scenario())
    for org in orgs:
        assert got[org] == ("GLOBAL-OWN" if global_only else own[org])
    for vault in VAULT_CHOICES:
        for asked in kv.control(vault).counters()["secrets"]:
            scope = asked.split("--", 1)[0]
            if scope == GLOBAL.lower():
                assert vault == DEFAULT_VAULT, (vault, asked)
            else:
                assert vault_name_for(s, scope) == vault, (vault, asked)
    kv.control().reset_all()
