// Recent changes of an org (or GLOBAL): the change feed across its keys, newest first,
// paged with "Load more". Each change opens its key's history (old -> new, restore).

import { call, describe } from "./api.js";
import { focusAfterMore, h, moreButton, replace, stackable } from "./dom.js";
import { scopePicker } from "./config_view.js";
import { stamp } from "./format.js";
import { openHistory, stateView } from "./history_view.js";

const PAGE = 20;

export async function renderChanges(main, ctx, then) {
  const { org } = ctx;
  const first = (await call("GET", ["orgs", org, "changes"], { query: { limit: PAGE } })).body;
  const panel = h("div", { class: "panel-slot" });
  const items = [...first.items];
  let next = first.next;
  const refresh = async (message, after) => {
    await renderChanges(main, ctx, after);
    if (message) ctx.status(message, "ok");
  };
  // after a restore (or a reload after a 412) the feed reloads and shows the history again
  const history = (item, slot = panel) => openHistory(slot, {
    scope: org, key: item.key, ctx,
    onChanged: (message) => refresh(message, (next) => history(item, next)),
  }).catch((err) => ctx.status(describe(err), "error"));

  const tbody = h("tbody", {});
  const table = h("table", { class: "grid changes-table" },
    h("caption", {}),
    h("thead", {}, h("tr", {}, ["When", "Key", "Who", "Action", "State after", "Actions"].map(
      (name) => h("th", { scope: "col", text: name })))),
    tbody);
  const caption = table.querySelector("caption");
  const more = moreButton("Load more", async () => {
    const r = (await call("GET", ["orgs", org, "changes"], { query: { limit: PAGE, after: next } })).body;
    const firstNew = items.length;
    items.push(...r.items);
    next = r.next;
    addRows(r.items);
    ctx.status(`Loaded ${r.items.length} more ${r.items.length === 1 ? "change" : "changes"}.`);
    focusAfterMore(tbody, firstNew, more, Boolean(next));
  }, (err) => ctx.status(describe(err), "error"));
  const addRows = (added) => {
    for (const item of added) tbody.append(changeRow(item, history));
    caption.textContent = `${items.length} ${items.length === 1 ? "change" : "changes"}${next ? " shown, more earlier" : ""}, newest first`;
    stackable(table);
  };
  addRows(items);

  replace(main,
    h("div", { class: "view-head" },
      h("h1", { text: `Recent changes: ${org}` }), scopePicker(ctx)),
    h("p", { class: "muted", text: `Every change of ${org === "GLOBAL" ? "GLOBAL's" : `${org}'s own`} config entries made ` +
      "through orgconfig (API, CLI, this page), newest first. A change made outside it shows up as a " +
      "baseline item when the entry next changes." }),
    h("div", { class: "toolbar" },
      h("a", { class: "button-link", href: `#/config/${encodeURIComponent(org)}`, text: `Configuration of ${org}` })),
    panel,
    items.length ? [table, next ? more : null]
      : h("p", { class: "empty", text: `No recorded changes for ${org} yet.` }));
  if (then) await then(panel);
}

const ACTION_TEXT = { put: "set to", rollback: "restored to", import: "imported as", baseline: "found as" };

function changeRow(item, history) {
  const state = item.type ? { type: item.type, value: item.value ?? "", description: item.description } : null;
  return h("tr", {},
    h("th", { scope: "row" }, h("time", { datetime: item.at, text: stamp(item.at) })),
    h("td", {}, h("code", { class: "key", text: item.key })),
    h("td", { class: item.by ? "" : "muted", text: item.by || "not recorded" }),
    h("td", {}, h("span", { class: `action action-${item.action}`, text: item.action })),
    h("td", { class: "change-cell" }, state
      ? [h("span", { class: "meta", text: ACTION_TEXT[item.action] || "" }), stateView(state),
          item.description ? h("span", { class: "description", text: item.description }) : null]
      : h("span", { class: "state-gone", text: "deleted" })),
    h("td", { class: "actions" }, h("button", { type: "button", text: "History",
      "aria-label": `History of ${item.key}`, onclick: () => history(item) })));
}
