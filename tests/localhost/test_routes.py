"""The route matcher imitates the Functions host's ASP.NET Core routing."""

from __future__ import annotations

import pytest

from tools.localhost.routes import Route, RouteTable, RouteTemplateError, decode_path


def match(template: str, path: str, method: str = "GET", *, prefix: str = "api",
          methods: tuple[str, ...] | None = ("GET",)) -> dict[str, str] | None:
    route = Route.build(template, prefix, methods)
    return route.match(decode_path(path), method)


def test_prefix_is_prepended() -> None:
    assert match("health", "/api/health") == {}
    assert match("health", "/health") is None


def test_empty_prefix_serves_routes_at_the_root() -> None:
    assert match("health", "/health", prefix="") == {}
    assert match("health", "/api/health", prefix="") is None


def test_literals_match_case_insensitively() -> None:
    assert match("orgs/list", "/API/Orgs/LIST") == {}


def test_trailing_slash_is_ignored() -> None:
    assert match("health", "/api/health/") == {}


def test_parameter_takes_one_segment() -> None:
    assert match("orgs/{org}/config", "/api/orgs/acme/config") == {"org": "acme"}
    assert match("orgs/{org}/config", "/api/orgs/a/b/config") is None


def test_parameter_value_keeps_its_case() -> None:
    assert match("orgs/{org}", "/api/orgs/AcMe") == {"org": "AcMe"}


def test_parameter_never_matches_an_empty_segment() -> None:
    assert match("orgs/{org}/config", "/api/orgs//config") is None


def test_extra_segments_do_not_match() -> None:
    assert match("orgs/{org}", "/api/orgs/acme/more") is None


def test_route_values_are_percent_decoded() -> None:
    assert match("items/{name}", "/api/items/a%20b%C3%A9") == {"name": "a bé"}


def test_encoded_slash_stays_encoded_and_inside_its_segment() -> None:
    assert match("items/{name}", "/api/items/a%2Fb") == {"name": "a%2Fb"}
    assert match("items/{name}", "/api/items/a%2fb") == {"name": "a%2fb"}


def test_optional_parameter_may_be_absent_and_is_then_left_out() -> None:
    assert match("items/{id?}", "/api/items") == {}
    assert match("items/{id?}", "/api/items/7") == {"id": "7"}


def test_optional_constrained_parameter() -> None:
    assert match("items/{id:int?}", "/api/items") == {}
    assert match("items/{id:int?}", "/api/items/x") is None


def test_default_value_is_used_when_absent() -> None:
    assert match("items/{page=1}", "/api/items") == {"page": "1"}
    assert match("items/{page=1}", "/api/items/3") == {"page": "3"}


def test_catch_all_takes_the_rest_of_the_path() -> None:
    assert match("files/{*rest}", "/api/files/a/b/c.txt") == {"rest": "a/b/c.txt"}
    assert match("files/{**rest}", "/api/files/a/b") == {"rest": "a/b"}


def test_catch_all_may_be_empty() -> None:
    assert match("files/{*rest}", "/api/files") == {}


def test_catch_all_must_be_last() -> None:
    with pytest.raises(RouteTemplateError):
        Route.build("{*rest}/x", "api", None)


def test_optional_parameter_must_be_last() -> None:
    with pytest.raises(RouteTemplateError):
        Route.build("{a?}/x", "api", None)


@pytest.mark.parametrize(("constraint", "good", "bad"), [
    ("int", ["0", "-5", "+7", "2147483647"], ["x", "1.5", "2147483648", "1e3"]),
    ("long", ["9223372036854775807", "-1"], ["9223372036854775808", "a"]),
    ("bool", ["true", "FALSE"], ["yes", "1"]),
    ("alpha", ["abc", "ABC"], ["ab1", "é"]),
    ("guid", ["3f2504e0-4f89-11d3-9a0c-0305e82c3301", "3F2504E04F8911D39A0C0305E82C3301",
              "{3f2504e0-4f89-11d3-9a0c-0305e82c3301}"], ["3f2504e0", "not-a-guid"]),
    ("double", ["1.5", "-2", "1e3"], ["x", "1.2.3"]),
    ("decimal", ["1.5", "-2"], ["1e3", "x"]),
    ("datetime", ["2026-11-24", "2026-11-24T10:00:00"], ["yesterday"]),
    ("minlength(3)", ["abc", "abcd"], ["ab"]),
    ("maxlength(3)", ["abc"], ["abcd"]),
    ("length(2)", ["ab"], ["a", "abc"]),
    ("length(1,3)", ["a", "abc"], ["abcd"]),
    ("min(10)", ["10", "11"], ["9", "x"]),
    ("max(10)", ["10", "-3"], ["11"]),
    ("range(1,5)", ["1", "5"], ["0", "6"]),
    (r"regex(^\d{{3}}$)", ["123"], ["1234", "abc"]),
    ("int:min(1)", ["1"], ["0", "x"]),
])
def test_constraints_accept_and_refuse_like_aspnet(
    constraint: str, good: list[str], bad: list[str]
) -> None:
    template = "v/{x:" + constraint + "}"
    for value in good:
        assert match(template, f"/api/v/{value}") == {"x": value}, value
    for value in bad:
        assert match(template, f"/api/v/{value}") is None, value


def test_regex_constraint_is_unanchored_and_case_insensitive() -> None:
    assert match("v/{x:regex(ab)}", "/api/v/xxABxx") == {"x": "xxABxx"}


def test_unknown_constraint_is_refused_at_start() -> None:
    with pytest.raises(RouteTemplateError, match="nosuch"):
        Route.build("v/{x:nosuch}", "api", None)


def test_partial_segment_parameters_are_refused_clearly() -> None:
    with pytest.raises(RouteTemplateError, match="whole-segment"):
        Route.build("v/{name}.{ext}", "api", None)


def test_route_without_methods_answers_every_method() -> None:
    for method in ("GET", "POST", "PATCH", "OPTIONS", "HEAD"):
        assert match("any", "/api/any", method, methods=None) == {}


def test_wrong_method_does_not_match() -> None:
    assert match("only-get", "/api/only-get", "POST") is None
    assert match("only-get", "/api/only-get", "HEAD") is None


def test_method_matching_is_case_insensitive() -> None:
    assert match("r", "/api/r", "get", methods=("GET",)) == {}


def table(*routes: tuple[str, tuple[str, ...] | None]) -> RouteTable:
    return RouteTable([Route.build(t, "api", m, target=t + str(m)) for t, m in routes])


def test_literal_wins_over_parameter_whatever_the_order() -> None:
    found = table(("items/{id}", ("GET",)), ("items/new", ("GET",))).find("/api/items/new", "GET")
    assert found is not None and found[0].template == "api/items/new"


def test_constrained_parameter_wins_over_plain_one() -> None:
    routes = table(("items/{name}", ("GET",)), ("items/{id:int}", ("GET",)))
    by_int = routes.find("/api/items/5", "GET")
    by_name = routes.find("/api/items/five", "GET")
    assert by_int is not None and by_int[0].template == "api/items/{id:int}"
    assert by_name is not None and by_name[1] == {"name": "five"}


def test_same_template_different_methods_pick_by_method() -> None:
    routes = table(("items/{id}", ("GET",)), ("items/{id}", ("DELETE",)))
    found = routes.find("/api/items/1", "DELETE")
    assert found is not None and found[0].methods == frozenset({"DELETE"})


def test_known_path_with_unserved_method_finds_nothing() -> None:
    assert table(("items", ("GET",))).find("/api/items", "PUT") is None


def test_unknown_path_finds_nothing() -> None:
    assert table(("items", ("GET",))).find("/api/other", "GET") is None


def test_invalid_utf8_in_path_finds_nothing() -> None:
    assert table(("items/{x}", None)).find("/api/items/%FF", "GET") is None
