"""The secrets view: a value entered is shown once and leaves no trace; rotate, versions
and rollback, delete of a referenced secret through a confirmation, recovery."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import AdminApi, Stack, screenshot


def open_secrets(page: Page, stack: Stack, org: str) -> None:
    page.goto(f"{stack.page_url}#/secrets/{org}")
    expect(page.get_by_role("heading", name=f"Secrets: {org}")).to_be_visible()


def traces(page: Page, value: str) -> dict[str, Any]:
    """Everywhere a value could linger in the tab."""
    return page.evaluate(
        """value => ({
            dom: document.documentElement.outerHTML.includes(value),
            inputs: [...document.querySelectorAll("input, textarea")]
                .some(e => e.value.includes(value)),
            local: JSON.stringify({...localStorage}).includes(value),
            session: JSON.stringify({...sessionStorage}).includes(value),
            url: location.href.includes(value),
            history: JSON.stringify(history.state ?? null).includes(value),
        })""", value)


NO_TRACE = {"dom": False, "inputs": False, "local": False, "session": False, "url": False,
            "history": False}


def create_secret(page: Page, scope: str, name: str, value: str, expires: str = "") -> None:
    page.get_by_role("button", name="Create secret").click()
    form = page.get_by_role("form", name="Create a secret")
    form.get_by_label("Scope").select_option(scope)
    form.get_by_label("Name").fill(name)
    form.get_by_label("Value").fill(value)
    if expires:
        form.get_by_label("Expires (optional)").fill(expires)
    form.get_by_role("button", name="Create secret").click()


def test_a_created_value_is_shown_once_and_gone_after_navigation_and_reload(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    admin_api.put(org, "region", "eu")
    value = "Zx-once-" + org
    open_secrets(page, stack, org)
    create_secret(page, org, "api-token", value)
    reveal = page.get_by_role("region", name=f"Secret {org}--api-token created")
    expect(reveal.locator("code")).to_have_text(value)
    expect(reveal).to_contain_text("This value will not be shown again.")
    expect(reveal.get_by_role("button", name="Copy value")).to_be_visible()
    screenshot(page, "secret-created")
    assert traces(page, value)["dom"] is True
    # another view, then back: nothing left
    page.get_by_role("link", name="Configuration").click()
    expect(page.get_by_role("heading", name=f"Configuration: {org}")).to_be_visible()
    assert traces(page, value) == NO_TRACE
    page.go_back()
    expect(page.get_by_role("heading", name=f"Secrets: {org}")).to_be_visible()
    expect(page.get_by_role("row", name="api-token")).to_be_visible()
    assert traces(page, value) == NO_TRACE
    page.reload()
    expect(page.get_by_role("row", name="api-token")).to_be_visible()
    assert traces(page, value) == NO_TRACE


def test_the_shown_value_is_gone_after_a_reload_while_it_is_shown(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    admin_api.put(org, "region", "eu")
    value = "Zx-reload-" + org
    open_secrets(page, stack, org)
    create_secret(page, org, "api-token", value)
    expect(page.locator(".reveal code")).to_have_text(value)
    page.reload()
    expect(page.get_by_role("row", name="api-token")).to_be_visible()
    assert traces(page, value) == NO_TRACE


def test_done_removes_the_shown_value_and_the_list_shows_author_and_expiry(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    admin_api.put(org, "region", "eu")
    value = "Zx-done-" + org
    open_secrets(page, stack, org)
    create_secret(page, org, "api-token", value, expires="2031-01-02")
    page.get_by_role("button", name="Done").click()
    row = page.get_by_role("row", name="api-token")
    expect(row).to_contain_text("by admin@example.com")
    expect(row).to_contain_text("2031-01-02 00:00 UTC")
    assert traces(page, value) == NO_TRACE


def test_rotate_shows_the_new_value_once_and_adds_a_version(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    admin_api.secret(org, "api-token", "Zx-rotate-old")
    open_secrets(page, stack, org)
    page.get_by_role("button", name=f"Rotate {org} api-token").click()
    form = page.get_by_role("form", name=f"Rotate {org}--api-token")
    form.get_by_label("New value").fill("Zx-rotate-new")
    form.get_by_role("button", name="Save new version").click()
    reveal = page.get_by_role("region", name=f"New version of {org}--api-token saved")
    expect(reveal.locator("code")).to_have_text("Zx-rotate-new")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    reveal.get_by_role("button", name="Copy value").click()
    expect(reveal).to_contain_text("Copied to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == "Zx-rotate-new"
    page.get_by_role("button", name="Done").click()
    page.get_by_role("button", name=f"Versions of {org} api-token").click()
    versions = page.get_by_role("region", name=f"Versions of {org}--api-token")
    expect(versions.locator("tbody tr")).to_have_count(2)
    expect(versions.locator("tbody tr").first).to_contain_text("current")
    expect(page.locator("body")).not_to_contain_text("Zx-rotate")


def test_rollback_makes_an_earlier_version_current_without_showing_it(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    first = admin_api.secret(org, "api-token", "Zx-rollback-1")
    admin_api.call("PUT", f"secrets/{org}/api-token", {"value": "Zx-rollback-2"})
    open_secrets(page, stack, org)
    page.get_by_role("button", name=f"Versions of {org} api-token").click()
    short = first["version"][:12]
    screenshot(page, "secret-versions")
    page.get_by_role("button", name=f"Make version {short} current").click()
    expect(page.get_by_role("status")).to_contain_text(
        f"Version {short} of {org}--api-token is current again")
    page.get_by_role("button", name=f"Versions of {org} api-token").click()
    newest = page.locator(".panel tbody tr").first
    expect(newest).to_contain_text(f"copy of {short}")
    expect(newest).to_contain_text("admin@example.com")
    expect(page.locator("body")).not_to_contain_text("Zx-rollback")
    status, versions = admin_api.call("GET", f"secrets/{org}/api-token/versions")
    assert status == 200 and versions["versions"][0]["rolled_back_from"] == first["version"]


def test_deleting_a_referenced_secret_lists_the_references_then_deletes_anyway(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    admin_api.secret(org, "api-token", "Zx-in-use")
    admin_api.put(org, "psa_token", "api-token", "secret_ref")
    open_secrets(page, stack, org)
    expect(page.get_by_role("row", name="api-token")).to_contain_text(f"{org} / psa_token")
    page.get_by_role("button", name=f"Delete {org} api-token").click()
    page.get_by_role("button", name="Delete secret").click()
    confirm = page.get_by_role("alert").filter(has_text="is still referenced")
    expect(confirm.get_by_role("listitem")).to_have_text([f"{org} / psa_token"])
    screenshot(page, "secret-in-use")
    confirm.get_by_role("button", name="Delete anyway").click()
    expect(page.get_by_role("status")).to_contain_text(f"Deleted {org}--api-token")
    deleted = page.get_by_role("table", name="Deleted secrets")
    expect(deleted.get_by_role("row", name="api-token")).to_be_visible()


def test_a_deleted_secret_is_recovered(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    admin_api.secret(org, "old-token", "Zx-recover")
    assert admin_api.call("DELETE", f"secrets/{org}/old-token")[0] == 200
    open_secrets(page, stack, org)
    page.get_by_role("button", name=f"Recover {org} old-token").click()
    expect(page.get_by_role("status")).to_contain_text(f"Recovered {org}--old-token")
    expect(page.get_by_role("table", name=f"Secrets {org} can use").get_by_role(
        "row", name="old-token")).to_be_visible()


def test_a_taken_name_is_shown_at_the_name_field(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    admin_api.secret(org, "api-token", "Zx-taken")
    open_secrets(page, stack, org)
    create_secret(page, org, "api-token", "Zx-taken-again")
    name = page.get_by_role("form", name="Create a secret").get_by_label("Name")
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("form", name="Create a secret")).to_contain_text("already exists")


def test_the_value_is_typed_masked_into_a_field_no_password_manager_offers_to_save(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    admin_api.put(org, "region", "eu")
    open_secrets(page, stack, org)
    page.get_by_role("button", name="Create secret").click()
    form = page.get_by_role("form", name="Create a secret")
    assert form.locator("input[type=password]").count() == 0
    value = form.get_by_label("Value")
    value.fill("Zx-masked")
    screenshot(page, "secret-form")
    masking = "el => getComputedStyle(el).webkitTextSecurity"
    assert value.evaluate(masking) == "disc"
    form.get_by_label("Show what I type").check()
    assert value.evaluate(masking) == "none"
