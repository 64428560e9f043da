"""The org registry and readiness on the page: the picker lists registered orgs (display
names, suspended marked) and refuses unknown ones at the field; the Orgs view registers,
renames, suspends and reactivates; each org view has a readiness panel whose buttons
open the form that fixes a problem; the fleet view pages through orgs x workflows."""

from __future__ import annotations

import json
import re
import uuid

from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import AdminApi, Stack, screenshot
from tests.browser.test_accessibility import NARROW, SIDEWAYS, serious


def test_the_picker_lists_registered_orgs_and_refuses_an_unknown_one_at_the_field(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    admin_api.call("PATCH", f"orgs/{org}", {"status": "suspended"})
    page.goto(f"{stack.page_url}#/config/{org}")
    picker = page.get_by_label("Organization")
    expect(picker).to_have_value(org)
    # registered orgs with their display names; a suspended one is marked
    expect(picker.locator("option[value=acme]")).to_have_text("acme")  # seeded: name = id
    expect(picker.locator(f"option[value={org}]")).to_have_text(f"{org} (Test {org}) [suspended]")
    expect(page.get_by_text(f"{org} is suspended.")).to_be_visible()
    other = page.get_by_label("Other org")
    other.fill("acmee")
    page.get_by_role("button", name="Open").click()
    expect(other).to_have_attribute("aria-invalid", "true")
    expect(other).to_have_accessible_description(re.compile(
        r"no org 'acmee' is registered; did you mean acme"))
    expect(other).to_be_focused()
    screenshot(page, "unknown-org-at-the-field")
    # the view and the list stay as they were
    expect(page.get_by_role("heading", name=f"Configuration: {org}")).to_be_visible()
    assert "acmee" not in page.url
    expect(picker.locator("option", has_text="acmee")).to_have_count(0)
    # the close match opens that org
    page.locator(".picker-error").get_by_role("link", name="acme", exact=True).click()
    expect(page.get_by_role("heading", name="Configuration: acme")).to_be_visible()
    # the format check still comes first
    page.get_by_label("Other org").fill("Bad Org!")
    page.get_by_label("Other org").press("Enter")
    expect(page.get_by_label("Other org")).to_have_accessible_description(
        re.compile(r'"Bad Org!" is not a valid org id'))
    # an unknown org in the address: the API's message, no option for it
    page.goto(f"{stack.page_url}#/secrets/contosso")
    expect(page.get_by_role("heading", name="Unknown org")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("no org 'contosso' is registered")
    expect(page.get_by_label("Organization").locator("option", has_text="contosso")
           ).to_have_count(0)
    page.get_by_role("link", name="contoso", exact=True).click()
    expect(page.get_by_role("heading", name="Secrets: contoso")).to_be_visible()
    admin_api.call("PATCH", f"orgs/{org}", {"status": "active"})


def test_the_orgs_view_registers_renames_suspends_and_reactivates(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    page.goto(f"{stack.page_url}#/config/GLOBAL")
    page.get_by_role("link", name="Orgs", exact=True).click()
    expect(page.get_by_role("heading", name="Organizations")).to_be_visible()
    table = page.get_by_role("table", name=re.compile(r"Registered orgs"))
    acme = table.get_by_role("row", name="acme: configuration")
    expect(acme).to_contain_text("active")
    mine = table.get_by_role("row", name=f"{org}: configuration")
    expect(mine).to_contain_text(f"Test {org}")
    expect(mine).to_contain_text("other-admin@example.com")  # created by

    # register: errors at the fields
    new = f"t-{uuid.uuid4().hex[:8]}"
    form = page.get_by_role("form", name="Register an org")
    org_id = form.get_by_label("Org id")
    org_id.fill(org)
    form.get_by_role("button", name="Register org").click()
    expect(org_id).to_have_attribute("aria-invalid", "true")
    expect(org_id).to_have_accessible_description(re.compile(r"already|exists|registered"))
    org_id.fill("Global")
    form.get_by_role("button", name="Register org").click()
    expect(org_id).to_have_accessible_description(re.compile("GLOBAL is the platform-wide scope"))
    org_id.fill("bad org")
    form.get_by_role("button", name="Register org").click()
    expect(org_id).to_have_accessible_description(re.compile("not starting or ending"))
    org_id.fill(new)
    form.get_by_label("Display name (optional)").fill("New <b>Client</b>")
    form.get_by_role("button", name="Register org").click()
    expect(page.get_by_role("status")).to_contain_text(f"Registered {new}")
    row = page.get_by_role("row", name=f"{new}: configuration")
    expect(row).to_contain_text("New <b>Client</b>")  # text, never markup
    status, body = admin_api.call("GET", "orgs")
    assert any(o["id"] == new and o["display_name"] == "New <b>Client</b>" for o in body["orgs"])

    # rename
    row.get_by_role("button", name=f"Rename {new}").click()
    rename = page.get_by_role("form", name=f"Rename {new}")
    rename.get_by_label("Display name").fill("Renamed Client")
    rename.get_by_role("button", name="Save name").click()
    expect(page.get_by_role("status")).to_contain_text(f"Renamed {new} to Renamed Client")
    row = page.get_by_role("row", name=f"{new}: configuration")
    expect(row).to_contain_text("Renamed Client")

    # suspend: the confirmation says what it means
    row.get_by_role("button", name=f"Suspend {new}").click()
    confirm = page.get_by_role("region", name=f"Suspend {new} (Renamed Client)?")
    expect(confirm).to_contain_text("config entries and secrets are kept")
    expect(confirm).to_contain_text("workflow runs are refused")
    expect(confirm.get_by_role("button", name=f"Suspend {new}")).to_be_focused()
    screenshot(page, "orgs-suspend-confirm")
    confirm.get_by_role("button", name=f"Suspend {new}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Suspended {new}")
    row = page.get_by_role("row", name=f"{new}: configuration")
    expect(row).to_contain_text("suspended")
    assert next(o for o in admin_api.call("GET", "orgs")[1]["orgs"]
                if o["id"] == new)["status"] == "suspended"
    status, body = admin_api.call("POST", f"orgs/{new}/workflows/psa-ticket", {})
    assert status == 409 and body["error"] == "org_suspended", body
    screenshot(page, "orgs-view")
    row.get_by_role("button", name=f"Reactivate {new}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Reactivated {new}")
    expect(page.get_by_role("row", name=f"{new}: configuration")).to_contain_text("active")


def test_with_the_registry_off_the_orgs_view_says_what_the_first_registration_does(
    page: Page, stack: Stack
) -> None:
    def registry_off(route: Route) -> None:
        if route.request.method != "GET":
            return route.continue_()
        route.fulfill(status=200, content_type="application/json", body=json.dumps(
            {"scopes": ["GLOBAL", "acme", "contoso"], "orgs": [], "registry": "off"}))

    page.route("**/api/orgs", registry_off)
    page.goto(f"{stack.page_url}#/orgs/GLOBAL")
    notice = page.get_by_role("region", name="The org registry is off")
    expect(notice).to_contain_text("Registering the first org turns the registry on")
    expect(notice).to_contain_text("registers every org that already has config entries or secrets")
    expect(notice).to_contain_text("acme, contoso")
    expect(page.get_by_role("form", name="Register an org")).to_be_visible()
    # the picker works as before the registry: orgs with config
    page.goto(f"{stack.page_url}#/config/GLOBAL")
    expect(page.get_by_label("Organization").locator("option[value=acme]")).to_have_text("acme")


def test_the_readiness_panel_shows_each_workflow_and_opens_the_fixing_form(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    admin_api.put(org, "graph_client_id", "client-1")
    admin_api.put(org, "graph_page_size", "lots")                 # wrong_type: needs int
    admin_api.put(org, "graph_client_secret", "t-nope", "secret_ref")   # secret_missing
    admin_api.put(org, "smtp_username", "digest@example.org")
    page.goto(f"{stack.page_url}#/config/{org}")
    panel = page.get_by_role("region", name="Workflow readiness")
    expect(panel).to_contain_text(f"2 of 3 workflows can run for {org}")
    graph = panel.locator("li.wf", has_text="graph-user-sync")
    expect(graph).to_contain_text("not ready: 3 problems")
    expect(graph).to_contain_text("graph_tenant_id")
    expect(panel.locator("li.wf", has_text="psa-ticket")).to_contain_text("ready")
    expect(panel.locator("li.wf", has_text="smtp-digest")).to_contain_text("ready")
    assert serious(page) == []
    screenshot(page, "readiness-panel")

    # missing key: a new entry of that key, type string
    graph.get_by_role("button", name="Add graph_tenant_id for graph-user-sync").click()
    form = page.get_by_role("form", name=f"New entry in {org}")
    expect(form.get_by_label("Key")).to_have_value("graph_tenant_id")
    expect(form.get_by_label("Type")).to_have_value("string")
    expect(form.get_by_label("Value")).to_be_focused()
    form.get_by_label("Value").fill("tenant-1")
    form.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved graph_tenant_id")
    graph = page.get_by_role("region", name="Workflow readiness").locator(
        "li.wf", has_text="graph-user-sync")
    expect(graph).to_contain_text("not ready: 2 problems")

    # wrong type: the org's own entry, with the type the workflow needs
    graph.get_by_role("button", name="Edit graph_page_size for graph-user-sync").click()
    form = page.get_by_role("form", name=f"Edit graph_page_size ({org})")
    expect(form.get_by_label("Type")).to_have_value("int")
    form.get_by_label("Value").fill("200")
    form.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved graph_page_size")

    # a missing secret: the create-secret form with its name
    graph = page.get_by_role("region", name="Workflow readiness").locator(
        "li.wf", has_text="graph-user-sync")
    expect(graph).to_contain_text("not ready: 1 problem")
    graph.get_by_role("button", name="Create secret t-nope for graph-user-sync").click()
    create = page.get_by_role("form", name="Create a secret")
    expect(create.get_by_label("Name")).to_have_value("t-nope")
    expect(create.get_by_label("Scope")).to_have_value(org)
    create.get_by_label("Value", exact=True).fill("Zx-readiness-secret")
    create.get_by_role("button", name="Create secret").click()
    expect(page.locator(".reveal")).to_be_visible()
    page.get_by_role("button", name="Done").click()
    expect(page.get_by_role("region", name="Workflow readiness")).to_contain_text(
        f"All 3 workflows can run for {org}")
    expect(page.locator("body")).not_to_contain_text("Zx-readiness-secret")


def test_an_invalid_or_inherited_value_opens_edit_or_override(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    admin_api.put(org, "smtp_port", 70000, "int")               # invalid: le=65535
    admin_api.put(org, "smtp_username", "digest@example.org")
    page.goto(f"{stack.page_url}#/config/{org}")
    smtp = page.get_by_role("region", name="Workflow readiness").locator(
        "li.wf", has_text="smtp-digest")
    expect(smtp).to_contain_text("invalid value")
    smtp.get_by_role("button", name="Edit smtp_port for smtp-digest").click()
    form = page.get_by_role("form", name=f"Edit smtp_port ({org})")
    expect(form.get_by_label("Type")).to_have_value("int")
    expect(form.get_by_label("Value")).to_have_value("70000")


def test_a_secret_ref_in_a_plain_field_is_edited_with_the_fields_type(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    # wrong_type whose message says "store string", not "needs": the form's type comes from
    # the problem's expected_type, not from the message
    admin_api.put(org, "smtp_username", "smtp-user-name", "secret_ref")
    page.goto(f"{stack.page_url}#/config/{org}")
    smtp = page.get_by_role("region", name="Workflow readiness").locator(
        "li.wf", has_text="smtp-digest")
    expect(smtp).to_contain_text("wrong type")
    smtp.get_by_role("button", name="Edit smtp_username for smtp-digest").click()
    form = page.get_by_role("form", name=f"Edit smtp_username ({org})")
    expect(form.get_by_label("Type")).to_have_value("string")


def test_the_fleet_view_pages_orgs_by_workflow(
    page: Page, stack: Stack, admin_api: AdminApi
) -> None:
    suspended = "a-" + uuid.uuid4().hex[:8]  # sorts before acme: on the first page
    admin_api.put(suspended, "smtp_username", "digest@example.org")
    admin_api.call("PATCH", f"orgs/{suspended}", {"status": "suspended"})

    def small_pages(route: Route) -> None:
        route.continue_(url=re.sub(r"limit=\d+", "limit=2", route.request.url))

    page.route("**/api/readiness?*", small_pages)
    page.goto(f"{stack.page_url}#/config/GLOBAL")
    expect(page.get_by_role("row", name="smtp_host")).to_be_visible()
    expect(page.get_by_role("region", name="Workflow readiness")).to_have_count(0)  # per org
    page.get_by_role("link", name="Readiness", exact=True).click()
    expect(page.get_by_role("heading", name="Readiness")).to_be_visible()
    table = page.get_by_role("table", name=re.compile("Orgs with config"))
    expect(table).to_have_accessible_name(re.compile(r"\(2 shown, more after\)"))
    expect(table.get_by_role("row", name=suspended)).to_contain_text("suspended: runs refused")
    acme = table.get_by_role("row", name="acme")
    expect(acme).to_contain_text("3 of 3")
    expect(acme.get_by_role("cell").filter(has_text="ready")).to_have_count(3)
    expect(table.get_by_role("row", name="fabrikam")).to_have_count(0)
    assert serious(page) == []
    page.get_by_role("button", name="Next orgs").click()
    expect(table.get_by_role("row", name="fabrikam")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Loaded 2 more orgs")
    screenshot(page, "fleet-readiness")
    table.get_by_role("link", name="fabrikam").click()
    expect(page.get_by_role("heading", name="Configuration: fabrikam")).to_be_visible()


def test_the_new_views_fit_420_px_and_have_no_serious_violation(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    admin_api.put(org, "graph_page_size", "lots")
    page.goto(f"{stack.page_url}#/orgs/GLOBAL")
    expect(page.get_by_role("row", name="acme: configuration")).to_be_visible()
    assert serious(page) == []
    page.set_viewport_size(NARROW)
    assert page.evaluate(SIDEWAYS) <= 420
    assert serious(page) == []
    screenshot(page, "narrow-orgs")
    page.get_by_role("button", name="Suspend acme").click()
    expect(page.get_by_role("region", name=re.compile("Suspend acme"))).to_be_visible()
    assert page.evaluate(SIDEWAYS) <= 420
    page.get_by_role("button", name="Cancel").click()
    page.goto(f"{stack.page_url}#/config/{org}")
    expect(page.get_by_role("region", name="Workflow readiness")).to_contain_text("wrong type")
    assert page.evaluate(SIDEWAYS) <= 420
    assert serious(page) == []
    screenshot(page, "narrow-readiness-panel")
    page.goto(f"{stack.page_url}#/readiness/GLOBAL")
    expect(page.get_by_role("row", name="acme")).to_be_visible()
    assert page.evaluate(SIDEWAYS) <= 420
    assert serious(page) == []
    screenshot(page, "narrow-fleet-readiness")
