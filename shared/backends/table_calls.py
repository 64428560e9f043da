"""One call to Table Storage, bounded and with its failures mapped to orgconfig's errors
(what :class:`shared.backends.config_store.ConfigStore` runs behind its breaker)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)

from shared.core.late import StillRunning, wait_without_cancelling
from shared.core.metrics import Metrics
from shared.errors import BackendUnavailableError, WriteOutcomeUnknownError

T = TypeVar("T")
BACKEND = "Table Storage"


async def table_call(what: str, op: Callable[[], Awaitable[T]], limit: float, *,
                     write: bool, metrics: Metrics) -> T:
    """``op()`` within ``limit`` seconds. A 4xx answer (not found, exists, a failed
    condition) is raised as the SDK's error: it is an answer. A write is not cancelled
    at the bound (:class:`WriteOutcomeUnknownError` carries it, still running)."""
    try:
        if write:
            return await wait_without_cancelling(op(), limit)
        return await asyncio.wait_for(op(), limit)
    except StillRunning as late:
        metrics.incr("table.write_outcome_unknown")
        raise WriteOutcomeUnknownError(
            BACKEND,
            f"Table Storage did not answer {what} within {limit}s: the write was sent "
            "and may still be applied when the store recovers. Read the entry to see "
            "(GET it: its value and ETag); repeating the same PUT answers 200 if it was",
            late.task,
        ) from None
    except TimeoutError:
        raise BackendUnavailableError(
            BACKEND,
            f"Table Storage did not answer {what} within {limit}s; "
            "check CONFIG_STORAGE_CONNECTION / CONFIG_STORAGE_ENDPOINT and the network",
        ) from None
    except ClientAuthenticationError:
        raise BackendUnavailableError(
            BACKEND,
            f"Table Storage refused {what}: authentication failed; check the connection "
            "string's key or grant the managed identity 'Storage Table Data Contributor'",
        ) from None
    except (ResourceNotFoundError, ResourceExistsError, ResourceModifiedError):
        raise
    except HttpResponseError as exc:
        if exc.status_code is not None and 400 <= exc.status_code < 500 and \
                exc.status_code not in (408, 429):
            raise
        raise BackendUnavailableError(
            BACKEND, f"Table Storage failed {what} (HTTP {exc.status_code}); retry later",
        ) from None
    except AzureError as exc:
        raise BackendUnavailableError(
            BACKEND,
            f"Table Storage is unreachable for {what} ({exc.__class__.__name__}); check "
            "that the storage account (or Azurite) is running and reachable",
        ) from None
