"""What an :class:`~shared.context.OrganizationContext` needs from its resolver, as a narrow
interface below both: the context depends on this, the resolver implements it, so neither
module imports the other's."""

from __future__ import annotations

from typing import Any, Protocol

from shared.backends.config_rows import ConfigSnapshot
from shared.backends.config_store import ConfigStore
from shared.backends.secret_store import SecretResolution, SecretStore
from shared.core.cache import Lookup
from shared.core.values import ConfigEntry
from shared.read.answers import AnswerMemo


class ConfigSource(Protocol):
    """The resolver's side of a context: its answer memo, its stores and its entry lookup."""

    @property
    def answers(self) -> AnswerMemo: ...

    @property
    def config_store(self) -> ConfigStore: ...

    @property
    def secret_store(self) -> SecretStore: ...

    async def find_entry(
        self, org_id: str, key: str
    ) -> tuple[ConfigEntry | None, Lookup[ConfigSnapshot]]:
        """The entry that applies to ``org_id`` (org overrides GLOBAL) and its snapshot."""
        ...

    def cache_generation(self) -> int:
        """Changes whenever a cache below changes (taken before an answer is built)."""
        ...

    def remember(
        self, org_id: str, key: str, mark: int, value: Any, *,
        resolution: SecretResolution | None = None, secret_name: str | None = None,
    ) -> None:
        """Memoize an answer built since ``mark``, unless a cache changed meanwhile."""
        ...
