"""Names: canonical org ids, config keys, secret names, Key Vault and env var names.

Pure functions. The rules make scoped names unambiguous: neither an org id nor a
secret name may contain ``--`` (``__`` once upper-cased for the environment) or
start or end with ``-``, so ``{scope}--{name}`` splits in exactly one way and no
choice of names lets one organization's name spell another's.
"""

from __future__ import annotations

import functools
import re

from shared.errors import InvalidNameError

GLOBAL = "GLOBAL"
ORG_ID_MAX = 63
CONFIG_KEY_MAX = 128
KEYVAULT_NAME_MAX = 127
#: A secret name must fit after the longest scope: ``{63-char org}--{name}`` <= 127.
SECRET_NAME_MAX = KEYVAULT_NAME_MAX - ORG_ID_MAX - 2

_ORG_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_CONFIG_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]*")
_SECRET_NAME = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")


def _show(raw: object) -> str:
    """A short, safe rendering of rejected input for error messages."""
    text = repr(raw)
    return text if len(text) <= 80 else text[:77] + "..."


def canonical_org_id(raw: object) -> str:
    """Return the canonical (lower-case) org id, or raise :class:`InvalidNameError`.

    >>> canonical_org_id("Acme-Corp")
    'acme-corp'
    """
    if not isinstance(raw, str) or not raw:
        raise InvalidNameError(f"org id must be a non-empty string, got {_show(raw)}")
    if not raw.isascii():
        raise InvalidNameError(
            f"org id {_show(raw)} has non-ASCII characters; use a-z, 0-9 and single '-'"
        )
    org = raw.lower()
    if org == "global":
        raise InvalidNameError(
            "org id 'global' is reserved for platform-wide entries; choose another id"
        )
    if len(org) > ORG_ID_MAX or not _ORG_ID.fullmatch(org):
        raise InvalidNameError(
            f"org id {_show(raw)} is invalid: use 1-{ORG_ID_MAX} characters of a-z and 0-9, "
            "separated by single '-', not starting or ending with '-'"
        )
    return org


def canonical_scope(raw: object) -> str:
    """An org id in canonical form, or ``GLOBAL`` for ``global`` in any case."""
    if isinstance(raw, str) and raw.isascii() and raw.lower() == "global":
        return GLOBAL
    return canonical_org_id(raw)


def validate_config_key(raw: object) -> str:
    """Return the config key unchanged if valid, else raise :class:`InvalidNameError`."""
    if not isinstance(raw, str) or not raw:
        raise InvalidNameError(f"config key must be a non-empty string, got {_show(raw)}")
    if len(raw) > CONFIG_KEY_MAX or not raw.isascii() or not _CONFIG_KEY.fullmatch(raw):
        raise InvalidNameError(
            f"config key {_show(raw)} is invalid: start with a letter, then letters, digits, "
            f"'_', '-' or '.', at most {CONFIG_KEY_MAX} characters"
        )
    return raw


def validate_secret_name(raw: object) -> str:
    """Return the bare secret name unchanged if valid, else raise :class:`InvalidNameError`.

    A bare name is what a ``secret_ref`` entry holds (``smtp-password``): never a
    scoped name, so ``--`` is refused.
    """
    if not isinstance(raw, str) or not raw:
        raise InvalidNameError(f"secret name must be a non-empty string, got {_show(raw)}")
    if "--" in raw:
        raise InvalidNameError(
            f"secret name {_show(raw)} contains '--', which separates the scope in Key Vault; "
            "give the bare name (e.g. 'smtp-password') and choose the scope separately"
        )
    if len(raw) > SECRET_NAME_MAX or not raw.isascii() or not _SECRET_NAME.fullmatch(raw):
        raise InvalidNameError(
            f"secret name {_show(raw)} is invalid: use 1-{SECRET_NAME_MAX} ASCII letters, "
            "digits and single '-', not starting or ending with '-'"
        )
    return raw


def keyvault_name(scope: str, secret_name: str) -> str:
    """The Key Vault secret name ``{scope}--{name}`` (scope: canonical org id or GLOBAL)."""
    scope = canonical_scope(scope)
    validate_secret_name(secret_name)
    return f"{scope}--{secret_name}"


def split_keyvault_name(full_name: str) -> tuple[str, str] | None:
    """Inverse of :func:`keyvault_name`; None for a vault name outside this scheme."""
    scope, sep, name = full_name.partition("--")
    if not sep:
        return None
    try:
        return canonical_scope(scope), validate_secret_name(name)
    except InvalidNameError:
        return None


def env_var_name(scope: str, secret_name: str) -> str:
    """The environment variable ``{ORG_ID}__{NAME}``: upper-case, ``-`` becomes ``_``."""
    scope = canonical_scope(scope)
    validate_secret_name(secret_name)
    return f"{scope}__{secret_name}".upper().replace("-", "_")


@functools.lru_cache(maxsize=4096)
def lookup_chain(org_id: str, secret_name: str) -> tuple[tuple[str, str], tuple[str, str]]:
    """The names tried for an org's ``secret_ref``, in order: its and GLOBAL's Key Vault
    names, then its and GLOBAL's env var names. Memoized: every secret read needs them,
    and the pair (org, name) set is small."""
    return (
        (keyvault_name(org_id, secret_name), keyvault_name(GLOBAL, secret_name)),
        (env_var_name(org_id, secret_name), env_var_name(GLOBAL, secret_name)),
    )
