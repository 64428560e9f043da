"""Accessibility: axe-core finds no serious or critical violation in the main views, and
the main controls work from the keyboard alone."""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, ViewportSize, expect

from tests.browser.conftest import AdminApi, Stack, screenshot

AXE = Axe()


def serious(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    violations = AXE.run(page).response["violations"]
    return [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
            for v in violations if v["impact"] in ("serious", "critical")]


@pytest.fixture
def populated(admin_api: AdminApi, org: str) -> str:
    admin_api.put(org, "region", "eu", description="data residency")
    admin_api.put(org, "token", "missing-secret", "secret_ref")
    admin_api.secret(org, "api-token", "Zx-axe-secret")
    admin_api.call("PUT", f"secrets/{org}/api-token", {"value": "Zx-axe-secret-2"})
    admin_api.secret(org, "gone", "Zx-axe-gone")
    admin_api.call("DELETE", f"secrets/{org}/gone")
    return org


def test_the_org_view_and_the_edit_form_have_no_serious_violation(
    page: Page, stack: Stack, populated: str
) -> None:
    page.goto(f"{stack.page_url}#/config/{populated}")
    expect(page.get_by_role("row", name="region")).to_be_visible()
    assert serious(page) == []
    page.get_by_role("button", name="Edit region").click()
    expect(page.get_by_role("form", name="Edit region")).to_be_visible()
    assert serious(page) == []


def test_the_secrets_view_versions_and_reveal_have_no_serious_violation(
    page: Page, stack: Stack, populated: str
) -> None:
    page.goto(f"{stack.page_url}#/secrets/{populated}")
    expect(page.get_by_role("row", name="api-token")).to_be_visible()
    assert serious(page) == []
    page.get_by_role("button", name=f"Versions of {populated} api-token").click()
    expect(page.get_by_role("region", name=f"Versions of {populated}--api-token")).to_be_visible()
    assert serious(page) == []
    page.get_by_role("button", name=f"Rotate {populated} api-token").click()
    page.get_by_label("New value").fill("Zx-axe-rotated")
    page.get_by_role("button", name="Save new version").click()
    expect(page.locator(".reveal")).to_be_visible()
    assert serious(page) == []
    screenshot(page, "secrets-view")


NARROW: ViewportSize = {"width": 420, "height": 860}
SIDEWAYS = "document.scrollingElement.scrollWidth"


def test_at_420_px_nothing_overflows_sideways_and_the_views_stay_accessible(
    page: Page, stack: Stack, populated: str
) -> None:
    """Tables stack into one card a row; the page never scrolls sideways."""
    org = populated
    page.set_viewport_size(NARROW)
    page.goto(f"{stack.page_url}#/config/{org}")
    row = page.get_by_role("row", name="region")
    expect(row).to_be_visible()
    expect(row.get_by_role("cell").filter(has_text="eu")).to_be_visible()
    assert page.evaluate(SIDEWAYS) <= 420
    assert serious(page) == []
    screenshot(page, "narrow-config")
    page.get_by_role("button", name="Edit region").click()
    expect(page.get_by_role("form", name="Edit region")).to_be_visible()
    assert page.evaluate(SIDEWAYS) <= 420
    page.goto(f"{stack.page_url}#/secrets/{org}")
    expect(page.get_by_role("row", name="api-token")).to_be_visible()
    expect(page.get_by_role("table", name="Deleted secrets").get_by_role("row", name="gone")
           ).to_be_visible()
    assert page.evaluate(SIDEWAYS) <= 420
    assert serious(page) == []
    screenshot(page, "narrow-secrets")
    page.get_by_role("button", name=f"Versions of {org} api-token").click()
    expect(page.get_by_role("region", name=f"Versions of {org}--api-token")).to_be_visible()
    assert page.evaluate(SIDEWAYS) <= 420
    page.get_by_role("region", name=f"Versions of {org}--api-token").get_by_role(
        "button", name="Make version").first.click()
    expect(page.get_by_role("button", name="Make current")).to_be_visible()
    assert page.evaluate(SIDEWAYS) <= 420
    screenshot(page, "narrow-rollback-confirm")


def test_the_access_denied_page_has_no_serious_violation(guest_page: Page, stack: Stack) -> None:
    guest_page.goto(stack.page_url)
    expect(guest_page.get_by_role("heading", name="Access denied")).to_be_visible()
    assert serious(guest_page) == []


def focus_by_tab(page: Page, name: str, limit: int = 40) -> None:
    """Press Tab until the control named ``name`` has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate("""() => { const e = document.activeElement;
            return e ? (e.getAttribute('aria-label') || e.textContent || '').trim() : ''; }""")
        if focused == name:
            return
    raise AssertionError(f"{name!r} is not reachable with Tab")


def test_an_entry_is_added_and_edited_with_the_keyboard_alone(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    admin_api.put(org, "region", "eu")
    page.goto(f"{stack.page_url}#/config/{org}")
    expect(page.get_by_role("row", name="region")).to_be_visible()
    focus_by_tab(page, "Add entry")
    page.keyboard.press("Enter")
    form = page.get_by_role("form", name="New entry")
    expect(form.get_by_label("Key")).to_be_focused()
    page.keyboard.type("retries")
    page.keyboard.press("Tab")  # the key's hint is text: next stop is Type
    expect(form.get_by_label("Type")).to_be_focused()
    page.keyboard.press("Tab")
    expect(form.get_by_label("Value")).to_be_focused()
    page.keyboard.type("5")
    page.keyboard.press("Enter")  # submits the form
    expect(page.get_by_role("row", name="retries")).to_contain_text("5")
    focus_by_tab(page, "Add entry")
    page.keyboard.press("Enter")
    expect(page.get_by_role("form", name="New entry")).to_be_visible()
    page.keyboard.press("Escape")  # closes the form
    expect(page.get_by_role("form", name="New entry")).to_have_count(0)
    focus_by_tab(page, "Edit region")
    page.keyboard.press("Enter")
    edit = page.get_by_role("form", name="Edit region")
    expect(edit.get_by_label("Type")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Control+A")
    page.keyboard.type("us")
    page.keyboard.press("Enter")
    expect(page.get_by_role("row", name="region")).to_contain_text("us")


def test_views_and_secret_actions_are_reachable_with_the_keyboard(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    admin_api.secret(org, "api-token", "Zx-keyboard")
    page.goto(f"{stack.page_url}#/config/{org}")
    expect(page.get_by_role("heading", name=f"Configuration: {org}")).to_be_visible()
    focus_by_tab(page, "Secrets")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=f"Secrets: {org}")).to_be_visible()
    expect(page.get_by_role("row", name="api-token")).to_be_visible()  # the list loads after
    focus_by_tab(page, f"Delete {org} api-token")
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Delete secret")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text(f"Deleted {org}--api-token")
    focus_by_tab(page, f"Recover {org} api-token")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text(f"Recovered {org}--api-token")


def test_the_scan_itself_finds_a_serious_violation(page: Page) -> None:
    page.set_content("<html lang='en'><title>t</title><main><input type='text'></main></html>")
    assert [v["id"] for v in serious(page)] == ["label"]
