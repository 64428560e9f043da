"""Will a ``secret_ref`` resolve? The check behind the warnings of every config write (the
admin API's PUT and the CLI's ``set`` and ``import``), so both say the same thing.

A reference to a secret that exists nowhere is saved anyway (the secret may be created
next), but the writer is told that reads of the key will fail until it is. Existence is
checked by metadata only; no secret value is read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.admin.secret_admin import SecretAdmin
from shared.core.naming import GLOBAL, env_var_name, keyvault_name
from shared.errors import BackendUnavailableError, SecretAccessError

if TYPE_CHECKING:
    from shared.resolver import ConfigResolver


async def reference_warnings(resolver: ConfigResolver, scope: str, name: str) -> list[str]:
    """Why a ``secret_ref`` of ``scope`` to ``name`` may not resolve (empty when it will)."""
    scopes = [GLOBAL] if scope == GLOBAL else [scope, GLOBAL]
    environ = resolver.secret_store.environ
    if resolver.settings.secret_env_fallback and any(env_var_name(s, name) in environ
                                                     for s in scopes):
        return []
    if not resolver.secret_store.vault_configured:
        names = " or ".join(env_var_name(s, name) for s in scopes)
        return [f"no Key Vault is configured and neither {names} is set in this instance's "
                "environment: reads of this key will fail until one is"]
    try:
        admin = SecretAdmin(resolver)
        for candidate in scopes:
            if await admin.get(candidate, name) is not None:
                return []
    except (BackendUnavailableError, SecretAccessError) as exc:
        return [f"could not check that secret {name!r} exists ({exc.code}); the entry was saved"]
    looked = " or ".join(keyvault_name(s, name) for s in scopes)
    who = "orgs without their own secret" if scope == GLOBAL else f"org {scope}"
    return [f"no secret {looked} exists: reads of this key by {who} will fail until it is "
            f"created (API: POST secrets with name {name!r}; CLI: secret set {scope} {name})"]
