"""Who the audit trail names: a stable user id with the display name, on one line each,
in the audit records and in ``UpdatedBy``."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from shared.core.audit import dimensions
from tests.api.conftest import Api, encode

OID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier"
NAME_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
FORGED = "Sam Lee\n2026-11-24 INFO orgconfig.audit config.delete by admin on GLOBAL/k"


def principal(oid: str, name: str, *roles: str) -> str:
    claims = [{"typ": OID_CLAIM, "val": oid}, {"typ": NAME_CLAIM, "val": name}]
    claims += [{"typ": "roles", "val": role} for role in roles]
    return encode({"auth_typ": "aad", "claims": claims, "name_typ": NAME_CLAIM})


def audit_dimensions(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [dimensions(r) for r in caplog.records
            if r.name == "orgconfig.audit"]


async def test_two_admins_with_one_display_name_are_told_apart(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    for oid in ("oid-1", "oid-2"):
        answer = await api.call("config_put", principal=principal(oid, "Sam Lee", "PlatformAdmin"),
                                route={"org": "acme", "key": "k"}, json_body={"value": oid})
        assert answer.status == 200
        assert answer.json()["updated_by"] == f"Sam Lee <{oid}>"
    writes = [(d["actor_id"], d["actor_name"]) for d in audit_dimensions(caplog)
              if d.get("action") == "config.put"]
    assert writes == [("oid-1", "Sam Lee"), ("oid-2", "Sam Lee")]


async def test_a_display_name_with_a_newline_cannot_forge_a_log_line(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="orgconfig")
    forger = principal("oid-3", FORGED, "PlatformAdmin")
    answer = await api.call("config_put", principal=forger, route={"org": "acme", "key": "k"},
                            json_body={"value": "v"})
    assert answer.status == 200
    assert "\n" not in answer.json()["updated_by"]
    stored = await api.call("config_get", route={"org": "acme", "key": "k"})
    assert "\n" not in stored.json()["updated_by"]
    (write,) = [r for r in caplog.records if r.name == "orgconfig.audit"]
    assert "\n" not in write.getMessage()
    assert dimensions(write)["actor_id"] == "oid-3"
    assert all("\n" not in r.getMessage() for r in caplog.records
               if r.name.startswith("orgconfig"))


async def test_a_workflow_run_record_names_its_caller(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    answer = await api.call("workflow_run", principal=principal("oid-4", "Member", "org:acme"),
                            route={"org": "acme", "name": "psa-ticket"}, json_body={})
    (run,) = [d for d in audit_dimensions(caplog) if d["event"] == "workflow.run"]
    assert (run["workflow"], run["org_id"], run["actor_id"]) == ("psa-ticket", "acme", "oid-4")
    expected = {200: "ok", 424: "config_not_ready"}.get(answer.status, "error")
    assert run["outcome"] == expected
