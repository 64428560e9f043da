"""Audit records of admin writes: re-exported from :mod:`shared.audit`, where every audit
record (writes, backend fetches, failures, workflow runs) is defined."""

from shared.audit import Actor, audit_write

__all__ = ["Actor", "audit_write"]
