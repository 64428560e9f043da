"""get_config end to end: Azurite tables, the Key Vault emulator, the real Azure SDKs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest
from azure.keyvault.secrets.aio import SecretClient
from pydantic import BaseModel, Field, SecretStr

from shared.core.audit import dimensions
from shared.core.values import ConfigEntry
from shared.errors import (
    ConfigNotFoundError,
    ConfigValueError,
    InvalidNameError,
    SecretAccessError,
    SecretNotFoundError,
)
from shared.resolver import ConfigResolver
from tools.keyvault_emulator.control import EmulatorControl

pytestmark = pytest.mark.integration
Seed = Callable[..., Any]


async def test_org_entry_overrides_global(resolver: ConfigResolver, seed: Seed) -> None:
    await seed(("GLOBAL", "smtp_host", "mail.platform.example"), ("acme", "smtp_host", "mail.acme"),
               ("GLOBAL", "smtp_port", "25", "int"))
    acme, beta = resolver.context("acme"), resolver.context("beta")
    assert await acme.get_config("smtp_host") == "mail.acme"
    assert await beta.get_config("smtp_host") == "mail.platform.example"
    assert await acme.get_config("smtp_port") == 25


async def test_org_id_is_canonicalized(resolver: ConfigResolver, seed: Seed) -> None:
    await seed(("acme", "k", "v"))
    assert await resolver.context("ACME").get_config("k") == "v"


@pytest.mark.parametrize("org", ["GLOBAL", "global", "acme'", "a--b", ""])
def test_context_refuses_invalid_and_reserved_org_ids(resolver: ConfigResolver, org: str) -> None:
    with pytest.raises(InvalidNameError):
        resolver.context(org)


async def test_each_type_parses_from_the_table(resolver: ConfigResolver, seed: Seed) -> None:
    await seed(("acme", "s", "text"), ("acme", "i", "42", "int"), ("acme", "f", "0.25", "float"),
               ("acme", "b", "true", "bool"), ("acme", "j", '{"status": "Status"}', "json"))
    ctx = resolver.context("acme")
    assert await ctx.get_configs("s", "i", "f", "b", "j") == {
        "s": "text", "i": 42, "f": 0.25, "b": True, "j": {"status": "Status"}
    }


async def test_bad_stored_value_raises_without_echoing_it(
    resolver: ConfigResolver, seed: Seed
) -> None:
    await seed(("acme", "port", "Sup3rS3cret!", "int"))
    with pytest.raises(ConfigValueError) as info:
        await resolver.context("acme").get_config("port")
    assert "Sup3rS3cret" not in str(info.value) and "'port'" in str(info.value)


async def test_unknown_stored_type_is_a_value_error(resolver: ConfigResolver, seed: Seed) -> None:
    await seed(("acme", "k", "v", "yaml"))
    with pytest.raises(ConfigValueError):
        await resolver.context("acme").get_config("k")


async def test_default_applies_only_when_the_key_is_absent(
    resolver: ConfigResolver, seed: Seed
) -> None:
    await seed(("GLOBAL", "present", "x"))
    ctx = resolver.context("acme")
    assert await ctx.get_config("absent", default=None) is None
    assert await ctx.get_config("present", default="d") == "x"
    with pytest.raises(ConfigNotFoundError) as info:
        await ctx.get_config("absent")
    assert isinstance(info.value, KeyError) and "absent" in str(info.value)


async def test_dangling_secret_ref_raises_even_with_a_default(
    resolver: ConfigResolver, seed: Seed
) -> None:
    await seed(("acme", "api_key", "psa-api-key", "secret_ref"))
    with pytest.raises(SecretNotFoundError) as info:
        await resolver.context("acme").get_config("api_key", default="fallback")
    assert info.value.tried == [
        "keyvault:acme--psa-api-key", "keyvault:GLOBAL--psa-api-key",
        "env:ACME__PSA_API_KEY", "env:GLOBAL__PSA_API_KEY",
    ]


async def test_invalid_key_is_rejected_before_any_backend_call(resolver: ConfigResolver) -> None:
    with pytest.raises(InvalidNameError):
        await resolver.context("acme").get_config("x' or PartitionKey ne '")
    assert resolver.metrics.get("table.queries") == 0


# -- the secret chain -------------------------------------------------------------------
@pytest.fixture
async def smtp_ref(seed: Seed) -> None:
    await seed(("GLOBAL", "smtp_password", "smtp-password", "secret_ref"))


@pytest.mark.usefixtures("smtp_ref")
async def test_org_vault_secret_wins(
    resolver: ConfigResolver, vault: SecretClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await vault.set_secret("acme--smtp-password", "org-vault")
    await vault.set_secret("GLOBAL--smtp-password", "global-vault")
    monkeypatch.setenv("ACME__SMTP_PASSWORD", "org-env")
    ctx = resolver.context("acme")
    assert await ctx.get_config("smtp_password") == "org-vault"
    assert (await ctx.explain("smtp_password")).source == "keyvault:acme--smtp-password"


@pytest.mark.usefixtures("smtp_ref")
async def test_global_vault_secret_is_second(
    resolver: ConfigResolver, vault: SecretClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await vault.set_secret("GLOBAL--smtp-password", "global-vault")
    monkeypatch.setenv("ACME__SMTP_PASSWORD", "org-env")
    assert await resolver.context("acme").get_config("smtp_password") == "global-vault"


@pytest.mark.usefixtures("smtp_ref")
async def test_org_env_is_third(
    resolver: ConfigResolver, vault: SecretClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME__SMTP_PASSWORD", "org-env")
    monkeypatch.setenv("GLOBAL__SMTP_PASSWORD", "global-env")
    explanation = await resolver.context("acme").explain("smtp_password")
    assert await resolver.context("acme").get_config("smtp_password") == "org-env"
    assert explanation.source == "env:ACME__SMTP_PASSWORD"
    assert explanation.tried[:2] == ["keyvault:acme--smtp-password",
                                     "keyvault:GLOBAL--smtp-password"]


@pytest.mark.usefixtures("smtp_ref")
async def test_global_env_is_last(
    resolver: ConfigResolver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLOBAL__SMTP_PASSWORD", "global-env")
    assert await resolver.context("acme").get_config("smtp_password") == "global-env"


@pytest.mark.usefixtures("smtp_ref")
async def test_env_fallback_can_be_disabled(
    make_resolver: Callable[..., ConfigResolver], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLOBAL__SMTP_PASSWORD", "global-env")
    async with make_resolver(secret_env_fallback=False) as resolver:
        with pytest.raises(SecretNotFoundError) as info:
            await resolver.context("acme").get_config("smtp_password")
    assert not any(t.startswith("env:") for t in info.value.tried)


@pytest.mark.usefixtures("smtp_ref")
async def test_without_a_vault_secrets_come_from_env_only(
    make_resolver: Callable[..., ConfigResolver], monkeypatch: pytest.MonkeyPatch,
    kv_control: EmulatorControl,
) -> None:
    monkeypatch.setenv("ACME__SMTP_PASSWORD", "org-env")
    async with make_resolver(key_vault_url=None, key_vault_ca_file=None) as resolver:
        ctx = resolver.context("acme")
        assert await ctx.get_config("smtp_password") == "org-env"
        assert (await ctx.explain("smtp_password")).tried == ["env:ACME__SMTP_PASSWORD"]
    assert kv_control.counters()["total"] == 0


@pytest.mark.usefixtures("smtp_ref")
async def test_global_only_secret_costs_one_404_per_org_per_ttl_without_the_index(
    make_resolver: Callable[..., ConfigResolver], vault: SecretClient,
    kv_control: EmulatorControl,
) -> None:
    await vault.set_secret("GLOBAL--smtp-password", "global-vault")
    kv_control.reset_counters()
    async with make_resolver(secret_name_index=False) as resolver:
        for org in ("acme", "beta"):
            for _ in range(50):
                assert await resolver.context(org).get_config("smtp_password") == "global-vault"
    assert kv_control.count("get_secret", "acme--smtp-password") == 1
    assert kv_control.count("get_secret", "beta--smtp-password") == 1
    assert kv_control.count("get_secret", "GLOBAL--smtp-password") == 1
    assert kv_control.count("list_secrets") == 0


@pytest.mark.usefixtures("smtp_ref")
async def test_with_the_name_index_a_global_only_secret_costs_no_404_at_all(
    resolver: ConfigResolver, vault: SecretClient, kv_control: EmulatorControl
) -> None:
    await vault.set_secret("GLOBAL--smtp-password", "global-vault")
    await resolver.context("acme").get_config("smtp_password")  # starts the listing
    index = resolver.secret_store.index
    assert index is not None
    await index.ready()
    kv_control.reset_counters()
    for org in ("beta", "gamma", "delta"):
        for _ in range(50):
            assert await resolver.context(org).get_config("smtp_password") == "global-vault"
    assert kv_control.count("get_secret") == 0  # GLOBAL's is cached; no org 404s
    assert kv_control.count("list_secrets") == 0  # the listing is reused
    assert resolver.metrics.get("vault.index_not_found") == 3


@pytest.mark.usefixtures("smtp_ref")
async def test_reads_never_wait_for_the_listing(
    resolver: ConfigResolver, vault: SecretClient, kv_control: EmulatorControl
) -> None:
    await vault.set_secret("GLOBAL--smtp-password", "global-vault")
    kv_control.reset_counters()
    assert await resolver.context("acme").get_config("smtp_password") == "global-vault"
    # before any listing completed the lookups were GETs (a 404, then GLOBAL's)
    assert kv_control.count("get_secret", "acme--smtp-password") == 1


@pytest.mark.usefixtures("smtp_ref")
async def test_a_secret_created_after_the_listing_is_found_after_its_notification(
    resolver: ConfigResolver, vault: SecretClient
) -> None:
    await vault.set_secret("GLOBAL--smtp-password", "global")
    ctx = resolver.context("acme")
    assert await ctx.get_config("smtp_password") == "global"
    assert resolver.secret_store.index is not None
    await resolver.secret_store.index.ready()
    resolver.invalidate("acme", secret="smtp-password")
    resolver.secret_store.index._changed_names.clear()  # as if long after that change
    assert await ctx.get_config("smtp_password") == "global"  # the index: no acme secret
    await vault.set_secret("acme--smtp-password", "org")
    await resolver.notify_change("acme", secret="smtp-password")
    assert await ctx.get_config("smtp_password") == "org"


@pytest.mark.usefixtures("smtp_ref")
async def test_without_list_permission_the_index_steps_aside(
    resolver: ConfigResolver, vault: SecretClient, kv_control: EmulatorControl,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await vault.set_secret("acme--smtp-password", "org")
    kv_control.fail_next(1, 403, operation="list_secrets")
    assert await resolver.context("acme").get_config("smtp_password") == "org"
    index = resolver.secret_store.index
    assert index is not None
    await index.ready()
    assert not index.enabled
    assert any("list permission" in r.getMessage() for r in caplog.records)


@pytest.mark.usefixtures("smtp_ref")
async def test_100_concurrent_cold_reads_make_one_vault_call(
    resolver: ConfigResolver, vault: SecretClient, kv_control: EmulatorControl
) -> None:
    await vault.set_secret("acme--smtp-password", "org-vault")
    kv_control.reset_counters()
    kv_control.set_latency(50)  # keep the first call in flight while the others arrive
    ctx = resolver.context("acme")
    values = await asyncio.gather(*(ctx.get_config("smtp_password") for _ in range(100)))
    assert set(values) == {"org-vault"}
    assert kv_control.count("get_secret", "acme--smtp-password") == 1
    assert kv_control.count("get_secret") == 1
    assert resolver.metrics.get("table.queries") == 2  # org + GLOBAL, once


@pytest.mark.usefixtures("smtp_ref")
async def test_rotation_is_seen_after_invalidate(
    resolver: ConfigResolver, vault: SecretClient
) -> None:
    await vault.set_secret("acme--smtp-password", "v1")
    ctx = resolver.context("acme")
    assert await ctx.get_config("smtp_password") == "v1"
    await vault.set_secret("acme--smtp-password", "v2")
    assert await ctx.get_config("smtp_password") == "v1"  # cached
    resolver.invalidate("acme", secret="smtp-password")
    assert await ctx.get_config("smtp_password") == "v2"


@pytest.mark.usefixtures("smtp_ref")
async def test_new_org_secret_is_seen_after_invalidate_despite_cached_not_found(
    resolver: ConfigResolver, vault: SecretClient
) -> None:
    await vault.set_secret("GLOBAL--smtp-password", "global")
    ctx = resolver.context("acme")
    assert await ctx.get_config("smtp_password") == "global"
    await vault.set_secret("acme--smtp-password", "org")
    resolver.invalidate("acme", secret="smtp-password")
    assert await ctx.get_config("smtp_password") == "org"


async def test_config_change_is_seen_after_invalidate(
    resolver: ConfigResolver, seed: Seed
) -> None:
    await seed(("acme", "k", "old"))
    ctx = resolver.context("acme")
    assert await ctx.get_config("k") == "old"
    other = ConfigResolver(resolver.settings)
    async with other:
        await other.config_store.put_entry(ConfigEntry("acme", "k", "new"))
    assert await ctx.get_config("k") == "old"  # another process wrote: TTL applies
    resolver.invalidate("acme")
    assert await ctx.get_config("k") == "new"


@pytest.mark.usefixtures("smtp_ref")
async def test_disabled_secret_is_an_access_error_not_a_fallback(
    resolver: ConfigResolver, vault: SecretClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await vault.set_secret("acme--smtp-password", "org", enabled=False)
    monkeypatch.setenv("GLOBAL__SMTP_PASSWORD", "global-env")
    with pytest.raises(SecretAccessError, match="disabled"):
        await resolver.context("acme").get_config("smtp_password")


async def test_one_org_cannot_read_another_orgs_secret(
    resolver: ConfigResolver, vault: SecretClient, seed: Seed, kv_control: EmulatorControl
) -> None:
    await vault.set_secret("acme--graph-secret", "acme-only")
    await seed(("beta", "graph_secret", "graph-secret", "secret_ref"),
               ("acme", "graph_secret", "graph-secret", "secret_ref"))
    kv_control.reset_counters()
    with pytest.raises(SecretNotFoundError):
        await resolver.context("beta").get_config("graph_secret")
    assert kv_control.count("get_secret", "acme--graph-secret") == 0
    assert await resolver.context("acme").get_config("graph_secret") == "acme-only"


# -- explain, get_configs, load ------------------------------------------------------------
@pytest.mark.usefixtures("smtp_ref")
async def test_explain_reports_cache_hits_and_never_the_value(
    resolver: ConfigResolver, vault: SecretClient
) -> None:
    await vault.set_secret("GLOBAL--smtp-password", "Zx-explain-value")
    ctx = resolver.context("acme")
    first = await ctx.explain("smtp_password")
    second = await ctx.explain("smtp_password")
    assert first.scope == "GLOBAL" and first.type == "secret_ref"
    assert first.secret_name == "smtp-password"
    assert first.source == "keyvault:GLOBAL--smtp-password"
    assert (first.cache_hit, second.cache_hit) == (False, True)
    assert "Zx-explain-value" not in first.model_dump_json() + repr(second)


async def test_explain_of_absent_and_broken_keys(resolver: ConfigResolver, seed: Seed) -> None:
    await seed(("acme", "ref", "nowhere", "secret_ref"))
    ctx = resolver.context("acme")
    assert (await ctx.explain("absent")).found is False
    broken = await ctx.explain("ref")
    assert broken.error == "SecretNotFoundError" and len(broken.tried) == 4


class Smtp(BaseModel):
    smtp_host: str
    smtp_port: int = 25
    smtp_password: SecretStr
    use_tls: bool = Field(default=True, alias="smtp.use-tls")


@pytest.mark.usefixtures("smtp_ref")
async def test_load_fills_a_model_with_secret_str(
    resolver: ConfigResolver, seed: Seed, vault: SecretClient
) -> None:
    await seed(("acme", "smtp_host", "mail.acme"), ("acme", "smtp.use-tls", "false", "bool"))
    await vault.set_secret("acme--smtp-password", "Zx-model-value")
    model = await resolver.context("acme").load(Smtp)
    assert (model.smtp_host, model.smtp_port, model.use_tls) == ("mail.acme", 25, False)
    assert model.smtp_password.get_secret_value() == "Zx-model-value"
    assert "Zx-model-value" not in repr(model)


class Leaky(BaseModel):
    smtp_password: str


@pytest.mark.usefixtures("smtp_ref")
async def test_load_refuses_a_secret_into_a_plain_str_field(
    resolver: ConfigResolver, vault: SecretClient
) -> None:
    await vault.set_secret("acme--smtp-password", "Zx-leak")
    with pytest.raises(ConfigValueError, match="SecretStr") as info:
        await resolver.context("acme").load(Leaky)
    assert "Zx-leak" not in str(info.value)


class Typed(BaseModel):
    retries: int


async def test_load_reports_validation_errors_without_values(
    resolver: ConfigResolver, seed: Seed
) -> None:
    await seed(("acme", "retries", "Zx-not-a-number"))
    with pytest.raises(ConfigValueError) as info:
        await resolver.context("acme").load(Typed)
    assert "retries" in str(info.value) and "Zx-not-a-number" not in str(info.value)


# -- never a value in logs, errors or reprs ---------------------------------------------------
@pytest.mark.usefixtures("smtp_ref")
async def test_secret_reads_log_audit_records_without_values(
    resolver: ConfigResolver, vault: SecretClient, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch, seed: Seed,
) -> None:
    await vault.set_secret("acme--smtp-password", "Zx-vault-canary")
    monkeypatch.setenv("GLOBAL__SMTP_PASSWORD", "Zx-env-canary")
    await seed(("GLOBAL", "missing_ref", "no-such", "secret_ref"))
    caplog.set_level(logging.DEBUG)
    for org in ("acme", "beta"):
        ctx = resolver.context(org)
        await ctx.get_config("smtp_password")
        await ctx.get_config("smtp_password")
        await ctx.explain("smtp_password")
        with pytest.raises(SecretNotFoundError) as info:
            await ctx.get_config("missing_ref")
        assert "Zx-" not in str(info.value) + repr(info.value)
    audits = [dimensions(r) for r in caplog.records
              if r.name == "orgconfig.audit"]
    fetched = {(d["backend"], d["name"], d["outcome"]) for d in audits
               if d["event"] == "secret.fetch"}
    assert {("keyvault", "acme--smtp-password", "found"),
            ("env", "GLOBAL__SMTP_PASSWORD", "found")} <= fetched
    failures = [(d["org_id"], d["outcome"]) for d in audits if d["event"] == "secret.failure"]
    assert failures == [("acme", "not_found"), ("beta", "not_found")]
    for record in caplog.records:
        text = record.getMessage() + repr(record.__dict__)
        assert "Zx-vault-canary" not in text and "Zx-env-canary" not in text
    assert "Zx-" not in repr(resolver) + repr(resolver.context("acme"))
    assert "Zx-" not in repr(resolver.secret_store.cache.peek("acme--smtp-password"))


async def test_writes_of_more_than_100_entries_are_batched(resolver: ConfigResolver) -> None:
    entries = [ConfigEntry("acme", f"k{i:03d}", str(i), "int") for i in range(250)]
    entries += [ConfigEntry("GLOBAL", f"g{i:03d}", "x") for i in range(120)]
    assert await resolver.config_store.upsert_many(entries) == 370
    snapshot = await resolver.config_store.read_partition("acme")
    assert len(snapshot.entries) == 250
    assert await resolver.context("acme").get_config("k249") == 249
