"""Typed errors of orgconfig. Every message says what to do; none carries a secret value."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args


class ConfigError(Exception):
    """Base class of every orgconfig error."""

    #: Short machine-readable code used by the HTTP API's error bodies.
    code = "config_error"


class InvalidNameError(ConfigError, ValueError):
    """An org id, config key or secret name does not follow the naming rules."""

    code = "invalid_name"


class ConfigNotFoundError(ConfigError, KeyError):
    """The key exists neither in the organization's entries nor in GLOBAL."""

    code = "config_not_found"

    def __init__(self, org_id: str, key: str) -> None:
        self.org_id, self.key = org_id, key
        super().__init__(
            f"config key {key!r} is not set for org {org_id!r} nor in GLOBAL; "
            f"add it with `python -m shared.cli set {org_id} {key} VALUE --type string` "
            "or pass default= to get_config"
        )

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class ConfigValueError(ConfigError, ValueError):
    """A stored value does not parse as its declared Type (the value is not echoed)."""

    code = "invalid_value"


#: What can keep an org's config from fitting a workflow's declared config model.
ProblemKind = Literal["missing", "wrong_type", "invalid", "secret_missing", "secret_disabled",
                      "secret_expired"]
PROBLEM_KINDS: tuple[str, ...] = get_args(ProblemKind)


@dataclass(frozen=True)
class ConfigProblem:
    """One key of a declared config model that the org's config does not satisfy. The
    message names the key, the expected type or constraint, secret names: never a value.

    ``expected_type`` is a stored Type that fits the key's field (``string``, ``int``,
    ``float``, ``bool``, ``json``, ``secret_ref``), None when any non-secret Type would do or
    it is not known; ``secret`` is the secret name (a ``secret_ref`` entry's value: a name,
    not a secret value) that a ``secret_*`` problem concerns, else None."""

    key: str
    problem: ProblemKind
    message: str
    expected_type: str | None = None
    secret: str | None = None


class ConfigNotReadyError(ConfigValueError):
    """An org's config does not fit a declared config model (``OrganizationContext.load``):
    every problem found, each with its key and kind (:class:`ConfigProblem`), no value."""

    code = "config_not_ready"

    def __init__(self, org_id: str, model: str, problems: Sequence[ConfigProblem]) -> None:
        self.org_id, self.model = org_id, model
        self.problems = list(problems)
        listed = "; ".join(f"{p.key} ({p.problem}): {p.message}" for p in self.problems)
        super().__init__(f"config of org {org_id!r} does not fit {model}: {listed}")


class SecretNotFoundError(ConfigError, KeyError):
    """A secret_ref resolved nowhere: lists every name tried, never a value."""

    code = "secret_not_found"

    def __init__(self, org_id: str, key: str, secret_name: str, tried: Sequence[str]) -> None:
        self.org_id, self.key, self.secret_name = org_id, key, secret_name
        self.tried = list(tried)
        super().__init__(
            f"secret {secret_name!r} referenced by config key {key!r} of org {org_id!r} "
            f"was not found; tried {', '.join(self.tried)}. Create it with "
            f"`python -m shared.cli secret set {org_id} {secret_name}` (or GLOBAL), "
            "or fix the reference"
        )

    def __str__(self) -> str:
        return str(self.args[0])


class SecretAccessError(ConfigError):
    """Key Vault refused: authentication failed, permission denied, or the secret is disabled."""

    code = "secret_access_denied"

    def __init__(self, message: str, reason: str = "permission") -> None:
        #: ``authentication``, ``permission`` or ``disabled``
        self.reason = reason
        super().__init__(message)


class SecretExpiredError(SecretAccessError):
    """The secret's expiry date has passed and ``SECRET_EXPIRED_POLICY=refuse``. Key Vault
    itself still returns the value of an expired secret; orgconfig refuses to use it."""

    code = "secret_expired"

    def __init__(self, full_name: str, expires_on: str) -> None:
        super().__init__(
            f"secret {full_name} expired at {expires_on} and SECRET_EXPIRED_POLICY=refuse: "
            "set a new version (with a later expiry) or change the expiry date in Key Vault",
            "expired",
        )


class BackendUnavailableError(ConfigError):
    """A store (Table Storage or Key Vault) is unreachable and nothing cached can be served."""

    code = "backend_unavailable"

    def __init__(self, backend: str, message: str) -> None:
        self.backend = backend
        super().__init__(message)


class WriteOutcomeUnknownError(BackendUnavailableError):
    """A write the store did not answer in time. It was sent, so the store may still apply
    it when it recovers: ``pending`` completes with the write's own outcome (the write is
    not cancelled, so what follows it, audit, invalidation, the change record, still runs
    when it lands). Read the entry to see whether it was applied; repeating the same PUT
    answers success if it was."""

    code = "write_outcome_unknown"

    def __init__(self, backend: str, message: str, pending: asyncio.Future[Any]) -> None:
        self.pending = pending
        super().__init__(backend, message)


class ConcurrencyError(ConfigError):
    """A write lost a race: the entry changed since the ETag the writer read."""

    code = "precondition_failed"
