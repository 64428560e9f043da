"""What an admin sees of an org: the scopes that have config, and every key an org sees
with where its value comes from — for a ``secret_ref``, where the secret resolves and
the names tried, never the value.

Built on :meth:`OrganizationContext.explain`, so the page shows exactly what a
workflow of that org would get (same chain, same caches).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from shared.admin.references import effective_entries
from shared.context import Explanation, OrganizationContext
from shared.core.naming import GLOBAL, canonical_scope, keyvault_name
from shared.core.values import ConfigEntry, parse_value
from shared.errors import ConfigError

if TYPE_CHECKING:
    from shared.resolver import ConfigResolver

#: Where a ``secret_ref`` resolves: the org's own vault secret, GLOBAL's, an environment
#: variable, nowhere (a dangling reference), or unknown because the lookup failed.
Resolution = Literal["org_secret", "global_secret", "env", "nowhere", "error"]
#: How many keys are explained at once (each may cost one vault lookup when cold).
_CONCURRENCY = 16


@dataclass(frozen=True)
class EffectiveEntry:
    """One key as an org sees it. ``value`` is None for a ``secret_ref``."""

    entry: ConfigEntry
    value: str | None
    explanation: Explanation
    resolution: Resolution | None

    @property
    def problem(self) -> str | None:
        """Why this key would fail a workflow's read, or None."""
        if self.resolution == "nowhere":
            tried = ", ".join(self.explanation.tried) or "no source"
            return f"secret {self.entry.value!r} resolves nowhere (tried {tried})"
        return self.explanation.error_message


async def list_scopes(resolver: ConfigResolver) -> list[str]:
    """``GLOBAL`` first, then every org that has at least one config entry."""
    scopes = await resolver.config_store.list_scopes()
    return [GLOBAL, *[s for s in scopes if s != GLOBAL]]


async def effective_config(resolver: ConfigResolver, scope: str) -> list[EffectiveEntry]:
    """Every key ``scope`` sees (its entries over GLOBAL's), sorted by key.

    For ``GLOBAL`` these are what an org without entries of its own sees, with GLOBAL's
    secrets and environment variables.
    """
    scope = canonical_scope(scope)
    entries = await effective_entries(resolver, scope)
    # The context of GLOBAL is built directly: resolver.context() accepts org ids only.
    context = OrganizationContext(resolver, scope)
    limit = asyncio.Semaphore(_CONCURRENCY)

    async def one(entry: ConfigEntry) -> EffectiveEntry:
        async with limit:
            explanation = await context.explain(entry.key)
        return _effective(scope, entry, explanation)

    return list(await asyncio.gather(*(one(entries[k]) for k in sorted(entries))))


def _effective(scope: str, entry: ConfigEntry, explanation: Explanation) -> EffectiveEntry:
    # explain() reads the cached snapshot, which may trail the table by a write from
    # another instance; the table's entry (read just now) is what is shown.
    tried = list(dict.fromkeys(explanation.tried))  # GLOBAL's chain names each twice
    explanation = explanation.model_copy(update={"tried": tried})
    if entry.type != "secret_ref":
        try:
            parse_value(entry)
            value: str | None = entry.value
        except ConfigError:
            # possibly a secret pasted where a value belongs: not shown
            value = None
        return EffectiveEntry(entry, value, explanation, None)
    return EffectiveEntry(entry, None, explanation, _resolution(scope, entry, explanation))


def _resolution(scope: str, entry: ConfigEntry, explanation: Explanation) -> Resolution:
    source = explanation.source or ""
    if source.startswith("keyvault:"):
        own = keyvault_name(scope, entry.value).lower()
        return "org_secret" if scope != GLOBAL and source[9:].lower() == own \
            else "global_secret"
    if source.startswith("env:"):
        return "env"
    if explanation.error == "SecretNotFoundError":
        return "nowhere"
    return "error"
