"""Config history over the API (DESIGN "Config history"): every change recorded with who and
when, in the same transaction as the change; rollback; the org's change feed; retention;
and the snapshot reload untouched by any amount of history."""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import pytest

from shared.backends import history
from shared.core.values import ConfigEntry
from shared.errors import ConcurrencyError
from shared.resolver import ConfigResolver
from shared.settings import Settings
from tests.api.conftest import Api, Table, Vault, snapshot_reload

pytestmark = pytest.mark.integration

ENTRY = {"org": "acme", "key": "psa_field_mapping"}


async def put(api: Api, value: Any, kind: str = "string", entry: dict[str, str] = ENTRY,
              **headers: str) -> Any:
    return await api.call("config_put", route=entry, json_body={"type": kind, "value": value},
                          headers=headers or None)


async def items(api: Api, entry: dict[str, str] = ENTRY, **query: str) -> list[dict[str, Any]]:
    answer = await api.call("config_history", route=entry, query=query or None)
    assert answer.status == 200, answer.text
    return list(answer.json()["items"])


async def test_every_change_is_recorded_newest_first_with_who_and_when(api: Api) -> None:
    await put(api, {"title": "summary"}, "json")
    await put(api, {"title": "subject"}, "json")
    assert (await api.call("config_delete", route=ENTRY)).status == 204
    found = await items(api)
    assert [i["action"] for i in found] == ["delete", "put", "put"]
    assert found[1]["value"] == '{"title": "subject"}' and found[1]["type"] == "json"
    assert "type" not in found[0] or found[0]["type"] is None  # a delete has no state
    assert {i["by"] for i in found} == {"admin@example.com"}
    assert found[0]["at"] > found[1]["at"] > found[2]["at"]
    assert len({i["id"] for i in found}) == 3


async def test_the_state_before_the_first_recorded_change_is_kept(api: Api, table: Table) -> None:
    await table.seed(("acme", "psa_field_mapping", '{"title": "summary"}', "json"))
    await put(api, {"title": "oops"}, "json")
    found = await items(api)
    assert [i["action"] for i in found] == ["put", "baseline"]
    assert found[1]["value"] == '{"title": "summary"}'
    back = await api.call("config_rollback", route=ENTRY, json_body={"to": found[1]["id"]})
    assert back.status == 200 and back.json()["value"] == '{"title": "summary"}'


async def test_rollback_restores_type_and_value_together_as_a_new_change(api: Api) -> None:
    await put(api, 25, "int")
    await put(api, "twenty-five")
    first = (await items(api))[-1]
    back = await api.call("config_rollback", route=ENTRY, json_body={"to": first["id"]})
    assert back.status == 200
    assert (back.json()["type"], back.json()["typed_value"]) == ("int", 25)
    got = await api.call("config_get", route=ENTRY)
    assert (got.json()["type"], got.json()["value"]) == ("int", "25")
    assert [i["action"] for i in await items(api)] == ["rollback", "put", "put"]


async def test_rolling_back_to_a_delete_deletes_and_back_again_restores(api: Api) -> None:
    await put(api, "a")
    await api.call("config_delete", route=ENTRY)
    put_item, delete_item = (await items(api))[1], (await items(api))[0]
    assert (await api.call("config_rollback", route=ENTRY,
                           json_body={"to": put_item["id"]})).status == 200
    assert (await api.call("config_get", route=ENTRY)).json()["value"] == "a"
    gone = await api.call("config_rollback", route=ENTRY, json_body={"to": delete_item["id"]})
    assert (gone.status, gone.text) == (204, "")
    assert (await api.call("config_get", route=ENTRY)).status == 404


async def test_rollback_honours_if_match_and_knows_its_items(api: Api) -> None:
    first = await put(api, "a")
    await put(api, "b")
    target = (await items(api))[-1]["id"]
    stale = await api.call("config_rollback", route=ENTRY, json_body={"to": target},
                           headers={"If-Match": first.headers["ETag"]})
    assert stale.status == 412
    unknown = await api.call("config_rollback", route=ENTRY,
                             json_body={"to": "0" * 17 + "deadbeef"})
    assert unknown.status == 404 and unknown.error == "history_item_not_found"
    odd = await api.call("config_rollback", route=ENTRY, json_body={"to": "nope"})
    assert odd.status == 404
    assert [i["action"] for i in await items(api)] == ["put", "put"]  # nothing recorded


async def test_history_pages_newest_first(api: Api) -> None:
    for n in range(7):
        await put(api, str(n))
    seen: list[str] = []
    after: str | None = None
    while True:
        query = {"limit": "3", **({"after": after} if after else {})}
        answer = await api.call("config_history", route=ENTRY, query=query)
        page = answer.json()
        seen += [i["value"] for i in page["items"]]
        after = page["next"]
        if after is None:
            break
    assert seen == ["6", "5", "4", "3", "2", "1", "0"]
    bad = await api.call("config_history", route=ENTRY, query={"after": "zzz"})
    assert bad.status == 400


async def test_the_org_change_feed_spans_keys_newest_first(api: Api) -> None:
    await put(api, "1", entry={"org": "acme", "key": "a"})
    await put(api, "2", entry={"org": "acme", "key": "b"})
    await put(api, "3", entry={"org": "acme", "key": "a"})
    await put(api, "x", entry={"org": "other", "key": "a"})
    answer = await api.call("config_changes", route={"org": "acme"})
    assert answer.status == 200
    assert [(i["key"], i["value"]) for i in answer.json()["items"]] == [
        ("a", "3"), ("b", "2"), ("a", "1")]
    later = await api.call("config_changes", route={"org": "acme"},
                           query={"since": "2999-01-01T00:00:00Z"})
    assert later.json()["items"] == []
    assert (await api.call("config_changes", route={"org": "acme"},
                           query={"since": "yesterday"})).status == 400


async def test_a_secret_ref_shows_its_name_and_no_secret_value_enters_history(
    api: Api, vault: Vault, table: Table,
) -> None:
    created = await api.call("secrets_create", json_body={
        "scope": "acme", "name": "psa-api-key", "value": "the-real-psa-key-1"})
    assert created.status == 201
    await api.call("secrets_update", route={"scope": "acme", "name": "psa-api-key"},
                   json_body={"value": "the-real-psa-key-2"})
    await put(api, "psa-api-key", "secret_ref", {"org": "acme", "key": "psa_api_key"})
    await api.call("config_delete", route={"org": "acme", "key": "psa_api_key"})
    found = await items(api, {"org": "acme", "key": "psa_api_key"})
    assert found[1]["value"] == "psa-api-key"
    bodies = [(await api.call("config_history", route={"org": "acme", "key": "psa_api_key"})).text,
              (await api.call("config_changes", route={"org": "acme"})).text,
              repr(await table.history_state())]
    for value in ("the-real-psa-key-1", "the-real-psa-key-2"):
        assert not [b for b in bodies if value in b]


async def test_retention_keeps_the_newest_per_key_trimmed_in_the_write(
    api: Api, api_env: Callable[..., None], table: Table,
) -> None:
    api_env(CONFIG_HISTORY_MAX_PER_KEY="50")
    for n in range(56):
        await put(api, str(n))
    kept = await items(api, limit="100")
    assert len(kept) == 50 and kept[0]["value"] == "55" and kept[-1]["value"] == "6"
    rows = await table.history_state()
    assert len(rows) == 100  # 50 history rows and their 50 feed rows, nothing else


async def test_a_failed_transaction_leaves_neither_the_change_nor_its_record(
    api: Api, resolver: ConfigResolver, table: Table, monkeypatch: pytest.MonkeyPatch,
) -> None:
    await put(api, "before")
    rows_before = await table.history_state()
    # fault injection: the next history row's key is taken already, so the transaction that
    # writes the entry and its record fails as a whole
    fixed = 1_900_000_000.0
    monkeypatch.setattr(history, "time", types.SimpleNamespace(time=lambda: fixed))
    monkeypatch.setattr(history, "new_suffix", lambda: "fault000")
    clash = history.history_row(ENTRY["key"], history.item_id(round(fixed * 1e6), "fault000"))
    await table.client.create_entity({"PartitionKey": "acme", "RowKey": clash})
    with pytest.raises(ConcurrencyError):
        await resolver.config_store.put_entry(ConfigEntry("acme", ENTRY["key"], "after"))
    got = await api.call("config_get", route=ENTRY)
    assert got.json()["value"] == "before"  # the change did not happen ...
    after = [r for r in await table.history_state() if r[1] != clash]
    assert after == rows_before  # ... and no record says it did


async def test_a_conditional_write_that_fails_records_nothing(api: Api, table: Table) -> None:
    first = await put(api, "a")
    await put(api, "b")
    rows = await table.history_state()
    stale = await put(api, "c", **{"If-Match": first.headers["ETag"]})
    assert stale.status == 412 and await table.history_state() == rows


async def test_a_snapshot_reload_fetches_the_same_bytes_with_1000_history_items(
    settings: Settings, api: Api, resolver: ConfigResolver,
) -> None:
    await put(api, "v", entry={"org": "acme", "key": "k1"})
    await put(api, "w", entry={"org": "acme", "key": "k2"})

    async def snapshot_bytes() -> int:
        size, rows = await snapshot_reload(settings, resolver.settings.table_name, "acme")
        assert rows == {"k1", "k2"}
        return size

    before = await snapshot_bytes()
    store = resolver.config_store
    operations = [("create", {"PartitionKey": "acme",
                              "RowKey": history.history_row("k1", history.item_id(n, "pad00000")),
                              "Key": "k1", "Action": "put", "ItemValue": "x" * 100})
                  for n in range(1000)]
    for start in range(0, 1000, 100):
        await store.client.submit_transaction(operations[start:start + 100])
    assert await snapshot_bytes() == before
    snapshot = await store.read_partition("acme")
    assert set(snapshot.entries) == {"k1", "k2"}
