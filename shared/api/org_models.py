"""Request and response bodies of the org routes (pydantic; the OpenAPI schemas come from
here)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from shared.api.models import Request


class OrgOut(BaseModel):
    """A registered organization."""

    id: str
    display_name: str
    status: Literal["active", "suspended"]
    created_at: str | None = None
    created_by: str | None = None


class ScopeList(BaseModel):
    """``GLOBAL`` and every org that has config entries (``scopes``), and the registered
    orgs (``orgs``; empty while the registry is off)."""

    scopes: list[str]
    orgs: list[OrgOut] = Field(default_factory=list)
    registry: Literal["on", "off"] = "off"


#: printable text with one non-space character at least (what the registry stores)
DISPLAY_NAME_PATTERN = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"


class OrgCreate(Request):
    """Register an org: its id (canonicalized; ``global`` is reserved) and a display name."""

    id: str = Field(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$")
    display_name: str | None = Field(default=None, min_length=1, max_length=256,
                                     pattern=DISPLAY_NAME_PATTERN)


class OrgUpdate(Request):
    """Rename an org and/or suspend or reactivate it."""

    display_name: str | None = Field(default=None, min_length=1, max_length=256,
                                     pattern=DISPLAY_NAME_PATTERN)
    status: Literal["active", "suspended"] | None = None
