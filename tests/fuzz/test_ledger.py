"""The fuzz run's own response rules catch what they are for (so a green run means something)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.fuzz.ledger import Ledger, check_response

SECRET = "Zx-ledger-secret-1"


@dataclass
class Operation:
    path: str


@dataclass
class Case:
    method: str
    path: str
    body: Any = None
    path_parameters: dict[str, str] = field(default_factory=dict)

    @property
    def operation(self) -> Operation:
        return Operation(self.path)


@dataclass
class Response:
    status_code: int
    body: Any
    headers: dict[str, list[str]] = field(
        default_factory=lambda: {"cache-control": ["no-store"]})

    @property
    def text(self) -> str:
        return "" if self.body is None else json.dumps(self.body)

    @property
    def content(self) -> bytes:
        return self.text.encode()


def ledger() -> Ledger:
    book = Ledger(active={"acme--n": 1})
    book.remember(SECRET)
    return book


def create() -> Case:
    return Case("POST", "/secrets", {"scope": "acme", "name": "n", "value": SECRET})


def test_the_one_time_echo_of_its_own_request_passes() -> None:
    book = Ledger()
    check_response(book, create(), Response(201, {"vault_name": "acme--n", "value": SECRET}))
    assert book.active == {"acme--n": 1}


def test_a_secret_value_in_another_response_is_a_leak() -> None:
    listing = Response(200, {"entries": [{"value": SECRET}]})
    with pytest.raises(AssertionError, match="secret value"):
        check_response(ledger(), Case("GET", "/orgs/{org}/config"), listing)


def test_a_secret_value_in_a_header_or_an_error_is_a_leak() -> None:
    with pytest.raises(AssertionError, match="secret value"):
        check_response(ledger(), create(), Response(
            409, {"error": "exists", "message": SECRET}))
    with pytest.raises(AssertionError, match="secret value"):
        check_response(ledger(), Case("GET", "/health"), Response(
            200, {}, {"cache-control": ["no-store"], "x-debug": [SECRET]}))


def test_an_echo_that_repeats_the_value_is_a_leak() -> None:
    with pytest.raises(AssertionError, match="secret value"):
        check_response(ledger(), create(), Response(
            201, {"vault_name": "acme--n", "value": SECRET, "again": SECRET}))


def test_a_json_escaped_secret_is_still_found() -> None:
    book = Ledger()
    value = 'Zx "quoted" \u00e9 value'
    book.remember(value)
    with pytest.raises(AssertionError, match="secret value"):
        check_response(book, Case("GET", "/secrets"), Response(200, {"x": value}))


def test_every_response_must_say_no_store() -> None:
    with pytest.raises(AssertionError, match="no-store"):
        check_response(Ledger(), Case("GET", "/health"), Response(200, {}, {}))


@pytest.mark.parametrize("body", [None, [], {"error": "x"}, {"message": "m"}, {"error": 1,
                                                                                "message": "m"}])
def test_error_bodies_need_error_and_message(body: Any) -> None:
    with pytest.raises(AssertionError, match="error"):
        check_response(Ledger(), Case("GET", "/secrets"), Response(400, body))


def test_short_plain_values_are_not_tracked() -> None:
    book = Ledger()
    for value in ["0", "aaaaaaaaaaaa", "short"]:
        book.remember(value)
    assert book.secrets == set()


def test_accepted_writes_are_booked_and_rejected_ones_are_not() -> None:
    book = Ledger()
    put = Case("PUT", "/orgs/{org}/config/{key}")
    check_response(book, put, Response(200, {"scope": "acme", "key": "k", "value": "v",
                                             "type": "string"}))
    check_response(book, put, Response(400, {"error": "invalid_value", "message": "m"}))
    assert book.table == {("acme", "k"): ("v", "string")}
    check_response(book, Case("DELETE", "/orgs/{org}/config/{key}",
                              path_parameters={"org": "ACME", "key": "k"}), Response(204, None))
    assert book.table == {}


def test_values_that_are_public_text_are_not_tracked() -> None:
    book = Ledger(public='{"examples": ["smtp-password"]}')
    book.remember("smtp-password")
    assert book.secrets == set()


def test_only_the_hosts_own_answers_skip_the_apps_rules() -> None:
    book = Ledger()

    class Raw(Response):
        @property
        def content(self) -> bytes:
            return self.body

    assert book.is_host_answer(Raw(404, b""))
    assert book.is_host_answer(Raw(400, b"Got more than 8190 bytes when reading"))
    assert not book.is_host_answer(Raw(400, b'{"error": "x", "message": "m"}'))
    assert not book.is_host_answer(Raw(500, b""))
    assert dict(book.host_answers) == {404: 1, 400: 1}
