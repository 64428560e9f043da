"""Config routes: list, get, put (typed, ETag-guarded), delete; the writer's cache follows."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from shared.api.routing import PROPAGATION_HEADER
from shared.core.audit import dimensions
from shared.errors import BackendUnavailableError
from shared.read.coherence import ChangeSentinel
from shared.resolver import ConfigResolver
from tests.api.conftest import Api, Table, Vault

pytestmark = pytest.mark.integration


def entry(org: str = "acme", key: str = "k") -> dict[str, str]:
    return {"org": org, "key": key}


async def test_put_then_get_returns_the_entry_and_its_etag(api: Api) -> None:
    put = await api.call("config_put", route=entry(key="smtp_port"),
                         json_body={"type": "int", "value": 587, "description": "port"})
    got = await api.call("config_get", route=entry(key="smtp_port"))
    assert put.status == 200 and got.status == 200
    body = got.json()
    assert (body["scope"], body["key"], body["type"], body["value"]) == (
        "acme", "smtp_port", "int", "587")
    assert body["description"] == "port" and body["updated_by"] == "admin@example.com"
    assert got.headers["ETag"] == body["etag"] == put.headers["ETag"]


async def test_list_shows_the_scope_sorted_and_secret_refs_by_name(api: Api, table: Table) -> None:
    await table.seed(("acme", "zeta", "z"), ("acme", "alpha", "a"),
                     ("acme", "smtp_password", "smtp-password", "secret_ref"), ("beta", "x", "b"))
    listed = await api.call("config_list", route={"org": "acme"})
    assert listed.status == 200
    entries = listed.json()["entries"]
    assert [e["key"] for e in entries] == ["alpha", "smtp_password", "zeta"]
    assert entries[1]["value"] == "smtp-password" and entries[1]["type"] == "secret_ref"


async def test_global_in_any_case_addresses_the_global_scope(api: Api, table: Table) -> None:
    await table.seed(("GLOBAL", "k", "v"))
    listed = await api.call("config_list", route={"org": "Global"})
    assert listed.json()["scope"] == "GLOBAL" and listed.json()["entries"][0]["key"] == "k"


async def test_org_ids_are_canonicalized(api: Api, table: Table) -> None:
    await api.call("config_put", route=entry(org="ACME"), json_body={"value": "v"})
    assert ("acme", "k", "v", "string") in await table.state()


async def test_get_of_an_absent_key_is_404(api: Api) -> None:
    missing = await api.call("config_get", route=entry(key="absent"))
    assert (missing.status, missing.error) == (404, "config_not_found")


async def test_json_values_may_be_sent_as_json(api: Api, table: Table) -> None:
    await api.call("config_put", route=entry(key="mapping"),
                   json_body={"type": "json", "value": {"a": [1, 2]}})
    assert ("acme", "mapping", '{"a": [1, 2]}', "json") in await table.state()


@pytest.mark.parametrize(("kind", "value"), [
    ("int", "twelve"), ("int", 1.5), ("float", "NaN"), ("bool", "maybe"), ("json", "{oops"),
    ("string", 5), ("yaml", "a: b"),
])
@pytest.mark.usefixtures("stores_unchanged")
async def test_put_rejects_a_value_that_does_not_fit_its_type(
    api: Api, kind: str, value: object
) -> None:
    response = await api.call("config_put", route=entry(), json_body={"type": kind, "value": value})
    assert response.status == 400
    assert response.error in ("invalid_value", "invalid_request")


@pytest.mark.parametrize(
    "value", ["acme--smtp-password", "Hunter2 with spaces!", "-x", "GLOBAL--x"]
)
@pytest.mark.usefixtures("stores_unchanged")
async def test_secret_ref_must_be_a_bare_name_and_is_not_echoed(api: Api, value: str) -> None:
    response = await api.call("config_put", route=entry(),
                              json_body={"type": "secret_ref", "value": value})
    assert (response.status, response.error) == (400, "invalid_value")
    assert value not in response.text


async def test_secret_ref_to_a_missing_secret_is_saved_with_a_warning(api: Api) -> None:
    response = await api.call("config_put", route=entry(key="pwd"),
                              json_body={"type": "secret_ref", "value": "smtp-password"})
    assert response.status == 200
    [warning] = response.json()["warnings"]
    assert "acme--smtp-password" in warning and "GLOBAL--smtp-password" in warning


@pytest.mark.parametrize("vault_name", ["acme--smtp-password", "GLOBAL--smtp-password"])
async def test_secret_ref_to_an_existing_secret_has_no_warning(
    api: Api, vault: Vault, vault_name: str
) -> None:
    await vault.set(vault_name, "Zx-ref-canary")
    response = await api.call("config_put", route=entry(key="pwd"),
                              json_body={"type": "secret_ref", "value": "smtp-password"})
    assert response.status == 200 and response.json()["warnings"] == []


async def test_global_secret_ref_warns_only_about_the_global_secret(api: Api) -> None:
    response = await api.call("config_put", route=entry(org="GLOBAL", key="pwd"),
                              json_body={"type": "secret_ref", "value": "smtp-password"})
    [warning] = response.json()["warnings"]
    assert "GLOBAL--smtp-password" in warning and "orgs without their own" in warning


async def test_put_with_the_current_etag_succeeds(api: Api) -> None:
    first = await api.call("config_put", route=entry(), json_body={"value": "v1"})
    second = await api.call("config_put", route=entry(), json_body={"value": "v2"},
                            headers={"If-Match": first.headers["ETag"]})
    assert second.status == 200 and second.headers["ETag"] != first.headers["ETag"]


async def test_lost_update_is_412(api: Api, table: Table) -> None:
    await api.call("config_put", route=entry(), json_body={"value": "v0"})
    etag = (await api.call("config_get", route=entry())).headers["ETag"]
    first = await api.call("config_put", route=entry(), json_body={"value": "first"},
                           headers={"If-Match": etag})
    second = await api.call("config_put", route=entry(), json_body={"value": "second"},
                            headers={"If-Match": etag})
    assert (first.status, second.status) == (200, 412)
    assert second.error == "precondition_failed"
    assert ("acme", "k", "first", "string") in await table.state()


async def test_concurrent_edits_from_one_etag_let_exactly_one_win(api: Api) -> None:
    await api.call("config_put", route=entry(), json_body={"value": "v0"})
    etag = (await api.call("config_get", route=entry())).headers["ETag"]
    results = await asyncio.gather(*(
        api.call("config_put", route=entry(), json_body={"value": f"v{i}"},
                 headers={"If-Match": etag})
        for i in range(1, 6)
    ))
    assert sorted(r.status for r in results) == [200, 412, 412, 412, 412]


async def test_if_match_star_requires_the_entry_to_exist(api: Api) -> None:
    response = await api.call("config_put", route=entry(), json_body={"value": "v"},
                              headers={"If-Match": "*"})
    assert response.status == 412


@pytest.mark.usefixtures("stores_unchanged")
async def test_garbage_if_match_is_4xx(api: Api, table: Table) -> None:
    for etag in ['W/"nope"', 'W/"datetime\'x\'"', "x" * 300, "bad\x01etag", "' or 1 eq 1",
                 '"' + "x" * 300 + '"']:
        response = await api.call("config_put", route=entry(), json_body={"value": "v"},
                                  headers={"If-Match": etag})
        assert 400 <= response.status < 500, etag


async def test_delete_removes_the_entry(api: Api, table: Table) -> None:
    await table.seed(("acme", "k", "v"))
    deleted = await api.call("config_delete", route=entry())
    assert (deleted.status, deleted.text) == (204, "")
    assert await table.state() == []
    assert (await api.call("config_get", route=entry())).status == 404


async def test_delete_of_an_absent_entry_is_404(api: Api) -> None:
    assert (await api.call("config_delete", route=entry())).status == 404


async def test_delete_with_a_stale_etag_is_412(api: Api, table: Table) -> None:
    await api.call("config_put", route=entry(), json_body={"value": "v1"})
    etag = (await api.call("config_get", route=entry())).headers["ETag"]
    await api.call("config_put", route=entry(), json_body={"value": "v2"})
    response = await api.call("config_delete", route=entry(), headers={"If-Match": etag})
    assert response.status == 412
    assert ("acme", "k", "v2", "string") in await table.state()


async def test_the_writing_process_sees_a_put_at_once(
    api: Api, table: Table, resolver: ConfigResolver
) -> None:
    await table.seed(("acme", "k", "old"))
    context = resolver.context("acme")
    assert await context.get_config("k") == "old"
    await api.call("config_put", route=entry(), json_body={"value": "new"})
    assert await context.get_config("k") == "new"


async def test_the_writing_process_sees_a_delete_at_once(
    api: Api, table: Table, resolver: ConfigResolver
) -> None:
    await table.seed(("acme", "k", "org"), ("GLOBAL", "k", "global"))
    context = resolver.context("acme")
    assert await context.get_config("k") == "org"
    await api.call("config_delete", route=entry())
    assert await context.get_config("k") == "global"


async def test_writes_leave_audit_records_without_values(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    await api.call("config_put", route=entry(), json_body={"value": "Zx-audit-value"})
    await api.call("config_delete", route=entry())
    audits = [dimensions(r) for r in caplog.records
              if r.name == "orgconfig.audit" and "action" in dimensions(r)]
    assert [(a["action"], a["actor"], a["scope"], a["key"]) for a in audits] == [
        ("config.put", "admin@example.com", "acme", "k"),
        ("config.delete", "admin@example.com", "acme", "k"),
    ]
    assert not any("Zx-audit-value" in r.getMessage() + repr(r.__dict__) for r in caplog.records
                   if r.name == "orgconfig.audit")


async def test_table_outage_is_503_with_retry_after(
    api: Api, api_env: Callable[..., None]
) -> None:
    api_env(CONFIG_STORAGE_CONNECTION=
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
            "TableEndpoint=http://127.0.0.1:9/devstoreaccount1;", BACKEND_TIMEOUT_SECONDS="1")
    response = await api.call("config_list", route={"org": "acme"})
    assert (response.status, response.error) == (503, "backend_unavailable")
    assert response.headers["Retry-After"]


DEEP_JSON = "[" * 15_000 + "]" * 15_000


async def test_a_stored_json_value_nested_too_deeply_reads_without_crashing(
    api: Api, table: Table
) -> None:
    await table.seed(("acme", "deep", DEEP_JSON, "json"))
    got = await api.call("config_get", route={"org": "acme", "key": "deep"})
    listed = await api.call("config_list", route={"org": "acme"})
    run = await api.call("workflow_run", route={"org": "acme", "name": "api-test-read"},
                         json_body={"key": "deep"})
    assert (got.status, listed.status) == (200, 200)
    assert got.json()["value"] == "(stored value is not a valid json)"
    assert (run.status, run.error) == (424, "invalid_value")


@pytest.mark.parametrize("etag", ['"not-an-etag-of-this-table"', 'W/"x"', '""'])
async def test_a_well_formed_etag_that_is_not_current_is_412(api: Api, etag: str) -> None:
    created = await api.call("config_put", route={"org": "acme", "key": "k"},
                             json_body={"value": "v1"})
    assert created.status == 200
    put = await api.call("config_put", route={"org": "acme", "key": "k"},
                         json_body={"value": "v2"}, headers={"If-Match": etag})
    deleted = await api.call("config_delete", route={"org": "acme", "key": "k"},
                             headers={"If-Match": etag})
    assert (put.status, put.error) == (412, "precondition_failed")
    assert (deleted.status, deleted.error) == (412, "precondition_failed")


async def test_a_write_whose_change_cannot_be_recorded_says_until_when_others_may_lag(
    api: Api, resolver: ConfigResolver, monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def refused(self: ChangeSentinel, scope: str, secret: str | None = None) -> str:
        raise BackendUnavailableError("Table Storage", "injected: the change log is down")

    assert resolver.settings.coherence_check_seconds > 0
    ok = await api.call("config_put", route=entry(), json_body={"type": "string", "value": "a"})
    assert PROPAGATION_HEADER not in ok.headers  # recorded: nothing to say
    monkeypatch.setattr(ChangeSentinel, "record", refused)
    monkeypatch.setattr(ChangeSentinel, "retry_in_background", lambda *a, **k: None)
    before = datetime.now(UTC)
    put = await api.call("config_put", route=entry(), json_body={"type": "string", "value": "b"})
    deleted = await api.call("config_delete", route=entry())
    assert put.status == 200 and deleted.status == 204  # the writes themselves succeeded
    ttl = timedelta(seconds=resolver.settings.config_cache_ttl)
    for answer in (put, deleted):
        until = datetime.fromisoformat(answer.headers[PROPAGATION_HEADER])
        assert before + ttl - timedelta(seconds=5) < until < before + ttl + timedelta(seconds=5)
    assert resolver.metrics.get("coherence.record_failed") == 2


@pytest.mark.parametrize(("kind", "sent", "typed"), [
    ("int", 5, 5), ("float", 2.5, 2.5), ("bool", True, True), ("string", "x", "x"),
    ("json", {"a": [1, None]}, {"a": [1, None]}), ("secret_ref", "smtp-password", "smtp-password"),
])
async def test_answers_carry_the_typed_value_beside_the_stored_text(
    api: Api, kind: str, sent: object, typed: object,
) -> None:
    put = await api.call("config_put", route=entry(), json_body={"type": kind, "value": sent})
    got = await api.call("config_get", route=entry())
    listed = await api.call("config_list", route={"org": "acme"})
    assert put.json()["typed_value"] == got.json()["typed_value"] == typed
    assert isinstance(got.json()["value"], str)  # the stored text, as before
    assert listed.json()["entries"][0]["typed_value"] == typed


async def test_an_unparsable_stored_value_has_no_typed_value(api: Api, table: Table) -> None:
    await table.seed(("acme", "k", "not-a-number", "int"))
    got = await api.call("config_get", route=entry())
    assert got.json()["typed_value"] is None and "not a valid int" in got.json()["value"]
