"""OrganizationContext: what a workflow sees. One organization, read-only, value-safe.

>>> smtp_password = await context.get_config("smtp_password")   # doctest: +SKIP

A context can only ever read its own organization's entries and GLOBAL's; secret
names are scoped by the resolver, never by the caller.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

from pydantic import BaseModel, SecretStr

from shared.core import telemetry
from shared.core.audit import RUN_READS
from shared.core.cache import Lookup
from shared.core.declared import (
    DeclaredKey,
    declared_keys,
    missing_problem,
    type_problem,
    validation_problems,
)
from shared.core.frozen import freeze
from shared.core.naming import validate_config_key
from shared.core.values import ConfigEntry, parse_value
from shared.errors import (
    ConfigError,
    ConfigNotFoundError,
    ConfigNotReadyError,
    ConfigProblem,
    ConfigValueError,
    SecretAccessError,
    SecretNotFoundError,
)
from shared.read.answers import ABSENT
from shared.read.source import ConfigSource

M = TypeVar("M", bound=BaseModel)


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class Explanation(BaseModel):
    """Where a key's value comes from for one org. Never contains the value."""

    org_id: str
    key: str
    found: bool
    scope: str | None = None
    type: str | None = None
    source: str | None = None
    secret_name: str | None = None
    tried: list[str] = []
    cache_hit: bool = False
    age_seconds: float = 0.0
    stale: bool = False
    error: str | None = None
    error_message: str | None = None
    #: for a secret_ref: what the secret catalog says of it (see shared.backends.catalog)
    catalog: str | None = None


class OrganizationContext:
    """Config of one organization (its entries over GLOBAL's), with secrets resolved."""

    __slots__ = ("_answers", "_clock", "_resolver", "org_id")

    def __init__(self, resolver: ConfigSource, org_id: str) -> None:
        self._resolver = resolver
        self.org_id = org_id
        # the resolver's memoized answers of this org (shared.read.answers), read directly
        self._answers = resolver.answers.of_org(org_id)
        self._clock = resolver.answers.clock

    def __repr__(self) -> str:
        return f"OrganizationContext(org_id={self.org_id!r})"

    async def get_config(self, key: str, default: Any = MISSING) -> Any:
        """The value of ``key``: str/int/float/bool/JSON by its Type, a secret as ``str``.

        ``default`` applies only when the key exists neither for the org nor in GLOBAL;
        a ``secret_ref`` that resolves nowhere raises :class:`SecretNotFoundError` even
        with a default, because a dangling reference is a misconfiguration.

        A ``json`` value is read-only (:mod:`shared.core.frozen`: a ``dict``/``list``
        subclass that refuses changes); ``copy.deepcopy`` gives a mutable copy.
        """
        # The warm path: the memoized answer (shared.read.answers), valid until one of its
        # inputs expires or enters its refresh-ahead window.
        try:
            answer = self._answers.get(key)
        except TypeError:  # not hashable, so not a key: the slow path says why
            answer = None
        if answer is not None and answer.until > self._clock():
            answer.hits += 1
            if answer.secret is not None:
                run = RUN_READS.get()
                if run is not None:
                    run.note(answer.secret, answer.source)
            value = answer.value
            if value is ABSENT:
                if default is MISSING:
                    raise ConfigNotFoundError(self.org_id, key)
                return default
            return value
        value = await self._value(key, default)
        return value.get_secret_value() if isinstance(value, SecretStr) else value

    async def _value(self, key: str, default: Any = MISSING) -> Any:
        """Like get_config, but a secret stays wrapped in SecretStr. Reads through the
        caches and memoizes the answer when it may be (see ConfigResolver.remember).
        The slow path: one ``orgconfig.resolve`` span (:mod:`shared.core.telemetry`)."""
        key = validate_config_key(key)
        with telemetry.span("orgconfig.resolve", {telemetry.ORG: self.org_id,
                                                  telemetry.KEY: key}):
            mark = self._resolver.cache_generation()
            entry, lookup = await self._resolver.find_entry(self.org_id, key)
            return await self._value_of(key, entry, mark, default, lookup)

    async def _value_of(self, key: str, entry: ConfigEntry | None, mark: int,
                        default: Any = MISSING, lookup: Lookup[Any] | None = None) -> Any:
        """The value of ``entry`` (found for ``key`` with the caches at ``mark``, from the
        snapshot ``lookup``); what was found is told to the current span."""
        resolver = self._resolver
        span = telemetry.trace.get_current_span()
        recording = span.is_recording()
        if recording and lookup is not None:
            span.set_attribute(telemetry.CACHE, lookup.outcome)
        if entry is None:
            if recording:
                span.set_attribute(telemetry.OUTCOME, "absent")
            resolver.remember(self.org_id, key, mark, ABSENT)
            if default is MISSING:
                raise ConfigNotFoundError(self.org_id, key)
            return default
        if recording:
            span.set_attributes({telemetry.SCOPE_ATTR: entry.scope, telemetry.TYPE: entry.type,
                                 telemetry.SOURCE_KIND: "table",
                                 telemetry.SOURCE: f"table:{entry.scope}"})
        value = parse_value(entry)
        if entry.type == "secret_ref":
            if recording:
                span.set_attribute(telemetry.SECRET, value)
            resolution = await resolver.secret_store.resolve(self.org_id, key, value)
            if recording:
                span.set_attributes({
                    telemetry.SOURCE_KIND: resolution.source.partition(":")[0],
                    telemetry.SOURCE: resolution.source, telemetry.CACHE: resolution.cache,
                    telemetry.TRIED: telemetry.names(resolution.tried),
                })
            resolver.remember(self.org_id, key, mark, resolution.value.get_secret_value(),
                              resolution=resolution, secret_name=value)
            return resolution.value
        if entry.type == "json":
            value = freeze(value)
        resolver.remember(self.org_id, key, mark, value)
        return value

    async def get_configs(self, *keys: str, default: Any = MISSING) -> dict[str, Any]:
        """Several keys in one go (one snapshot load, secrets resolved concurrently)."""
        for key in keys:  # every key checked before any backend call
            validate_config_key(key)
        # concurrent cold reads share one snapshot load (the cache's single flight)
        values = await asyncio.gather(*(self.get_config(k, default) for k in keys))
        return dict(zip(keys, values, strict=True))

    async def explain(self, key: str) -> Explanation:
        """Where ``key`` comes from for this org: scope, type, source, names tried, cache
        hit and age. Resolution errors are reported in the explanation, not raised."""
        key = validate_config_key(key)
        entry, lookup = await self._resolver.find_entry(self.org_id, key)
        if entry is None:
            return Explanation(org_id=self.org_id, key=key, found=False)
        info: dict[str, Any] = {
            "org_id": self.org_id, "key": key, "found": True, "scope": entry.scope,
            "type": entry.type, "source": f"table:{entry.scope}", "cache_hit": lookup.hit,
            "age_seconds": round(lookup.age, 3), "stale": lookup.stale,
        }
        try:
            name = parse_value(entry)
            if entry.type == "secret_ref":
                info["secret_name"] = name
                info["catalog"] = self._resolver.config_store.catalog_summary(self.org_id, name)
                resolution = await self._resolver.secret_store.resolve(self.org_id, key, name)
                info.update(
                    source=resolution.source, tried=resolution.tried,
                    cache_hit=resolution.cache_hit, age_seconds=round(resolution.age_seconds, 3),
                    stale=resolution.stale,
                )
        except ConfigError as exc:
            info.update(error=exc.__class__.__name__, error_message=str(exc))
            info["tried"] = list(getattr(exc, "tried", []))
            if entry.type == "secret_ref":
                info["source"] = None
        return Explanation(**info)

    async def load(self, model: type[M]) -> M:
        """Fill a pydantic model from config: each field reads the key named by its alias
        (or its name) through the caches (so audit and ``explain`` apply). Secret values
        are passed as ``SecretStr``; a secret into a field that is not a ``SecretStr`` is
        refused, so it cannot end up in a repr or log.

        Every key is checked before anything is raised: :class:`ConfigNotReadyError` lists
        each key that does not fit (``missing``, ``wrong_type``, ``invalid``,
        ``secret_missing``, ``secret_disabled``, ``secret_expired``), never a value. See
        :mod:`shared.core.declared` for which stored Type fits which field."""
        decls = declared_keys(model)
        with telemetry.span("orgconfig.load", {telemetry.ORG: self.org_id,
                                               telemetry.MODEL: model.__name__}) as span:
            found = await asyncio.gather(*(self._load_one(d) for d in decls))
            span.set_attribute("orgconfig.keys", len(decls))
        data: dict[str, Any] = {}
        problems: list[ConfigProblem] = []
        for decl, (value, problem) in zip(decls, found, strict=True):
            if problem is not None:
                problems.append(problem)
            elif value is not _ABSENT:
                data[decl.key] = value
        problems += validation_problems(model, data, skip=[p.key for p in problems])
        if problems:
            raise ConfigNotReadyError(self.org_id, model.__name__, problems)
        return model.model_validate(data)

    async def _load_one(self, decl: DeclaredKey) -> tuple[Any, ConfigProblem | None]:
        """The value of one declared key (``_ABSENT`` when it is not set and has a default),
        or why it cannot be had."""
        with telemetry.span("orgconfig.resolve", {telemetry.ORG: self.org_id,
                                                  telemetry.KEY: decl.key}) as span:
            value, problem = await self._load_one_traced(decl)
            if problem is not None:
                span.set_attribute(telemetry.OUTCOME, problem.problem)
            return value, problem

    async def _load_one_traced(self, decl: DeclaredKey) -> tuple[Any, ConfigProblem | None]:
        mark = self._resolver.cache_generation()
        entry, lookup = await self._resolver.find_entry(self.org_id, decl.key)
        if entry is None:
            return _ABSENT, missing_problem(decl, self.org_id) if decl.required else None
        problem = type_problem(decl, entry)
        if problem is not None:
            return _ABSENT, problem
        try:
            return await self._value_of(decl.key, entry, mark, _ABSENT, lookup), None
        except ConfigNotFoundError:  # deleted since the entry was found
            return _ABSENT, missing_problem(decl, self.org_id) if decl.required else None
        except SecretNotFoundError as exc:
            return _ABSENT, ConfigProblem(decl.key, "secret_missing", str(exc),
                                          expected_type="secret_ref", secret=entry.value)
        except SecretAccessError as exc:
            if exc.reason == "expired":
                return _ABSENT, ConfigProblem(decl.key, "secret_expired", str(exc),
                                              expected_type="secret_ref", secret=entry.value)
            if exc.reason == "disabled":
                return _ABSENT, ConfigProblem(decl.key, "secret_disabled", str(exc),
                                              expected_type="secret_ref", secret=entry.value)
            raise  # authentication or permission: the platform's problem, not the org's
        except ConfigValueError:
            return _ABSENT, ConfigProblem(decl.key, "wrong_type", f"the stored value of "
                                          f"config key {decl.key!r} does not parse as its "
                                          f"type {entry.type}", expected_type=entry.type)


_ABSENT: Any = _Missing()
