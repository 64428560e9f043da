"""The workflow registry: ``@workflow("name")`` registers an ``async def fn(context, params)``.

A workflow receives an :class:`~shared.context.OrganizationContext` (it can read only
its own organization's config) and its parameters, and returns a JSON-serialisable dict.
Parameters come from callers (over HTTP: any org member), so a workflow should declare
their bounds with ``@workflow("name", params=Model)``: the executor validates them
against the pydantic ``Model`` before the workflow runs (:class:`InvalidParamsError`
otherwise) and passes the validated model; without one the workflow gets the dict.

A workflow declares the config it needs with ``config=ConfigModel``: each field is a
config key (its alias, or its name) with its type and constraints, a ``SecretStr`` field
a ``secret_ref`` entry (:mod:`shared.core.declared`). Before the run the executor builds
the model from the org's config with :meth:`OrganizationContext.load` (caches, audit and
``explain`` apply) and passes it as a third argument; an org whose config does not fit
raises :class:`~shared.errors.ConfigNotReadyError` listing every problem and the workflow
never starts. Two workflows declaring one key with types no single entry can satisfy is
an error when the second registers.

>>> class Hello(BaseModel):                                # doctest: +SKIP
...     name: str = Field(max_length=100)
>>> class HelloConfig(BaseModel):                          # doctest: +SKIP
...     greeting: str = Field(min_length=1, max_length=40)
>>> @workflow("hello", params=Hello, config=HelloConfig)   # doctest: +SKIP
... async def hello(context, params: Hello, config: HelloConfig):
...     return {"greeting": f"{config.greeting}, {params.name}"}
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from shared.context import OrganizationContext
from shared.core import telemetry
from shared.core.audit import Actor, audit_run, collect_secret_reads, new_run_id
from shared.core.declared import DeclaredKey, declared_keys
from shared.errors import ConfigNotReadyError

#: ``fn(context, params)``, or ``fn(context, params, config)`` with a declared config model:
#: ``params`` is the declared params model's instance (the dict when none is declared),
#: ``config`` the config model's instance built from the org's config.
WorkflowFn = Callable[..., Awaitable[dict[str, Any]]]
_REGISTRY: dict[str, WorkflowFn] = {}
_PARAMS: dict[str, type[BaseModel]] = {}
_CONFIG: dict[str, type[BaseModel]] = {}
_DECLARED: dict[str, list[DeclaredKey]] = {}


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


class IncompatibleConfigError(ValueError):
    """A workflow declares a config key with a type that another registered workflow's
    declaration of the same key excludes: no single entry could satisfy both."""


def workflow(
    name: str, *, params: type[BaseModel] | None = None,
    config: type[BaseModel] | None = None,
) -> Callable[[WorkflowFn], WorkflowFn]:
    """Register ``fn`` under ``name`` (letters, digits, ``-`` and ``_``); ``params``: the
    pydantic model its parameters must fit (lengths, counts), validated before it runs;
    ``config``: the pydantic model of the config keys it needs, built from the org's
    config before it runs and passed as the third argument."""
    if not name or not all(c.isalnum() or c in "-_" for c in name) or not name.isascii():
        raise ValueError(f"invalid workflow name {name!r}")
    decls = declared_keys(config) if config is not None else None

    def register(fn: WorkflowFn) -> WorkflowFn:
        existing = _REGISTRY.get(name)
        if existing is not None and existing is not fn:
            raise ValueError(f"workflow {name!r} is already registered")
        if decls is not None:
            _check_compatible(name, decls)
        _REGISTRY[name] = fn
        if params is not None:
            _PARAMS[name] = params
        if config is not None and decls is not None:
            _CONFIG[name], _DECLARED[name] = config, decls
        return fn

    return register


def _check_compatible(name: str, decls: list[DeclaredKey]) -> None:
    """Refuse a declaration that no entry could satisfy together with an earlier one."""
    for other, theirs in _DECLARED.items():
        if other == name:
            continue
        by_key = {d.key: d for d in theirs}
        for decl in decls:
            prior = by_key.get(decl.key)
            if prior is not None and not decl.compatible(prior):
                raise IncompatibleConfigError(
                    f"workflow {name!r} declares config key {decl.key!r} as {decl.shape}, but "
                    f"workflow {other!r} declares it as {prior.shape}: one entry cannot be "
                    "both; use another key (or the same type)")


def unregister(name: str) -> None:
    """Remove a registered workflow (tests register temporary ones)."""
    _REGISTRY.pop(name, None)
    _PARAMS.pop(name, None)
    _CONFIG.pop(name, None)
    _DECLARED.pop(name, None)


def params_model(name: str) -> type[BaseModel] | None:
    """The parameters model workflow ``name`` declared, if any."""
    return _PARAMS.get(name)


def config_model(name: str) -> type[BaseModel] | None:
    """The config model workflow ``name`` declared, if any."""
    return _CONFIG.get(name)


def declared_config(name: str) -> list[DeclaredKey]:
    """The config keys workflow ``name`` declared (empty without a config model)."""
    return list(_DECLARED.get(name, ()))


def users_of_key(key: str) -> list[tuple[str, type[BaseModel], DeclaredKey]]:
    """Each registered workflow declaring ``key``: its name, config model and declaration."""
    return [(name, _CONFIG[name], decl) for name in sorted(_DECLARED)
            for decl in _DECLARED[name] if decl.key == key]


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

    With a declared config model the model is built from the org's config first
    (:meth:`OrganizationContext.load`); :class:`ConfigNotReadyError` if it does not fit,
    and the workflow never starts.

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
    declared = _CONFIG.get(name)
    run_id = new_run_id()
    with collect_secret_reads() as reads, telemetry.span("orgconfig.workflow.run", {
        telemetry.WORKFLOW: name, telemetry.ORG: context.org_id, telemetry.RUN_ID: run_id,
    }) as span:
        try:
            if declared is None:
                result = await fn(context, arguments)
            else:
                try:
                    config = await context.load(declared)
                except ConfigNotReadyError:
                    outcome = "config_not_ready"
                    raise
                result = await fn(context, arguments, config)
            outcome = "ok"
            return result
        finally:
            span.set_attribute(telemetry.OUTCOME, outcome)
            audit_run(run_id, name, context.org_id, outcome,
                      (time.perf_counter() - started) * 1000, reads, actor)
