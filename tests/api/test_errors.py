"""One error mapping for the whole API: status and code per error class, no leaked text."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from azure.core.exceptions import HttpResponseError

from shared.admin.secret_admin import SecretExistsError, VaultNotConfiguredError
from shared.api.auth import ForbiddenError, NotAuthenticatedError
from shared.api.errors import error_reply
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
from tests.api.conftest import Api


@pytest.mark.parametrize(("exc", "status", "code"), [
    (NotAuthenticatedError("who?"), 401, "unauthenticated"),
    (ForbiddenError(["PlatformAdmin"]), 403, "forbidden"),
    (InvalidNameError("bad"), 400, "invalid_name"),
    (ConfigValueError("bad"), 400, "invalid_value"),
    (ConfigNotFoundError("acme", "k"), 404, "config_not_found"),
    (SecretNotFoundError("acme", "k", "n", ["keyvault:acme--n"]), 404, "secret_not_found"),
    (SecretExistsError("exists"), 409, "secret_exists"),
    (ConcurrencyError("changed"), 412, "precondition_failed"),
    (SecretAccessError("denied", "permission"), 502, "secret_access_denied"),
    (BackendUnavailableError("Key Vault", "down"), 503, "backend_unavailable"),
    (VaultNotConfiguredError("none"), 503, "vault_not_configured"),
    (HttpResponseError("teapot"), 502, "backend_error"),
    (ConfigError("setting X is wrong"), 500, "server_misconfigured"),
    (RuntimeError("Zx-internal-detail"), 500, "internal_error"),
])
def test_each_error_class_has_one_status_and_code(
    exc: BaseException, status: int, code: str
) -> None:
    reply = error_reply(exc)
    assert (reply.status, reply.body["error"]) == (status, code)
    assert reply.body["message"]


def test_an_unexpected_error_keeps_its_text_out_of_the_body() -> None:
    reply = error_reply(KeyError("Zx-internal-detail"))
    assert "Zx-internal-detail" not in str(reply.body)


def test_unavailable_says_when_to_retry() -> None:
    assert error_reply(BackendUnavailableError("Table Storage", "down")).headers == {
        "Retry-After": "5"}


@pytest.mark.integration
async def test_a_bad_setting_is_500_server_misconfigured(
    api: Api, api_env: Callable[..., None]
) -> None:
    api_env(CONFIG_CACHE_TTL_SECONDS="Zx-soon")
    response = await api.call("config_list", route={"org": "acme"})
    assert (response.status, response.error) == (500, "server_misconfigured")
    assert "Zx-soon" not in response.text


@pytest.mark.integration
async def test_an_oversized_body_is_413(api: Api) -> None:
    response = await api.call("config_put", route={"org": "acme", "key": "k"},
                              body=b'{"value": "' + b"x" * 300_000 + b'"}')
    assert (response.status, response.error) == (413, "payload_too_large")


@pytest.mark.integration
async def test_every_response_is_json_and_not_cacheable(api: Api) -> None:
    for response in [await api.call("health", principal=None),
                     await api.call("config_get", route={"org": "acme", "key": "nope"})]:
        assert response.headers["Cache-Control"] == "no-store"
        assert response.mimetype == "application/json"
