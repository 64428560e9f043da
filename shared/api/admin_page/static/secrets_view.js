// Secrets of an org and GLOBAL: metadata, references, versions with rollback, create,
// rotate, delete (with the references as a confirmation), recover. A value entered for
// create or rotate is shown once, in the reveal panel, and nowhere else: the panel is
// emptied on any navigation, and nothing is written to storage, the URL or history.

import { call, describe } from "./api.js";
import { h, replace, stackable, uid } from "./dom.js";
import { scopePicker } from "./config_view.js";
import { past, when } from "./format.js";

export async function renderSecrets(main, ctx) {
  const { org } = ctx;
  const panel = h("div", { class: "panel-slot" });
  const lists = h("div", { class: "secret-lists" });
  const refresh = async (message, kind = "ok") => {
    await renderSecrets(main, ctx);
    if (message) ctx.status(message, kind);
  };
  replace(main,
    h("div", { class: "view-head" },
      h("h1", { text: `Secrets: ${org}` }), scopePicker(ctx)),
    h("p", { class: "muted", text: org === "GLOBAL"
      ? "Platform-wide secrets: an org without its own secret of a name uses GLOBAL's."
      : `Secrets ${org} can resolve: its own and GLOBAL's. Values are never shown, except once right after you set one.` }),
    panel, lists);
  const scopes = org === "GLOBAL" ? ["GLOBAL"] : [org, "GLOBAL"];
  const actions = { panel, refresh, ctx, scopes };
  // The lists below the panel, reloaded on their own while the panel shows a value once.
  actions.reloadLists = () => renderLists(lists, actions);
  await actions.reloadLists();
}

async function renderLists(lists, actions) {
  const { org } = actions.ctx;
  let list;
  let reaching;
  let deleted;
  try {
    [list, reaching, deleted] = await Promise.all([
      call("GET", ["secrets"], { query: { scope: org } }).then((r) => r.body),
      reachingEntries(org),
      call("GET", ["secrets", "deleted"], { query: { scope: org } })
        .then((r) => r.body.secrets).catch(() => [])]);
  } catch (err) {
    if (err.status === 401 || err.status === 403) throw err;
    replace(lists, h("p", { class: "error", role: "alert", text: `Secrets cannot be listed: ${describe(err)}` }));
    return;
  }
  for (const s of list.secrets) s.reached_by = reaching(s);
  replace(lists,
    h("div", { class: "toolbar" },
      h("button", { type: "button", class: "primary", text: "Create secret",
        onclick: () => valueForm(actions, null) })),
    secretsTable(list, actions),
    dangling(list),
    deletedTable(deleted, actions));
}

/**
 * Which config entries reach each secret, as the resolution goes: an entry an org reads
 * (its own, or GLOBAL's it does not override) with secret_ref X resolves to the org's
 * secret X if the org has one, else to GLOBAL's X; a GLOBAL entry read as GLOBAL (by
 * every org without its own entry and secret) resolves to GLOBAL's X. Built from
 * GET orgs/{org}/effective (where each reference resolved) and GLOBAL's; the list's own
 * `referenced_by` matches names only, whichever scope's secret the entry reaches.
 * Returns secret => [{scope, key, readBy}] (readBy: the org reading a GLOBAL entry).
 */
async function reachingEntries(org) {
  const readers = org === "GLOBAL" ? ["GLOBAL"] : ["GLOBAL", org];
  const views = await Promise.all(readers.map((reader) =>
    call("GET", ["orgs", reader, "effective"]).then((r) => ({ reader, entries: r.body.entries }))));
  const found = [];
  for (const { reader, entries } of views) {
    for (const e of entries) {
      if (e.type !== "secret_ref" || !e.secret) continue;
      found.push({ reader, scope: e.scope, key: e.key, name: e.secret.secret_name.toLowerCase(),
        from: e.secret.resolved_from });
    }
  }
  return (secret) => {
    const name = secret.name.toLowerCase();
    const refs = [];
    for (const f of found) {
      if (f.name !== name) continue;
      // where it resolved; if the vault could not be asked ("error"), the rule above
      const target = f.from === "org_secret" ? f.reader
        : f.from === "global_secret" ? "GLOBAL"
          : f.from === "error" ? (f.reader !== "GLOBAL" && secret.scope === f.reader ? f.reader : "GLOBAL")
            : null; // env or nowhere: no secret of the vault
      if (target !== secret.scope) continue;
      if (refs.some((r) => r.scope === f.scope && r.key === f.key)) continue;
      refs.push({ scope: f.scope, key: f.key, readBy: f.scope !== f.reader ? f.reader : null });
    }
    return refs.sort((a, b) => (a.scope === "GLOBAL") - (b.scope === "GLOBAL") || a.key.localeCompare(b.key));
  };
}

/** "acme / smtp_password", or "GLOBAL / smtp_password (as acme reads it)". */
function refText(r) {
  return `${r.scope} / ${r.key}${r.readBy ? ` (as ${r.readBy} reads it)` : ""}`;
}

function secretsTable(list, actions) {
  if (!list.secrets.length) return h("p", { class: "empty", text: "No secrets yet." });
  return stackable(h("table", { class: "grid" },
    h("caption", { text: `Secrets ${list.scope} can use (${list.secrets.length})` }),
    h("thead", {}, h("tr", {}, ["Name", "Scope", "Enabled", "Updated", "Expires", "Referenced by", "Actions"]
      .map((name) => h("th", { scope: "col", text: name })))),
    h("tbody", {}, list.secrets.map((s) => h("tr", {},
      h("th", { scope: "row" }, h("code", { text: s.name })),
      h("td", {}, h("span", { class: "scope", text: s.scope }),
        s.vault && s.vault !== "default" ? h("span", { class: "meta", text: `vault ${s.vault}` }) : null),
      h("td", { text: s.enabled === false ? "disabled" : "yes" }),
      h("td", {}, when(s.updated_on), h("span", { class: "meta", text: s.updated_by ? `by ${s.updated_by}` : "by (outside orgconfig)" })),
      h("td", { class: past(s.expires_on) ? "expired" : "", text: s.expires_on ? `${when(s.expires_on)}${past(s.expires_on) ? " (expired)" : ""}` : "never" }),
      h("td", {}, s.reached_by.length
        ? h("ul", { class: "refs" }, s.reached_by.map((r) => h("li", { text: refText(r) })))
        : h("span", { class: "muted", text: "none" })),
      h("td", { class: "actions" },
        h("button", { type: "button", text: "Versions", "aria-label": `Versions of ${s.scope} ${s.name}`,
          onclick: () => versions(actions, s) }),
        h("button", { type: "button", text: "Rotate", "aria-label": `Rotate ${s.scope} ${s.name}`,
          onclick: () => valueForm(actions, s) }),
        h("button", { type: "button", class: "danger", text: "Delete", "aria-label": `Delete ${s.scope} ${s.name}`,
          onclick: () => confirmDelete(actions, s) })))))));
}

function dangling(list) {
  if (!list.unresolved_references.length) return null;
  return h("section", { class: "panel warn", "aria-label": "Unresolved references" },
    h("h2", { text: "References to secrets that do not exist" }),
    h("ul", {}, list.unresolved_references.map((r) =>
      h("li", {}, `${r.scope} / ${r.key} → `, h("code", { text: r.secret_name })))));
}

function deletedTable(deleted, actions) {
  if (!deleted.length) return null;
  return stackable(h("table", { class: "grid" },
    h("caption", { text: `Deleted secrets (${deleted.length})` }),
    h("thead", {}, h("tr", {}, ["Name", "Scope", "Deleted", "Purged after", "Actions"]
      .map((name) => h("th", { scope: "col", text: name })))),
    h("tbody", {}, deleted.map((d) => h("tr", {},
      h("th", { scope: "row" }, h("code", { text: d.name })),
      h("td", {}, h("span", { class: "scope", text: d.scope })),
      h("td", { text: when(d.deleted_on) }),
      h("td", { text: when(d.scheduled_purge_date) }),
      h("td", { class: "actions" }, d.recoverable
        ? h("button", { type: "button", text: "Recover", "aria-label": `Recover ${d.scope} ${d.name}`,
            onclick: async () => {
              try {
                await call("POST", ["secrets", d.scope, d.name, "recover"]);
                await actions.refresh(`Recovered ${d.vault_name} with its versions.`);
              } catch (err) {
                actions.ctx.status(describe(err), "error");
              }
            } })
        : h("span", { class: "muted", text: "not recoverable" })))))));
}

/**
 * The create-secret form in another view's panel (the readiness panel's "Create secret"),
 * with the name prefilled. actions: {panel, ctx, refresh(message), reloadLists()};
 * the scopes offered are the org's and GLOBAL (the org first).
 */
export function openCreateSecret(actions, name) {
  const { org } = actions.ctx;
  valueForm({ scopes: org === "GLOBAL" ? ["GLOBAL"] : [org, "GLOBAL"], ...actions }, null, name);
}

// -- create and rotate: the value is shown once ------------------------------------------------
function valueForm(actions, secret, prefill = "") {
  const { panel, scopes } = actions;
  const headingId = uid("secret-form");
  const errors = {};
  const controls = {};
  const field = (name, label, control, hint) => {
    const id = uid(name);
    control.id = id;
    control.setAttribute("aria-describedby", `${id}-error`);
    controls[name] = control;
    errors[name] = h("p", { class: "field-error", id: `${id}-error` });
    return h("div", { class: "field" }, h("label", { for: id, text: label }), control,
      hint ? h("p", { class: "hint", text: hint }) : null, errors[name]);
  };
  const scope = h("select", {}, scopes.map((s) => h("option", { value: s, text: s })));
  const name = h("input", { type: "text", autocomplete: "off", spellcheck: "false", value: prefill });
  // A textarea, not a password input: a password field would make the browser offer to
  // save the value in its password manager. Masked by CSS until "Show" is ticked; multi-
  // line values (certificates, keys) fit.
  const value = h("textarea", { rows: 2, class: "mono masked", autocomplete: "off",
    spellcheck: "false", autocapitalize: "off" });
  const showId = uid("show");
  const show = h("div", { class: "check" },
    h("input", { type: "checkbox", id: showId,
      onchange: (event) => value.classList.toggle("masked", !event.target.checked) }),
    h("label", { for: showId, text: "Show what I type" }));
  const expires = h("input", { type: "date" });
  const formError = h("p", { class: "error", role: "alert" });
  const form = h("form", { class: "panel", "aria-labelledby": headingId, novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      for (const p of Object.values(errors)) p.textContent = "";
      formError.textContent = "";
      const body = { value: value.value };
      if (expires.value) body.expires_on = `${expires.value}T00:00:00Z`;
      try {
        let result;
        if (secret) {
          result = (await call("PUT", ["secrets", secret.scope, secret.name], { body })).body;
        } else {
          result = (await call("POST", ["secrets"], { body: { scope: scope.value, name: name.value.trim(), ...body } })).body;
        }
        value.value = "";
        reveal(actions, result, secret ? "rotated" : "created");
      } catch (err) {
        const target = err.code === "invalid_name" || err.code === "secret_exists" || err.code === "secret_deleted" ? "name"
          : err.code === "invalid_request" && err.body.details && err.body.details.length ? err.body.details[0].loc[0] : null;
        if (target && errors[target]) {
          errors[target].textContent = err.message + (err.body.details ? `: ${err.body.details.map((d) => d.msg).join("; ")}` : "");
          controls[target].setAttribute("aria-invalid", "true");
          controls[target].focus();
        } else {
          formError.textContent = describe(err);
        }
      }
    } },
    h("h2", { id: headingId, text: secret ? `Rotate ${secret.vault_name}` : "Create a secret" }),
    secret ? null : field("scope", "Scope", scope),
    secret ? null : field("name", "Name", name, "ASCII letters, digits and single '-'"),
    field("value", secret ? "New value" : "Value", value, "Shown once after saving, never again"),
    show,
    field("expires_on", "Expires (optional)", expires),
    formError,
    h("div", { class: "buttons" },
      h("button", { type: "submit", class: "primary", text: secret ? "Save new version" : "Create secret" }),
      h("button", { type: "button", text: "Cancel", onclick: () => panel.replaceChildren() })));
  replace(panel, form);
  (secret || prefill ? value : scope).focus();
}

function reveal(actions, result, what) {
  const { panel } = actions;
  const headingId = uid("reveal");
  const code = h("code", { class: "secret-value", text: result.value });
  const copied = h("span", { class: "muted", "aria-live": "polite" });
  const done = async () => {
    panel.replaceChildren();
    await actions.refresh();
  };
  replace(panel, h("section", { class: "panel reveal", role: "region", "aria-labelledby": headingId },
    h("h2", { id: headingId, text: what === "created" ? `Secret ${result.vault_name} created`
      : `New version of ${result.vault_name} saved` }),
    h("p", { class: "once" }, h("strong", { text: "This value will not be shown again." }),
      " Copy it now if you need it; leaving or reloading this page removes it."),
    h("div", { class: "value-row" }, code,
      h("button", { type: "button", text: "Copy value", onclick: async () => {
        try {
          await navigator.clipboard.writeText(code.textContent);
          copied.textContent = "Copied to the clipboard.";
        } catch (err) {
          getSelection().selectAllChildren(code);
          copied.textContent = "Copying is blocked here: the value is selected, press Ctrl+C.";
        }
      } }), copied),
    h("button", { type: "button", class: "primary", text: "Done", onclick: done })));
  panel.querySelector("button").focus();
  actions.ctx.status(`Secret ${result.vault_name} ${what}.`, "ok");
  // the list under the panel shows the new secret (or version) at once
  actions.reloadLists().catch((err) => actions.ctx.status(describe(err), "error"));
}

// -- versions and rollback (after a confirmation) ------------------------------------------------
async function versions(actions, secret) {
  const { panel } = actions;
  let list;
  try {
    list = (await call("GET", ["secrets", secret.scope, secret.name, "versions"])).body;
  } catch (err) {
    return actions.ctx.status(describe(err), "error");
  }
  const headingId = uid("versions");
  const current = list.versions.find((v) => v.current);
  replace(panel, h("section", { class: "panel wide", "aria-labelledby": headingId },
    h("h2", { id: headingId, text: `Versions of ${list.vault_name}` }),
    h("p", { class: "muted", text: "Making an earlier version current copies its value into a new version on the server; the value is not sent to this page." }),
    stackable(h("table", { class: "grid compact" },
      h("thead", {}, h("tr", {}, ["Version", "Created", "Enabled", "Expires", "By", "Note", "Actions"]
        .map((n) => h("th", { scope: "col", text: n })))),
      h("tbody", {}, list.versions.map((v) => h("tr", {},
        h("th", { scope: "row" }, h("code", { title: v.version, text: short(v.version) })),
        h("td", { text: when(v.created_on) }),
        h("td", { text: v.enabled === false ? "disabled" : "yes" }),
        h("td", { text: v.expires_on ? when(v.expires_on) : "never" }),
        h("td", { text: v.updated_by || "(outside orgconfig)" }),
        h("td", { text: [v.current ? "current" : "", v.rolled_back_from ? `copy of ${short(v.rolled_back_from)}` : ""].filter(Boolean).join(", ") }),
        h("td", { class: "actions" }, v.current || v.enabled === false ? null
          : h("button", { type: "button", text: "Make current", "aria-label": `Make version ${short(v.version)} current`,
              onclick: () => confirmRollback(actions, secret, list, v, current) }))))))),
    h("button", { type: "button", text: "Close", onclick: () => panel.replaceChildren() })));
  panel.querySelector("h2").setAttribute("tabindex", "-1");
  panel.querySelector("h2").focus();
}

function short(version) {
  return String(version).slice(0, 12);
}

function confirmRollback(actions, secret, list, version, current) {
  const { panel } = actions;
  const headingId = uid("rollback");
  const apply = async () => {
    try {
      const r = (await call("POST", ["secrets", secret.scope, secret.name, "rollback"], { body: { version: version.version } })).body;
      await actions.refresh(`Version ${short(version.version)} of ${r.vault_name} is current again (as new version ${short(r.version)}).`);
    } catch (err) {
      actions.ctx.status(describe(err), "error");
    }
  };
  replace(panel, h("section", { class: "panel warn", "aria-labelledby": headingId },
    h("h2", { id: headingId, text: `Make version ${short(version.version)} of ${list.vault_name} current?` }),
    h("p", {}, "The value of version ", h("code", { text: short(version.version) }),
      ` (created ${when(version.created_on)} by ${version.updated_by || "someone outside orgconfig"})`,
      " is copied on the server into a new version, which becomes current",
      current ? [" in place of ", h("code", { text: short(current.version) }), ` (created ${when(current.created_on)})`] : "",
      ". Every config entry that reads this secret gets that value from then on; " +
      "the version now current stays in the history and can be made current again."),
    h("div", { class: "buttons" },
      h("button", { type: "button", class: "primary", text: "Make current", onclick: apply }),
      h("button", { type: "button", text: "Cancel", onclick: () => versions(actions, secret) }))));
  panel.querySelector("button").focus();
}

// -- delete: the references are the confirmation ---------------------------------------------------
function confirmDelete(actions, secret) {
  const { panel } = actions;
  const headingId = uid("delete");
  const shown = secret.reached_by;
  const same = (a, b) => a.scope.toLowerCase() === b.scope.toLowerCase() && a.key.toLowerCase() === b.key.toLowerCase();
  const remove = async (force) => {
    try {
      const r = (await call("DELETE", ["secrets", secret.scope, secret.name],
        { query: force ? { force: "true" } : {} })).body;
      await actions.refresh(`Deleted ${r.vault_name}; recoverable until ${when(r.scheduled_purge_date)}.`);
    } catch (err) {
      if (err.code !== "secret_in_use") return actions.ctx.status(describe(err), "error");
      // The API counts every entry naming the secret (for a GLOBAL secret, other orgs'
      // too). Those the admin was shown are confirmed; ask again only for others.
      const unseen = (err.body.references || []).filter((r) => !shown.some((s) => same(s, r)));
      if (!unseen.length) return remove(true);
      return inUse(unseen);
    }
  };
  const inUse = (references) => {
    const id = uid("in-use");
    replace(panel, h("section", { class: "panel warn", role: "alert", "aria-labelledby": id },
      h("h2", { id, text: `${secret.vault_name} is also referenced elsewhere` }),
      h("p", { text: "The API found config entries naming this secret that were not listed before " +
        "(in other orgs, or overridden where this page looked); after the delete they may fail until repointed or the secret is recovered:" }),
      h("ul", { class: "refs" }, references.map((r) => h("li", { text: `${r.scope} / ${r.key}` }))),
      h("div", { class: "buttons" },
        h("button", { type: "button", class: "danger", text: "Delete anyway", onclick: () => remove(true) }),
        h("button", { type: "button", text: "Cancel", onclick: () => panel.replaceChildren() }))));
    panel.querySelector("button").focus();
  };
  const where = actions.ctx.org;
  replace(panel, h("section", { class: "panel warn", "aria-labelledby": headingId },
    h("h2", { id: headingId, text: `Delete ${secret.vault_name}?` }),
    shown.length
      ? [h("p", {}, h("strong", { text: `Still in use: ${shown.length === 1 ? "1 config entry reads" : `${shown.length} config entries read`} this secret.` }),
          " After the delete they fail until repointed or the secret is recovered:"),
        h("ul", { class: "refs" }, shown.map((r) => h("li", { text: refText(r) })))]
      : h("p", { text: "No config entry seen from here reads it." }),
    secret.scope === "GLOBAL"
      ? h("p", { class: "muted", text: `Only entries ${where === "GLOBAL" ? "of GLOBAL" : `${where} reads`} are listed here; ` +
          "if entries of other orgs read it too, you are asked again before anything is deleted." })
      : null,
    h("p", { text: "It is soft-deleted: recoverable with its versions until the purge date." }),
    h("div", { class: "buttons" },
      h("button", { type: "button", class: "danger", text: shown.length ? "Delete anyway" : "Delete secret",
        onclick: () => remove(false) }),
      h("button", { type: "button", text: "Cancel", onclick: () => panel.replaceChildren() }))));
  panel.querySelector("button").focus();
}
