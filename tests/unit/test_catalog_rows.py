"""Catalog rows: their keys, their round trip through an entity, expiry states; and when
the config store trusts the catalog (pure logic over cached snapshots)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.admin.events import configured_vaults
from shared.backends import catalog
from shared.backends.catalog import CatalogMarker, CatalogRecord, expiry_state
from shared.backends.config_rows import ConfigSnapshot
from shared.backends.config_store import ConfigStore
from shared.core.metrics import Metrics
from shared.settings import Settings

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def test_row_keys_are_lower_case_and_sort_inside_the_catalog_range() -> None:
    key = catalog.record_row_key("Smtp-Password")
    assert key == "~secret~smtp-password"
    assert catalog.RECORD_PREFIX <= key < catalog.RECORD_END
    assert not catalog.RECORD_PREFIX <= catalog.MARKER_ROW < catalog.RECORD_END


def test_a_record_survives_the_round_trip_through_an_entity() -> None:
    record = CatalogRecord("acme", "Smtp-Password", enabled=False, expires_on=NOW,
                           updated_on=NOW - timedelta(days=1), content_type="text/plain",
                           updated_by="alice@example.com")
    entity = catalog.entity_from_record(record)
    assert "Value" not in entity and entity["RowKey"] == "~secret~smtp-password"
    assert catalog.record_from_entity(entity) == record


def test_a_minimal_record_stores_no_empty_properties() -> None:
    entity = catalog.entity_from_record(CatalogRecord("GLOBAL", "k"))
    assert set(entity) == {"PartitionKey", "RowKey", "Name", "Enabled"}


def test_same_as_ignores_sub_second_differences_and_who_wrote_it() -> None:
    a = CatalogRecord("acme", "k", expires_on=NOW, updated_by="alice")
    b = CatalogRecord("acme", "k", expires_on=NOW + timedelta(microseconds=5), updated_by=None)
    assert a.same_as(b)
    assert not a.same_as(CatalogRecord("acme", "k", expires_on=NOW + timedelta(days=1)))


@pytest.mark.parametrize(("expires_on", "state"), [
    (None, None), (NOW - timedelta(seconds=1), "expired"), (NOW, "expired"),
    (NOW + timedelta(days=29), "expiring"), (NOW + timedelta(days=31), None),
])
def test_expiry_state_by_the_warning_threshold(expires_on: datetime | None,
                                               state: str | None) -> None:
    assert expiry_state(expires_on, NOW, 30) == state


def test_the_marker_is_read_only_from_global() -> None:
    entity = catalog.marker_entity(NOW, 12)
    assert catalog.marker_from_entity(entity) == CatalogMarker(NOW, 12)
    assert catalog.marker_from_entity({**entity, "PartitionKey": "acme"}) is None


@pytest.mark.parametrize(("url", "names"), [
    ("https://my-vault.vault.azure.net", {"my-vault"}),
    ("https://My-Vault.vault.azure.net/", {"my-vault"}),
    (None, set()),
])
def test_configured_vaults_are_the_first_label_of_the_vault_host(
    url: str | None, names: set[str]
) -> None:
    assert configured_vaults(Settings(key_vault_url=url)) == names


def test_configured_vaults_include_the_shards() -> None:
    settings = Settings(key_vault_url="https://main.vault.azure.net",
                        key_vault_shards={"eu": "https://eu-vault.vault.azure.net"})
    assert configured_vaults(settings) == {"main", "eu-vault"}


# -- when the catalog is trusted -------------------------------------------------------------
def store() -> ConfigStore:
    return ConfigStore(Settings(), Metrics(), lambda: None)  # type: ignore[arg-type, return-value]


def snap(scope: str, seq: int, secrets: tuple[str, ...] = (), marker: bool = False
         ) -> ConfigSnapshot:
    return ConfigSnapshot(scope, {}, {n: CatalogRecord(scope, n) for n in secrets},
                          CatalogMarker(NOW) if marker else None, seq)


def load(s: ConfigStore, snapshot: ConfigSnapshot) -> None:
    """What ConfigStore.snapshot does after a query: cache it, note GLOBAL's marker."""
    s.snapshots.put(snapshot.scope, snapshot, 30)
    if snapshot.scope == "GLOBAL":
        s._note_catalog(snapshot)


def test_without_the_marker_the_catalog_cannot_tell() -> None:
    s = store()
    load(s, snap("acme", 1, ("x",)))
    load(s, snap("GLOBAL", 2, ("y",)))
    assert s.catalog_presence("acme", "x") is None
    assert s.catalog_presence("GLOBAL", "z") is None


def test_with_the_marker_the_catalog_answers_both_ways_ignoring_case() -> None:
    s = store()
    load(s, snap("acme", 1, ("x",)))
    load(s, snap("GLOBAL", 2, ("y",), marker=True))
    assert s.catalog_presence("acme", "X") is True
    assert s.catalog_presence("acme", "y") is False
    assert s.catalog_presence("GLOBAL", "y") is True
    assert s.catalog_presence("contoso", "x") is None  # not cached: cannot tell


def test_an_org_snapshot_older_than_the_catalog_is_dropped_and_not_trusted() -> None:
    s = store()
    load(s, snap("GLOBAL", 1))              # no marker yet
    load(s, snap("acme", 2))                # loaded before the first reconcile finished?
    load(s, snap("old", 0))                 # certainly before it
    load(s, snap("GLOBAL", 3, marker=True))
    assert s.snapshots.peek("old") is None
    assert s.catalog_presence("acme", "x") is False  # loaded after GLOBAL without marker
    load(s, snap("late", 0))                # a load still in flight from before
    assert s.catalog_presence("late", "x") is None


# -- dates a row cannot hold -----------------------------------------------------------------
@pytest.mark.parametrize("when", [datetime(89, 1, 1, tzinfo=UTC),
                                  datetime(1600, 12, 31, 23, 59, tzinfo=UTC)])
def test_a_date_before_1601_is_not_stored(when: datetime) -> None:
    entity = catalog.entity_from_record(CatalogRecord("acme", "k", expires_on=when,
                                                      updated_on=when))
    assert "ExpiresOn" not in entity and "UpdatedOn" not in entity


def test_the_latest_python_date_is_stored() -> None:
    late = datetime.max.replace(tzinfo=UTC)
    assert catalog.storable_time(late) == late


@pytest.mark.parametrize("value", [catalog.UNREADABLE, "89-01-01T00:00:00.000000Z", 12])
def test_an_unreadable_date_reads_as_unknown_and_is_named(value: object) -> None:
    entity = {**catalog.entity_from_record(CatalogRecord("acme", "k")), "ExpiresOn": value}
    record = catalog.record_from_entity(entity)
    assert record is not None and record.expires_on is None
    assert record.unreadable == ("ExpiresOn",)


def test_a_record_with_an_unreadable_date_is_never_the_same_as_the_vault() -> None:
    odd = CatalogRecord("acme", "k", unreadable=("UpdatedOn",))
    assert not odd.same_as(CatalogRecord("acme", "k"))
