// Building DOM without HTML strings: text always goes in as text nodes (textContent),
// so a value like "<script>" or "\"><img onerror=...>" is shown, never parsed.

/**
 * h("button", {class: "primary", onclick: save, type: "button"}, "Save")
 * Props: "class", "text", "on<event>" handlers, "dataset", booleans (true sets an empty
 * attribute, false/null/undefined leaves it out), anything else as an attribute.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "class") el.className = value;
    else if (name === "text") el.textContent = value;
    else if (name === "value") el.value = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace everything inside `el` (old nodes, and whatever text they held, are dropped). */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let ids = 0;
/** A unique id for label/aria wiring. */
export function uid(prefix) {
  ids += 1;
  return `${prefix}-${ids}`;
}

/**
 * A table that narrow screens show as stacked cards (style.css): every body cell gets
 * its column's header as data-label (shown before it there), and the table keeps its
 * table roles, which some browsers drop when CSS changes a table's display.
 */
export function stackable(table) {
  const heads = [...table.querySelectorAll("thead th")].map((th) => th.textContent);
  table.classList.add("stackable");
  table.setAttribute("role", "table");
  for (const group of table.querySelectorAll("thead, tbody")) group.setAttribute("role", "rowgroup");
  for (const row of table.querySelectorAll("tr")) {
    row.setAttribute("role", "row");
    const head = row.parentElement.tagName === "THEAD";
    [...row.children].forEach((cell, i) => {
      if (cell.tagName === "TH") cell.setAttribute("role", head ? "columnheader" : "rowheader");
      else cell.setAttribute("role", "cell");
      if (!head && heads[i]) cell.dataset.label = heads[i];
    });
  }
  return table;
}

/** A "load more" button: disabled while `load()` runs; a failure goes to `onError`. */
export function moreButton(text, load, onError) {
  const button = h("button", { type: "button", text, onclick: async () => {
    button.disabled = true;
    try {
      await load();
    } catch (err) {
      onError(err);
    } finally {
      button.disabled = false;
    }
  } });
  return button;
}

/** After a "Load more" page: at the end, remove the button and focus the first new row's
 * header (so keyboard users land on what was added); otherwise keep focus on the button. */
export function focusAfterMore(tbody, firstNew, more, hasNext) {
  if (hasNext) {
    more.focus();
    return;
  }
  more.remove();
  const th = tbody.querySelectorAll("tr")[firstNew]?.querySelector("th");
  if (th) {
    th.setAttribute("tabindex", "-1");
    th.focus();
  }
}
