"""The one error mapping of the HTTP API: exception -> status, ``{"error", "message"}``.

Every route's failures go through :func:`error_reply`, so a status code means the
same thing everywhere and no error block is repeated per endpoint. Bodies carry no
secret value and no text of an unexpected exception (that is logged instead).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from pydantic import ValidationError

from shared.admin.config_history import HistoryItemNotFoundError
from shared.admin.secret_admin import (
    SecretAbsentError,
    SecretDeletedError,
    SecretExistsError,
    SecretInUseError,
    VaultNotConfiguredError,
)
from shared.api.auth import ForbiddenError, NotAuthenticatedError
from shared.backends.org_registry import OrgExistsError, OrgSuspendedError, UnknownOrgError
from shared.errors import (
    BackendUnavailableError,
    ConcurrencyError,
    ConfigError,
    ConfigNotFoundError,
    ConfigValueError,
    InvalidNameError,
    SecretAccessError,
    SecretNotFoundError,
)

log = logging.getLogger("orgconfig.api")

#: Seconds a client should wait before retrying after a 503.
RETRY_AFTER_SECONDS = 5


class ApiError(Exception):
    """An error a handler raises on purpose: status, code, message and extra body fields."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}
        self.extra = extra


@dataclass(frozen=True)
class ErrorReply:
    """What an exception becomes on the wire."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def _reply(status: int, code: str, message: str, **extra: Any) -> ErrorReply:
    return ErrorReply(status, {"error": code, "message": message, **extra})


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    """Pydantic's errors without the offending input (it may be a secret value)."""
    return [
        {"loc": [str(part) for part in err["loc"]], "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_input=False, include_url=False, include_context=False)
    ]


def _date(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def invalid_request(exc: ValidationError, what: str = "the request body") -> ApiError:
    """The 400 for input that does not fit its pydantic model."""
    return ApiError(400, "invalid_request", f"{what} does not fit its schema",
                    details=validation_details(exc))


#: orgconfig's errors -> status; the body is the error's own ``code`` and message.
_STATUS: tuple[tuple[type[ConfigError], int], ...] = (
    (InvalidNameError, 400), (ConfigValueError, 400),
    (ConfigNotFoundError, 404), (SecretNotFoundError, 404), (SecretAbsentError, 404),
    (HistoryItemNotFoundError, 404),
    (SecretExistsError, 409), (SecretDeletedError, 409), (SecretInUseError, 409),
    (UnknownOrgError, 404), (OrgExistsError, 409), (OrgSuspendedError, 409),
    (ConcurrencyError, 412),
    # The function's own identity was refused: a gateway problem, not the caller's.
    (SecretAccessError, 502),
    (BackendUnavailableError, 503), (VaultNotConfiguredError, 503),
)


def _details(exc: ConfigError) -> dict[str, Any]:
    """Extra body fields of the errors that carry more than a message."""
    if isinstance(exc, SecretDeletedError):
        return {"recoverable": exc.deleted.recoverable,
                "scheduled_purge_date": _date(exc.deleted.scheduled_purge_date)}
    if isinstance(exc, SecretAbsentError):
        return {"recoverable": exc.deleted is not None}
    if isinstance(exc, SecretInUseError):
        return {"references": [{"scope": e.scope, "key": e.key} for e in exc.references]}
    if isinstance(exc, SecretAccessError):
        return {"reason": exc.reason}
    if isinstance(exc, BackendUnavailableError):
        return {"backend": exc.backend}
    if isinstance(exc, UnknownOrgError):
        return {"close_matches": exc.close}
    return {}


def error_reply(exc: BaseException, *, route: str = "") -> ErrorReply:
    """Map any exception raised while answering ``route`` to its error reply."""
    if isinstance(exc, ApiError):
        return ErrorReply(
            exc.status, {"error": exc.code, "message": exc.message, **exc.extra}, exc.headers
        )
    if isinstance(exc, NotAuthenticatedError):
        return _reply(401, "unauthenticated", str(exc))
    if isinstance(exc, ForbiddenError):
        return _reply(403, "forbidden", str(exc), required_roles=exc.required_roles)
    status = next((s for kind, s in _STATUS if isinstance(exc, kind)), None)
    if status is not None and isinstance(exc, ConfigError):
        transient = isinstance(exc, BackendUnavailableError)
        return ErrorReply(
            status, {"error": exc.code, "message": str(exc), **_details(exc)},
            {"Retry-After": str(RETRY_AFTER_SECONDS)} if transient else {},
        )
    if isinstance(exc, ResourceNotFoundError):
        return _reply(404, "not_found", "the resource does not exist")
    if isinstance(exc, ResourceExistsError):
        return _reply(409, "conflict", "the resource already exists or is in a conflicting state")
    if isinstance(exc, HttpResponseError):
        log.warning("backend answered %s on %s", exc.status_code, route)
        return _reply(502, "backend_error",
                      f"a backing service refused the request (HTTP {exc.status_code})")
    if isinstance(exc, ConfigError):
        # Only settings errors raise the base class: the deployment, not the request, is wrong.
        log.error("server misconfigured on %s: %s", route, exc)
        return _reply(500, "server_misconfigured",
                      "the service is misconfigured; the function logs say which setting")
    log.error("unexpected error on %s", route, exc_info=exc)
    return _reply(500, "internal_error", "unexpected error; the function logs have the details")
