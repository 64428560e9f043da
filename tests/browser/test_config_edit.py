"""Creating, editing and deleting config entries in the page: type-aware inputs, API
validation errors at the field, secret references picked from the vault's names, and
conditional edits that surface a concurrent change (412) instead of losing it."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import AdminApi, Stack, screenshot


def open_org(page: Page, stack: Stack, org: str) -> None:
    page.goto(f"{stack.page_url}#/config/{org}")
    expect(page.get_by_role("heading", name=f"Configuration: {org}")).to_be_visible()


def fill_entry(page: Page, key: str, type_: str, value: str | None = None,
               description: str | None = None) -> None:
    page.get_by_role("button", name="Add entry").click()
    form = page.get_by_role("form", name="New entry")
    form.get_by_label("Key").fill(key)
    form.get_by_label("Type").select_option(type_)
    if value is not None:
        control = form.get_by_label("Value")
        if control.evaluate("el => el.tagName") == "SELECT":
            control.select_option(value)
        else:
            control.fill(value)
    if description is not None:
        form.get_by_label("Description (optional)").fill(description)


TYPED = [
    ("string", "mail.example.org", "mail.example.org"),
    ("int", "587", "587"),
    ("float", "0.25", "0.25"),
    ("bool", "false", "false"),
    ("json", '{"retries": 3, "codes": [429, 503]}', '"codes": [429, 503]'),
]


def test_an_entry_of_each_type_is_created_with_a_fitting_input(
    page: Page, stack: Stack, org: str
) -> None:
    open_org(page, stack, org)
    for type_, value, shown in TYPED:
        fill_entry(page, f"new_{type_}", type_, value)
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("status")).to_contain_text(f"Saved new_{type_} in {org}")
        row = page.get_by_role("row", name=f"new_{type_}")
        expect(row).to_contain_text(type_)
        expect(row).to_contain_text(shown)
    bool_input = "select"
    page.get_by_role("button", name="Edit new_bool").click()
    control = page.get_by_role("form", name="Edit new_bool").get_by_label("Value")
    assert control.evaluate("el => el.tagName").lower() == bool_input
    screenshot(page, "org-view-after-edit")


def test_a_secret_ref_is_picked_from_the_names_of_the_org_and_global(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    admin_api.secret(org, "graph-client-secret", "Zx-dropdown-secret")
    admin_api.secret(org, "psa-api-key", "Zx-dropdown-own-psa")  # GLOBAL has one too
    open_org(page, stack, org)
    fill_entry(page, "graph_secret", "secret_ref")
    choices = page.get_by_role("form", name="New entry").get_by_label("Value")
    # each name once, with the scope whose secret this org's entry would resolve to
    expect(choices.locator("option", has_text="graph-client-secret")).to_have_text(
        [f"graph-client-secret ({org})"])
    expect(choices.locator("option", has_text="smtp-password")).to_have_text(
        ["smtp-password (GLOBAL)"])
    expect(choices.locator("option", has_text="psa-api-key")).to_have_text(
        [f"psa-api-key ({org}; overrides GLOBAL's)"])
    screenshot(page, "edit-form")
    choices.select_option("graph-client-secret")
    page.get_by_role("button", name="Save").click()
    row = page.get_by_role("row", name="graph_secret")
    expect(row).to_contain_text("resolves from: org secret")
    expect(page.locator("body")).not_to_contain_text("Zx-dropdown-secret")


def test_the_secret_ref_choices_in_global_are_globals(
    page: Page, stack: Stack
) -> None:
    open_org(page, stack, "GLOBAL")
    fill_entry(page, "any_secret", "secret_ref")
    choices = page.get_by_role("form", name="New entry").get_by_label("Value")
    expect(choices.locator("option", has_text="psa-api-key")).to_have_text(["psa-api-key (GLOBAL)"])
    expect(choices).to_have_accessible_description(re.compile("an org with its own secret"))


def test_a_validation_error_is_shown_next_to_the_field(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    open_org(page, stack, org)
    fill_entry(page, "smtp_port", "int", "25x")
    page.get_by_role("button", name="Save").click()
    value = page.get_by_role("form", name="New entry").get_by_label("Value")
    expect(value).to_have_attribute("aria-invalid", "true")
    expect(value).to_have_accessible_description(re.compile("does not parse as type 'int'"))
    expect(value).to_be_focused()
    status, _ = admin_api.call("GET", f"orgs/{org}/config/smtp_port")
    assert status == 404  # nothing was written


def test_an_invalid_key_is_shown_at_the_key_field(page: Page, stack: Stack, org: str) -> None:
    open_org(page, stack, org)
    fill_entry(page, "9lives", "string", "x")
    page.get_by_role("button", name="Save").click()
    key = page.get_by_role("form", name="New entry").get_by_label("Key")
    expect(key).to_have_attribute("aria-invalid", "true")
    expect(key).to_have_accessible_description(re.compile("config key .*invalid", re.I))


def test_editing_an_entry_changed_behind_the_page_shows_the_conflict_then_overwrites(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    admin_api.put(org, "region", "eu")
    open_org(page, stack, org)
    page.get_by_role("button", name="Edit region").click()
    page.get_by_role("form", name="Edit region").get_by_label("Value").fill("us")
    admin_api.put(org, "region", "ap")  # another admin, meanwhile
    page.get_by_role("button", name="Save").click()
    conflict = page.get_by_role("alert").filter(has_text="was changed by someone else")
    expect(conflict).to_contain_text("It is now: string ap")
    expect(conflict).to_contain_text("other-admin@example.com")
    expect(conflict).to_contain_text("Your version: string us")
    screenshot(page, "conflict")
    conflict.get_by_role("button", name="Overwrite with my version").click()
    expect(page.get_by_role("status")).to_contain_text("overwrote the other change")
    expect(page.get_by_role("row", name="region")).to_contain_text("us")
    assert admin_api.call("GET", f"orgs/{org}/config/region")[1]["value"] == "us"


def test_a_conflict_can_be_resolved_by_reloading_the_current_value(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    admin_api.put(org, "region", "eu")
    open_org(page, stack, org)
    page.get_by_role("button", name="Edit region").click()
    page.get_by_role("form", name="Edit region").get_by_label("Value").fill("us")
    admin_api.put(org, "region", "ap")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("button", name="Reload (discard my edit)").click()
    expect(page.get_by_role("row", name="region")).to_contain_text("ap")
    assert admin_api.call("GET", f"orgs/{org}/config/region")[1]["value"] == "ap"


def test_an_inherited_entry_is_overridden_for_the_org(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    admin_api.put(org, "region", "eu")  # so the org exists
    open_org(page, stack, org)
    page.get_by_role("button", name="Override smtp_port").click()
    form = page.get_by_role("form", name="Override smtp_port")
    expect(form.get_by_label("Value")).to_have_value("587")
    form.get_by_label("Value").fill("2525")
    form.get_by_role("button", name="Save").click()
    row = page.get_by_role("row", name="smtp_port")
    expect(row).to_contain_text("2525")
    expect(row.get_by_role("button", name="Edit smtp_port")).to_be_visible()


def test_an_entry_is_deleted_after_confirmation(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    admin_api.put(org, "region", "eu")
    admin_api.put(org, "tier", "gold")
    open_org(page, stack, org)
    page.get_by_role("button", name="Delete tier").click()
    page.get_by_role("button", name="Delete entry").click()
    expect(page.get_by_role("status")).to_contain_text(f"Deleted tier from {org}")
    expect(page.get_by_role("row", name="tier")).to_have_count(0)
    assert admin_api.call("GET", f"orgs/{org}/config/tier")[0] == 404


XSS = ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>']


def test_markup_in_values_and_descriptions_is_shown_as_text(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    admin_api.put(org, "note_a", XSS[0], description=XSS[1])
    admin_api.put(org, "note_b", XSS[1], description=XSS[0])
    open_org(page, stack, org)
    for key, value, description in (("note_a", XSS[0], XSS[1]), ("note_b", XSS[1], XSS[0])):
        row = page.get_by_role("row", name=key)
        expect(row.locator("code")).to_have_text(value)
        expect(row.locator(".description")).to_have_text(description)
    assert page.locator("main img, main script").count() == 0
    page.get_by_role("button", name="Edit note_b").click()
    expect(page.get_by_role("form", name="Edit note_b").get_by_label("Value")).to_have_value(XSS[1])
    # the page fixture fails the test if any dialog opened
