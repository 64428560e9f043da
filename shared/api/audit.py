"""Audit records of admin writes: re-exported from :mod:`shared.core.audit`, where every audit
record (writes, backend fetches, failures, workflow runs) is defined."""

from shared.core.audit import Actor, audit_write

__all__ = ["Actor", "audit_write"]
