// The admin page: boots by asking the API for the org list (which needs the
// PlatformAdmin role); a 401/403 shows which role is needed and loads nothing else.
// Views are chosen by the URL hash (#/config/acme, #/secrets/GLOBAL, #/changes/acme, #/orgs,
// #/readiness): the hash holds only a view and an org id, never data.

import { ApiError, call, describe, hasFunctionKey, isAccessError, setFunctionKey } from "./api.js";
import { h, replace } from "./dom.js";
import { renderChanges } from "./changes_view.js";
import { renderConfig, scopePicker } from "./config_view.js";
import { checkScope } from "./format.js";
import { renderOrgs } from "./orgs_view.js";
import { renderFleet } from "./readiness_view.js";
import { renderSecrets } from "./secrets_view.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const banner = document.getElementById("health");
const statusLine = document.getElementById("status");
const VIEWS = {
  config: renderConfig, secrets: renderSecrets, changes: renderChanges,
  orgs: renderOrgs, readiness: renderFleet,
};
// views of the whole platform: the org in their address is only remembered for the others
const PLATFORM_VIEWS = new Set(["orgs", "readiness"]);
let scopes = [];
// the registry (GET orgs): on/off and the registered orgs, shared by every view
const registry = { on: false, orgs: [] };

/** Announce a message in the status region ("error" ones are styled as such). */
export function status(message, kind = "info") {
  statusLine.className = `status ${kind}`;
  statusLine.textContent = message;
}

function go(view, org) {
  location.hash = `#/${view}/${encodeURIComponent(org)}`;
}

function current() {
  const [, view, org] = location.hash.split("/");
  return {
    view: VIEWS[view] ? view : "config",
    org: org ? decodeURIComponent(org) : "GLOBAL",
  };
}

let navigation = 0;

async function route() {
  const ticket = ++navigation;
  const { view, org } = current();
  for (const link of nav.querySelectorAll("a")) {
    if (link.dataset.view === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
    link.href = `#/${link.dataset.view}/${encodeURIComponent(org)}`;
  }
  status("");
  refreshHealth();
  const ctx = { org, scopes, registry, go, status, reloadScopes, view };
  // Each navigation renders into a container of its own: a slower render of a view the
  // admin already left then writes into a detached element and can never replace the
  // view now shown.
  const root = document.createElement("div");
  main.replaceChildren(root);
  // An org id in the address that the API would refuse: say so, keep the picker.
  const checked = checkScope(org);
  if (checked.problem && !PLATFORM_VIEWS.has(view)) {
    return replace(root, h("div", { class: "view-head" },
      h("h1", { text: "Not a valid org id" }), scopePicker(ctx)),
    h("p", { class: "error", role: "alert", text: `"${org}" is not a valid org id. ${checked.problem}` }));
  }
  if (checked.scope && checked.scope !== org) { // "Acme" -> "acme", in place of the address typed
    return location.replace(`#/${view}/${encodeURIComponent(checked.scope)}`);
  }
  try {
    if (!PLATFORM_VIEWS.has(view) && org !== "GLOBAL" && registry.on &&
        !registry.orgs.some((o) => o.id === org)) {
      // not in the list loaded before: registered since, or unknown (the API says which,
      // naming close matches), before any view shows a mistyped org
      await reloadScopes();
      if (ticket !== navigation) return;
      if (!registry.orgs.some((o) => o.id === org)) await call("GET", ["orgs", org, "effective"]);
    }
    await VIEWS[view](root, ctx);
  } catch (err) {
    if (ticket !== navigation) return;
    if (isAccessError(err)) return denied(err);
    if (err instanceof ApiError && err.code === "unknown_org") return unknownOrg(root, ctx, err);
    replace(main, h("div", { class: "view-head" },
      h("h1", { text: "Something went wrong" }), scopePicker(ctx)),
    h("p", { class: "error", role: "alert", text: describe(err) }));
  }
}

/** An org the registry does not know, opened by its address: the API's message, its
 * close matches as links, and the picker (which does not list the unknown id). */
function unknownOrg(root, ctx, err) {
  const matches = (err.body.close_matches || []).filter((m) => m !== ctx.org);
  replace(root, h("div", { class: "view-head" },
    h("h1", { text: "Unknown org" }), scopePicker(ctx)),
  h("p", { class: "error", role: "alert", text: err.message }),
  matches.length ? h("p", {}, "Open instead: ", matches.map((m, i) => [i ? ", " : "",
    h("a", { href: `#/${ctx.view}/${encodeURIComponent(m)}`, text: m })])) : null,
  h("p", {}, h("a", { href: "#/orgs/GLOBAL", text: "Registered orgs" }),
    " lists every org; an org is registered there before it can be used."));
}

async function reloadScopes() {
  const body = (await call("GET", ["orgs"])).body;
  scopes.splice(0, scopes.length, ...body.scopes);
  registry.on = body.registry === "on";
  registry.orgs = body.orgs || [];
  return scopes;
}

// -- health -------------------------------------------------------------------------------
async function refreshHealth() {
  let health;
  try {
    health = (await call("GET", ["health", "keyvault"])).body;
  } catch (err) {
    if (err instanceof ApiError && err.body && err.body.status) health = err.body;
    else return showHealth({ status: "unknown", guidance: describe(err) });
  }
  showHealth(health);
}

function showHealth(health) {
  const kind = { connected: "ok", not_configured: "neutral" }[health.status] || "bad";
  const title = {
    connected: "Key Vault connected",
    disconnected: "Key Vault unreachable",
    not_configured: "No Key Vault configured: secrets come from environment variables",
  }[health.status] || "Key Vault status unknown";
  const facts = [];
  if (health.latency_ms !== null && health.latency_ms !== undefined) {
    facts.push(`${Math.round(health.latency_ms)} ms`);
  }
  if (health.vault_url) facts.push(health.vault_url);
  // several vaults: each one's state (the status above is the worst of them)
  if (health.vaults && health.vaults.length > 1) {
    facts.push(health.vaults.map((v) => `${v.vault} ${v.status}`).join(", "));
  }
  if (health.failure) facts.push(`failure: ${health.failure}`);
  banner.className = `health ${kind}`;
  replace(banner,
    h("span", { class: "dot", "aria-hidden": "true" }),
    h("strong", { text: title }),
    facts.length ? h("span", { class: "facts", text: facts.join(" · ") }) : null,
    h("button", { type: "button", class: "link", onclick: refreshHealth, text: "Check again" }),
    health.guidance ? h("span", { class: "guidance", text: health.guidance }) : null,
  );
}

// -- access -------------------------------------------------------------------------------
function denied(err) {
  nav.hidden = true;
  banner.hidden = true;
  status("");
  const needsKey = err.status === 401 && !err.code;
  const forbidden = err.status === 403;
  const rejectedKey = needsKey && hasFunctionKey();
  if (rejectedKey) {
    setFunctionKey("");
    document.getElementById("key-note").textContent = "";
  }
  replace(main,
    h("h1", { text: needsKey ? "Function key required" : "Access denied" }),
    needsKey
      ? h("p", { text: "The API of this app needs a function key. Enter one above " +
          "(App keys or Function keys in the Azure portal); it is kept in this tab's " +
          "memory only and forgotten on reload." })
      : h("p", {},
          forbidden ? "Your account does not have the role this page needs. " :
            "You are not signed in with an account this app trusts. ",
          "The admin page requires the ", h("strong", { text: "PlatformAdmin" }),
          " role (an app role of the app's Entra ID registration). Ask a platform " +
          "administrator to assign it to you, then reload."),
    rejectedKey ? h("p", { class: "error", role: "alert",
      text: "The key you entered was not accepted: check it and enter it again." }) : null,
    err.message && !needsKey ? h("p", { class: "muted", text: `The API said: ${err.message}` }) : null,
  );
}

// -- the function key (memory only) ----------------------------------------------------------
function keyForm() {
  const form = document.getElementById("key-form");
  const input = document.getElementById("function-key");
  const note = document.getElementById("key-note");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    setFunctionKey(input.value);
    input.value = "";
    note.textContent = hasFunctionKey() ? "Key in use (this tab only)" : "";
    boot();
  });
}

// -- who is signed in ---------------------------------------------------------------------------
// No API route names the caller. In Azure, App Service authentication answers
// /.auth/me on this origin with the session's user (only the name is read from it);
// locally there is none, and `make serve`'s host signs every loopback request in as its
// dev admin, so an accepted API call then means a development sign-in.
const who = document.getElementById("who");

async function signedInUser() {
  try {
    const response = await fetch("/.auth/me", { credentials: "same-origin", cache: "no-store",
      headers: { Accept: "application/json" } });
    if (!response.ok) return null;
    const body = await response.json();
    const session = Array.isArray(body) ? body[0] : body && body.clientPrincipal;
    if (!session) return null;
    const claims = session.user_claims || [];
    // a claim by its short type or the last segment of its URI type (".../claims/upn")
    const claim = (...types) => (claims.find((c) =>
      types.includes(c.typ) || types.includes(String(c.typ).split("/").pop())) || {}).val;
    const id = session.user_id || session.userDetails || claim("preferred_username", "upn");
    const name = claim("name");
    if (!id && !name) return null;
    return name && id && name !== id ? `${name} (${id})` : id || name;
  } catch (err) {
    return null; // not JSON, or no answer: no platform sign-in here
  }
}

async function showWho(accepted) {
  const user = await signedInUser();
  if (user) who.textContent = `Signed in as ${user}`;
  else if (accepted) who.textContent = "signed in (development)";
  who.hidden = !(user || accepted);
}

async function boot() {
  nav.hidden = true;
  try {
    await reloadScopes();
  } catch (err) {
    showWho(false);
    if (isAccessError(err)) return denied(err);
    replace(main, h("h1", { text: "The API is not answering" }),
      h("p", { class: "error", role: "alert", text: describe(err) }));
    return;
  }
  nav.hidden = false;
  banner.hidden = false;
  showWho(true);
  await route();
}

// Escape closes the open panel (a form, a confirmation, a shown value) and returns the
// focus to the view.
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape" || !(event.target instanceof Element)) return;
  const slot = event.target.closest(".panel-slot");
  if (slot && slot.firstChild) {
    slot.replaceChildren();
    main.focus();
  }
});

// A page restored from the back/forward cache must not bring back a one-time value.
window.addEventListener("pagehide", () => main.replaceChildren());
window.addEventListener("hashchange", () => { if (!nav.hidden) route(); });
keyForm();
boot();
