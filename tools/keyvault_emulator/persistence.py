"""The store's JSON file: written atomically (a killed emulator never leaves a half-written
file behind), mode 0600 because values are plain text."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .model import Secret, SecretVersion

_FORMAT = 1  # version of the JSON persistence format


def save(path: Path, active: Iterable[Secret], deleted: Iterable[Secret]) -> None:
    """Replace ``path`` with the active and soft-deleted secrets."""
    doc = {
        "format": _FORMAT,
        "active": [asdict(s) for s in active],
        "deleted": [asdict(s) for s in deleted],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write a sibling temp file and rename it over the old one: readers and a crash
    # mid-write only ever see a complete file. 0600 because values are plain text.
    fd, tmp = tempfile.mkstemp(prefix=".secrets-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def load(path: Path) -> tuple[dict[str, Secret], dict[str, Secret]]:
    """The active and soft-deleted secrets of ``path``, keyed by lower-cased name."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    if doc.get("format") != _FORMAT:
        raise ValueError(f"{path}: unsupported secrets file format {doc.get('format')!r}")
    return _secrets_from(doc.get("active", [])), _secrets_from(doc.get("deleted", []))


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
