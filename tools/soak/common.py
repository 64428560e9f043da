"""What the soak's driver and its instances share (importing this registers no workflow)."""

from __future__ import annotations

import hashlib
from typing import Any

READY = "SOAK_INSTANCE_READY "


def digest(value: Any) -> str:
    """What the probe shows of a value: 12 hex digits of its SHA-256."""
    return hashlib.sha256(str(value).encode()).hexdigest()[:12]
