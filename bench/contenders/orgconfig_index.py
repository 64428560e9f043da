"""orgconfig before its secret catalog exists (no reconcile yet, as in a deployment that
predates it): the same resolver, with names the vault does not have answered by the
per-instance name index (a paged listing of the vault per not-found TTL)."""

from __future__ import annotations

from bench.clients import BackendInfo
from bench.contenders.orgconfig import OrgconfigReader
from bench.workload import Workload


async def make_reader(info: BackendInfo, workload: Workload) -> OrgconfigReader:
    reader = OrgconfigReader(info)
    reader.resolver.secret_store.catalog = None  # the resolver's mode without a catalog
    return reader
