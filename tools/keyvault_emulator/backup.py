"""Backup blobs: an opaque, authenticated snapshot of one secret with all its versions.

Key Vault's backup blob is encrypted and only restorable inside the subscription and
geography it came from. The emulator mirrors that with AES-GCM under a key kept in the
state folder (``backup-key``, mode 0600): a blob restores into *any* vault of every
emulator that shares that state folder, never elsewhere, and a blob changed by one bit
fails authentication (400 ``BadParameter``) instead of restoring something half-read.
The blob carries every version's value, content type, tags and attributes; values never
appear in it in clear text.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .model import Secret, SecretVersion, bad_parameter, validate_name

KEY_FILE = "backup-key"
_MAGIC = b"KVEMUBK1"  # format marker, also bound into the authentication tag
_NONCE = 12


def ensure_backup_key(state_dir: Path) -> bytes:
    """The emulator's backup key from ``state_dir``, created (0600) on first use."""
    path = state_dir / KEY_FILE
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(AESGCM.generate_key(bit_length=256))
        # Two emulators starting at once: the first rename wins and both read the same key.
        if not path.exists():
            os.replace(tmp, path)
        else:
            os.unlink(tmp)
    key = path.read_bytes()
    if len(key) != 32:
        raise ValueError(f"{path} is not a 32-byte key; delete it to generate a new one")
    return key


class BackupSealer:
    """Turns a :class:`Secret` into an opaque blob and back (``seal`` / ``unseal``)."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, secret: Secret) -> bytes:
        """The blob for ``secret``: every version, none of the deletion state."""
        doc = {
            "name": secret.name,
            "latest": secret.latest,
            "versions": [dataclasses.asdict(v) for v in secret.versions.values()],
        }
        nonce = secrets.token_bytes(_NONCE)
        sealed = self._aead.encrypt(nonce, json.dumps(doc).encode(), _MAGIC)
        return _MAGIC + nonce + sealed

    def unseal(self, blob: bytes) -> Secret:
        """The secret in ``blob``; 400 ``BadParameter`` when it is not one of our blobs."""
        if not blob.startswith(_MAGIC) or len(blob) < len(_MAGIC) + _NONCE + 16:
            raise _corrupt()
        nonce = blob[len(_MAGIC):len(_MAGIC) + _NONCE]
        try:
            plain = self._aead.decrypt(nonce, blob[len(_MAGIC) + _NONCE:], _MAGIC)
            return _secret_from(json.loads(plain))
        except (InvalidTag, ValueError, KeyError, TypeError):
            raise _corrupt() from None


def _corrupt() -> Exception:
    return bad_parameter(
        "Backup blob contains invalid or corrupt data, or was made by another emulator "
        "(another state folder)."
    )


def _secret_from(doc: dict[str, Any]) -> Secret:
    name = doc["name"]
    validate_name(name)
    versions = {v["version"]: SecretVersion(**v) for v in doc["versions"]}
    if doc["latest"] not in versions:
        raise ValueError("latest version missing")
    return Secret(name=name, versions=versions, latest=doc["latest"])
