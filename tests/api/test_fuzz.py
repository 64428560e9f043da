"""Fuzzing the HTTP API with random and hostile input: never a 500, never a leak, and a
rejected request changes nothing in the table or the vault."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import ACME_MEMBER, ADMIN, Api, Table, Vault

pytestmark = pytest.mark.integration

HOSTILE = ["acme", "GLOBAL", "global", "beta", "smtp_host", "smtp-password", "acme--x", "..",
           "../GLOBAL", "' or 1 eq 1 or '", "PartitionKey eq 'GLOBAL'", "a" * 300, "ácme",
           "\x00", "", " ", "%2e%2e", "k.e-y_1", "😀", "null", "[]", "{}"]
text = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=30))
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
              st.sampled_from(HOSTILE), st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.sampled_from(
                                ["value", "type", "scope", "name", "description", "force"]),
                                inner, max_size=5)),
    max_leaves=12,
)
bodies = st.one_of(
    st.none(),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=64),
    st.sampled_from([b"", b"{", b"not json", b'{"value": 1e999}', b"\xff\xfe",
                     b'{"type": "secret_ref", "value": "acme--x"}',
                     b'{"type": "int", "value": "Zx-fuzz-secret"}']),
)
ROUTE_PARAMS = ["org", "key", "scope", "name"]


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    function=st.sampled_from([
        "config_list", "config_get", "config_put", "config_delete", "secrets_list",
        "secrets_create", "secrets_update", "secrets_delete", "secrets_recover",
        "workflow_run", "health_keyvault",
    ]),
    route=st.fixed_dictionaries({}, optional={p: text for p in ROUTE_PARAMS}),
    query=st.dictionaries(st.sampled_from(["scope", "force", "x"]), text, max_size=2),
    body=bodies,
    principal=st.sampled_from([ADMIN, ACME_MEMBER, None, "garbage", "e30="]),
    if_match=st.one_of(st.none(), text),
)
async def test_random_requests_never_500_and_rejections_change_nothing(
    api: Api, table: Table, vault: Vault, function: str, route: dict[str, str],
    query: dict[str, str], body: bytes | None, principal: str | None, if_match: str | None,
) -> None:
    route = {"org": "acme", "key": "k", "scope": "acme", "name": "n", **route}
    headers = {"If-Match": if_match} if if_match is not None and "\x00" not in if_match else {}
    before = (await table.state(), await vault.state())
    response = await api.call(function, principal=principal, route=route, query=query,
                              body=body, headers=headers)
    assert response.status < 500 or response.status == 503, (function, response.text)
    body_json: Any = response.json() if response.text else None
    if response.status >= 400:
        assert isinstance(body_json, dict) and {"error", "message"} <= set(body_json)
        assert (await table.state(), await vault.state()) == before, (function, response.text)
    assert "Zx-fuzz-secret" not in response.text
    assert api.leaks() == []
