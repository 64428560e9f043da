"""A write whose answer is a timeout (issue: writes of unknown outcome).

The store hangs (Azurite paused, or the vault emulator slowed) while a write is in flight:
the client gets 503 ``write_outcome_unknown`` saying the write may still land and where to
look; when the store recovers the write lands, and its audit record, its invalidation and
its change record follow; the client's retry of the same PUT then answers 200, not 412.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest

from shared.backends.config_store import ConfigStore
from shared.core import late
from shared.core.audit import dimensions
from shared.read.coherence import SENTINEL_PARTITION
from shared.resolver import ConfigResolver
from tests.api.conftest import Api
from tools.keyvault_emulator.control import EmulatorControl
from tools.services import Azurite

pytestmark = pytest.mark.integration

ENTRY = {"org": "acme", "key": "smtp_host"}


def audit(caplog: pytest.LogCaptureFixture, action: str) -> list[dict[str, Any]]:
    return [dimensions(r) for r in caplog.records
            if r.name == "orgconfig.audit" and dimensions(r).get("action") == action]


async def change_rows(resolver: ConfigResolver, scope: str) -> list[dict[str, Any]]:
    pager = resolver.config_store.client.query_entities(
        "PartitionKey eq @p and Scope eq @s", parameters={"p": SENTINEL_PARTITION, "s": scope})
    return [dict(e) async for e in pager]


HANG = {"on": False}


@pytest.fixture
def paused_table_env(api_env: Callable[..., None], private_azurite: Azurite,
                     monkeypatch: pytest.MonkeyPatch) -> Azurite:
    """Azurite of the test's own; while ``HANG["on"]`` is set, it is paused the moment a
    write's transaction is sent (the reads before it are answered), so the write itself
    is what hangs."""
    api_env(CONFIG_STORAGE_CONNECTION=private_azurite.connection_string,
            BACKEND_TIMEOUT_SECONDS="1", BREAKER_FAILURE_THRESHOLD="100")
    real_submit = ConfigStore.submit

    async def submit(self: ConfigStore, what: str, operations: list[Any]) -> Any:
        if HANG["on"]:
            HANG["on"] = False
            private_azurite.pause()
        return await real_submit(self, what, operations)

    monkeypatch.setattr(ConfigStore, "submit", submit)
    return private_azurite


async def test_a_put_answered_by_a_timeout_lands_later_with_its_follow_up_and_its_retry_is_200(
    api: Api, paused_table_env: Azurite, resolver: ConfigResolver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="orgconfig")
    first = await api.call("config_put", route=ENTRY, json_body={"value": "old.example"})
    etag = first.headers["ETag"]
    rows_before = len(await change_rows(resolver, "acme"))

    HANG["on"] = True
    resume = asyncio.get_running_loop().call_later(2.5, paused_table_env.resume)
    try:
        hung = await api.call("config_put", route=ENTRY, headers={"If-Match": etag},
                              json_body={"value": "new.example"})
    finally:
        await asyncio.sleep(2.6)
        resume.cancel()
        paused_table_env.resume()
    assert hung.status == 503 and hung.error == "write_outcome_unknown"
    assert "may still be applied" in hung.json()["message"]
    assert hung.headers["Location"].endswith("/orgs/acme/config/smtp_host")
    assert "Retry-After" in hung.headers

    await asyncio.wait_for(late.drain(), 30)  # the store answers the write it was sent

    got = await api.call("config_get", route=ENTRY)
    assert got.json()["value"] == "new.example"  # it was applied after all
    [late_record] = [d for d in audit(caplog, "config.put") if d.get("applied_late")]
    assert late_record["key"] == "smtp_host" and late_record["scope"] == "acme"
    assert len(await change_rows(resolver, "acme")) == rows_before + 1  # others are told
    # this instance dropped its snapshot: a read sees the late value, not the cached old one
    assert await resolver.context("acme").get_config("smtp_host") == "new.example"

    retry = await api.call("config_put", route=ENTRY, headers={"If-Match": etag},
                           json_body={"value": "new.example"})
    assert retry.status == 200 and retry.json()["value"] == "new.example"
    assert retry.headers["ETag"] == got.headers["ETag"]
    other = await api.call("config_put", route=ENTRY, headers={"If-Match": etag},
                           json_body={"value": "something else"})
    assert other.status == 412  # a stale ETag for a different state is still a conflict


async def test_a_delete_answered_by_a_timeout_lands_later_and_its_retry_is_204(
    api: Api, paused_table_env: Azurite, resolver: ConfigResolver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="orgconfig")
    etag = (await api.call("config_put", route=ENTRY, json_body={"value": "x"})).headers["ETag"]
    HANG["on"] = True
    resume = asyncio.get_running_loop().call_later(2.5, paused_table_env.resume)
    try:
        hung = await api.call("config_delete", route=ENTRY, headers={"If-Match": etag})
    finally:
        await asyncio.sleep(2.6)
        resume.cancel()
        paused_table_env.resume()
    assert hung.status == 503 and hung.error == "write_outcome_unknown"
    await asyncio.wait_for(late.drain(), 30)
    assert (await api.call("config_get", route=ENTRY)).status == 404
    assert [d for d in audit(caplog, "config.delete") if d.get("applied_late")]
    retry = await api.call("config_delete", route=ENTRY, headers={"If-Match": etag})
    assert retry.status == 204


async def test_a_secret_write_the_vault_answers_late_still_gets_its_follow_up(
    api: Api, api_env: Callable[..., None], kv_control: EmulatorControl,
    resolver: ConfigResolver, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="orgconfig")
    created = await api.call("secrets_create", json_body={
        "scope": "acme", "name": "smtp-password", "value": "first-value"})
    assert created.status == 201
    rows_before = len(await change_rows(resolver, "acme"))
    # only the write is slow: the existence check before it is answered at once
    kv_control.set_latency(resolver.settings.backend_timeout * 1000 + 1500, "set_secret")
    try:
        hung = await api.call("secrets_update", route={"scope": "acme", "name": "smtp-password"},
                              json_body={"value": "second-value"})
        await asyncio.wait_for(late.drain(), 30)
    finally:
        kv_control.set_latency(0)
    assert hung.status == 503 and hung.error == "write_outcome_unknown"
    assert "second-value" not in hung.text
    [late_record] = [d for d in audit(caplog, "secret.update") if d.get("applied_late")]
    assert late_record["name"] == "smtp-password"
    assert len(await change_rows(resolver, "acme")) == rows_before + 1
    versions = await api.call("secrets_versions", route={"scope": "acme", "name": "smtp-password"})
    assert len(versions.json()["versions"]) == 2
