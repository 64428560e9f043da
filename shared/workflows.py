"""The workflow registry: ``@workflow("name")`` registers an ``async def fn(context, params)``.

A workflow receives an :class:`~shared.context.OrganizationContext` (it can read only
its own organization's config) and a dict of JSON parameters, and returns a
JSON-serialisable dict.

>>> @workflow("hello")                                     # doctest: +SKIP
... async def hello(context, params):
...     return {"greeting": await context.get_config("greeting")}
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from shared.audit import Actor, audit_run, collect_secret_reads, new_run_id
from shared.context import OrganizationContext

WorkflowFn = Callable[[OrganizationContext, dict[str, Any]], Awaitable[dict[str, Any]]]
_REGISTRY: dict[str, WorkflowFn] = {}


class UnknownWorkflowError(KeyError):
    """No workflow is registered under that name."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(name)

    def __str__(self) -> str:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        return f"no workflow named {self.name!r} is registered (known: {known})"


def workflow(name: str) -> Callable[[WorkflowFn], WorkflowFn]:
    """Register ``fn`` under ``name`` (letters, digits, ``-`` and ``_``)."""
    if not name or not all(c.isalnum() or c in "-_" for c in name) or not name.isascii():
        raise ValueError(f"invalid workflow name {name!r}")

    def register(fn: WorkflowFn) -> WorkflowFn:
        existing = _REGISTRY.get(name)
        if existing is not None and existing is not fn:
            raise ValueError(f"workflow {name!r} is already registered")
        _REGISTRY[name] = fn
        return fn

    return register


def unregister(name: str) -> None:
    """Remove a registered workflow (tests register temporary ones)."""
    _REGISTRY.pop(name, None)


def get_workflow(name: str) -> WorkflowFn:
    """The workflow registered as ``name``; :class:`UnknownWorkflowError` otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownWorkflowError(name) from None


def list_workflows() -> list[str]:
    return sorted(_REGISTRY)


async def run_workflow(
    name: str, context: OrganizationContext, params: dict[str, Any] | None = None, *,
    actor: Actor | None = None,
) -> dict[str, Any]:
    """Run a registered workflow with ``context`` and ``params``.

    Writes the run's one audit record when it ends (``workflow.run``: run id, workflow,
    org, ``actor`` when given, outcome, duration, and the secrets it read with their
    sources and counts; never its parameters, result or any value)."""
    fn = get_workflow(name)
    started = time.perf_counter()
    outcome = "error"
    with collect_secret_reads() as reads:
        try:
            result = await fn(context, dict(params or {}))
            outcome = "ok"
            return result
        finally:
            audit_run(new_run_id(), name, context.org_id, outcome,
                      (time.perf_counter() - started) * 1000, reads, actor)
