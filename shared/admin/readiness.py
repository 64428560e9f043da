"""Readiness: for an org, whether each registered workflow's declared config fits, and if
not why (DESIGN "Declared config and readiness"), without reading any secret value.

The entries come from the org's and GLOBAL's cached snapshots (one partition query each
when cold). A ``secret_ref``'s secret is looked up along the resolver's chain (the org's
name, then GLOBAL's, then the environment variables) by metadata only: from the secret
catalog's rows, which arrive in those same snapshots, when the catalog is on; otherwise
from the vault's version listing (:meth:`SecretAdmin.get`: properties, never a value).
So readiness costs no vault GET. The first name found decides, as for a read: disabled
(Key Vault refuses to read it) is ``secret_disabled``, past its expiry ``secret_expired``.

The same checks warn on a config write that breaks a declared constraint
(:func:`constraint_warnings`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import SecretStr

from shared.admin.secret_admin import SecretAdmin
from shared.admin.workflows import config_model, declared_config, list_workflows, users_of_key
from shared.core.declared import (
    DeclaredKey,
    missing_problem,
    type_problem,
    validation_problems,
)
from shared.core.naming import GLOBAL, canonical_org_id, canonical_scope, env_var_name
from shared.core.values import ConfigEntry, ValueType, parse_value
from shared.errors import ConfigError, ConfigProblem

if TYPE_CHECKING:
    from shared.resolver import ConfigResolver

SecretState = Literal["ok", "missing", "disabled", "expired"]
#: how many orgs of a fleet page are checked at once
_CONCURRENCY = 16
#: stands for a secret that exists when a model is validated without secret values
_PLACEHOLDER = SecretStr("present")


@dataclass(frozen=True)
class WorkflowReadiness:
    name: str
    problems: list[ConfigProblem] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class OrgReadiness:
    org: str
    workflows: list[WorkflowReadiness]

    @property
    def ready(self) -> int:
        return sum(1 for w in self.workflows if w.ready)

    @property
    def not_ready(self) -> int:
        return len(self.workflows) - self.ready


class _Secrets:
    """Secret states of one org's check, each name looked up once (metadata only)."""

    def __init__(self, resolver: ConfigResolver, org_id: str) -> None:
        self.resolver, self.org_id = resolver, org_id
        self._states: dict[str, tuple[SecretState, str]] = {}
        self._admin: SecretAdmin | None = None

    async def state(self, name: str) -> tuple[SecretState, str]:
        found = self._states.get(name.lower())
        if found is None:
            found = self._states[name.lower()] = await self._lookup(name)
        return found

    async def _lookup(self, name: str) -> tuple[SecretState, str]:
        """The state of ``name`` for the org and the full name that decided it."""
        resolver, store = self.resolver, self.resolver.config_store
        if resolver.secret_store.vault_configured:
            for scope in (self.org_id, GLOBAL):
                full = f"{scope}--{name}"
                present = store.catalog_presence(scope, name)
                if present is False:
                    continue
                if present:
                    cached = store.snapshots.peek(scope)
                    record = None if cached is None else cached.value.secrets.get(name.lower())
                    if record is not None:
                        return _state(record.enabled, record.expires_on), full
                if self._admin is None:
                    self._admin = SecretAdmin(resolver)
                info = await self._admin.get(scope, name)
                if info is not None:
                    return _state(info.enabled is not False, info.expires_on), full
        if resolver.settings.secret_env_fallback:
            environ = resolver.secret_store.environ
            for scope in (self.org_id, GLOBAL):
                if environ.get(env_var_name(scope, name)):
                    return "ok", f"env:{env_var_name(scope, name)}"
        return "missing", ""


def _state(enabled: bool, expires_on: datetime | None) -> SecretState:
    if not enabled:
        return "disabled"
    if expires_on is not None and expires_on <= datetime.now(UTC):
        return "expired"
    return "ok"


def _secret_problem(key: str, name: str, state: SecretState, where: str,
                    org_id: str) -> ConfigProblem | None:
    if state == "ok":
        return None
    if state == "missing":
        tried = f"{org_id}--{name}, {GLOBAL}--{name}, {env_var_name(org_id, name)}, " \
            f"{env_var_name(GLOBAL, name)}"
        return ConfigProblem(key, "secret_missing", f"config key {key!r} refers to secret "
                             f"{name!r}, which exists nowhere (looked for {tried}); create it "
                             f"(API: POST secrets; CLI: secret set {org_id} {name})",
                             expected_type="secret_ref", secret=name)
    if state == "disabled":
        return ConfigProblem(key, "secret_disabled", f"secret {where} (config key {key!r}) is "
                             "disabled in Key Vault, which refuses to read it; enable it or "
                             "set a new version", expected_type="secret_ref", secret=name)
    return ConfigProblem(key, "secret_expired", f"secret {where} (config key {key!r}) is past "
                         "its expiry date; set a new version (with a later expiry)",
                         expected_type="secret_ref", secret=name)


async def workflow_readiness(org_id: str, name: str, entries: dict[str, ConfigEntry],
                             secrets: _Secrets) -> WorkflowReadiness:
    """Whether ``entries`` (what the org sees) fit workflow ``name``'s declared config."""
    model = config_model(name)
    if model is None:
        return WorkflowReadiness(name)
    problems: list[ConfigProblem] = []
    data: dict[str, Any] = {}
    unchecked: list[str] = []
    for decl in declared_config(name):
        entry = entries.get(decl.key)
        problem = _entry_problem(decl, entry, org_id)
        if problem is not None:
            problems.append(problem)
            continue
        if entry is None:
            continue  # not set, and the field has a default
        if decl.secret:
            state, where = await secrets.state(entry.value)
            problem = _secret_problem(decl.key, entry.value, state, where, org_id)
            if problem is not None:
                problems.append(problem)
                continue
            # the value is not read: its own constraints cannot be checked here
            data[decl.key] = _PLACEHOLDER
            unchecked.append(decl.key)
        else:
            data[decl.key] = parse_value(entry)
    problems += validation_problems(model, data, skip=[*(p.key for p in problems), *unchecked])
    return WorkflowReadiness(name, problems)


def _entry_problem(decl: DeclaredKey, entry: ConfigEntry | None,
                   org_id: str) -> ConfigProblem | None:
    if entry is None:
        return missing_problem(decl, org_id) if decl.required else None
    return type_problem(decl, entry)


async def org_readiness(resolver: ConfigResolver, org_id: str,
                        names: list[str] | None = None) -> OrgReadiness:
    """Readiness of every registered workflow (or of ``names``) for ``org_id``."""
    org_id = canonical_org_id(org_id)
    org, glob = await resolver.snapshots(org_id)
    entries = {**glob.value.entries, **org.value.entries}
    secrets = _Secrets(resolver, org_id)
    workflows = [await workflow_readiness(org_id, name, entries, secrets)
                 for name in (list_workflows() if names is None else names)]
    return OrgReadiness(org_id, workflows)


async def fleet_readiness(resolver: ConfigResolver, after: str | None,
                          limit: int) -> tuple[list[OrgReadiness], str | None]:
    """Readiness of a page of orgs (the registered ones once the registry is on, else those
    with config; in id order, after ``after``) and the org id the next page starts after
    (None at the end)."""
    if await resolver.orgs.enabled():
        orgs, more = await resolver.orgs.page(after, limit)
    else:
        orgs, more = await resolver.config_store.list_orgs_page(after, limit)
    gate = asyncio.Semaphore(_CONCURRENCY)

    async def one(org_id: str) -> OrgReadiness:
        async with gate:
            return await org_readiness(resolver, org_id)

    page = list(await asyncio.gather(*(one(o) for o in orgs)))
    return page, (orgs[-1] if more and orgs else None)


def constraint_warnings(scope: str, key: str, value_type: ValueType, value: str) -> list[str]:
    """Why an entry ``key`` of ``scope`` with this type and value breaks the declared config
    of a registered workflow that uses the key (empty when it breaks none). Names keys,
    types and constraints, never the value."""
    scope = canonical_scope(scope)
    entry = ConfigEntry(scope, key, value, value_type)
    warnings = []
    for name, model, decl in users_of_key(key):
        problem = type_problem(decl, entry)
        if problem is None and not decl.secret:
            try:
                parsed = parse_value(entry)
            except ConfigError:  # type_problem has parsed it already
                continue
            found = [p for p in validation_problems(model, {key: parsed}) if p.key == key
                     and p.problem != "missing"]
            problem = found[0] if found else None
        if problem is not None:
            who = "orgs without their own entry" if scope == GLOBAL else f"org {scope}"
            warnings.append(f"workflow {name!r} cannot run for {who}: {problem.message} "
                            f"({problem.problem})")
    return warnings
