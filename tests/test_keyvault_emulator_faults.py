"""Fault injection through the control API, observed through the real SDK's retry behaviour.

Retry settings are kept tiny (``retry_backoff_factor=0.01``) so the failures are quick.
"""

from __future__ import annotations

import time

import pytest
from azure.core.exceptions import (
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from tests.test_keyvault_emulator import async_client, raw, sync_client
from tools.keyvault_emulator.control import EmulatorControl, EmulatorControlError
from tools.services import KeyVaultEmulator

pytestmark = pytest.mark.integration

FAST_RETRY = {"retry_total": 2, "retry_backoff_factor": 0.01, "retry_backoff_max": 0.05}


def test_latency(keyvault: KeyVaultEmulator, kv_control: EmulatorControl) -> None:
    with sync_client(keyvault) as client:
        client.set_secret("slow", "v")
        kv_control.set_latency(250)
        started = time.perf_counter()
        assert client.get_secret("slow").value == "v"
        assert time.perf_counter() - started >= 0.25
        assert kv_control.faults()["latency_ms"] == 250
        kv_control.set_latency(0)
        started = time.perf_counter()
        client.get_secret("slow")
        assert time.perf_counter() - started < 0.25


def test_429_with_retry_after_then_success(
    keyvault: KeyVaultEmulator, kv_control: EmulatorControl
) -> None:
    with sync_client(keyvault, retry_total=3, retry_backoff_factor=0.01) as client:
        client.set_secret("throttled", "v")
        kv_control.fail_next(2, 429, retry_after=0.2, operation="get_secret")
        started = time.perf_counter()
        assert client.get_secret("throttled").value == "v"
        elapsed = time.perf_counter() - started
    assert elapsed >= 0.4  # the SDK honoured Retry-After twice
    assert kv_control.count("get_secret", "throttled") == 3
    assert kv_control.counters()["statuses"] == {"200": 2, "429": 2}  # set + final get; 2x429


def test_429_response_shape(keyvault: KeyVaultEmulator, kv_control: EmulatorControl) -> None:
    kv_control.fail_next(1, 429, retry_after=3)
    status, headers, body = raw(keyvault, "GET", "/secrets/any?api-version=7.5")
    assert status == 429
    assert headers["Retry-After"] == "3"
    assert body["error"]["code"] == "Throttled"
    # Consumed: the next request is answered normally (404, the secret does not exist).
    assert raw(keyvault, "GET", "/secrets/any?api-version=7.5")[0] == 404


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_then_success(
    keyvault: KeyVaultEmulator, kv_control: EmulatorControl, status: int
) -> None:
    with sync_client(keyvault, **FAST_RETRY) as client:
        client.set_secret("flaky", "v")
        kv_control.fail_next(2, status)
        assert client.get_secret("flaky").value == "v"
    assert kv_control.count("get_secret") == 3
    assert kv_control.counters()["statuses"][str(status)] == 2


def test_failures_beyond_retries_surface(
    keyvault: KeyVaultEmulator, kv_control: EmulatorControl
) -> None:
    with sync_client(keyvault, **FAST_RETRY) as client:
        client.set_secret("down", "v")
        kv_control.fail_next(10, 503)
        with pytest.raises(HttpResponseError) as err:
            client.get_secret("down")
        assert err.value.status_code == 503
        assert err.value.error is not None and err.value.error.code == "ServiceUnavailable"
    assert kv_control.count("get_secret") == 3  # first try + retry_total=2
    assert kv_control.faults()["fail_next"][0]["remaining"] == 7
    kv_control.clear_faults()
    assert kv_control.faults()["fail_next"] == []


def test_fail_next_only_hits_its_operation(
    keyvault: KeyVaultEmulator, kv_control: EmulatorControl
) -> None:
    with sync_client(keyvault, **FAST_RETRY) as client:
        kv_control.fail_next(1, 500, operation="set_secret")
        kv_control.fail_next(1, 503, operation="list_secrets")
        with pytest.raises(ResourceNotFoundError):  # unaffected by both rules: plain 404
            client.get_secret("target")
        assert client.set_secret("target", "v").value == "v"  # PUT is retried after the 500
        assert len(list(client.list_properties_of_secrets())) == 1
    assert kv_control.count("set_secret", "target") == 2
    assert kv_control.count("list_secrets") == 2
    assert kv_control.count("get_secret", "target") == 1


def test_patch_retry_rules(keyvault: KeyVaultEmulator, kv_control: EmulatorControl) -> None:
    # azure-core retries PATCH/POST on 500/503/504 or when Retry-After is present, but not on
    # a bare 429: the injected status decides whether the SDK retries an update.
    with sync_client(keyvault, **FAST_RETRY) as client:
        client.set_secret("patched", "v")
        kv_control.fail_next(1, 429, operation="update_secret")
        with pytest.raises(HttpResponseError) as err:
            client.update_secret_properties("patched", enabled=False)
        assert err.value.status_code == 429
        assert kv_control.count("update_secret") == 1

        kv_control.fail_next(1, 429, operation="update_secret", retry_after=0.01)
        kv_control.fail_next(1, 500, operation="update_secret")
        assert client.update_secret_properties("patched", enabled=False).enabled is False
        assert kv_control.count("update_secret") == 4


def test_refuse_connections(keyvault: KeyVaultEmulator, kv_control: EmulatorControl) -> None:
    with sync_client(keyvault, **FAST_RETRY) as client:
        client.set_secret("reachable", "v")  # also leaves a pooled keep-alive connection
        kv_control.refuse_connections()
        assert kv_control.faults()["refuse_connections"] is True
        started = time.perf_counter()
        with pytest.raises(ServiceRequestError):
            client.get_secret("reachable")
        assert time.perf_counter() - started < 3
        kv_control.refuse_connections(False)
        assert client.get_secret("reachable").value == "v"  # same client, same port
    assert kv_control.count("get_secret") == 1  # refused attempts never reach the vault


def test_reset_reopens_a_refusing_vault(
    keyvault: KeyVaultEmulator, kv_control: EmulatorControl
) -> None:
    kv_control.refuse_connections()
    kv_control.reset()
    with sync_client(keyvault, **FAST_RETRY) as client:
        assert client.set_secret("back", "v").value == "v"


def test_drop_connections(keyvault: KeyVaultEmulator, kv_control: EmulatorControl) -> None:
    with sync_client(keyvault, **FAST_RETRY) as client:
        client.set_secret("dropped", "v")
        kv_control.drop_connections()
        started = time.perf_counter()
        with pytest.raises((ServiceResponseError, ServiceRequestError)):
            client.get_secret("dropped")
        assert time.perf_counter() - started < 5
        kv_control.drop_connections(False)
        assert client.get_secret("dropped").value == "v"
    assert kv_control.count("get_secret") == 1


async def test_aio_retries_and_refusal(
    keyvault: KeyVaultEmulator, kv_control: EmulatorControl
) -> None:
    async with async_client(keyvault, **FAST_RETRY) as client:
        await client.set_secret("aio-faults", "v")
        kv_control.fail_next(1, 429, retry_after=0.01)
        kv_control.fail_next(1, 500)
        assert (await client.get_secret("aio-faults")).value == "v"
        assert kv_control.count("get_secret", "aio-faults") == 3

        kv_control.refuse_connections()
        with pytest.raises(ServiceRequestError):
            await client.get_secret("aio-faults")
        kv_control.refuse_connections(False)

        kv_control.drop_connections()
        with pytest.raises((ServiceResponseError, ServiceRequestError)):
            await client.get_secret("aio-faults")
        kv_control.clear_faults()
        assert (await client.get_secret("aio-faults")).value == "v"


def test_control_api_validates_input(kv_control: EmulatorControl) -> None:
    with pytest.raises(EmulatorControlError):
        kv_control.fail_next(1, 200)
    with pytest.raises(EmulatorControlError):
        kv_control.fail_next(1, 500, operation="no_such_operation")
    with pytest.raises(EmulatorControlError):
        kv_control.fail_next(-1, 500)
    with pytest.raises(EmulatorControlError):
        kv_control.set_latency(-5)
    assert kv_control.health()["status"] == "ok"


def test_the_rate_limit_answers_429_with_retry_after_like_key_vault(
    keyvault: KeyVaultEmulator, kv_control: EmulatorControl
) -> None:
    with sync_client(keyvault, retry_total=0) as client:
        client.set_secret("busy", "v")
        kv_control.set_rate_limit(3)
        statuses = []
        retry_after = []
        for _ in range(5):
            try:
                client.get_secret("busy")
                statuses.append(200)
            except HttpResponseError as exc:
                statuses.append(exc.status_code)
                assert exc.response is not None
                retry_after.append(float(exc.response.headers["Retry-After"]))
        assert statuses == [200, 200, 200, 429, 429]
        assert all(0 < s <= 10 for s in retry_after)
        assert kv_control.faults()["rate_limit_per_10s"] == 3
        kv_control.set_rate_limit(None)
        assert client.get_secret("busy").value == "v"
        kv_control.set_rate_limit(1)
        kv_control.clear_faults()  # clearing the faults lifts the limit too
        assert client.get_secret("busy").value == "v"


def test_a_bad_rate_limit_is_refused(kv_control: EmulatorControl) -> None:
    for bad in (0, -1, 2.5, "ten"):
        with pytest.raises(EmulatorControlError):
            kv_control.set_rate_limit(bad)  # type: ignore[arg-type]
