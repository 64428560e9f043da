"""GET admin and its assets: served by the app to anyone (the page holds no data), from a
fixed allow-list, under a strict Content-Security-Policy; the page's code loads nothing
from elsewhere and never parses text as HTML."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.api.admin_page import ASSETS
from tests.api.conftest import Api

pytestmark = pytest.mark.integration

STATIC = Path(__file__).parents[2] / "shared" / "api" / "admin_page" / "static"


async def test_the_page_is_html_for_anyone(api: Api) -> None:
    response = await api.call("admin_page", principal=None)
    assert response.status == 200
    assert response.mimetype == "text/html"
    assert "<title>orgconfig admin</title>" in response.text


async def test_the_page_carries_a_strict_csp_and_no_store(api: Api) -> None:
    headers = (await api.call("admin_page", principal=None)).headers
    csp = {d.split()[0]: d.split()[1:] for d in headers["Content-Security-Policy"].split("; ")}
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]
    assert csp["connect-src"] == ["'self'"] and csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"] and csp["form-action"] == ["'none'"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"
    assert headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize(("name", "media_type"), [("app.js", "text/javascript"),
                                                  ("style.css", "text/css")])
async def test_an_asset_is_served_with_its_content_type_and_the_csp(
    api: Api, name: str, media_type: str
) -> None:
    response = await api.call("admin_asset", principal=None, route={"name": name})
    assert response.status == 200
    assert response.mimetype == media_type
    assert "Content-Security-Policy" in response.headers
    assert response.text == (STATIC / name).read_text()


@pytest.mark.parametrize("name", ["../__init__.py", "..%2F__init__.py", "index.html",
                                  "APP.JS", "nope.js", "", "app.js/", "/etc/passwd"])
async def test_anything_outside_the_allow_list_is_404(api: Api, name: str) -> None:
    response = await api.call("admin_asset", principal=None, route={"name": name})
    assert (response.status, response.error) == (404, "not_found")


def test_every_file_the_page_loads_is_in_the_allow_list_and_exists() -> None:
    html = (STATIC / "index.html").read_text()
    loaded = set(re.findall(r'(?:src|href)="admin/assets/([^"]+)"', html))
    for js in STATIC.glob("*.js"):
        loaded |= set(re.findall(r'from "\./([^"]+)"', js.read_text()))
    assert loaded <= ASSETS
    assert {p.name for p in STATIC.iterdir()} == ASSETS | {"index.html"}


def test_the_page_has_no_inline_script_or_style() -> None:
    html = (STATIC / "index.html").read_text()
    assert re.findall(r"<script(?![^>]*\bsrc=)", html) == []
    assert "<style" not in html and " style=" not in html
    assert re.findall(r"\son[a-z]+=", html) == []


def test_the_page_loads_nothing_from_another_origin() -> None:
    for path in STATIC.iterdir():
        text = path.read_text()
        assert re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text) == [], path.name


def test_the_page_code_never_parses_text_as_html() -> None:
    for js in STATIC.glob("*.js"):
        code = js.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                     "new Function", "localStorage", "sessionStorage", "pushState",
                     "replaceState"):
            assert sink not in code, f"{js.name} uses {sink}"
