"""Secret details for the admin page: who wrote a version (a tag, never a value), expiry,
versions, rollback to an earlier version on the server, and the soft-deleted list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.admin.secret_admin import UPDATED_BY_TAG
from shared.resolver import ConfigResolver
from tests.api.conftest import Api, Table, Vault

pytestmark = pytest.mark.integration

ADMIN_NAME = "admin@example.com"


def target(name: str = "smtp-password", scope: str = "acme") -> dict[str, str]:
    return {"scope": scope, "name": name}


async def create(api: Api, value: str, **more: object) -> dict:
    response = await api.call("secrets_create", json_body={
        "scope": "acme", "name": "smtp-password", "value": value, **more})
    assert response.status == 201
    return response.json()


async def test_a_write_through_the_api_is_tagged_with_who_made_it(
    api: Api, vault: Vault
) -> None:
    await create(api, "Zx-tag-1")
    props = await vault.client.get_secret("acme--smtp-password")
    assert props.properties.tags == {UPDATED_BY_TAG: ADMIN_NAME}


async def test_the_list_shows_expiry_and_who_updated(api: Api, vault: Vault) -> None:
    expires = datetime(2031, 1, 2, tzinfo=UTC)
    await create(api, "Zx-list-1", expires_on=expires.isoformat())
    await vault.set("GLOBAL--outside", "Zx-list-2")
    secrets = (await api.call("secrets_list", query={"scope": "acme"})).json()["secrets"]
    by_name = {s["name"]: s for s in secrets}
    assert by_name["smtp-password"]["updated_by"] == ADMIN_NAME
    assert by_name["smtp-password"]["expires_on"].startswith("2031-01-02T00:00:00")
    assert by_name["outside"]["updated_by"] is None  # written straight into the vault


async def test_versions_are_listed_newest_first_with_the_current_one_marked(
    api: Api, vault: Vault
) -> None:
    first = await create(api, "Zx-ver-1")
    await vault.set("acme--smtp-password", "Zx-ver-2")
    response = await api.call("secrets_versions", route=target())
    assert response.status == 200
    versions = response.json()["versions"]
    assert [v["current"] for v in versions] == [True, False]
    assert versions[1]["version"] == first["version"]
    assert [v["updated_by"] for v in versions] == [None, ADMIN_NAME]
    assert all(v["enabled"] and v["created_on"] for v in versions)


async def test_versions_of_an_absent_secret_is_404(api: Api) -> None:
    response = await api.call("secrets_versions", route=target())
    assert (response.status, response.error) == (404, "secret_not_found")


async def test_rollback_makes_an_earlier_value_current_without_returning_it(
    api: Api, vault: Vault, resolver: ConfigResolver, table: Table
) -> None:
    first = await create(api, "Zx-roll-1")
    await api.call("secrets_update", route=target(), json_body={"value": "Zx-roll-2"})
    await table.seed(("acme", "smtp_password", "smtp-password", "secret_ref"))
    assert await resolver.context("acme").get_config("smtp_password") == "Zx-roll-2"
    response = await api.call("secrets_rollback", route=target(),
                              json_body={"version": first["version"]})
    assert response.status == 200
    body = response.json()
    assert body["restored_from"] == first["version"] and body["version"] != first["version"]
    assert "Zx-roll" not in response.text
    assert (await vault.client.get_secret("acme--smtp-password")).value == "Zx-roll-1"
    # this instance's cache was told: the next read is the restored value
    assert await resolver.context("acme").get_config("smtp_password") == "Zx-roll-1"


async def test_the_rolled_back_version_records_its_origin_and_author(
    api: Api, vault: Vault
) -> None:
    first = await create(api, "Zx-origin-1")
    await vault.set("acme--smtp-password", "Zx-origin-2")
    await api.call("secrets_rollback", route=target(), json_body={"version": first["version"]})
    current = (await api.call("secrets_versions", route=target())).json()["versions"][0]
    assert current["rolled_back_from"] == first["version"]
    assert current["updated_by"] == ADMIN_NAME


async def test_rollback_keeps_a_future_expiry(api: Api, vault: Vault) -> None:
    expires = datetime.now(UTC) + timedelta(days=30)
    first = await create(api, "Zx-exp-1", expires_on=expires.isoformat())
    await vault.set("acme--smtp-password", "Zx-exp-2")
    await api.call("secrets_rollback", route=target(), json_body={"version": first["version"]})
    current = (await vault.client.get_secret("acme--smtp-password")).properties
    assert current.expires_on is not None
    assert abs((current.expires_on - expires).total_seconds()) < 2


async def test_rollback_to_an_unknown_version_is_404_and_writes_nothing(
    api: Api, vault: Vault
) -> None:
    await create(api, "Zx-unknown-1")
    response = await api.call("secrets_rollback", route=target(),
                              json_body={"version": "0123456789abcdef0123456789abcdef"})
    assert (response.status, response.error) == (404, "secret_not_found")
    assert (await vault.state())[0] == [("acme--smtp-password", 1)]


async def test_rollback_with_a_malformed_version_is_400(api: Api, vault: Vault) -> None:
    await create(api, "Zx-bad-1")
    response = await api.call("secrets_rollback", route=target(),
                              json_body={"version": "../../x"})
    assert (response.status, response.error) == (400, "invalid_request")


async def test_deleted_secrets_of_the_org_and_global_are_listed_for_recovery(
    api: Api, vault: Vault
) -> None:
    for name in ("acme--gone", "GLOBAL--gone-too", "beta--not-mine"):
        await vault.set(name, f"Zx-{name}")
        await vault.client.delete_secret(name)
    response = await api.call("secrets_deleted", query={"scope": "acme"})
    assert response.status == 200
    rows = [(s["scope"], s["name"], s["recoverable"]) for s in response.json()["secrets"]]
    assert rows == [("GLOBAL", "gone-too", True), ("acme", "gone", True)]
    assert all(s["scheduled_purge_date"] and s["deleted_on"]
               for s in response.json()["secrets"])


async def test_deleted_needs_a_scope(api: Api) -> None:
    response = await api.call("secrets_deleted")
    assert (response.status, response.error) == (400, "scope_required")


@pytest.mark.parametrize("expires_on", [0, 1_900_000_000, "0", "2031-01-02", "2031-01-02T00:00:00",
                                        "2031-01-02 00:00:00Z", "2031-13-02T00:00:00Z",
                                        "0089-10-23T19:50:33Z", "1969-12-31T23:59:59Z"])
async def test_an_expiry_that_is_not_rfc_3339_with_an_offset_is_400(
    api: Api, expires_on: object
) -> None:
    created = await api.call("secrets_create", json_body={
        "scope": "acme", "name": "n", "value": "Zx-expiry", "expires_on": expires_on})
    updated = await api.call("secrets_update", route={"scope": "acme", "name": "n"},
                             json_body={"value": "Zx-expiry", "expires_on": expires_on})
    assert (created.status, created.error) == (400, "invalid_request")
    assert (updated.status, updated.error) == (400, "invalid_request")
