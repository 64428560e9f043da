// The org view: every key an org sees, its effective value (secrets: only where they
// resolve), where it comes from, and edit/delete/override/history actions.

import { call, describe } from "./api.js";
import { h, replace, stackable, uid } from "./dom.js";
import { openEntryForm } from "./entry_form.js";
import { RESOLVED, checkScope, when } from "./format.js";
import { openHistory } from "./history_view.js";
import { readinessPanel } from "./readiness_view.js";
import { openCreateSecret } from "./secrets_view.js";

/** The org picker shared by the views: GLOBAL and the orgs (the registered ones with
 * their display names and status once the registry is on; before, the orgs that have
 * config), and a field to open any other org id. The id is checked here, and with the
 * registry on the API is asked whether the org exists, so a mistyped or unknown id is
 * explained at the field (with the API's close matches) and never becomes a view or an
 * option. */
export function scopePicker(ctx) {
  const selectId = uid("org");
  const otherId = uid("other-org");
  const errorId = `${otherId}-error`;
  const registered = ctx.registry && ctx.registry.on;
  let options;
  if (registered) {
    options = [{ value: "GLOBAL", text: "GLOBAL" }, ...ctx.registry.orgs.map((o) => ({
      value: o.id,
      text: `${o.id}${o.display_name && o.display_name !== o.id ? ` (${o.display_name})` : ""}` +
        `${o.status === "suspended" ? " [suspended]" : ""}`,
    }))];
  } else {
    // an org without entries yet is added to the list while it is open; an invalid id never
    const addCurrent = !ctx.scopes.includes(ctx.org) && checkScope(ctx.org).scope === ctx.org;
    options = (addCurrent ? [...ctx.scopes, ctx.org] : ctx.scopes).map((s) => ({ value: s, text: s }));
  }
  const select = h("select", { id: selectId, onchange: () => ctx.go(ctx.view, select.value) },
    options.map((o) => h("option", { value: o.value, selected: o.value === ctx.org, text: o.text })));
  const error = h("div", { class: "field-error picker-error", id: errorId });
  const other = h("input", { id: otherId, type: "text", placeholder: "org id", size: 16,
    autocomplete: "off", spellcheck: "false", "aria-describedby": errorId,
    oninput: () => {
      if (!other.hasAttribute("aria-invalid")) return;
      other.removeAttribute("aria-invalid");
      error.replaceChildren();
    } });
  const refuse = (...text) => {
    replace(error, ...text);
    other.setAttribute("aria-invalid", "true");
    other.focus();
  };
  const open = h("button", { type: "submit", text: "Open" });
  return h("div", { class: "picker" },
    h("label", { for: selectId, text: "Organization" }), select,
    h("form", { class: "inline", novalidate: true, onsubmit: async (event) => {
      event.preventDefault();
      const { scope, problem } = checkScope(other.value);
      if (problem) {
        return refuse(other.value.trim() ? `"${other.value.trim()}" is not a valid org id. ${problem}` : problem);
      }
      if (registered && scope !== "GLOBAL" && !ctx.registry.orgs.some((o) => o.id === scope)) {
        // not in the list loaded with the page: ask the API (someone may have registered it)
        open.disabled = true;
        try {
          await call("GET", ["orgs", scope, "effective"]);
          await ctx.reloadScopes();
        } catch (err) {
          if (err.code !== "unknown_org") return refuse(describe(err));
          const matches = (err.body.close_matches || []).filter((m) => m !== scope);
          return refuse(err.message, h("span", { class: "matches" },
            matches.length ? ["Open instead: ", matches.map((m, i) => [i ? ", " : "",
              h("a", { href: `#/${ctx.view}/${encodeURIComponent(m)}`, text: m })]), ". "] : null,
            h("a", { href: "#/orgs/GLOBAL", text: "Register an org" })));
        } finally {
          open.disabled = false;
        }
      }
      ctx.go(ctx.view, scope);
    } },
      h("label", { for: otherId, text: "Other org" }), other, open),
    error);
}

/** then(panel): run after the view is rendered (e.g. open a history again). */
export async function renderConfig(main, ctx, then) {
  const { org } = ctx;
  // readiness is per org (not GLOBAL); a failure of it leaves the rest of the view
  const [found, readiness] = await Promise.all([
    call("GET", ["orgs", org, "effective"]),
    org === "GLOBAL" ? null : call("GET", ["orgs", org, "readiness"]).then((r) => r.body, (err) => err)]);
  const effective = found.body;
  const panel = h("div", { class: "panel-slot" });
  const refresh = async (message, after) => {
    await ctx.reloadScopes();
    await renderConfig(main, ctx, after);
    if (message) ctx.status(message, "ok");
  };
  const form = (options) => openEntryForm(panel, { scope: org, ctx, onDone: refresh, ...options });
  // the entry's history in its own scope (GLOBAL's for an inherited row); after a restore
  // the view reloads and shows the history again
  const historyOf = (entry, slot = panel) => openHistory(slot, {
    scope: entry.scope, key: entry.key, ctx,
    onChanged: (message) => refresh(message, (next) => historyOf(entry, next)),
  }).catch((err) => ctx.status(describe(err), "error"));

  replace(main,
    h("div", { class: "view-head" },
      h("h1", { text: org === "GLOBAL" ? "Configuration: GLOBAL" : `Configuration: ${org}` }),
      scopePicker(ctx)),
    h("p", { class: "muted", text: org === "GLOBAL"
      ? "Platform-wide entries: every org sees them unless it has its own entry of that key."
      : `Every key ${org} sees: its own entries over GLOBAL's. Secret values are never shown.` }),
    h("div", { class: "toolbar" },
      h("button", { type: "button", class: "primary", text: "Add entry",
        onclick: () => form({}) }),
      h("a", { class: "button-link", href: `#/changes/${encodeURIComponent(org)}`, text: "Recent changes" })),
    effective.problems
      ? h("p", { class: "problem-summary", role: "alert",
          text: effective.problems === 1
            ? "1 key would fail when a workflow reads it: see the row marked Problem."
            : `${effective.problems} keys would fail when a workflow reads them: see the rows marked Problem.` })
      : null,
    suspendedNote(ctx),
    panel,
    readiness ? readinessPanel(readiness, new Map(effective.entries.map((e) => [e.key, e])), {
      org,
      form: (options) => {
        form(options);
        panel.scrollIntoView({ block: "nearest" });
      },
      secret: (name) => {
        openCreateSecret({ panel, ctx, refresh, reloadLists: async () => {} }, name);
        panel.scrollIntoView({ block: "nearest" });
      },
    }) : null,
    entriesTable(effective, ctx, { form, panel, refresh, historyOf }),
  );
  if (then) await then(panel);
}

function suspendedNote(ctx) {
  const found = ctx.registry && ctx.registry.orgs.find((o) => o.id === ctx.org);
  if (!found || found.status !== "suspended") return null;
  return h("p", { class: "notice-line" }, h("strong", { text: `${ctx.org} is suspended.` }),
    " Its config and secrets are kept; its workflow runs are refused. Reactivate it in ",
    h("a", { href: "#/orgs/GLOBAL", text: "Orgs" }), ".");
}

function entriesTable(effective, ctx, actions) {
  if (!effective.entries.length) {
    return h("p", { class: "empty", text: `No config entries for ${effective.scope} yet.` });
  }
  return stackable(h("table", { class: "grid" },
    h("caption", { text: effective.scope === "GLOBAL" ? `GLOBAL entries (${effective.entries.length})`
      : `Keys ${effective.scope} sees (${effective.entries.length})` }),
    h("thead", {}, h("tr", {}, ["Key", "Type", "Value", "From", "Actions"].map(
      (name) => h("th", { scope: "col", text: name })))),
    h("tbody", {}, effective.entries.map((entry) => entryRow(entry, effective.scope, actions)))));
}

function entryRow(entry, scope, { form, panel, refresh, historyOf }) {
  const own = entry.scope === scope;
  const inherited = !own;
  return h("tr", { class: entry.problem ? "problem" : "" },
    h("th", { scope: "row" },
      h("span", { class: "key", text: entry.key }),
      entry.description ? h("span", { class: "description", text: entry.description }) : null),
    h("td", {}, h("span", { class: `type type-${entry.type}`, text: entry.type })),
    h("td", { class: "value" }, valueCell(entry)),
    h("td", {},
      h("span", { class: inherited ? "scope inherited" : "scope", text: entry.scope }),
      entry.updated_at ? h("span", { class: "meta",
        text: `${when(entry.updated_at)}${entry.updated_by ? ` by ${entry.updated_by}` : ""}` })
        : null),
    h("td", { class: "actions" }, own
      ? [
          h("button", { type: "button", text: "Edit", "aria-label": `Edit ${entry.key}`,
            onclick: () => form({ entry }) }),
          h("button", { type: "button", class: "danger", text: "Delete",
            "aria-label": `Delete ${entry.key}`,
            onclick: () => confirmDelete(panel, entry, refresh) }),
        ]
      : h("button", { type: "button", text: "Override", "aria-label": `Override ${entry.key}`,
          onclick: () => form({ entry, override: true }) }),
    h("button", { type: "button", text: "History", "aria-label": `History of ${entry.key}`,
      title: inherited ? `Changes of GLOBAL's ${entry.key}` : null,
      onclick: () => historyOf(entry) })),
  );
}

function valueCell(entry) {
  if (entry.type !== "secret_ref") {
    if (entry.value === null) return h("span", { class: "muted", text: "(stored value does not parse; not shown)" });
    const shown = entry.value.length > 160 ? `${entry.value.slice(0, 160)}…` : entry.value;
    return h("code", { class: "val", title: entry.value.length > 160 ? entry.value : null, text: shown });
  }
  const secret = entry.secret;
  const where = RESOLVED[secret.resolved_from] || secret.resolved_from;
  return h("div", { class: "secret-cell" },
    h("span", {}, "secret ", h("code", { text: secret.secret_name })),
    h("span", { class: `resolves ${secret.resolved_from}` },
      `resolves from: ${where}`, secret.source ? ` (${secret.source})` : ""),
    entry.problem ? h("span", { class: "problem-text" }, h("strong", { text: "Problem: " }),
      secret.resolved_from === "nowhere"
        ? "no secret of this name exists for this org, in GLOBAL or in the environment; a workflow reading this key fails."
        : entry.problem) : null,
    secret.tried.length ? h("span", { class: "tried", text: `names tried: ${secret.tried.join(", ")}` }) : null);
}

function confirmDelete(panel, entry, refresh) {
  const headingId = uid("del");
  replace(panel, h("section", { class: "panel warn", "aria-labelledby": headingId },
    h("h2", { id: headingId, text: `Delete ${entry.key} from ${entry.scope}?` }),
    h("p", { text: entry.scope === "GLOBAL"
      ? "Orgs without their own entry of this key will no longer find it."
      : "This org will then read GLOBAL's entry of this key, if there is one." }),
    h("div", { class: "buttons" },
      h("button", { type: "button", class: "danger", text: "Delete entry", onclick: async () => {
        try {
          await call("DELETE", ["orgs", entry.scope, "config", entry.key], { ifMatch: entry.etag });
          await refresh(`Deleted ${entry.key} from ${entry.scope}.`);
        } catch (err) {
          const text = err.status === 412
            ? "The entry changed since this page loaded it; it was not deleted. Reload to see the change."
            : describe(err);
          replace(panel, h("p", { class: "error", role: "alert", text }),
            h("button", { type: "button", text: "Reload", onclick: () => refresh() }));
        }
      } }),
      h("button", { type: "button", text: "Cancel", onclick: () => panel.replaceChildren() }))));
  panel.querySelector("button").focus();
}
