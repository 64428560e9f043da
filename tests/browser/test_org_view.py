"""The org view: every key an org sees, its value, where it comes from, and for a secret
reference where the secret resolves (never the value); problems stand out."""

from __future__ import annotations

import re

from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import AdminApi, Stack, screenshot


def test_org_view_shows_values_provenance_and_secret_resolution(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    admin_api.put(org, "smtp_host", "smtp.example.org", description="outgoing mail relay")
    admin_api.put(org, "smtp_port", 2525, "int")
    admin_api.secret(org, "graph-client-secret", "Zx-browser-org-secret")
    admin_api.put(org, "graph_client_secret", "graph-client-secret", "secret_ref")
    admin_api.put(org, "legacy_token", "no-such-secret", "secret_ref")

    page.goto(f"{stack.page_url}#/config/{org}")
    expect(page.get_by_role("heading", name=f"Configuration: {org}")).to_be_visible()
    row = page.get_by_role("row", name="smtp_port")
    expect(row).to_contain_text("2525")
    expect(row).to_contain_text(org)
    inherited = page.get_by_role("row", name="report_sender")  # seeded in GLOBAL
    expect(inherited).to_contain_text("reports@example-msp.net")
    expect(inherited).to_contain_text("GLOBAL")
    expect(inherited.get_by_role("button", name="Override report_sender")).to_be_visible()
    secret_row = page.get_by_role("row", name="graph_client_secret")
    expect(secret_row).to_contain_text("resolves from: org secret")
    expect(secret_row).to_contain_text(f"keyvault:{org}--graph-client-secret")
    global_row = page.get_by_role("row", name="smtp_password")
    expect(global_row).to_contain_text("resolves from: GLOBAL secret")
    dangling = page.get_by_role("row", name="legacy_token")
    expect(dangling).to_contain_text("Problem")
    expect(dangling).to_contain_text(f"keyvault:{org}--no-such-secret")
    expect(dangling).to_contain_text("env:GLOBAL__NO_SUCH_SECRET")
    expect(page.get_by_role("alert")).to_contain_text("1 key would fail")
    expect(page.locator("body")).not_to_contain_text("Zx-browser-org-secret")
    screenshot(page, "org-view")


def test_org_picker_lists_orgs_with_config_and_global(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    admin_api.put(org, "region", "eu")
    page.goto(stack.page_url)
    picker = page.get_by_label("Organization")
    expect(picker).to_have_value("GLOBAL")
    expect(picker.locator("option", has_text="acme")).to_have_count(1)
    picker.select_option(org)
    expect(page.get_by_role("heading", name=f"Configuration: {org}")).to_be_visible()
    expect(page.get_by_role("row", name="region")).to_contain_text("eu")


def test_an_invalid_org_id_is_explained_at_the_field_and_the_picker_stays(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    admin_api.put(org, "region", "eu")
    page.goto(f"{stack.page_url}#/config/{org}")
    expect(page.get_by_role("row", name="region")).to_be_visible()
    other = page.get_by_label("Other org")
    other.fill("Bad Org!")
    page.get_by_role("button", name="Open").click()
    expect(other).to_have_attribute("aria-invalid", "true")
    expect(other).to_have_accessible_description(re.compile(
        r'"Bad Org!" is not a valid org id\. An org id is a-z and 0-9 in groups separated'))
    expect(other).to_be_focused()
    screenshot(page, "invalid-org-id")
    # nothing else changed: same view, the picker, no option for the bad id
    expect(page.get_by_role("heading", name=f"Configuration: {org}")).to_be_visible()
    assert "Bad" not in page.url and "bad" not in page.url
    picker = page.get_by_label("Organization")
    expect(picker).to_have_value(org)
    expect(picker.locator("option", has_text=re.compile("bad", re.I))).to_have_count(0)
    for typed, problem in (("global-", "not starting or ending with '-'"),
                           ("a" * 64, "at most 63 characters"),
                           ("acmé", "no accents")):
        other.fill(typed)
        other.press("Enter")
        expect(other).to_have_accessible_description(re.compile(re.escape(problem)))
    other.fill("")
    expect(other).not_to_have_attribute("aria-invalid", "true")  # cleared as one types
    other.fill("ACME")  # upper case is canonicalized
    other.press("Enter")
    expect(page.get_by_role("heading", name="Configuration: acme")).to_be_visible()
    assert page.url.endswith("#/config/acme")
    page.get_by_label("Other org").fill("Global")
    page.get_by_label("Other org").press("Enter")
    expect(page.get_by_role("heading", name="Configuration: GLOBAL")).to_be_visible()


def test_an_invalid_org_id_in_the_address_keeps_the_picker(page: Page, stack: Stack) -> None:
    page.goto(f"{stack.page_url}#/secrets/Bad%20Org!")
    expect(page.get_by_role("heading", name="Not a valid org id")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text('"Bad Org!" is not a valid org id')
    picker = page.get_by_label("Organization")
    expect(picker.locator("option", has_text=re.compile("bad", re.I))).to_have_count(0)
    picker.select_option("acme")
    expect(page.get_by_role("heading", name="Secrets: acme")).to_be_visible()
    page.goto(f"{stack.page_url}#/secrets/Acme")  # canonicalized in place
    expect(page.get_by_role("heading", name="Secrets: acme")).to_be_visible()


def test_a_seeded_org_shows_its_own_secret_and_globals(page: Page, stack: Stack) -> None:
    page.goto(f"{stack.page_url}#/config/acme")  # from examples/seed.json; tests never write it
    expect(page.get_by_role("row", name="graph_client_secret")).to_contain_text(
        "resolves from: org secret (keyvault:acme--graph-client-secret)")
    expect(page.get_by_role("row", name="smtp_host")).to_contain_text("smtp.acme.example")
    expect(page.get_by_role("row", name="psa_api_key")).to_contain_text("GLOBAL secret")
    expect(page.locator("body")).not_to_contain_text("demo-acme-graph")
    screenshot(page, "org-view-acme")  # docs/admin-page.png is this one


def test_a_slow_view_the_admin_already_left_never_replaces_the_current_one(
    page: Page, stack: Stack
) -> None:
    """Open acme's config, whose data is held back; go to Secrets meanwhile; when the
    config data finally arrives it must not take the screen back."""
    held: list[Route] = []
    page.route("**/api/orgs/acme/effective", lambda route: held.append(route))
    page.goto(f"{stack.page_url}#/config/GLOBAL")
    expect(page.get_by_role("heading", name="Configuration: GLOBAL")).to_be_visible()
    page.evaluate("location.hash = '#/config/acme'")
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the page never asked for acme's config"
    page.get_by_role("link", name="Secrets").click()
    expect(page.get_by_role("heading", name="Secrets: acme")).to_be_visible()
    with page.expect_response("**/api/orgs/acme/effective"):
        held[0].continue_()
    page.wait_for_timeout(300)  # the late answer's render would land within a tick
    expect(page.get_by_role("heading", name="Secrets: acme")).to_be_visible()
    expect(page.get_by_role("heading", name="Configuration: acme")).to_have_count(0)
