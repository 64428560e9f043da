"""Every accepted write reaches every instance: the change log under contention and when
recording fails (issue: changes lost between instances).

Instance ``a`` takes the writes; instance ``b`` has every value cached with TTLs of an hour,
so only the change log can make it drop them. ``b`` checks the log only when the test says
so (its own interval is an hour): after the writers finish, one check must be enough.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.keyvault.secrets.aio import SecretClient
from pydantic import SecretStr

from shared.admin.secret_admin import SecretAdmin
from shared.core.values import ConfigEntry
from shared.errors import BackendUnavailableError
from shared.read import coherence
from shared.read.coherence import SENTINEL_PARTITION, ChangeSentinel, Propagation
from shared.resolver import ConfigResolver
from shared.settings import Settings

HOUR = 3600.0


@pytest.fixture
def writer_settings(settings: Settings) -> Settings:
    return replace(settings, coherence_check_seconds=0.2, config_cache_ttl=HOUR,
                   secret_cache_ttl=HOUR)


@pytest.fixture
def reader_settings(writer_settings: Settings) -> Settings:
    return replace(writer_settings, coherence_check_seconds=HOUR)


async def _warm(reader: ConfigResolver, reads: list[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    values = {}
    for org, key in reads:
        values[(org, key)] = await reader.context(org).get_config(key)
    return values


async def test_96_concurrent_writes_all_reach_a_second_instance_after_one_check(
    writer_settings: Settings, reader_settings: Settings, vault: SecretClient,
) -> None:
    config_orgs = [f"cfg-{i}" for i in range(64)]
    secret_orgs = [f"sec-{i}" for i in range(32)]
    async with ConfigResolver(writer_settings) as a, ConfigResolver(reader_settings) as b:
        await a.config_store.upsert_many(
            [ConfigEntry(org, "host", "old") for org in config_orgs]
            + [ConfigEntry(org, "pwd", "smtp-password", "secret_ref") for org in secret_orgs])
        for org in secret_orgs:
            await vault.set_secret(f"{org}--smtp-password", "old-secret")
        reads = [(org, "host") for org in config_orgs] + [(org, "pwd") for org in secret_orgs]
        assert set((await _warm(b, reads)).values()) == {"old", "old-secret"}

        async def config_write(org: str) -> Propagation | None:
            await a.config_store.put_entry(ConfigEntry(org, "host", "new"))
            return await a.notify_change(org)

        admin = SecretAdmin(a)

        async def rotation(org: str) -> Propagation | None:
            await admin.put(org, "smtp-password", SecretStr("new-secret"))
            return await a.notify_change(org, secret="smtp-password")

        delayed = await asyncio.gather(*(config_write(o) for o in config_orgs),
                                       *(rotation(o) for o in secret_orgs))
        assert delayed == [None] * 96  # every change recorded, none left to a retry
        assert a.metrics.get("coherence.recorded") == 96

        await b.coherence.check()  # one check after the writes
        after = await _warm(b, reads)
        stale = sorted(f"{org}/{key}" for (org, key), v in after.items()
                       if v not in ("new", "new-secret"))
        assert stale == []


async def test_a_change_that_cannot_be_recorded_is_reported_and_retried_until_it_lands(
    writer_settings: Settings, reader_settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_record = ChangeSentinel.record
    failures = {"left": 2}

    async def flaky_record(self: ChangeSentinel, scope: str, secret: str | None = None) -> str:
        if failures["left"] > 0:  # the table refuses the change row (fault injection)
            failures["left"] -= 1
            raise BackendUnavailableError("Table Storage", "injected: the change log is down")
        return await real_record(self, scope, secret)

    monkeypatch.setattr(coherence, "RETRY_FIRST_SECONDS", 0.05)
    async with ConfigResolver(writer_settings) as a, ConfigResolver(reader_settings) as b:
        await a.config_store.put_entry(ConfigEntry("acme", "host", "old"))
        assert await b.context("acme").get_config("host") == "old"
        monkeypatch.setattr(ChangeSentinel, "record", flaky_record)

        await a.config_store.put_entry(ConfigEntry("acme", "host", "new"))
        before = datetime.now(UTC)
        delayed = await a.notify_change("acme")

        assert delayed is not None and delayed.scope == "acme"
        # other instances may serve the old value until their config TTL at the latest
        assert before + timedelta(seconds=HOUR - 5) < delayed.until \
            < before + timedelta(seconds=HOUR + 5)
        assert a.metrics.get("coherence.record_failed") == 1
        await b.coherence.check()
        assert await b.context("acme").get_config("host") == "old"  # not recorded yet

        for _ in range(200):  # the background retry: fails once more, then lands
            if a.coherence.pending == 0:
                break
            await asyncio.sleep(0.05)
        assert a.coherence.pending == 0 and failures["left"] == 0
        assert a.metrics.get("coherence.record_retried") == 1
        await b.coherence.check()
        assert await b.context("acme").get_config("host") == "new"


async def test_the_log_is_trimmed_to_its_retention_and_trimming_keeps_the_window(
    writer_settings: Settings,
) -> None:
    now = {"t": 1_000_000.0}
    async with ConfigResolver(writer_settings) as a:
        log = ChangeSentinel(a.config_store, a.metrics, 1, lambda _: None,
                             clock=lambda: now["t"], lookback=10, retention=60)
        for _ in range(150):
            await log.record("acme")
        now["t"] += 30
        recent = await log.record("acme")
        now["t"] += 45  # the first 150 rows are now 75 s old, the last one 45 s
        assert await log.trim() == 100 and await log.trim() == 50 and await log.trim() == 0
        rows = [e["RowKey"] async for e in a.config_store.client.query_entities(
            "PartitionKey eq @p", parameters={"p": SENTINEL_PARTITION})]
        assert rows == [recent]


async def test_change_rows_are_never_config(writer_settings: Settings) -> None:
    async with ConfigResolver(writer_settings) as a:
        await a.notify_change("acme")
        await a.notify_change("acme", secret="smtp-password")
        assert await a.config_store.list_scopes() == []
        assert (await a.config_store.read_partition("acme")).entries == {}


async def test_concurrent_instances_record_every_change(settings: Settings) -> None:
    s = replace(settings, table_name=f"Cfg{uuid.uuid4().hex[:12]}",
                coherence_check_seconds=HOUR)
    async with ConfigResolver(s) as a, ConfigResolver(s) as b, ConfigResolver(s) as reader:
        await reader.coherence.start()
        await asyncio.gather(*(r.coherence.record(f"org-{i}") for r in (a, b)
                               for i in range(40)))
        seen: list[Any] = []
        reader.coherence.on_change = seen.append
        await reader.coherence.check()
        [changes] = seen
        assert sorted(c.scope for c in changes) == sorted([f"org-{i}" for i in range(40)] * 2)
