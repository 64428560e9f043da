"""Config history in the page: an entry's history panel (who, when, action, old -> new, a
JSON value key by key), restore after a confirmation that shows what will change (guarded
by the ETag read with the history), and an org's Recent changes view with paging."""

from __future__ import annotations

import json
import re

from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import AdminApi, Stack, screenshot
from tests.browser.test_accessibility import NARROW, SIDEWAYS, focus_by_tab, serious

WHO = "other-admin@example.com"


def open_history(page: Page, stack: Stack, org: str, key: str) -> Locator:
    page.goto(f"{stack.page_url}#/config/{org}")
    page.get_by_role("button", name=f"History of {key}").click()
    panel = page.get_by_role("region", name=f"History of {key} ({org})")
    expect(panel).to_be_visible()
    return panel


def rows(panel: Locator) -> Locator:
    return panel.get_by_role("table").get_by_role("rowgroup").nth(1).get_by_role("row")


def test_the_history_panel_shows_who_when_action_and_old_to_new(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    admin_api.put(org, "region", "eu")
    admin_api.put(org, "region", "us", description="data residency")
    panel = open_history(page, stack, org, "region")
    expect(panel.get_by_role("heading", name=f"History of region ({org})")).to_be_focused()
    expect(panel.locator(".now")).to_contain_text("string us")
    newest, oldest = rows(panel).nth(0), rows(panel).nth(1)
    expect(rows(panel)).to_have_count(2)
    expect(newest.get_by_role("rowheader")).to_have_text(
        re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$"))
    expect(newest.get_by_role("cell").nth(0)).to_have_text(WHO)
    expect(newest.get_by_role("cell").nth(1)).to_have_text("put")
    change = newest.locator(".diff")
    expect(change.locator("li.diff-changed").first).to_have_text(re.compile(r"value:?\s*eu\s*→.*us"))
    expect(change.locator("li.diff-changed").nth(1)).to_contain_text('description')
    expect(change.locator("li.diff-changed").nth(1)).to_contain_text('data residency')
    expect(newest).to_contain_text("current state")  # nothing to restore there
    expect(oldest).to_contain_text("the first recorded change")
    expect(oldest.get_by_role("button", name=re.compile("Restore the state of"))).to_be_visible()
    screenshot(page, "history-panel")


def test_a_json_change_reads_key_by_key_and_a_secret_ref_shows_its_name(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    admin_api.put(org, "psa_field_mapping", json.dumps(
        {"ticket": {"status": "state", "owner": "agent"}, "codes": [429, 503], "legacy": 1}),
        "json")
    admin_api.put(org, "psa_field_mapping", json.dumps(
        {"ticket": {"status": "ticket_state", "owner": "agent"}, "codes": [429, 503], "sla": True}),
        "json")
    admin_api.secret(org, "psa-api-key", "Zx-history-secret-value")
    admin_api.put(org, "psa_key", "missing-name", "secret_ref")
    admin_api.put(org, "psa_key", "psa-api-key", "secret_ref")
    panel = open_history(page, stack, org, "psa_field_mapping")
    diff = rows(panel).nth(0).locator(".diff")
    expect(diff.locator("li")).to_have_count(3)  # unchanged keys are not listed
    expect(diff.locator("li.diff-changed")).to_have_text(
        re.compile(r'ticket\.status: "state"\s*→.*"ticket_state"'))
    expect(diff.locator("li.diff-removed")).to_have_text(re.compile(r"removed\s*legacy: 1"))
    expect(diff.locator("li.diff-added")).to_have_text(re.compile(r"added\s*sla: true"))
    screenshot(page, "history-json-diff")
    page.get_by_role("button", name="History of psa_key").click()
    secret_panel = page.get_by_role("region", name=f"History of psa_key ({org})")
    expect(rows(secret_panel).nth(0).locator(".diff")).to_have_text(
        re.compile(r"secret missing-name\s*→.*secret psa-api-key"))
    expect(page.locator("body")).not_to_contain_text("Zx-history-secret-value")


def test_restore_asks_first_shows_what_changes_and_restores_type_and_value(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    admin_api.put(org, "retries", "5", "int")
    admin_api.put(org, "retries", json.dumps({"max": 7}), "json")
    panel = open_history(page, stack, org, "retries")
    rows(panel).nth(1).get_by_role("button", name=re.compile("Restore the state of")).click()
    confirm = page.get_by_role("region", name=re.compile(r"Restore retries .* to its state of"))
    expect(confirm).to_be_visible()
    expect(confirm.get_by_role("button", name="Restore", exact=True)).to_be_focused()
    expect(confirm.locator("dd").nth(0)).to_have_text(re.compile(r'json\s*\{"max": 7\}'))
    expect(confirm.locator("dd").nth(1)).to_have_text(re.compile(r"int\s*5"))
    expect(confirm).to_contain_text("Its type changes from json to int")
    screenshot(page, "restore-confirmation")
    # Cancel goes back to the history, nothing written
    confirm.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("region", name=f"History of retries ({org})")).to_be_visible()
    assert admin_api.call("GET", f"orgs/{org}/config/retries")[1]["type"] == "json"
    rows(panel).nth(1).get_by_role("button", name=re.compile("Restore the state of")).click()
    page.get_by_role("button", name="Restore", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(f"Restored retries in {org}")
    expect(page.get_by_role("table", name=re.compile("Keys")).get_by_role("row", name="retries")
           ).to_contain_text("int")
    # the entry and its history are shown again, the restore on top of it
    panel = page.get_by_role("region", name=f"History of retries ({org})")
    expect(panel.locator(".now")).to_contain_text("int 5")
    expect(rows(panel)).to_have_count(3)
    expect(rows(panel).nth(0).get_by_role("cell").nth(1)).to_have_text("rollback")
    expect(rows(panel).nth(0).get_by_role("cell").nth(0)).to_have_text("admin@example.com")
    body = admin_api.call("GET", f"orgs/{org}/config/retries")[1]
    assert (body["type"], body["value"]) == ("int", "5")


def test_a_restore_after_another_write_says_so_and_changes_nothing(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    admin_api.put(org, "region", "eu")
    admin_api.put(org, "region", "us")
    panel = open_history(page, stack, org, "region")
    rows(panel).nth(1).get_by_role("button", name=re.compile("Restore the state of")).click()
    admin_api.put(org, "region", "ap")  # another admin, meanwhile
    page.get_by_role("button", name="Restore", exact=True).click()
    alert = page.get_by_role("alert").filter(has_text="was changed by someone else")
    expect(alert).to_contain_text("Nothing was restored")
    expect(alert).to_contain_text(WHO)
    expect(alert).to_contain_text("It is now: string ap")
    assert admin_api.call("GET", f"orgs/{org}/config/region")[1]["value"] == "ap"
    screenshot(page, "restore-stale")
    alert.get_by_role("button", name="Reload the history").click()
    panel = page.get_by_role("region", name=f"History of region ({org})")
    expect(panel.locator(".now")).to_contain_text("string ap")
    expect(rows(panel)).to_have_count(3)
    # the entry's row is reloaded with it
    expect(page.get_by_role("table", name=re.compile("Keys")).get_by_role("row", name="region")
           ).to_contain_text("ap")


def test_recent_changes_lists_changes_across_keys_newest_first_and_pages(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    written = []
    for i in range(23):
        key = f"key_{i % 3}"
        admin_api.put(org, key, f"v{i}")
        written.append((key, f"v{i}"))
    admin_api.call("DELETE", f"orgs/{org}/config/key_0")
    written.append(("key_0", None))
    page.goto(f"{stack.page_url}#/config/{org}")
    page.get_by_role("link", name="Recent changes").first.click()
    expect(page.get_by_role("heading", name=f"Recent changes: {org}")).to_be_visible()
    assert page.url.endswith(f"#/changes/{org}")
    expect(page.get_by_role("navigation").get_by_role("link", name="Recent changes")
           ).to_have_attribute("aria-current", "page")
    table = page.get_by_role("table", name=re.compile("changes"))
    body_rows = table.get_by_role("rowgroup").nth(1).get_by_role("row")
    expect(body_rows).to_have_count(20)
    expect(body_rows.nth(0)).to_contain_text("key_0")
    expect(body_rows.nth(0)).to_contain_text("delete")
    expect(body_rows.nth(1)).to_contain_text("key_1")
    expect(body_rows.nth(1)).to_contain_text("v22")
    expect(body_rows.nth(1)).to_contain_text(WHO)
    newest_first = list(reversed(written))
    for i in range(1, 20):
        expect(body_rows.nth(i)).to_contain_text(f"{newest_first[i][0]}")
        expect(body_rows.nth(i).locator(".val")).to_have_text(str(newest_first[i][1]))
    screenshot(page, "recent-changes")
    page.get_by_role("button", name="Load more").click()
    expect(body_rows).to_have_count(24)
    expect(body_rows.nth(23).locator(".val")).to_have_text("v0")
    expect(page.get_by_role("button", name="Load more")).to_have_count(0)
    expect(body_rows.nth(20).get_by_role("rowheader")).to_be_focused()
    # a deleted key's history opens from here, and restoring brings it back
    body_rows.nth(0).get_by_role("button", name="History of key_0").click()
    panel = page.get_by_role("region", name=f"History of key_0 ({org})")
    expect(panel.locator(".now")).to_contain_text("(deleted)")
    rows(panel).nth(1).get_by_role("button", name=re.compile("Restore the state of")).click()
    confirm = page.get_by_role("region", name=re.compile("Restore key_0"))
    expect(confirm).to_contain_text("The entry does not exist now")
    confirm.get_by_role("button", name="Restore", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(f"Restored key_0 in {org}")
    expect(body_rows.nth(0)).to_contain_text("rollback")
    assert admin_api.call("GET", f"orgs/{org}/config/key_0")[1]["value"] == "v21"


def test_restoring_a_delete_item_deletes_the_entry(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    admin_api.put(org, "tier", "gold")
    admin_api.call("DELETE", f"orgs/{org}/config/tier")
    admin_api.put(org, "tier", "silver")
    panel = open_history(page, stack, org, "tier")
    expect(rows(panel).nth(1).locator(".diff")).to_have_text(re.compile(r"gold\s*→.*deleted"))
    rows(panel).nth(1).get_by_role("button", name=re.compile("Restore the state of")).click()
    confirm = page.get_by_role("region", name=re.compile("Restore tier"))
    expect(confirm).to_contain_text("The entry will be deleted")
    confirm.get_by_role("button", name="Restore (delete the entry)").click()
    expect(page.get_by_role("status")).to_contain_text("the entry is deleted")
    expect(page.get_by_role("table", name=re.compile("Keys")).get_by_role("row", name="tier")
           ).to_have_count(0)
    assert admin_api.call("GET", f"orgs/{org}/config/tier")[0] == 404


def test_the_history_views_are_accessible_and_fit_420_px(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    long_status = "a-rather-long-status-name-that-must-wrap-in-a-narrow-card"
    admin_api.put(org, "psa_field_mapping", json.dumps({"ticket": {"status": "state"}, "x": 1}),
                  "json")
    admin_api.put(org, "psa_field_mapping", json.dumps(
        {"ticket": {"status": long_status}, "y": [1, 2]}), "json")
    admin_api.put(org, "region", "eu")
    panel = open_history(page, stack, org, "psa_field_mapping")
    assert serious(page) == []
    rows(panel).nth(1).get_by_role("button", name=re.compile("Restore the state of")).click()
    expect(page.get_by_role("button", name="Restore", exact=True)).to_be_visible()
    assert serious(page) == []
    page.goto(f"{stack.page_url}#/changes/{org}")
    expect(page.get_by_role("heading", name=f"Recent changes: {org}")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("region"))).to_be_visible()
    assert serious(page) == []

    page.set_viewport_size(NARROW)
    page.reload()
    expect(page.get_by_role("row", name=re.compile("region"))).to_be_visible()
    assert page.evaluate(SIDEWAYS) <= 420
    assert serious(page) == []
    screenshot(page, "narrow-recent-changes")
    page.get_by_role("button", name="History of psa_field_mapping").first.click()
    panel = page.get_by_role("region", name=f"History of psa_field_mapping ({org})")
    expect(panel).to_be_visible()
    assert page.evaluate(SIDEWAYS) <= 420
    assert serious(page) == []
    screenshot(page, "narrow-history-panel")
    rows(panel).nth(1).get_by_role("button", name=re.compile("Restore the state of")).click()
    expect(page.get_by_role("button", name="Restore", exact=True)).to_be_visible()
    assert page.evaluate(SIDEWAYS) <= 420
    screenshot(page, "narrow-restore-confirmation")
    page.goto(f"{stack.page_url}#/config/{org}")
    page.get_by_role("button", name="History of region").click()
    expect(page.get_by_role("region", name=f"History of region ({org})")).to_be_visible()
    assert page.evaluate(SIDEWAYS) <= 420


def test_earlier_changes_load_on_and_old_to_new_spans_the_page_boundary(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    for i in range(22):
        admin_api.put(org, "counter", str(i), "int")
    panel = open_history(page, stack, org, "counter")
    expect(rows(panel)).to_have_count(20)
    expect(rows(panel).nth(19)).to_contain_text("the state before is on the next page")
    expect(rows(panel).nth(19).locator(".val")).to_have_text("2")
    panel.get_by_role("button", name="Load earlier changes").click()
    expect(rows(panel)).to_have_count(22)
    expect(rows(panel).nth(19).locator(".diff")).to_have_text(re.compile(r"value:?\s*1\s*→.*2"))
    expect(rows(panel).nth(21)).to_contain_text("the first recorded change")
    expect(panel.get_by_role("button", name="Load earlier changes")).to_have_count(0)
    expect(rows(panel).nth(20).get_by_role("rowheader")).to_be_focused()


def test_history_and_restore_work_from_the_keyboard(
    page: Page, stack: Stack, admin_api: AdminApi, org: str
) -> None:
    admin_api.put(org, "region", "eu")
    admin_api.put(org, "region", "us")
    page.goto(f"{stack.page_url}#/config/{org}")
    expect(page.get_by_role("row", name="region")).to_be_visible()
    focus_by_tab(page, "History of region", limit=80)
    page.keyboard.press("Enter")
    panel = page.get_by_role("region", name=f"History of region ({org})")
    expect(panel.get_by_role("heading")).to_be_focused()
    page.keyboard.press("Escape")  # closes the panel
    expect(panel).to_have_count(0)
    focus_by_tab(page, "History of region", limit=80)
    page.keyboard.press("Enter")
    expect(panel.get_by_role("heading")).to_be_focused()
    label = rows(panel).nth(1).get_by_role("button").get_attribute("aria-label")
    assert label and label.startswith("Restore the state of")
    focus_by_tab(page, label)
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Restore", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text(f"Restored region in {org}")
    assert admin_api.call("GET", f"orgs/{org}/config/region")[1]["value"] == "eu"
