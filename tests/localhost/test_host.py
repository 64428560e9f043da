"""The local host serves a FunctionApp over real HTTP as the Functions host does:
requests built and responses read like the worker's, keys, limits and errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import azure.functions as func
import pytest

from tools.localhost import LocalFunctionsHost, read_route_prefix


def sample_app() -> func.FunctionApp:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

    @app.route(route="echo/{id:int}/{rest?}", methods=["POST", "GET"])
    async def echo(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(json.dumps({
            "method": req.method, "url": req.url, "route": dict(req.route_params),
            "params": dict(req.params), "headers": dict(req.headers),
            "body": req.get_body().decode("utf-8", "replace"),
        }), mimetype="application/json")

    @app.route(route="open", auth_level=func.AuthLevel.ANONYMOUS)
    def anything(req: func.HttpRequest) -> func.HttpResponse:  # sync, no methods
        return func.HttpResponse(f"{req.method} ok", headers={"X-Custom": "1"},
                                 mimetype="text/plain", charset="utf-8")

    @app.route(route="nothing", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    async def nothing(req: func.HttpRequest) -> None:
        return None

    @app.route(route="empty", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    async def empty(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(status_code=200)

    @app.route(route="boom", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    async def boom(req: func.HttpRequest) -> func.HttpResponse:
        raise RuntimeError("boom-canary")

    @app.route(route="admin-only", methods=["GET"], auth_level=func.AuthLevel.ADMIN)
    async def admin_only(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("admin")

    @app.timer_trigger(schedule="0 0 * * * *", arg_name="timer")
    def hourly(timer: func.TimerRequest) -> None:
        return None

    return app


@pytest.fixture
async def host() -> AsyncIterator[LocalFunctionsHost]:
    async with LocalFunctionsHost(sample_app(), route_prefix="api", max_body_bytes=1000) as h:
        yield h


@pytest.fixture
async def keyed() -> AsyncIterator[LocalFunctionsHost]:
    async with LocalFunctionsHost(sample_app(), route_prefix="api", function_keys="fkey",
                                  master_key="mkey") as h:
        yield h


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def fetch(http: aiohttp.ClientSession, method: str, url: str, **kw: object
                ) -> tuple[int, dict[str, str], bytes]:
    async with http.request(method, url, **kw) as r:  # type: ignore[arg-type]
        return r.status, dict(r.headers), await r.read()


async def test_function_sees_route_values_query_headers_and_body(
    host: LocalFunctionsHost, http: aiohttp.ClientSession
) -> None:
    status, _, body = await fetch(
        http, "POST", f"{host.url}/API/Echo/42/a%20b?x=1&x=2&empty=&y=%C3%A9",
        data=b"payload", headers={"X-Thing": "v", "Content-Type": "text/plain"})
    seen = json.loads(body)
    assert status == 200
    assert seen["method"] == "POST"
    assert seen["route"] == {"id": "42", "rest": "a b"}
    assert seen["params"] == {"x": "1,2", "y": "é"}
    assert seen["headers"]["x-thing"] == "v"
    assert seen["body"] == "payload"
    assert seen["url"] == f"{host.url}/API/Echo/42/a%20b?x=1&x=2&empty=&y=%C3%A9"


async def test_absent_optional_route_value_is_left_out(
    host: LocalFunctionsHost, http: aiohttp.ClientSession
) -> None:
    _, _, body = await fetch(http, "GET", f"{host.base_url}/echo/7")
    assert json.loads(body)["route"] == {"id": "7"}


async def test_failed_constraint_is_404(host: LocalFunctionsHost,
                                        http: aiohttp.ClientSession) -> None:
    assert (await fetch(http, "GET", f"{host.base_url}/echo/seven"))[0] == 404


async def test_wrong_method_on_a_known_route_is_404_with_no_body(
    host: LocalFunctionsHost, http: aiohttp.ClientSession
) -> None:
    status, _, body = await fetch(http, "DELETE", f"{host.base_url}/echo/7")
    assert (status, body) == (404, b"")


async def test_unknown_route_is_404(host: LocalFunctionsHost,
                                    http: aiohttp.ClientSession) -> None:
    assert (await fetch(http, "GET", f"{host.base_url}/nowhere"))[0] == 404


async def test_function_without_methods_answers_every_method(
    host: LocalFunctionsHost, http: aiohttp.ClientSession
) -> None:
    for method in ("GET", "POST", "PATCH", "OPTIONS"):
        status, headers, body = await fetch(http, method, f"{host.base_url}/open")
        assert (status, body) == (200, f"{method} ok".encode())
        assert headers["X-Custom"] == "1"
        assert headers["Content-Type"] == "text/plain; charset=utf-8"


async def test_function_returning_nothing_is_204(host: LocalFunctionsHost,
                                                 http: aiohttp.ClientSession) -> None:
    assert (await fetch(http, "GET", f"{host.base_url}/nothing"))[:3:2] == (204, b"")


async def test_response_with_empty_body_keeps_its_status(
    host: LocalFunctionsHost, http: aiohttp.ClientSession
) -> None:
    assert (await fetch(http, "GET", f"{host.base_url}/empty"))[:3:2] == (200, b"")


async def test_function_that_raises_is_500_with_no_detail(
    host: LocalFunctionsHost, http: aiohttp.ClientSession
) -> None:
    assert (await fetch(http, "GET", f"{host.base_url}/boom"))[:3:2] == (500, b"")


async def test_body_over_the_limit_is_413(host: LocalFunctionsHost,
                                          http: aiohttp.ClientSession) -> None:
    status, _, _ = await fetch(http, "POST", f"{host.base_url}/echo/1", data=b"x" * 1001)
    assert status == 413
    assert (await fetch(http, "POST", f"{host.base_url}/echo/1", data=b"x" * 1000))[0] == 200


async def test_chunked_body_over_the_limit_is_413(host: LocalFunctionsHost,
                                                  http: aiohttp.ClientSession) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"y" * 300

    assert (await fetch(http, "POST", f"{host.base_url}/echo/1", data=chunks()))[0] == 413


async def test_non_http_functions_are_skipped_and_listed(host: LocalFunctionsHost) -> None:
    assert host.skipped == ["hourly (TimerTrigger)"]
    assert any("skipped (not HTTP): hourly" in line for line in host.describe())


async def test_keys_are_not_required_by_default(host: LocalFunctionsHost,
                                                http: aiohttp.ClientSession) -> None:
    assert (await fetch(http, "GET", f"{host.base_url}/echo/1"))[0] == 200
    assert (await fetch(http, "GET", f"{host.base_url}/admin-only"))[0] == 200


async def test_enforced_keys_refuse_a_call_without_key(keyed: LocalFunctionsHost,
                                                       http: aiohttp.ClientSession) -> None:
    assert (await fetch(http, "GET", f"{keyed.base_url}/echo/1"))[:3:2] == (401, b"")


async def test_enforced_keys_refuse_a_wrong_key(keyed: LocalFunctionsHost,
                                                http: aiohttp.ClientSession) -> None:
    url = f"{keyed.base_url}/echo/1"
    assert (await fetch(http, "GET", url, headers={"x-functions-key": "nope"}))[0] == 401
    assert (await fetch(http, "GET", url + "?code=nope"))[0] == 401


async def test_function_key_accepted_in_header_or_code_query(
    keyed: LocalFunctionsHost, http: aiohttp.ClientSession
) -> None:
    url = f"{keyed.base_url}/echo/1"
    assert (await fetch(http, "GET", url, headers={"x-functions-key": "fkey"}))[0] == 200
    assert (await fetch(http, "GET", url + "?code=fkey"))[0] == 200


async def test_anonymous_functions_need_no_key(keyed: LocalFunctionsHost,
                                               http: aiohttp.ClientSession) -> None:
    assert (await fetch(http, "GET", f"{keyed.base_url}/open"))[0] == 200


async def test_admin_level_needs_the_master_key(keyed: LocalFunctionsHost,
                                                http: aiohttp.ClientSession) -> None:
    url = f"{keyed.base_url}/admin-only"
    assert (await fetch(http, "GET", url, headers={"x-functions-key": "fkey"}))[0] == 401
    assert (await fetch(http, "GET", url, headers={"x-functions-key": "mkey"}))[0] == 200


async def test_empty_route_prefix_serves_at_the_root(http: aiohttp.ClientSession) -> None:
    async with LocalFunctionsHost(sample_app(), route_prefix="") as h:
        assert (await fetch(http, "GET", f"{h.url}/nothing"))[0] == 204
        assert (await fetch(http, "GET", f"{h.url}/api/nothing"))[0] == 404


def test_route_prefix_comes_from_host_json(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text('{"extensions": {"http": {"routePrefix": ""}}}')
    assert read_route_prefix(tmp_path / "host.json") == ""
    (tmp_path / "host.json").write_text('{"version": "2.0"}')
    assert read_route_prefix(tmp_path / "host.json") == "api"


def test_the_repos_host_json_prefix_is_api() -> None:
    assert LocalFunctionsHost(sample_app()).route_prefix == "api"


def test_only_loopback_addresses_are_allowed() -> None:
    with pytest.raises(ValueError, match="loopback"):
        LocalFunctionsHost(sample_app(), host="0.0.0.0")


# -- sign-in (make serve's stand-in for App Service authentication) ------------------------------
@pytest.fixture
async def signed_in() -> AsyncIterator[LocalFunctionsHost]:
    async with LocalFunctionsHost(sample_app(), route_prefix="api", sign_in="cHJpbmNpcGFs") as h:
        yield h


async def test_sign_in_adds_the_principal_to_a_request_without_one(
    signed_in: LocalFunctionsHost, http: aiohttp.ClientSession
) -> None:
    _, _, body = await fetch(http, "GET", f"{signed_in.base_url}/echo/1")
    assert json.loads(body)["headers"]["x-ms-client-principal"] == "cHJpbmNpcGFs"


async def test_sign_in_keeps_a_principal_the_request_carries(
    signed_in: LocalFunctionsHost, http: aiohttp.ClientSession
) -> None:
    _, _, body = await fetch(http, "GET", f"{signed_in.base_url}/echo/1",
                             headers={"X-MS-CLIENT-PRINCIPAL": "b3RoZXI="})
    assert json.loads(body)["headers"]["x-ms-client-principal"] == "b3RoZXI="


@pytest.mark.parametrize("host_header", ["evil.example", "evil.example:7071", "10.0.0.8"])
async def test_sign_in_is_not_added_for_a_host_that_is_not_loopback(
    signed_in: LocalFunctionsHost, http: aiohttp.ClientSession, host_header: str
) -> None:
    # a page on another domain rebound to 127.0.0.1 sends its own name as Host: refused
    # before routing (tests/localhost/test_guard.py), so no principal reaches a function
    status, _, body = await fetch(http, "GET", f"{signed_in.base_url}/echo/1",
                                  headers={"Host": host_header})
    assert status == 421 and b"principal" not in body.lower()


async def test_without_sign_in_no_principal_is_added(
    host: LocalFunctionsHost, http: aiohttp.ClientSession
) -> None:
    _, _, body = await fetch(http, "GET", f"{host.base_url}/echo/1")
    assert "x-ms-client-principal" not in json.loads(body)["headers"]


# -- Event Grid triggers: the host's Event Grid extension webhook --------------------------


def eventgrid_app(seen: list[func.EventGridEvent]) -> func.FunctionApp:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

    @app.function_name("on_event")
    @app.event_grid_trigger(arg_name="event")
    async def on_event(event: func.EventGridEvent) -> None:
        if event.subject == "boom":
            raise RuntimeError("boom-canary")
        seen.append(event)

    return app


EVENT = {"id": "1", "topic": "/subscriptions/x/providers/Microsoft.KeyVault/vaults/v",
         "subject": "acme--s", "eventType": "Microsoft.KeyVault.SecretNewVersionCreated",
         "eventTime": "2026-01-02T03:04:05.123456Z", "data": {"VaultName": "v", "Version": "1"},
         "dataVersion": "1", "metadataVersion": "1"}


async def test_eventgrid_webhook_validates_and_invokes_once_per_event(
    http: aiohttp.ClientSession
) -> None:
    seen: list[func.EventGridEvent] = []
    async with LocalFunctionsHost(eventgrid_app(seen), route_prefix="api") as host:
        url = host.eventgrid_url("on_event")
        assert url == f"{host.url}/runtime/webhooks/eventgrid?functionName=on_event"
        assert host.skipped == [] and any(url in line for line in host.describe())
        validation = [{"id": "v", "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
                       "subject": "", "data": {"validationCode": "abc-123"},
                       "dataVersion": "2", "eventTime": EVENT["eventTime"], "topic": "t"}]
        status, _, body = await fetch(http, "POST", url, json=validation,
                                      headers={"aeg-event-type": "SubscriptionValidation"})
        assert (status, json.loads(body)) == (200, {"validationResponse": "abc-123"})
        assert seen == []
        second = {**EVENT, "id": "2", "subject": "acme--t"}
        status, _, _ = await fetch(http, "POST", url, json=[EVENT, second],
                                   headers={"aeg-event-type": "Notification"})
        assert status == 202
        assert [(e.id, e.subject, e.event_type) for e in seen] == [
            ("1", "acme--s", EVENT["eventType"]), ("2", "acme--t", EVENT["eventType"])]
        assert seen[0].get_json() == EVENT["data"] and seen[0].topic == EVENT["topic"]
        assert seen[0].data_version == "1" and seen[0].event_time is not None


async def test_eventgrid_webhook_answers_like_the_extension(http: aiohttp.ClientSession) -> None:
    seen: list[func.EventGridEvent] = []
    async with LocalFunctionsHost(eventgrid_app(seen), route_prefix="api") as host:
        url = host.eventgrid_url("on_event")
        notify = {"aeg-event-type": "Notification"}
        assert (await fetch(http, "POST", url, json=[EVENT]))[0] == 400  # no aeg-event-type
        assert (await fetch(http, "POST", url, data=b"{", headers=notify))[0] == 400
        assert (await fetch(http, "POST", url, json=[{**EVENT, "subject": "boom"}],
                            headers=notify))[0] == 500  # Event Grid retries
        assert (await fetch(http, "POST", url, json=[EVENT],
                            headers={"aeg-event-type": "Unsubscribe"}))[0] == 202
        assert (await fetch(http, "POST", host.eventgrid_url("nobody"), json=[EVENT],
                            headers=notify))[0] == 404
        assert (await fetch(http, "GET", url))[0] == 404
        assert seen == []


async def test_eventgrid_webhook_takes_the_system_key_when_keys_are_enforced(
    http: aiohttp.ClientSession
) -> None:
    seen: list[func.EventGridEvent] = []
    async with LocalFunctionsHost(eventgrid_app(seen), route_prefix="api", function_keys="fkey",
                                  master_key="mkey", eventgrid_key="egkey") as host:
        url = host.eventgrid_url("on_event")
        notify = {"aeg-event-type": "Notification"}
        assert (await fetch(http, "POST", url, json=[EVENT], headers=notify))[0] == 401
        assert (await fetch(http, "POST", url + "&code=fkey", json=[EVENT],
                            headers=notify))[0] == 401  # a function key is not enough
        for key in ("egkey", "mkey"):
            assert (await fetch(http, "POST", f"{url}&code={key}", json=[EVENT],
                                headers=notify))[0] == 202
    assert len(seen) == 2
