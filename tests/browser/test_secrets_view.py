"""The secrets view: a value entered is shown once and leaves no trace; rotate, versions
and rollback, delete of a referenced secret through a confirmation, recovery."""

from __future__ import annotations

import re
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
    # asked first: which version, and what happens; Cancel changes nothing
    page.get_by_role("button", name=f"Make version {short} current").click()
    confirm = page.get_by_role("region", name=f"Make version {short} of {org}--api-token current?")
    expect(confirm).to_contain_text(f"The value of version {short}")
    expect(confirm).to_contain_text("copied on the server into a new version, which becomes")
    expect(confirm).to_contain_text("stays in the history")
    expect(confirm.get_by_role("button", name="Make current")).to_be_focused()
    confirm.get_by_role("button", name="Cancel").click()
    versions = page.get_by_role("region", name=f"Versions of {org}--api-token")
    expect(versions.locator("tbody tr")).to_have_count(2)
    assert len(admin_api.call("GET", f"secrets/{org}/api-token/versions")[1]["versions"]) == 2
    page.get_by_role("button", name=f"Make version {short} current").click()
    screenshot(page, "secret-rollback-confirm")
    confirm.get_by_role("button", name="Make current").click()
    expect(page.get_by_role("status")).to_contain_text(
        f"Version {short} of {org}--api-token is current again")
    page.get_by_role("button", name=f"Versions of {org} api-token").click()
    newest = page.locator(".panel tbody tr").first
    expect(newest).to_contain_text(f"copy of {short}")
    expect(newest).to_contain_text("admin@example.com")
    expect(page.locator("body")).not_to_contain_text("Zx-rollback")
    status, versions = admin_api.call("GET", f"secrets/{org}/api-token/versions")
    assert status == 200 and versions["versions"][0]["rolled_back_from"] == first["version"]


def test_deleting_a_referenced_secret_lists_the_references_in_the_one_confirmation(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    admin_api.secret(org, "api-token", "Zx-in-use")
    admin_api.put(org, "psa_token", "api-token", "secret_ref")
    open_secrets(page, stack, org)
    expect(page.get_by_role("row", name="api-token")).to_contain_text(f"{org} / psa_token")
    page.get_by_role("button", name=f"Delete {org} api-token").click()
    confirm = page.get_by_role("region", name=f"Delete {org}--api-token?")
    expect(confirm).to_contain_text("Still in use: 1 config entry reads this secret.")
    expect(confirm.get_by_role("listitem")).to_have_text([f"{org} / psa_token"])
    screenshot(page, "secret-delete-confirm")
    confirm.get_by_role("button", name="Delete anyway").click()
    expect(page.get_by_role("status")).to_contain_text(f"Deleted {org}--api-token")
    deleted = page.get_by_role("table", name="Deleted secrets")
    expect(deleted.get_by_role("row", name="api-token")).to_be_visible()
    expect(page.get_by_text("is also referenced elsewhere")).to_have_count(0)  # asked once


def test_deleting_a_global_secret_asks_again_for_references_the_view_did_not_show(
    page: Page, stack: Stack, admin_api: AdminApi, org: str, unique: str
) -> None:
    """An org's view lists what that org reads; the API also counts other orgs' entries.
    Those are shown before anything is deleted."""
    name, other = f"shared-{unique}", f"{org}-b"
    admin_api.secret("GLOBAL", name, "Zx-shared")
    admin_api.put(org, "shared_key", name, "secret_ref")
    admin_api.put(other, "shared_key", name, "secret_ref")
    open_secrets(page, stack, org)
    page.get_by_role("button", name=f"Delete GLOBAL {name}").click()
    confirm = page.get_by_role("region", name=f"Delete GLOBAL--{name}?")
    expect(confirm.get_by_role("listitem")).to_have_text([f"{org} / shared_key"])
    expect(confirm).to_contain_text("if entries of other orgs read it too, you are asked again")
    confirm.get_by_role("button", name="Delete anyway").click()
    again = page.get_by_role("alert").filter(has_text="is also referenced elsewhere")
    expect(again.get_by_role("listitem")).to_have_text([f"{other} / shared_key"])
    assert admin_api.call("GET", f"secrets/GLOBAL/{name}/versions")[0] == 200  # not yet
    screenshot(page, "secret-delete-asked-again")
    again.get_by_role("button", name="Delete anyway").click()
    expect(page.get_by_role("status")).to_contain_text(f"Deleted GLOBAL--{name}")


def test_referenced_by_lists_the_entries_that_resolve_to_each_secret(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    """GLOBAL (seeded): smtp_password -> smtp-password, psa_api_key -> psa-api-key, and
    both secrets. The org overrides smtp_password and has its own smtp-password and
    psa-api-key: its entry reaches its own secret, and GLOBAL's psa_api_key, as the
    org reads it, reaches the org's psa-api-key."""
    admin_api.secret(org, "smtp-password", "Zx-own-smtp")
    admin_api.secret(org, "psa-api-key", "Zx-own-psa")
    admin_api.put(org, "smtp_password", "smtp-password", "secret_ref")
    open_secrets(page, stack, org)
    table = page.get_by_role("table", name=f"Secrets {org} can use")

    def refs(name: str, scope: str) -> Any:
        row = table.get_by_role("row").filter(
            has=page.locator("th", has_text=re.compile(f"^{name}$"))).filter(
            has=page.locator("span.scope", has_text=re.compile(f"^{scope}$")))
        expect(row).to_have_count(1)
        return row.locator("ul.refs li")

    expect(refs("smtp-password", org)).to_have_text([f"{org} / smtp_password"])
    expect(refs("smtp-password", "GLOBAL")).to_contain_text(["GLOBAL / smtp_password"])
    expect(refs("smtp-password", "GLOBAL")).not_to_contain_text([f"{org} / smtp_password"])
    expect(refs("psa-api-key", org)).to_have_text([f"GLOBAL / psa_api_key (as {org} reads it)"])
    expect(refs("psa-api-key", "GLOBAL")).to_contain_text(["GLOBAL / psa_api_key"])
    screenshot(page, "secrets-referenced-by")


def test_the_list_under_the_shown_value_has_the_new_secret_at_once(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    admin_api.secret(org, "first-token", "Zx-first")
    open_secrets(page, stack, org)
    table = page.get_by_role("table", name=f"Secrets {org} can use")
    expect(table.locator("caption")).to_have_text(re.compile(r"\((\d+)\)"))
    before = int(re.findall(r"\((\d+)\)", table.locator("caption").inner_text())[0])
    create_secret(page, org, "second-token", "Zx-second-" + org)
    expect(page.locator(".reveal code")).to_have_text("Zx-second-" + org)  # still shown
    expect(table.locator("caption")).to_have_text(f"Secrets {org} can use ({before + 1})")
    expect(table.get_by_role("row", name="second-token")).to_contain_text("by admin@example.com")


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
