"""The contenders: each module exposes ``async def make_reader(info, workload)``.

A reader gives ``context(org)`` objects with ``async get(key)`` / ``async close()`` (see
:mod:`bench.harness`). Every contender reads the same table and vault through clients
built by :mod:`bench.clients`, so they pay the same simulated round trips.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import Any

from bench.clients import BackendInfo
from bench.workload import Workload

#: Contenders that run the MSP workload, in report order.
#: in run order: the secret catalog is built (a reconcile) just before ``orgconfig``, so the
#: contenders before it read a table without catalog rows
WORKLOAD_CONTENDERS = ("naive", "per_request_cache", "powertools", "orgconfig_index",
                       "orgconfig")

MakeReader = Callable[[BackendInfo, Workload], Awaitable[Any]]


def make_reader(name: str) -> MakeReader:
    """The ``make_reader`` of contender ``name`` (a module of this package)."""
    if name not in WORKLOAD_CONTENDERS:
        raise ValueError(f"unknown contender {name!r}; choose from {WORKLOAD_CONTENDERS}")
    module = importlib.import_module(f"bench.contenders.{name}")
    factory: MakeReader = module.make_reader
    return factory
