"""The CSRF defences: JSON-only bodies, and Go 1.25's cross-origin protection."""

from __future__ import annotations

import pytest

from shared.api.browser_safety import refuse_cross_origin, require_json_body
from shared.api.errors import ApiError

URL = "http://127.0.0.1:7071/api/secrets"
OWN = {"Host": "127.0.0.1:7071"}


def refused(method: str, headers: dict[str, str], url: str = URL) -> bool:
    try:
        refuse_cross_origin(method, headers, url)
    except ApiError as error:
        assert (error.status, error.code) == (403, "cross_origin_refused")
        return True
    return False


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_a_cross_site_fetch_is_refused(method: str) -> None:
    assert refused(method, {**OWN, "Sec-Fetch-Site": "cross-site"})


def test_a_same_site_but_cross_origin_fetch_is_refused() -> None:
    assert refused("POST", {**OWN, "Sec-Fetch-Site": "same-site"})


@pytest.mark.parametrize("site", ["same-origin", "none", "Same-Origin"])
def test_same_origin_and_user_initiated_fetches_pass(site: str) -> None:
    assert not refused("POST", {**OWN, "Sec-Fetch-Site": site})


def test_sec_fetch_site_decides_before_origin() -> None:
    assert not refused("POST", {**OWN, "Sec-Fetch-Site": "same-origin",
                                "Origin": "https://evil.example"})
    assert refused("POST", {**OWN, "Sec-Fetch-Site": "cross-site",
                            "Origin": "http://127.0.0.1:7071"})


def test_a_foreign_origin_is_refused_without_sec_fetch_site() -> None:
    assert refused("DELETE", {**OWN, "Origin": "https://evil.example"})


def test_another_port_is_another_origin() -> None:
    assert refused("POST", {**OWN, "Origin": "http://127.0.0.1:8080"})


def test_origin_null_is_refused() -> None:
    assert refused("POST", {**OWN, "Origin": "null"})


def test_the_own_origin_passes() -> None:
    assert not refused("PUT", {**OWN, "Origin": "http://127.0.0.1:7071"})


def test_the_host_comparison_ignores_case() -> None:
    assert not refused("PUT", {"Host": "MyApp.azurewebsites.net",
                               "Origin": "https://myapp.azurewebsites.net"},
                       url="https://myapp.azurewebsites.net/api/secrets")


def test_without_host_header_the_url_host_is_used() -> None:
    assert not refused("POST", {"Origin": "http://127.0.0.1:7071"})
    assert refused("POST", {"Origin": "http://localhost:7071"})


def test_a_request_with_neither_header_passes() -> None:
    """curl, the CLI, SDKs and server-to-server callers send neither."""
    assert not refused("POST", OWN)
    assert not refused("DELETE", {})


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_safe_methods_are_never_refused(method: str) -> None:
    assert not refused(method, {**OWN, "Sec-Fetch-Site": "cross-site",
                                "Origin": "https://evil.example"})


def test_header_names_are_case_insensitive() -> None:
    assert refused("POST", {"host": "127.0.0.1:7071", "sec-fetch-site": "cross-site"})


def media_refused(content_type: str | None, body: bytes = b'{"value": "v"}') -> bool:
    headers = {} if content_type is None else {"Content-Type": content_type}
    try:
        require_json_body(headers, body)
    except ApiError as error:
        assert (error.status, error.code) == (415, "unsupported_media_type")
        return True
    return False


@pytest.mark.parametrize("content_type", [
    "application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8",
    'application/json; charset="utf-8"',
])
def test_json_bodies_are_accepted(content_type: str) -> None:
    assert not media_refused(content_type)


@pytest.mark.parametrize("content_type", [
    None, "", "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x", "application/json-patch+json", "text/json",
    "application/json; charset=latin-1",
])
def test_other_body_types_are_refused(content_type: str | None) -> None:
    assert media_refused(content_type)


def test_an_empty_body_needs_no_content_type() -> None:
    assert not media_refused(None, b"")
    assert not media_refused("text/plain", b"")
