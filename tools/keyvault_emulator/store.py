"""In-memory secret store with versions and soft-delete, mirroring Key Vault semantics.

The store knows nothing about HTTP: it raises :class:`VaultError` carrying the status,
code and message Key Vault would answer with, and the server turns that into JSON.
Persistence is optional: give a path and every write replaces the JSON file atomically
(:mod:`.persistence`), so a killed emulator never leaves a half-written file behind.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import persistence
from .model import (
    RECOVERABLE_DAYS,
    Attributes,
    Secret,
    SecretVersion,
    VaultError,
    bad_parameter,
    check_content_type,
    check_tags,
    deleted_not_found,
    new_version,
    not_found,
    validate_name,
)

_DAY = 86400


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
            version=new_version(),
            value=value,
            content_type=check_content_type(content_type),
            tags=check_tags(tags),
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
        content_type = check_content_type(body.get("contentType"))
        tags = check_tags(body.get("tags"))
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
        persistence.save(self.path, self.active.values(), self.deleted.values())

    def _load(self, path: Path) -> None:
        self.active, self.deleted = persistence.load(path)
