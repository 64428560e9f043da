// Readiness: whether each registered workflow's declared config fits an org. The panel
// in an org's view lists each workflow, ready or its problems, with a button that opens
// the form that fixes a problem (the entry form for a key, the create-secret form for a
// secret); the fleet view (#/readiness) is orgs x workflows, a page of orgs at a time.

import { call, describe } from "./api.js";
import { focusAfterMore, h, moreButton, replace, stackable, uid } from "./dom.js";

const PAGE = 25;

export const PROBLEMS = {
  missing: "missing",
  wrong_type: "wrong type",
  invalid: "invalid value",
  secret_missing: "secret missing",
  secret_disabled: "secret disabled",
  secret_expired: "secret expired",
};

/**
 * The readiness panel of an org view. readiness: the API's answer (or an ApiError);
 * entries: the effective entries by key; fix: {form(options), secret(name), org}.
 */
export function readinessPanel(readiness, entries, fix) {
  const headingId = uid("readiness");
  const section = h("section", { class: "readiness", "aria-labelledby": headingId });
  if (readiness instanceof Error) {
    return replace(section, h("h2", { id: headingId, text: "Workflow readiness" }),
      h("p", { class: "error", text: `Readiness could not be checked: ${describe(readiness)}` }));
  }
  const flows = readiness.workflows;
  const ready = flows.filter((w) => w.ready).length;
  return replace(section,
    h("h2", { id: headingId, text: "Workflow readiness" }),
    h("p", { class: ready === flows.length ? "summary all-ready" : "summary not-ready",
      text: flows.length === 0 ? "No workflow is registered."
        : ready === flows.length ? `All ${flows.length} workflows can run for ${fix.org}.`
          : `${ready} of ${flows.length} workflows can run for ${fix.org}; ` +
            `${flows.length - ready} would be refused (config not ready) until the problems below are fixed.` }),
    h("ul", { class: "workflows" }, flows.map((w) => h("li", { class: w.ready ? "wf ready" : "wf not-ready" },
      h("span", { class: "wf-name" }, h("code", { text: w.name })),
      h("span", { class: w.ready ? "badge ok" : "badge bad", text: w.ready ? "ready"
        : `not ready: ${w.problems.length} ${w.problems.length === 1 ? "problem" : "problems"}` }),
      w.ready ? null : h("ul", { class: "problems" }, w.problems.map((p) =>
        h("li", {},
          h("span", { class: "problem-head" }, h("code", { class: "key", text: p.key }),
            h("span", { class: `problem-kind kind-${p.problem}`, text: PROBLEMS[p.problem] || p.problem })),
          h("span", { class: "problem-message", text: p.message }),
          fixButton(w, p, entries.get(p.key), fix))))))));
}

function fixButton(workflow, problem, entry, fix) {
  const label = (verb) => ({ "aria-label": `${verb} for ${workflow.name}` });
  if (["missing", "wrong_type", "invalid"].includes(problem.problem)) {
    // the Type the declared field takes, as the API says it (null: the form's default)
    const type = problem.problem === "invalid" ? null : problem.expected_type || null;
    if (!entry || problem.problem === "missing") {
      return h("button", { type: "button", class: "fix", text: `Add ${problem.key}`,
        ...label(`Add ${problem.key}`), onclick: () => fix.form({ key: problem.key, type }) });
    }
    if (entry.scope !== fix.org) {
      return h("button", { type: "button", class: "fix", text: `Override ${problem.key}`,
        ...label(`Override ${problem.key}`), onclick: () => fix.form({ entry, override: true, type }) });
    }
    return h("button", { type: "button", class: "fix", text: `Edit ${problem.key}`,
      ...label(`Edit ${problem.key}`), onclick: () => fix.form({ entry, type }) });
  }
  if (problem.problem === "secret_missing") {
    const name = problem.secret || "";
    return h("button", { type: "button", class: "fix", text: `Create secret ${name}`,
      ...label(`Create secret ${name}`), onclick: () => fix.secret(name) });
  }
  return h("a", { class: "button-link fix", href: `#/secrets/${encodeURIComponent(fix.org)}`,
    text: "Open secrets" });
}

// -- the fleet view --------------------------------------------------------------------------------
export async function renderFleet(main, ctx) {
  await ctx.reloadScopes(); // the registry, for the suspended orgs
  const first = (await call("GET", ["readiness"], { query: { limit: PAGE } })).body;
  const orgs = [...first.orgs];
  let next = first.next;
  let readyOrgs = first.ready_orgs;
  const workflows = first.workflows;
  const tbody = h("tbody", {});
  const summary = h("p", { class: "summary" });
  const table = h("table", { class: "grid fleet-table" },
    h("caption", {}),
    h("thead", {}, h("tr", {}, ["Org", "Ready", ...workflows].map((name) => h("th", { scope: "col" },
      workflows.includes(name) ? h("code", { text: name }) : name)))),
    tbody);
  const caption = table.querySelector("caption");
  const suspended = new Set((ctx.registry ? ctx.registry.orgs : [])
    .filter((o) => o.status === "suspended").map((o) => o.id));
  const show = (added) => {
    for (const org of added) tbody.append(fleetRow(org, workflows, suspended.has(org.org)));
    caption.textContent = `Orgs with config (${orgs.length}${next ? " shown, more after" : ""}) by workflow`;
    summary.textContent = `${readyOrgs} of ${orgs.length} orgs shown can run every workflow.`;
    stackable(table);
  };
  const more = moreButton("Next orgs", async () => {
    const r = (await call("GET", ["readiness"], { query: { limit: PAGE, after: next } })).body;
    const firstNew = orgs.length;
    orgs.push(...r.orgs);
    readyOrgs += r.ready_orgs;
    next = r.next;
    show(r.orgs);
    ctx.status(`Loaded ${r.orgs.length} more ${r.orgs.length === 1 ? "org" : "orgs"}.`);
    focusAfterMore(tbody, firstNew, more, Boolean(next));
  }, (err) => ctx.status(describe(err), "error"));
  show(orgs);
  replace(main,
    h("div", { class: "view-head" }, h("h1", { text: "Readiness" })),
    h("p", { class: "muted", text: "For every org that has config, in id order: which workflows " +
      "would run with its config, and what is missing or wrong for the others. No secret value is read." }),
    orgs.length ? [summary, table, next ? more : null]
      : h("p", { class: "empty", text: "No org has config yet." }));
}

function fleetRow(org, workflows, suspended) {
  const byName = new Map(org.workflows.map((w) => [w.name, w]));
  const total = org.ready + org.not_ready;
  return h("tr", { class: org.not_ready ? "problem" : "" },
    h("th", { scope: "row" }, h("a", { href: `#/config/${encodeURIComponent(org.org)}`, text: org.org }),
      suspended ? h("span", { class: "meta", text: "suspended: runs refused" }) : null),
    h("td", { class: "count" }, h("span", { class: org.not_ready ? "badge bad" : "badge ok",
      text: `${org.ready} of ${total}` })),
    workflows.map((name) => {
      const w = byName.get(name);
      if (!w) return h("td", { class: "muted", text: "—" });
      if (w.ready) return h("td", {}, h("span", { class: "cell-ok", text: "ready" }));
      return h("td", {}, h("ul", { class: "fleet-problems" }, w.problems.map((p) =>
        h("li", { title: p.message }, h("code", { text: p.key }), " ",
          h("span", { class: `problem-kind kind-${p.problem}`, text: PROBLEMS[p.problem] || p.problem }),
          h("span", { class: "sr-only", text: `: ${p.message}` })))));
    }));
}
