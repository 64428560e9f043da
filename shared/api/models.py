"""Request and response bodies of the HTTP API (pydantic; the OpenAPI schemas come from here).

Request models forbid unknown fields, so a typo is a 400 rather than silently ignored.
A secret value arrives as ``SecretStr`` (never in a repr or a log) and leaves only in
:class:`SecretEcho`, the one-time echo after a create or an update.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal, cast

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    RootModel,
    SecretStr,
    WithJsonSchema,
    field_validator,
)

from shared.api.params import SCOPE_SCHEMA, SECRET_NAME_SCHEMA
from shared.core.values import MAX_VALUE_CHARS, ConfigEntry, ValueType, parse_value
from shared.errors import ConfigError, ConfigProblem

_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _rfc3339(value: object) -> object:
    """An RFC 3339 date-time string with its offset, as the schema says; pydantic alone
    would also take a number (seconds since 1970) or a date-time without a time zone."""
    if value is None:
        return value
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError("must be an RFC 3339 date-time with an offset, e.g. "
                         "2031-01-02T00:00:00Z")
    try:
        parsed = datetime.fromisoformat(value.upper())
    except ValueError:  # e.g. month 13
        raise ValueError("is not a valid date-time") from None
    if parsed < _EPOCH:
        # Key Vault keeps times as seconds since 1970; the catalog's table cannot hold
        # years before 1601 (and the SDK writes years before 1000 unreadably).
        raise ValueError("must not be before 1970-01-01T00:00:00Z")
    return parsed


#: A date-time a request sends: RFC 3339 text with an offset (``2031-01-02T00:00:00Z``),
#: from 1970 on (the pattern states the year: 1970-9999).
DateTimeText = Annotated[datetime, BeforeValidator(_rfc3339), WithJsonSchema({
    "type": "string", "format": "date-time", "pattern": "^(19[7-9][0-9]|[2-9][0-9]{3})-",
})]

#: Key Vault accepts secret values up to 25 KiB.
MAX_SECRET_CHARS = 25 * 1024
SecretValue = Annotated[SecretStr, Field(min_length=1, max_length=MAX_SECRET_CHARS)]


class Request(BaseModel):
    """Base of request bodies: unknown fields are an error."""

    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    """Every error: a machine-readable code and a message that says what to do."""

    model_config = ConfigDict(extra="allow")

    error: str = Field(examples=["invalid_name"])
    message: str


# -- config ------------------------------------------------------------------------------
class ConfigEntryOut(BaseModel):
    """One config entry. For ``secret_ref`` the value is the secret's name, never its value."""

    scope: str
    key: str
    type: str
    #: the stored text (as Table Storage holds it); ``typed_value`` is the value as its type
    value: str
    typed_value: JsonValue = Field(
        default=None, description="the value as its type parses it (a number for int and "
        "float, a boolean for bool, the JSON value for json, the text for string and the "
        "secret's name for secret_ref); null when the stored text does not parse")
    description: str | None = None
    updated_at: str | None = None
    updated_by: str | None = None
    etag: str | None = None

    @classmethod
    def of(cls, entry: ConfigEntry) -> ConfigEntryOut:
        try:
            typed = parse_value(entry)
            value = entry.value
        except ConfigError:
            # a value that does not parse as its type may be a misplaced secret: not shown
            typed, value = None, f"(stored value is not a valid {entry.type})"
        return cls(
            scope=entry.scope, key=entry.key, type=entry.type, value=value, typed_value=typed,
            description=entry.description, updated_at=entry.updated_at,
            updated_by=entry.updated_by, etag=entry.etag,
        )


class ConfigList(BaseModel):
    """The entries of one scope (an org or ``GLOBAL``), sorted by key."""

    scope: str
    entries: list[ConfigEntryOut]


class ConfigWrite(Request):
    """PUT body of a config entry. ``value`` may be the JSON value itself for type ``json``,
    a number for ``int``/``float`` and a boolean for ``bool``."""

    type: ValueType = "string"
    value: JsonValue = Field(description=f"at most {MAX_VALUE_CHARS} characters once stored")
    description: str | None = Field(default=None, max_length=1024)

    @field_validator("description")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError("description must not contain a NUL character")
        return value


class ConfigWritten(ConfigEntryOut):
    """The stored entry, with warnings (e.g. a ``secret_ref`` to a secret that does not exist)."""

    warnings: list[str] = []


# -- orgs ----------------------------------------------------------------------------------
class SecretResolutionOut(BaseModel):
    """Where a ``secret_ref`` resolves for an org, and the names tried in order. No value."""

    secret_name: str
    resolved_from: Literal["org_secret", "global_secret", "env", "nowhere", "error"]
    source: str | None = Field(default=None, examples=["keyvault:acme--smtp-password"])
    tried: list[str] = []


class EffectiveEntryOut(BaseModel):
    """One key as an org sees it: its entry (the org's own or GLOBAL's) and, for a
    ``secret_ref``, where the secret resolves. ``value`` is null for a ``secret_ref``."""

    key: str
    type: str
    scope: str = Field(description="where the entry lives: the org itself or GLOBAL")
    value: str | None = None
    description: str | None = None
    updated_at: str | None = None
    updated_by: str | None = None
    etag: str | None = None
    secret: SecretResolutionOut | None = None
    problem: str | None = Field(default=None, description="why a workflow's read would fail")


class EffectiveConfig(BaseModel):
    """Every key an org (or GLOBAL) sees, sorted by key."""

    scope: str
    entries: list[EffectiveEntryOut]
    problems: int = Field(description="entries with a problem (e.g. a dangling secret_ref)")


# -- secrets -----------------------------------------------------------------------------
class ConfigRef(BaseModel):
    """A config entry that references a secret by name."""

    scope: str
    key: str


class DanglingRef(ConfigRef):
    """A ``secret_ref`` entry whose secret exists in no listed scope."""

    secret_name: str


class SecretSummary(BaseModel):
    """A secret's name and metadata, and the config entries naming it. Never its value."""

    scope: str
    name: str
    vault_name: str
    #: the vault holding it: ``default`` (AZURE_KEY_VAULT_URL) or a shard's name
    vault: str = "default"
    enabled: bool | None = None
    created_on: datetime | None = None
    updated_on: datetime | None = None
    expires_on: datetime | None = None
    #: ``expired``, or ``expiring`` within SECRET_EXPIRY_WARNING_DAYS; None otherwise
    expiry: Literal["expired", "expiring"] | None = None
    updated_by: str | None = Field(
        default=None, description="who wrote the current version through orgconfig (the "
        "`orgconfig-updated-by` tag); null when written directly in Key Vault")
    referenced_by: list[ConfigRef] = []


class SecretList(BaseModel):
    """The secrets an org can resolve: its own and GLOBAL's."""

    scope: str
    secrets: list[SecretSummary]
    unresolved_references: list[DanglingRef] = []


class SecretCreate(Request):
    """POST secrets: a new secret in ``scope`` (an org id or ``GLOBAL``)."""

    # The handler validates both with shared.core.naming (400 invalid_name); the schemas
    # document the same rules.
    scope: str = Field(json_schema_extra=SCOPE_SCHEMA)
    name: str = Field(json_schema_extra=SECRET_NAME_SCHEMA)
    value: SecretValue
    expires_on: DateTimeText | None = Field(default=None, description="optional expiry (Key "
                                        "Vault's `exp`; reads keep working after it)")


class SecretUpdate(Request):
    """PUT secrets/{scope}/{name}: the value of a new version."""

    value: SecretValue
    expires_on: DateTimeText | None = Field(default=None, description="optional expiry of the "
                                        "new version")


class SecretVersionOut(BaseModel):
    """One version's metadata (never its value)."""

    version: str
    current: bool = Field(description="the version reads return")
    enabled: bool | None = None
    created_on: datetime | None = None
    updated_on: datetime | None = None
    expires_on: datetime | None = None
    updated_by: str | None = None
    rolled_back_from: str | None = Field(default=None, description="for a version made by a "
                                         "rollback: the version whose value it copies")


class SecretVersions(BaseModel):
    """A secret's versions, newest (current) first."""

    scope: str
    name: str
    vault_name: str
    versions: list[SecretVersionOut]


class SecretRollback(Request):
    """POST secrets/{scope}/{name}/rollback: the earlier version to make current."""

    version: str = Field(pattern=r"^[A-Za-z0-9]{1,64}$")


class SecretRolledBack(BaseModel):
    """The new current version, which carries ``restored_from``'s value (not shown)."""

    scope: str
    name: str
    vault_name: str
    version: str | None = None
    restored_from: str


class DeletedSecretOut(BaseModel):
    """A soft-deleted secret, recoverable until ``scheduled_purge_date``."""

    scope: str
    name: str
    vault_name: str
    recoverable: bool
    deleted_on: datetime | None = None
    scheduled_purge_date: datetime | None = None


class DeletedSecretList(BaseModel):
    """The soft-deleted secrets of an org and GLOBAL."""

    scope: str
    secrets: list[DeletedSecretOut]


class SecretEcho(BaseModel):
    """The one response that carries a secret value: right after it was written."""

    scope: str
    name: str
    vault_name: str
    #: the vault it was written to: ``default`` (AZURE_KEY_VAULT_URL) or a shard's name
    vault: str = "default"
    version: str | None = None
    value: str
    notice: str = "this is the only response that shows the value; store it now if needed"


class SecretDeleted(BaseModel):
    """A soft-deleted secret: recoverable with ``POST secrets/{scope}/{name}/recover``
    until ``scheduled_purge_date``."""

    scope: str
    name: str
    vault_name: str
    recoverable: bool
    scheduled_purge_date: datetime | None = None
    forced: bool = False
    references: list[ConfigRef] = []


class SecretRecovered(BaseModel):
    """A soft-deleted secret made active again (with its previous versions)."""

    scope: str
    name: str
    vault_name: str
    recovered: bool = True


# -- history -------------------------------------------------------------------------------
class HistoryItemOut(BaseModel):
    """An entry's state after one change (``type``/``value`` absent after a delete); a
    ``secret_ref``'s value is the secret's name, never a secret value."""

    id: str
    key: str
    at: str
    by: str | None = None
    action: Literal["put", "delete", "rollback", "import", "baseline"]
    type: str | None = None
    value: str | None = None
    description: str | None = None


class HistoryPage(BaseModel):
    """Items newest first; ``next`` pages on (``after=next``), ``null`` at the end."""

    items: list[HistoryItemOut]
    next: str | None = None


class ConfigRollback(Request):
    """Restore the state of a history item as a new change."""

    to: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
                    description="the `id` of a history item of this key")


# -- workflows ---------------------------------------------------------------------------
class WorkflowParams(RootModel[dict[str, JsonValue]]):
    """A workflow's parameters: a JSON object (an empty body means ``{}``)."""


class WorkflowRun(BaseModel):
    """What a workflow returned."""

    workflow: str
    org_id: str
    result: dict[str, JsonValue]


# -- declared config and readiness ---------------------------------------------------------
class ConfigProblemOut(BaseModel):
    """One declared config key an org's config does not satisfy (never a value)."""

    key: str = Field(examples=["smtp_password"])
    problem: Literal["missing", "wrong_type", "invalid", "secret_missing", "secret_disabled",
                     "secret_expired"]
    message: str
    expected_type: ValueType | None = Field(
        default=None, examples=["int"], description="a stored type that fits the key's "
        "declared field (for a form to offer); null when any non-secret type fits or it is "
        "not known")
    secret: str | None = Field(
        default=None, examples=["smtp-password"], description="for a secret_* problem, the "
        "secret name the key's secret_ref entry refers to (a name, never a value); else null")

    @classmethod
    def of(cls, problem: ConfigProblem) -> ConfigProblemOut:
        return cls(key=problem.key, problem=problem.problem, message=problem.message,
                   expected_type=cast("ValueType | None", problem.expected_type),
                   secret=problem.secret)


class WorkflowReadinessOut(BaseModel):
    """Whether a workflow's declared config fits the org's config (a workflow that declares
    none is ready)."""

    name: str
    ready: bool
    problems: list[ConfigProblemOut]


class OrgReadinessOut(BaseModel):
    """Every registered workflow's readiness for one org. Read without any secret value:
    secrets from the catalog or the vault's metadata."""

    org: str
    workflows: list[WorkflowReadinessOut]


class FleetOrgReadiness(OrgReadinessOut):
    """One org of the fleet view, with its counts."""

    ready: int = Field(description="workflows ready for this org")
    not_ready: int = Field(description="workflows not ready for this org")


class FleetReadiness(BaseModel):
    """A page of orgs x workflows: ``next`` pages on (``after=next``), ``null`` at the end."""

    workflows: list[str] = Field(description="every registered workflow")
    orgs: list[FleetOrgReadiness]
    ready_orgs: int = Field(description="orgs of this page for which every workflow is ready")
    next: str | None = None
