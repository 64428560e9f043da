// The org registry (#/orgs): the registered orgs with their display names, status and
// who created them when; register an org, rename one, suspend or reactivate it (a
// suspension is confirmed first, saying what it means). With the registry off, the view
// says so and what the first registration does.

import { call, describe } from "./api.js";
import { h, replace, stackable, uid } from "./dom.js";
import { checkScope, when } from "./format.js";

export async function renderOrgs(main, ctx, then) {
  await ctx.reloadScopes();
  const { registry } = ctx;
  const panel = h("div", { class: "panel-slot" });
  const refresh = async (message) => {
    await renderOrgs(main, ctx);
    if (message) ctx.status(message, "ok");
  };
  const withData = ctx.scopes.filter((s) => s !== "GLOBAL");
  replace(main,
    h("div", { class: "view-head" }, h("h1", { text: "Organizations" })),
    registry.on
      ? h("p", { class: "muted", text: "Only registered orgs exist: an org id that is not " +
          "listed here is refused everywhere (the API answers unknown_org, naming close matches). " +
          "A suspended org keeps its config and secrets; its workflow runs are refused." })
      : h("section", { class: "panel notice", "aria-labelledby": "registry-off" },
          h("h2", { id: "registry-off", text: "The org registry is off" }),
          h("p", { text: "Every org id works as it always did: an org exists as soon as it has " +
            "config, and a mistyped id reads GLOBAL's values." }),
          h("p", { text: "Registering the first org turns the registry on. It first registers " +
            "every org that already has config entries or secrets, so none of them becomes " +
            "unknown; from then on an org id that is not registered is refused everywhere." }),
          withData.length
            ? h("p", {}, `Orgs with data that will be registered (${withData.length}): `,
                h("span", { class: "org-names", text: withData.join(", ") }))
            : h("p", { class: "muted", text: "No org has data yet." })),
    registerForm(ctx, refresh),
    panel,
    registry.on ? orgsTable(registry.orgs, { panel, refresh, ctx }) : null,
  );
  if (then) await then(panel);
}

function registerForm(ctx, refresh) {
  const headingId = uid("register");
  const errors = {};
  const controls = {};
  const field = (name, label, control, hint) => {
    const id = uid(name);
    control.id = id;
    control.setAttribute("aria-describedby", `${id}-error ${id}-hint`);
    controls[name] = control;
    errors[name] = h("p", { class: "field-error", id: `${id}-error` });
    return h("div", { class: "field" }, h("label", { for: id, text: label }), control,
      h("p", { class: "hint", id: `${id}-hint`, text: hint }), errors[name]);
  };
  const id = h("input", { type: "text", autocomplete: "off", spellcheck: "false" });
  const name = h("input", { type: "text", autocomplete: "off" });
  const formError = h("p", { class: "error", role: "alert" });
  const show = (target, message) => {
    errors[target].textContent = message;
    controls[target].setAttribute("aria-invalid", "true");
    controls[target].focus();
  };
  const form = h("form", { class: "panel register", "aria-labelledby": headingId, novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      for (const p of Object.values(errors)) p.textContent = "";
      for (const c of Object.values(controls)) c.removeAttribute("aria-invalid");
      formError.textContent = "";
      const checked = checkScope(id.value);
      if (checked.problem) return show("id", checked.problem);
      const body = { id: id.value.trim() };
      if (name.value.trim()) body.display_name = name.value.trim();
      const wasOn = ctx.registry.on;
      let org;
      try {
        org = (await call("POST", ["orgs"], { body })).body;
      } catch (err) {
        if (err.code === "org_exists") return show("id", err.message);
        const loc = err.body.details && err.body.details.length ? err.body.details[0].loc[0] : null;
        if (err.code === "invalid_name" || loc === "id") return show("id", detail(err));
        if (loc === "display_name") return show("display_name", detail(err));
        formError.textContent = describe(err);
        return;
      }
      await refresh(wasOn ? `Registered ${org.id} (${org.display_name}).`
        : `Registered ${org.id} (${org.display_name}). The registry is now on: ` +
          `${ctx.registry.orgs.length} orgs are registered.`);
    } },
    h("h2", { id: headingId, text: "Register an org" }),
    h("div", { class: "field-row" },
      field("id", "Org id", id, "a-z, 0-9 and single '-', e.g. acme-eu"),
      field("display_name", "Display name (optional)", name, "e.g. Acme Corp; the id if empty")),
    formError,
    h("div", { class: "buttons" }, h("button", { type: "submit", class: "primary", text: "Register org" })));
  return form;
}

function detail(err) {
  const details = err.body.details ? err.body.details.map((d) => d.msg).join("; ") : "";
  return details ? `${err.message}: ${details}` : err.message;
}

function orgsTable(orgs, actions) {
  if (!orgs.length) return h("p", { class: "empty", text: "No org is registered yet." });
  const suspended = orgs.filter((o) => o.status === "suspended").length;
  return stackable(h("table", { class: "grid orgs-table" },
    h("caption", { text: `Registered orgs (${orgs.length}${suspended ? `, ${suspended} suspended` : ""})` }),
    h("thead", {}, h("tr", {}, ["Org", "Display name", "Status", "Created", "Actions"].map(
      (name) => h("th", { scope: "col", text: name })))),
    h("tbody", {}, orgs.map((org) => orgRow(org, actions)))));
}

function orgRow(org, actions) {
  const active = org.status === "active";
  return h("tr", { class: active ? "" : "suspended" },
    h("th", { scope: "row" }, h("a", { class: "key", href: `#/config/${encodeURIComponent(org.id)}`,
      "aria-label": `${org.id}: configuration`, text: org.id })),
    h("td", { text: org.display_name }),
    h("td", {}, h("span", { class: `org-status org-${org.status}`, text: org.status })),
    h("td", {}, h("span", { text: when(org.created_at) }),
      org.created_by ? h("span", { class: "meta", text: `by ${org.created_by}` }) : null),
    h("td", { class: "actions" },
      h("button", { type: "button", text: "Rename", "aria-label": `Rename ${org.id}`,
        onclick: () => renameForm(org, actions) }),
      active
        ? h("button", { type: "button", class: "danger", text: "Suspend", "aria-label": `Suspend ${org.id}`,
            onclick: () => confirmSuspend(org, actions) })
        : h("button", { type: "button", text: "Reactivate", "aria-label": `Reactivate ${org.id}`,
            onclick: () => setStatus(org, "active", actions) })));
}

function renameForm(org, { panel, refresh }) {
  const headingId = uid("rename");
  const inputId = uid("name");
  const error = h("p", { class: "field-error", id: `${inputId}-error` });
  const input = h("input", { id: inputId, type: "text", autocomplete: "off", value: org.display_name,
    "aria-describedby": `${inputId}-error` });
  replace(panel, h("form", { class: "panel", "aria-labelledby": headingId, novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      error.textContent = "";
      input.removeAttribute("aria-invalid");
      try {
        const r = (await call("PATCH", ["orgs", org.id], { body: { display_name: input.value.trim() } })).body;
        await refresh(`Renamed ${org.id} to ${r.display_name}.`);
      } catch (err) {
        error.textContent = err.status === 400 ? detail(err) : describe(err);
        input.setAttribute("aria-invalid", "true");
        input.focus();
      }
    } },
    h("h2", { id: headingId, text: `Rename ${org.id}` }),
    h("div", { class: "field" }, h("label", { for: inputId, text: "Display name" }), input, error),
    h("p", { class: "hint", text: "Only the display name changes; the org id (used in config, secrets and URLs) stays." }),
    h("div", { class: "buttons" },
      h("button", { type: "submit", class: "primary", text: "Save name" }),
      h("button", { type: "button", text: "Cancel", onclick: () => panel.replaceChildren() }))));
  input.focus();
  input.select();
}

function confirmSuspend(org, actions) {
  const { panel } = actions;
  const headingId = uid("suspend");
  replace(panel, h("section", { class: "panel warn", role: "region", "aria-labelledby": headingId },
    h("h2", { id: headingId, text: `Suspend ${org.id} (${org.display_name})?` }),
    h("ul", {},
      h("li", { text: "Its config entries and secrets are kept, and stay visible and editable here." }),
      h("li", { text: "Its workflow runs are refused (409 org_suspended) until it is reactivated." }),
      h("li", { text: "Reactivating it later restores everything as it was." })),
    h("div", { class: "buttons" },
      h("button", { type: "button", class: "danger", text: `Suspend ${org.id}`,
        onclick: () => setStatus(org, "suspended", actions) }),
      h("button", { type: "button", text: "Cancel", onclick: () => panel.replaceChildren() }))));
  panel.querySelector("button").focus();
}

async function setStatus(org, status, { panel, refresh, ctx }) {
  try {
    await call("PATCH", ["orgs", org.id], { body: { status } });
    await refresh(status === "suspended"
      ? `Suspended ${org.id}: its data is kept; its workflow runs are refused.`
      : `Reactivated ${org.id}: its workflows run again.`);
  } catch (err) {
    panel.replaceChildren();
    ctx.status(describe(err), "error");
  }
}
