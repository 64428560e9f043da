"""Hostile input: every answer is a 4xx, and neither the table nor the vault changes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.conftest import Api

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("stores_unchanged")]

BAD_ORGS = [
    "acme'", "acme' or PartitionKey ne '", "..", "../GLOBAL", "a" * 5000, "ácme", "acme--x",
    "-acme", "acme/../beta", "acme%27", " acme", "acme\x00", "😀", "GLOBAL'",
]
BAD_KEYS = [
    "k' or RowKey ne '", "..", "k" * 5000, "ключ", "1starts-with-digit", "k ey", "k\x00",
    "k/../x", "RowKey eq 'x'",
]
BAD_SECRET_NAMES = ["..", "a--b", "-a", "a-", "a" * 100, "päss", "a b", "a'b", "a/b", ""]
DEEP = b'{"value": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


@pytest.mark.parametrize("org", BAD_ORGS)
async def test_bad_org_ids_are_400_on_every_org_route(api: Api, org: str) -> None:
    for function, route, body in [
        ("config_list", {"org": org}, None),
        ("config_get", {"org": org, "key": "k"}, None),
        ("config_put", {"org": org, "key": "k"}, {"value": "v"}),
        ("config_delete", {"org": org, "key": "k"}, None),
        ("workflow_run", {"org": org, "name": "api-test-echo"}, {}),
    ]:
        response = await api.call(function, route=route, json_body=body)
        assert response.status == 400, (function, response.text)


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_bad_config_keys_are_400(api: Api, key: str) -> None:
    for function in ("config_get", "config_put", "config_delete"):
        response = await api.call(function, route={"org": "acme", "key": key},
                                  json_body={"value": "v"} if function == "config_put" else None)
        assert (response.status, response.error) == (400, "invalid_name"), function


@pytest.mark.parametrize("name", BAD_SECRET_NAMES)
async def test_bad_secret_names_are_400(api: Api, name: str) -> None:
    created = await api.call("secrets_create",
                             json_body={"scope": "acme", "name": name, "value": "Zx-hostile"})
    assert created.status == 400
    if name:
        for function, body in [("secrets_update", {"value": "Zx-hostile"}),
                               ("secrets_delete", None), ("secrets_recover", None)]:
            response = await api.call(function, route={"scope": "acme", "name": name},
                                      json_body=body)
            assert response.status == 400, function


@pytest.mark.parametrize("scope", ["acme' or 1 eq 1", "..", "x" * 300, "glöbal", ""])
async def test_bad_scopes_are_400(api: Api, scope: str) -> None:
    listed = await api.call("secrets_list", query={"scope": scope})
    created = await api.call("secrets_create",
                             json_body={"scope": scope, "name": "n", "value": "Zx-hostile"})
    assert (listed.status, created.status) == (400, 400)


@pytest.mark.parametrize("body", [
    b"", b"   ", b"not json", b"{", b"[]", b'"text"', b"null", b"42", b"\xff\xfe\x00",
    b'{"value": NaN}', b'{"value": Infinity}', b'{"value": "v", "extra": 1}',
    b'{"type": 5, "value": "v"}', b'{"type": ["string"], "value": "v"}', b'{"type": "string"}',
    b'{"value": "v", "description": 7}', b'{"value": "v", "description": "' + b"d" * 2000 + b'"}',
    b'{"value": "' + b"x" * 40_000 + b'"}', b'{"value": "a\\u0000b"}', b"x" * 300_000, DEEP,
    b'{"value": ' + b"1" * 5000 + b"}",
])
async def test_bad_config_bodies_are_4xx(api: Api, body: bytes) -> None:
    response = await api.call("config_put", route={"org": "acme", "key": "k"}, body=body)
    assert 400 <= response.status < 500, response.text


@pytest.mark.parametrize("body", [
    {}, {"scope": "acme", "name": "n"}, {"scope": "acme", "name": "n", "value": ""},
    {"scope": "acme", "name": "n", "value": 123}, {"scope": "acme", "name": "n", "value": None},
    {"scope": "acme", "name": "n", "value": ["Zx-in-a-list"]},
    {"scope": "acme", "name": "n", "value": "Zx-hostile", "enabled": False},
    {"scope": 5, "name": "n", "value": "Zx-hostile"},
    {"scope": "acme", "name": "n", "value": "Zx" + "x" * 30_000},
])
async def test_bad_secret_bodies_are_400_without_the_value(api: Api, body: dict[str, Any]) -> None:
    response = await api.call("secrets_create", body=json.dumps(body).encode())
    assert response.status == 400
    assert "Zx" not in response.text


@pytest.mark.parametrize("force", ["maybe", "TRUE'", "2"])
async def test_bad_force_flags_are_400(api: Api, force: str) -> None:
    response = await api.call("secrets_delete", route={"scope": "acme", "name": "n"},
                              query={"force": force})
    assert (response.status, response.error) == (400, "invalid_query")


async def test_hostile_workflow_names_are_404(api: Api) -> None:
    for name in ["..", "../../etc/passwd", "x" * 5000, "api-test-echo'", "ñ"]:
        response = await api.call("workflow_run", route={"org": "acme", "name": name},
                                  json_body={})
        assert response.status == 404
        assert len(response.text) < 2000


@pytest.mark.parametrize("value", [
    "[" * 15_000 + "]" * 15_000, "{\"a\":" * 5_000 + "1" + "}" * 5_000, "[" * 65 + "]" * 65,
])
async def test_a_json_value_nested_too_deeply_is_400_invalid_value(api: Api, value: str) -> None:
    response = await api.call("config_put", route={"org": "acme", "key": "k"},
                              json_body={"type": "json", "value": value})
    assert (response.status, response.error) == (400, "invalid_value"), response.text
    assert "64 levels" in response.json()["message"]
