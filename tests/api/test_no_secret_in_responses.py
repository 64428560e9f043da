"""No secret value in any response but its one-time echo (the ``api`` fixture checks every
response of every test; these tests exercise the check itself and a whole lifecycle)."""

from __future__ import annotations

from typing import Any

import pytest

from shared.api import config
from shared.api.auth import parse_principal
from shared.api.routing import Call
from shared.resolver import ConfigResolver
from tests.api.conftest import ADMIN, Api, Response, Table, Vault

pytestmark = pytest.mark.integration


def test_the_leak_check_flags_a_value_outside_its_echo() -> None:
    api = Api(functions={}, secrets={"Zx-s"})
    api.responses = [
        Response("secrets_create", 201, {}, '{"value": "Zx-s"}'),
        Response("secrets_list", 200, {}, '{"note": "Zx-s"}'),
        Response("config_get", 200, {"X-Debug": "Zx-s"}, "{}"),
    ]
    assert api.leaks() == ["secrets_list 200", "config_get 200"]


def test_the_leak_check_flags_an_echo_of_another_value() -> None:
    api = Api(functions={}, secrets={"Zx-a", "Zx-b"})
    api.responses = [Response("secrets_update", 200, {}, '{"value": "Zx-a", "old": "Zx-b"}')]
    assert api.leaks() == ["secrets_update 200"]


async def test_a_whole_secret_lifecycle_shows_values_only_in_their_echoes(
    api: Api, table: Table, vault: Vault
) -> None:
    await vault.set("GLOBAL--psa-api-key", "Zx-global-psa")
    steps: list[tuple[str, dict[str, Any]]] = [
        ("secrets_create", {"json_body": {"scope": "acme", "name": "smtp-password",
                                          "value": "Zx-life-1"}}),
        ("config_put", {"route": {"org": "acme", "key": "pwd"},
                        "json_body": {"type": "secret_ref", "value": "smtp-password"}}),
        ("secrets_list", {"query": {"scope": "acme"}}),
        ("secrets_update", {"route": {"scope": "acme", "name": "smtp-password"},
                            "json_body": {"value": "Zx-life-2"}}),
        ("workflow_run", {"route": {"org": "acme", "name": "api-test-read"},
                          "json_body": {"key": "pwd"}}),
        ("config_list", {"route": {"org": "acme"}}),
        ("config_get", {"route": {"org": "acme", "key": "pwd"}}),
        ("secrets_create", {"json_body": {"scope": "acme", "name": "smtp-password",
                                          "value": "Zx-life-3"}}),
        ("secrets_delete", {"route": {"scope": "acme", "name": "smtp-password"}}),
        ("secrets_delete", {"route": {"scope": "acme", "name": "smtp-password"},
                            "query": {"force": "true"}}),
        ("secrets_update", {"route": {"scope": "acme", "name": "smtp-password"},
                            "json_body": {"value": "Zx-life-4"}}),
        ("secrets_recover", {"route": {"scope": "acme", "name": "smtp-password"}}),
        ("health_keyvault", {}),
        ("openapi", {"principal": None}),
    ]
    statuses = [(await api.call(function, **kwargs)).status for function, kwargs in steps]
    assert statuses == [201, 200, 200, 200, 200, 200, 200, 409, 409, 200, 404, 200, 200, 200]
    echoes = [r.json()["value"] for r in api.responses if r.status in (200, 201)
              and r.function in ("secrets_create", "secrets_update")]
    assert echoes == ["Zx-life-1", "Zx-life-2"]
    assert api.leaks() == []


async def test_handlers_run_without_http(api: Api, table: Table) -> None:
    await table.seed(("acme", "k", "v"))
    async with ConfigResolver() as resolver:
        call: Call[None] = Call(parse_principal(ADMIN), {"org": "acme"}, None,
                                resolver_factory=lambda: resolver)
        listed = await config.list_entries(call)
    assert [(e.key, e.value) for e in listed.entries] == [("k", "v")]
