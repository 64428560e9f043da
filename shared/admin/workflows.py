"""The workflow registry: ``@workflow("name")`` registers an ``async def fn(context, params)``.

A workflow receives an :class:`~shared.context.OrganizationContext` (it can read only
its own organization's config) and its parameters, and returns a JSON-serialisable dict.
Parameters come from callers (over HTTP: any org member), so a workflow should declare
their bounds with ``@workflow("name", params=Model)``: the executor validates them
against the pydantic ``Model`` before the workflow runs (:class:`InvalidParamsError`
otherwise) and passes the validated model; without one the workflow gets the dict.

>>> class Hello(BaseModel):                                # doctest: +SKIP
...     name: str = Field(max_length=100)
>>> @workflow("hello", params=Hello)                       # doctest: +SKIP
... async def hello(context, params: Hello):
...     return {"greeting": f"{await context.get_config('greeting')}, {params.name}"}
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from shared.context import OrganizationContext
from shared.core.audit import Actor, audit_run, collect_secret_reads, new_run_id

#: ``params`` is the declared model's instance, or the dict when none is declared.
WorkflowFn = Callable[[OrganizationContext, Any], Awaitable[dict[str, Any]]]
_REGISTRY: dict[str, WorkflowFn] = {}
_PARAMS: dict[str, type[BaseModel]] = {}


class UnknownWorkflowError(KeyError):
    """No workflow is registered under that name."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(name)

    def __str__(self) -> str:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        return f"no workflow named {self.name!r} is registered (known: {known})"


class InvalidParamsError(ValueError):
    """A workflow's parameters do not fit the model it declared. The message and
    :attr:`error` locate the problems; neither repeats the input (it may be sensitive)."""

    def __init__(self, name: str, error: ValidationError) -> None:
        self.name, self.error = name, error
        super().__init__(f"the parameters of workflow {name!r} do not fit its schema "
                         f"({error.error_count()} problems)")


def workflow(
    name: str, *, params: type[BaseModel] | None = None
) -> Callable[[WorkflowFn], WorkflowFn]:
    """Register ``fn`` under ``name`` (letters, digits, ``-`` and ``_``); ``params``: the
    pydantic model its parameters must fit (lengths, counts), validated before it runs."""
    if not name or not all(c.isalnum() or c in "-_" for c in name) or not name.isascii():
        raise ValueError(f"invalid workflow name {name!r}")

    def register(fn: WorkflowFn) -> WorkflowFn:
        existing = _REGISTRY.get(name)
        if existing is not None and existing is not fn:
            raise ValueError(f"workflow {name!r} is already registered")
        _REGISTRY[name] = fn
        if params is not None:
            _PARAMS[name] = params
        return fn

    return register


def unregister(name: str) -> None:
    """Remove a registered workflow (tests register temporary ones)."""
    _REGISTRY.pop(name, None)
    _PARAMS.pop(name, None)


def params_model(name: str) -> type[BaseModel] | None:
    """The parameters model workflow ``name`` declared, if any."""
    return _PARAMS.get(name)


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
    arguments: Any = dict(params or {})
    model = _PARAMS.get(name)
    if model is not None:
        try:
            arguments = model.model_validate(arguments)
        except ValidationError as exc:
            raise InvalidParamsError(name, exc) from None
    started = time.perf_counter()
    outcome = "error"
    with collect_secret_reads() as reads:
        try:
            result = await fn(context, arguments)
            outcome = "ok"
            return result
        finally:
            audit_run(new_run_id(), name, context.org_id, outcome,
                      (time.perf_counter() - started) * 1000, reads, actor)
