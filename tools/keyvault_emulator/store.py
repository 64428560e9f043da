"""In-memory secret store with versions and soft-delete, mirroring Key Vault semantics.

The store knows nothing about HTTP: it raises :class:`VaultError` carrying the status,
code and message Key Vault would answer with, and the server turns that into JSON.
Persistence is optional: give a path and every write replaces the JSON file atomically,
so a killed emulator never leaves a half-written file behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

NAME_RE = re.compile(r"^[0-9a-zA-Z-]{1,127}$")
RECOVERY_LEVEL = "Recoverable+Purgeable"
RECOVERABLE_DAYS = 90
_DAY = 86400
_FORMAT = 1  # version of the JSON persistence format
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


def _new_version() -> str:
    # Key Vault version ids are 32 lower-case hex characters.
    return secrets.token_hex(16)


def _check_tags(tags: Any) -> dict[str, str] | None:
    if tags is None:
        return None
    if not isinstance(tags, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in tags.items()
    ):
        raise bad_parameter("Property tags must be an object of string values")
    if len(tags) > 15:  # Key Vault's documented limit
        raise bad_parameter("The number of tags exceeds the maximum of 15")
    return dict(tags)


def _check_content_type(content_type: Any) -> str | None:
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


class SecretStore:
    """Secrets keyed by lower-cased name; active and soft-deleted kept apart.

    ``path`` enables JSON persistence (loaded now, rewritten after each change).
    ``clock`` returns epoch seconds and exists so unit tests can move time.
    """

    def __init__(
        self, path: Path | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = path
        self.clock = clock
        self.active: dict[str, Secret] = {}
        self.deleted: dict[str, Secret] = {}
        if path is not None and path.exists():
            self._load(path)

    # -- queries ---------------------------------------------------------------------------

    def _now(self) -> int:
        return int(self.clock())

    def _active(self, name: str) -> Secret:
        validate_name(name)
        secret = self.active.get(name.lower())
        if secret is None:
            raise not_found(name)
        return secret

    def _version(self, secret: Secret, name: str, version: str | None) -> SecretVersion:
        if not version:
            return secret.current
        # Version ids are hex; Key Vault matches them case-insensitively.
        found = secret.versions.get(version.lower())
        if found is None:
            raise not_found(name, version)
        return found

    def get(self, name: str, version: str | None = None) -> tuple[Secret, SecretVersion]:
        """The latest (or given) version; 403 ``Forbidden`` when that version is disabled.

        Expired and not-yet-valid versions are returned: Key Vault documents that a secret's
        get works outside the nbf/exp window (only disabled secrets are refused).
        """
        secret = self._active(name)
        found = self._version(secret, name, version)
        if not found.enabled:
            raise VaultError(
                403, "Forbidden", "Operation get is not allowed on a disabled secret.",
                "SecretDisabled",
            )
        return secret, found

    def list_secrets(self) -> list[Secret]:
        """Active secrets ordered by lower-cased name (the paging order)."""
        return [self.active[k] for k in sorted(self.active)]

    def list_versions(self, name: str) -> tuple[Secret | None, list[SecretVersion]]:
        """All versions, ordered by version id like Key Vault; none for an unknown name."""
        validate_name(name)
        secret = self.active.get(name.lower())
        if secret is None:
            return None, []
        return secret, [secret.versions[v] for v in sorted(secret.versions)]

    def list_deleted(self) -> list[Secret]:
        """Soft-deleted secrets ordered by lower-cased name."""
        return [self.deleted[k] for k in sorted(self.deleted)]

    def get_deleted(self, name: str) -> Secret:
        """A soft-deleted secret, or 404."""
        validate_name(name)
        secret = self.deleted.get(name.lower())
        if secret is None:
            raise deleted_not_found(name)
        return secret

    # -- writes ----------------------------------------------------------------------------

    def set(
        self,
        name: str,
        value: Any,
        *,
        content_type: Any = None,
        tags: Any = None,
        attributes: Attributes | None = None,
    ) -> tuple[Secret, SecretVersion]:
        """Add a new version (creating the secret when needed); 409 if soft-deleted."""
        validate_name(name)
        if not isinstance(value, str):
            raise bad_parameter("Property value is required and must be a string")
        key = name.lower()
        if key in self.deleted:
            raise VaultError(
                409,
                "Conflict",
                f"Secret {self.deleted[key].name} is currently in a deleted but recoverable "
                "state, and its name cannot be reused; in this state, the secret can only be "
                "recovered or purged.",
                "ObjectIsDeletedButRecoverable",
            )
        attrs = attributes or Attributes()
        now = self._now()
        version = SecretVersion(
            version=_new_version(),
            value=value,
            content_type=_check_content_type(content_type),
            tags=_check_tags(tags),
            enabled=True if attrs.enabled is None else attrs.enabled,
            nbf=attrs.nbf,
            exp=attrs.exp,
            created=now,
            updated=now,
        )
        secret = self.active.setdefault(key, Secret(name=name))
        secret.versions[version.version] = version
        secret.latest = version.version
        self._save()
        return secret, version

    def update(
        self,
        name: str,
        version: str | None,
        *,
        body: dict[str, Any],
    ) -> tuple[Secret, SecretVersion]:
        """PATCH semantics: only properties present in ``body`` change; tags are replaced."""
        secret = self._active(name)
        found = self._version(secret, name, version)
        attrs = Attributes.parse(body.get("attributes"))
        content_type = _check_content_type(body.get("contentType"))
        tags = _check_tags(body.get("tags"))
        if "contentType" in body:
            found.content_type = content_type
        if "tags" in body:
            found.tags = tags
        if attrs.enabled is not None:
            found.enabled = attrs.enabled
        if "nbf" in attrs.given:
            found.nbf = attrs.nbf
        if "exp" in attrs.given:
            found.exp = attrs.exp
        found.updated = self._now()
        self._save()
        return secret, found

    def delete(self, name: str) -> Secret:
        """Soft-delete every version; the secret moves to the deleted collection."""
        secret = self._active(name)
        key = name.lower()
        now = self._now()
        secret.deleted_date = now
        secret.scheduled_purge_date = now + RECOVERABLE_DAYS * _DAY
        del self.active[key]
        self.deleted[key] = secret
        self._save()
        return secret

    def recover(self, name: str) -> Secret:
        """Move a soft-deleted secret back, with all its versions."""
        secret = self.get_deleted(name)
        key = name.lower()
        secret.deleted_date = secret.scheduled_purge_date = None
        del self.deleted[key]
        self.active[key] = secret
        self._save()
        return secret

    def purge(self, name: str) -> None:
        """Permanently remove a soft-deleted secret."""
        self.get_deleted(name)
        del self.deleted[name.lower()]
        self._save()

    def backup(self, name: str) -> Secret:
        """The active secret to back up (every version); 404 when absent or soft-deleted."""
        return self._active(name)

    def restore(self, secret: Secret) -> Secret:
        """Add a secret from a backup with its versions as they were; 409 ``Conflict`` when
        the name exists, active or soft-deleted (Key Vault never overwrites on restore)."""
        key = secret.name.lower()
        existing = self.active.get(key) or self.deleted.get(key)
        if existing is not None:
            state = "deleted but recoverable" if key in self.deleted else "existing"
            raise VaultError(
                409,
                "Conflict",
                f"Secret {existing.name} cannot be restored: a secret with this name is "
                f"{state} in this vault. Delete and purge it first, or restore elsewhere.",
                "ObjectIsDeletedButRecoverable" if key in self.deleted else None,
            )
        secret.deleted_date = secret.scheduled_purge_date = None
        self.active[key] = secret
        self._save()
        return secret

    def clear(self) -> None:
        """Forget everything, including soft-deleted secrets."""
        self.active.clear()
        self.deleted.clear()
        self._save()

    # -- persistence -----------------------------------------------------------------------

    def _save(self) -> None:
        if self.path is None:
            return
        doc = {
            "format": _FORMAT,
            "active": [asdict(s) for s in self.active.values()],
            "deleted": [asdict(s) for s in self.deleted.values()],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Write a sibling temp file and rename it over the old one: readers and a crash
        # mid-write only ever see a complete file. 0600 because values are plain text.
        fd, tmp = tempfile.mkstemp(prefix=".secrets-", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(doc, f)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def _load(self, path: Path) -> None:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("format") != _FORMAT:
            raise ValueError(f"{path}: unsupported secrets file format {doc.get('format')!r}")
        self.active = _secrets_from(doc.get("active", []))
        self.deleted = _secrets_from(doc.get("deleted", []))


def _secrets_from(items: Iterable[dict[str, Any]]) -> dict[str, Secret]:
    out: dict[str, Secret] = {}
    for item in items:
        versions = {v["version"]: SecretVersion(**v) for v in item["versions"].values()}
        secret = Secret(
            name=item["name"],
            versions=versions,
            latest=item["latest"],
            deleted_date=item.get("deleted_date"),
            scheduled_purge_date=item.get("scheduled_purge_date"),
        )
        out[secret.name.lower()] = secret
    return out
