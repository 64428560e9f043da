// The history of one config entry: who changed it, when, how (old -> new, a JSON value
// key by key), and "Restore" of an earlier state after a confirmation that shows what
// will change. A restore is conditional on the entry's ETag read with the history
// (If-Match): a change made meanwhile is reported (412), never overwritten.

import { call, describe, isAccessError } from "./api.js";
import { h, moreButton, replace, stackable, uid } from "./dom.js";
import { stamp, when } from "./format.js";

const PAGE = 20;
const CLIP = 200;

/** The state an item leaves: {type, value, description}, or null after a delete. */
function stateOf(item) {
  if (!item || !item.type) return null;
  return { type: item.type, value: item.value ?? "", description: item.description ?? null };
}

function sameState(a, b) {
  if (!a || !b) return !a && !b;
  return a.type === b.type && a.value === b.value && (a.description || "") === (b.description || "");
}

function clip(text) {
  const s = String(text);
  return s.length > CLIP ? `${s.slice(0, CLIP)}…` : s;
}

/** A value as it reads: a secret_ref names its secret (never a secret value). */
function valueView(type, value) {
  const code = h("code", { class: "val", title: String(value).length > CLIP ? value : null, text: clip(value) });
  return type === "secret_ref" ? h("span", {}, "secret ", code) : code;
}

/** A whole state: type and value, or "deleted". */
export function stateView(state) {
  if (!state) return h("span", { class: "state-gone", text: "(deleted)" });
  return h("span", { class: "state" },
    h("span", { class: `type type-${state.type}`, text: state.type }), " ", valueView(state.type, state.value));
}

const arrow = () => [h("span", { class: "arrow", "aria-hidden": "true", text: " → " }),
  h("span", { class: "sr-only", text: " becomes " })];

function line(kind, label, ...content) {
  return h("li", { class: `diff-${kind}` },
    h("span", { class: "diff-kind", text: kind }), label ? h("span", { class: "diff-label", text: label }) : null,
    ...content);
}

function isObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function flatten(value, path, out) {
  for (const [k, v] of Object.entries(value)) {
    const at = path ? `${path}.${k}` : k;
    if (isObject(v) && Object.keys(v).length) flatten(v, at, out);
    else out.set(at, JSON.stringify(v));
  }
  return out;
}

/**
 * Two JSON objects compared leaf by leaf ("a.b" paths; arrays compare whole):
 * [{kind: "changed"|"added"|"removed", path, old?, new?}], or null when either text is
 * not a JSON object (then the values are shown whole).
 */
export function jsonDiff(oldText, newText) {
  let a;
  let b;
  try {
    a = JSON.parse(oldText);
    b = JSON.parse(newText);
  } catch (err) {
    return null;
  }
  if (!isObject(a) || !isObject(b)) return null;
  const before = flatten(a, "", new Map());
  const after = flatten(b, "", new Map());
  const lines = [];
  for (const path of new Set([...before.keys(), ...after.keys()])) {
    if (!after.has(path)) lines.push({ kind: "removed", path, old: before.get(path) });
    else if (!before.has(path)) lines.push({ kind: "added", path, new: after.get(path) });
    else if (before.get(path) !== after.get(path)) {
      lines.push({ kind: "changed", path, old: before.get(path), new: after.get(path) });
    }
  }
  return lines;
}

/**
 * What a change did, old -> new, as a list: a type change, the value (a JSON object key
 * by key), the description. `before` undefined: the earlier state is not known here.
 */
export function changeView(before, after, note) {
  const items = [];
  if (before === undefined) {
    return h("div", { class: "change" }, stateView(after), note ? h("span", { class: "meta", text: note }) : null);
  }
  if (!after && !before) items.push(line("same", null, "(deleted)"));
  else if (!after) items.push(line("removed", null, stateView(before), arrow(), "deleted"));
  else if (!before) items.push(line("added", null, "(none)", arrow(), stateView(after)));
  else {
    if (before.type !== after.type) {
      items.push(line("changed", "type", h("span", { class: `type type-${before.type}`, text: before.type }), arrow(),
        h("span", { class: `type type-${after.type}`, text: after.type })));
    }
    const diff = before.type === "json" && after.type === "json" ? jsonDiff(before.value, after.value) : null;
    if (diff && !diff.length && before.value !== after.value) {
      items.push(line("changed", "value", "the same JSON, written differently"));
    }
    if (diff) {
      for (const d of diff) {
        const path = h("code", { class: "diff-path", text: d.path });
        if (d.kind === "changed") items.push(line("changed", null, path, ": ", valueView("json", d.old), arrow(), valueView("json", d.new)));
        else if (d.kind === "added") items.push(line("added", null, path, ": ", valueView("json", d.new)));
        else items.push(line("removed", null, path, ": ", valueView("json", d.old)));
      }
    } else if (before.value !== after.value || before.type !== after.type) {
      items.push(line("changed", "value", valueView(before.type, before.value), arrow(), valueView(after.type, after.value)));
    }
    if ((before.description || "") !== (after.description || "")) {
      items.push(line("changed", "description", before.description ? h("q", { text: before.description }) : "(none)", arrow(),
        after.description ? h("q", { text: after.description }) : "(none)"));
    }
    if (!items.length) items.push(line("same", null, "no change to type, value or description"));
  }
  return h("ul", { class: "diff" }, items);
}

async function currentEntry(scope, key) {
  try {
    const r = await call("GET", ["orgs", scope, "config", key]);
    return { ...r.body, etag: r.etag || r.body.etag };
  } catch (err) {
    if (err.status === 404) return null;
    throw err;
  }
}

const BY_NOBODY = "not recorded";

/**
 * Show the history of `scope`/`key` in `panel`.
 * options: {scope, key, ctx, onChanged(message)}: onChanged re-renders the view (the
 * entry as it is now) and opens the history again; it runs after a restore (with the
 * message to announce) and on "Reload the history" after a 412 (with null).
 */
export async function openHistory(panel, options) {
  const { scope, key, ctx } = options;
  let current;
  let page;
  try {
    [current, page] = await Promise.all([currentEntry(scope, key),
      call("GET", ["orgs", scope, "config", key, "history"], { query: { limit: PAGE } }).then((r) => r.body)]);
  } catch (err) {
    if (isAccessError(err)) throw err;
    ctx.status(`The history of ${key} could not be loaded: ${describe(err)}`, "error");
    return;
  }
  const items = [...page.items];
  let next = page.next;
  const headingId = uid("history");
  const body = h("div", { class: "history-body" });
  const more = moreButton("Load earlier changes", async () => {
    const r = (await call("GET", ["orgs", scope, "config", key, "history"],
      { query: { limit: PAGE, after: next } })).body;
    const first = items.length;
    items.push(...r.items);
    next = r.next;
    render();
    ctx.status(`Loaded ${r.items.length} earlier ${r.items.length === 1 ? "change" : "changes"} of ${key}.`);
    if (!next) focusRow(body, first);
    else more.focus();
  }, (err) => ctx.status(describe(err), "error"));
  const nowState = current ? stateOf(current) : null;
  let section;
  const render = () => replace(body,
    items.length ? historyTable(items, next, nowState, (item) => confirmRestore(panel, {
      ...options, current, item, back: () => replace(panel, section) }))
      : h("p", { class: "empty", text: "No changes of this entry are recorded yet." }),
    next ? more : null);
  render();
  section = h("section", { class: "panel wide history", "aria-labelledby": headingId },
    h("h2", { id: headingId, tabindex: "-1", text: `History of ${key} (${scope})` }),
    h("p", { class: "now" }, h("strong", { text: "Now: " }), stateView(nowState),
      current && current.updated_at ? h("span", { class: "meta",
        text: `since ${when(current.updated_at)}${current.updated_by ? ` by ${current.updated_by}` : ""}` }) : null),
    h("p", { class: "muted", text: "Newest first; each change shows the state before it → the state it left. " +
      "Restore writes an earlier state as a new change. \"baseline\" is a state found that no " +
      "recorded change made (the entry before its first recorded change, or a change made outside orgconfig)." }),
    body,
    h("button", { type: "button", text: "Close", onclick: () => panel.replaceChildren() }));
  replace(panel, section);
  section.querySelector("h2").focus();
}

function focusRow(body, index) {
  const th = body.querySelectorAll("tbody tr")[index]?.querySelector("th");
  if (th) {
    th.setAttribute("tabindex", "-1");
    th.focus();
  }
}

function historyTable(items, next, nowState, restore) {
  return stackable(h("table", { class: "grid compact history-table" },
    h("caption", { text: `Changes (${items.length}${next ? " shown, more earlier" : ""})` }),
    h("thead", {}, h("tr", {}, ["When", "Who", "Action", "Change", "Actions"].map(
      (name) => h("th", { scope: "col", text: name })))),
    h("tbody", {}, items.map((item, i) => {
      const after = stateOf(item);
      const last = i === items.length - 1;
      const before = last ? undefined : stateOf(items[i + 1]);
      const note = !last ? null : next ? "the state before is on the next page (Load earlier changes)"
        : item.action === "baseline" ? "the earliest state recorded" : "the first recorded change";
      return h("tr", {},
        h("th", { scope: "row" }, h("time", { datetime: item.at, text: stamp(item.at) })),
        h("td", { class: item.by ? "" : "muted", text: item.by || BY_NOBODY }),
        h("td", {}, h("span", { class: `action action-${item.action}`, text: item.action })),
        h("td", { class: "change-cell" }, changeView(before, after, note)),
        h("td", { class: "actions" }, sameState(after, nowState)
          ? h("span", { class: "muted", text: "current state" })
          : h("button", { type: "button", text: "Restore", "aria-label": `Restore the state of ${stamp(item.at)} (${item.action})`,
              onclick: () => restore(item) })));
    }))));
}

function confirmRestore(panel, options) {
  const { scope, key, current, item, ctx } = options;
  const headingId = uid("restore");
  const now = current ? stateOf(current) : null;
  const target = stateOf(item);
  const problem = h("p", { class: "error", role: "alert" });
  const apply = async () => {
    problem.textContent = "";
    try {
      const r = await call("POST", ["orgs", scope, "config", key, "rollback"],
        { body: { to: item.id }, ifMatch: current ? current.etag : undefined });
      await options.onChanged(r.status === 204
        ? `Restored ${key} in ${scope} to its state of ${stamp(item.at)}: the entry is deleted.`
        : `Restored ${key} in ${scope} to its state of ${stamp(item.at)}.`);
    } catch (err) {
      if (isAccessError(err)) throw err;
      if (err.status === 412) return stale(panel, options);
      problem.textContent = describe(err);
    }
  };
  const consequence = !target
    ? h("p", {}, h("strong", { text: "The entry will be deleted. " }), scope === "GLOBAL"
      ? "Orgs without their own entry of this key will no longer find it."
      : `${scope} will then read GLOBAL's entry of this key, if there is one.`)
    : !now ? h("p", {}, h("strong", { text: "The entry does not exist now: " }), "it will be created again with this state.")
      : now.type !== target.type ? h("p", {}, h("strong", { text: `Its type changes from ${now.type} to ${target.type}` }),
        ", together with its value.") : null;
  replace(panel, h("section", { class: "panel warn", "aria-labelledby": headingId },
    h("h2", { id: headingId, text: `Restore ${key} (${scope}) to its state of ${stamp(item.at)}?` }),
    h("dl", { class: "compare" },
      h("dt", { text: "Now" }), h("dd", {}, stateView(now)),
      h("dt", { text: "After the restore" }), h("dd", {}, stateView(target)),
      h("dt", { text: "What changes" }), h("dd", {}, changeView(now, target))),
    consequence,
    h("p", { class: "muted", text: "The restore is a new change (action rollback): the state now stays in the history and can be restored again." }),
    problem,
    h("div", { class: "buttons" },
      h("button", { type: "button", class: target ? "primary" : "danger",
        text: target ? "Restore" : "Restore (delete the entry)", onclick: () => apply().catch((err) => ctx.status(describe(err), "error")) }),
      h("button", { type: "button", text: "Cancel", onclick: options.back }))));
  panel.querySelector(".buttons button").focus();
}

async function stale(panel, options) {
  const { scope, key, ctx } = options;
  let now;
  try {
    now = await currentEntry(scope, key);
  } catch (err) {
    now = undefined;
  }
  const headingId = uid("stale");
  replace(panel, h("section", { class: "panel warn", role: "alert", "aria-labelledby": headingId },
    h("h2", { id: headingId, text: `${key} was changed by someone else` }),
    h("p", {}, `Since its history was loaded here, ${key} was changed`,
      now && now.updated_by ? ` by ${now.updated_by}` : "", now && now.updated_at ? ` at ${stamp(now.updated_at)}` : "",
      ". Nothing was restored."),
    now !== undefined ? h("p", {}, "It is now: ", stateView(now ? stateOf(now) : null)) : null,
    h("div", { class: "buttons" },
      h("button", { type: "button", class: "primary", text: "Reload the history",
        onclick: () => options.onChanged(null).catch((err) => ctx.status(describe(err), "error")) }),
      h("button", { type: "button", text: "Close", onclick: () => panel.replaceChildren() }))));
  panel.querySelector("button").focus();
}
