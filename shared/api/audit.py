"""Audit records of admin writes: who did what to which scope and key/name, never a value."""

from __future__ import annotations

import logging
from typing import Any

audit_log = logging.getLogger("orgconfig.audit")


def audit_write(action: str, actor: str, scope: str, **fields: Any) -> None:
    """Log one write (``config.put``, ``secret.create``, ...) on logger ``orgconfig.audit``
    with ``custom_dimensions`` for Application Insights. Never pass a value in ``fields``."""
    dimensions = {"action": action, "actor": actor, "scope": scope, **fields}
    target = fields.get("key") or fields.get("name") or "-"
    audit_log.info(
        "%s by %s on %s/%s", action, actor, scope, target,
        extra={"custom_dimensions": dimensions},
    )
