"""Who may use the page, the function key kept in memory, and the Key Vault banner."""

from __future__ import annotations

import time

from playwright.sync_api import Page, Request, expect

from tests.browser.conftest import FUNCTION_KEY, AdminApi, Stack, screenshot


def test_a_signed_in_user_without_the_role_is_told_which_role_is_needed(
    guest_page: Page, stack: Stack
) -> None:
    calls: list[str] = []
    guest_page.on("request", lambda r: calls.append(r.url) if "/api/" in r.url
                  and "/admin" not in r.url else None)
    guest_page.goto(stack.page_url)
    expect(guest_page.get_by_role("heading", name="Access denied")).to_be_visible()
    expect(guest_page.get_by_role("main")).to_contain_text("requires the PlatformAdmin role")
    expect(guest_page.get_by_role("navigation")).to_be_hidden()
    expect(guest_page.get_by_role("region", name="Key Vault health")).to_be_hidden()
    expect(guest_page.get_by_role("banner")).not_to_contain_text("signed in")
    screenshot(guest_page, "access-denied")
    assert calls == [f"{stack.base_url}/orgs"]  # the one call that found out; nothing else


def test_make_serve_signs_a_plain_browser_in_as_its_dev_admin(
    plain_page: Page, stack: Stack, org: str
) -> None:
    plain_page.goto(f"{stack.page_url}#/config/{org}")
    expect(plain_page.get_by_role("heading", name=f"Configuration: {org}")).to_be_visible()
    plain_page.get_by_role("button", name="Add entry").click()
    form = plain_page.get_by_role("form", name="New entry")
    form.get_by_label("Key").fill("region")
    form.get_by_label("Value").fill("eu")
    form.get_by_role("button", name="Save").click()
    expect(plain_page.get_by_role("row", name="region")).to_contain_text("dev-admin@localhost")
    # no API route names the caller and the local host has no /.auth/me
    expect(plain_page.get_by_role("banner")).to_contain_text("signed in (development)")


def test_the_page_names_the_user_app_service_authentication_signed_in(
    page: Page, stack: Stack
) -> None:
    """In Azure, /.auth/me (App Service authentication, same origin) names the user."""
    me = [{"provider_name": "aad", "user_id": "ada@contoso.example", "user_claims": [
        {"typ": "name", "val": "Ada Admin"},
        {"typ": "roles", "val": "PlatformAdmin"}]}]
    page.route("**/.auth/me", lambda route: route.fulfill(json=me))
    page.goto(stack.page_url)
    expect(page.get_by_role("banner")).to_contain_text(
        "Signed in as Ada Admin (ada@contoso.example)")
    expect(page.get_by_role("banner")).not_to_contain_text("development")


def test_with_a_principal_that_does_not_parse_the_page_says_not_signed_in(
    page: Page, stack: Stack
) -> None:
    page.set_extra_http_headers({"X-MS-CLIENT-PRINCIPAL": "not a principal"})
    page.goto(stack.page_url)
    expect(page.get_by_role("heading", name="Access denied")).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text("not signed in")
    expect(page.get_by_role("main")).to_contain_text("PlatformAdmin")


def test_a_function_key_is_sent_with_every_api_call_and_kept_nowhere(
    page: Page, stack: Stack
) -> None:
    sent: list[str | None] = []

    def record(request: Request) -> None:
        if request.url.startswith(stack.base_url) and "/admin" not in request.url:
            sent.append(request.headers.get("x-functions-key"))

    page.goto(stack.page_url)
    expect(page.get_by_role("heading", name="Configuration: GLOBAL")).to_be_visible()
    page.on("request", record)
    page.get_by_label("Function key").fill("kEy-123")
    page.get_by_role("button", name="Use key").click()
    expect(page.get_by_text("Key in use (this tab only)")).to_be_visible()
    expect(page.get_by_role("heading", name="Configuration: GLOBAL")).to_be_visible()
    page.get_by_role("link", name="Secrets").click()
    expect(page.get_by_role("heading", name="Secrets: GLOBAL")).to_be_visible()
    assert len(sent) >= 3 and set(sent) == {"kEy-123"}
    assert page.get_by_label("Function key").input_value() == ""
    kept = page.evaluate("""() => JSON.stringify([{...localStorage}, {...sessionStorage},
        location.href, history.state, document.documentElement.outerHTML])""")
    assert "kEy-123" not in kept
    page.reload()
    sent.clear()
    expect(page.get_by_role("heading", name="Secrets: GLOBAL")).to_be_visible()
    assert set(sent) == {None}  # a reload forgets it


def test_where_keys_are_enforced_the_page_asks_for_one_and_works_with_it(
    page: Page, keyed_base_url: str
) -> None:
    page.goto(f"{keyed_base_url}/admin")  # the page itself is anonymous
    expect(page.get_by_role("heading", name="Function key required")).to_be_visible()
    screenshot(page, "function-key-required")
    page.get_by_label("Function key").fill("wrong-key")
    page.get_by_role("button", name="Use key").click()
    expect(page.get_by_role("alert")).to_have_text(
        "The key you entered was not accepted: check it and enter it again.")
    page.get_by_label("Function key").fill(FUNCTION_KEY)
    page.get_by_role("button", name="Use key").click()
    expect(page.get_by_role("heading", name="Configuration: GLOBAL")).to_be_visible()
    expect(page.get_by_role("region", name="Key Vault health")).to_contain_text("connected")
    page.get_by_role("link", name="Secrets").click()
    expect(page.get_by_role("row", name="smtp-password")).to_be_visible()


def test_the_banner_shows_the_vault_connected_with_its_latency(page: Page, stack: Stack) -> None:
    page.goto(stack.page_url)
    banner = page.get_by_role("region", name="Key Vault health")
    expect(banner).to_contain_text("Key Vault connected")
    expect(banner).to_contain_text(" ms")


def test_the_banner_shows_an_unreachable_vault_with_guidance(
    page: Page, stack: Stack, admin_api: AdminApi
) -> None:
    stack.control.refuse_connections(True)
    try:
        page.goto(stack.page_url)
        banner = page.get_by_role("region", name="Key Vault health")
        expect(banner).to_contain_text("Key Vault unreachable", timeout=15000)
        expect(banner).to_contain_text("the local Key Vault emulator is not running")
        screenshot(page, "vault-down")
    finally:
        stack.control.clear_faults()
        _wait_connected(admin_api)
    banner.get_by_role("button", name="Check again").click()
    expect(banner).to_contain_text("Key Vault connected", timeout=10000)


def _wait_connected(api: AdminApi) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if api.call("GET", "health/keyvault")[1]["status"] == "connected":
            return
        time.sleep(0.3)
    raise AssertionError("the vault did not come back")
