"""The vault's data model: secrets, versions, writable attributes and Key Vault's errors.

Nothing here knows about HTTP: a :class:`VaultError` carries the status, code and message
Key Vault would answer with, and the server turns that into JSON.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any, TypeGuard

NAME_RE = re.compile(r"^[0-9a-zA-Z-]{1,127}$")
RECOVERY_LEVEL = "Recoverable+Purgeable"
RECOVERABLE_DAYS = 90
_NOT_FOUND_HELP = (
    "If you recently deleted this secret you may be able to recover it using the correct "
    "recovery command. For help resolving this issue, please see "
    "https://go.microsoft.com/fwlink/?linkid=2125182"
)


class VaultError(Exception):
    """An error Key Vault would answer with: HTTP status, error code, message, inner code."""

    def __init__(self, status: int, code: str, message: str, inner: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.inner = inner

    def body(self) -> dict[str, Any]:
        """The error in Key Vault's JSON shape."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.inner:
            error["innererror"] = {"code": self.inner}
        return {"error": error}


def bad_parameter(message: str) -> VaultError:
    """A 400 ``BadParameter`` error."""
    return VaultError(400, "BadParameter", message)


def is_number(value: object) -> TypeGuard[int | float]:
    """True for JSON numbers (``bool`` is an ``int`` subclass but not a number here)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def validate_name(name: str) -> None:
    """Raise 400 ``BadParameter`` unless ``name`` is a legal Key Vault object name."""
    if not NAME_RE.match(name):
        raise bad_parameter(f"The request URI contains an invalid name: {name}")


@dataclass
class SecretVersion:
    """One immutable value of a secret plus its (mutable) properties."""

    version: str
    value: str
    content_type: str | None = None
    tags: dict[str, str] | None = None
    enabled: bool = True
    nbf: int | None = None
    exp: int | None = None
    created: int = 0
    updated: int = 0


@dataclass
class Secret:
    """All versions of one secret; ``name`` keeps the case used at first creation."""

    name: str
    versions: dict[str, SecretVersion] = field(default_factory=dict)
    latest: str = ""
    deleted_date: int | None = None
    scheduled_purge_date: int | None = None

    @property
    def current(self) -> SecretVersion:
        """The latest version (what ``GET /secrets/{name}`` returns)."""
        return self.versions[self.latest]


@dataclass
class Attributes:
    """Writable attributes from a request body; ``None`` means "not given"."""

    enabled: bool | None = None
    nbf: int | None = None
    exp: int | None = None
    # Which of nbf/exp were present (even as null), so PATCH can clear them.
    given: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, raw: Any) -> Attributes:
        """Validate the ``attributes`` object of a set/update request body."""
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            raise bad_parameter("Property attributes must be an object")
        enabled = raw.get("enabled")
        if enabled is not None and not isinstance(enabled, bool):
            raise bad_parameter("Property attributes.enabled must be a boolean")
        stamps: dict[str, int | None] = {}
        for key in ("nbf", "exp"):
            value = raw.get(key)
            if value is not None and not is_number(value):
                raise bad_parameter(f"Property attributes.{key} must be a Unix timestamp")
            stamps[key] = None if value is None else int(value)
        given = frozenset(k for k in ("enabled", "nbf", "exp") if k in raw)
        return cls(enabled=enabled, nbf=stamps["nbf"], exp=stamps["exp"], given=given)


def new_version() -> str:
    # Key Vault version ids are 32 lower-case hex characters.
    return secrets.token_hex(16)


def check_tags(tags: Any) -> dict[str, str] | None:
    if tags is None:
        return None
    if not isinstance(tags, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in tags.items()
    ):
        raise bad_parameter("Property tags must be an object of string values")
    if len(tags) > 15:  # Key Vault's documented limit
        raise bad_parameter("The number of tags exceeds the maximum of 15")
    return dict(tags)


def check_content_type(content_type: Any) -> str | None:
    if content_type is not None and not isinstance(content_type, str):
        raise bad_parameter("Property contentType must be a string")
    return content_type


def not_found(name: str, version: str | None = None) -> VaultError:
    """Key Vault's 404 for an unknown (or unknown version of a) secret."""
    ident = f"{name}/{version}" if version else name
    return VaultError(
        404,
        "SecretNotFound",
        f"A secret with (name/id) {ident} was not found in this key vault. {_NOT_FOUND_HELP}",
    )


def deleted_not_found(name: str) -> VaultError:
    """Key Vault's 404 for a name that is not in the soft-deleted collection."""
    return VaultError(404, "SecretNotFound", f"Deleted Secret not found: {name}")
