// Create, edit and override a config entry with inputs that fit its type. Edits are
// conditional (If-Match); a 412 shows the entry as it is now and lets the admin reload
// it or overwrite it. API validation errors are shown next to the field they concern.

import { call, describe } from "./api.js";
import { h, replace, uid } from "./dom.js";
import { TYPES, when } from "./format.js";

/**
 * options: {scope, ctx, onDone(message), entry?, override?, key?, type?}
 * entry without override: edit it in its scope, guarded by its ETag.
 * override: a new entry of the same key in `scope`, prefilled from the inherited one.
 * key, type: a new entry of that key, or the type to start from (readiness: the type a
 * workflow needs).
 */
export function openEntryForm(panel, options) {
  const { scope, entry, override } = options;
  const editing = Boolean(entry) && !override;
  const headingId = uid("form");
  const fields = {};
  const errors = {};
  const field = (name, label, control, hint) => {
    const id = uid(name);
    const errorId = `${id}-error`;
    const hintId = `${id}-hint`;
    control.id = id;
    control.setAttribute("aria-describedby", hint ? `${errorId} ${hintId}` : errorId);
    fields[name] = control;
    errors[name] = h("p", { class: "field-error", id: errorId });
    return h("div", { class: `field field-${name}` },
      h("label", { for: id, text: label }), control,
      hint ? h("p", { class: "hint", id: hintId, text: hint }) : null, errors[name]);
  };

  const key = h("input", { type: "text", required: true, autocomplete: "off", spellcheck: "false",
    value: entry ? entry.key : options.key || "", readonly: editing || override });
  const startType = TYPES.includes(options.type) ? options.type : entry ? entry.type : "string";
  const type = h("select", {}, TYPES.map((t) =>
    h("option", { value: t, text: t, selected: t === startType })));
  const description = h("input", { type: "text", autocomplete: "off",
    value: entry && entry.description ? entry.description : "" });
  const valueSlot = h("div", { class: "value-slot" });
  const formError = h("p", { class: "error", role: "alert" });
  const secretNames = loadSecretNames(scope);

  let currentValue = entry ? (entry.type === "secret_ref" ? entry.secret.secret_name : entry.value) : "";
  const renderValue = async () => {
    const control = await valueControl(type.value, currentValue, secretNames, scope);
    replace(valueSlot, field("value", "Value", control.input, control.hint));
  };
  type.addEventListener("change", () => {
    currentValue = readValue(fields.value);
    renderValue();
  });

  const form = h("form", { class: "panel", "aria-labelledby": headingId, novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      await save(editing ? entry.etag : null);
    } },
    h("h2", { id: headingId, text: editing ? `Edit ${entry.key} (${scope})`
      : override ? `Override ${entry.key} for ${scope}` : `New entry in ${scope}` }),
    field("key", "Key", key, "Letters, digits, _ - . ; starts with a letter"),
    field("type", "Type", type),
    valueSlot,
    field("description", "Description (optional)", description),
    formError,
    h("div", { class: "buttons" },
      h("button", { type: "submit", class: "primary", text: "Save" }),
      h("button", { type: "button", text: "Cancel", onclick: () => panel.replaceChildren() })));

  async function save(ifMatch) {
    for (const p of Object.values(errors)) p.textContent = "";
    for (const control of Object.values(fields)) control.removeAttribute("aria-invalid");
    formError.textContent = "";
    const name = key.value.trim();
    if (!name) return showError("key", "Enter a key.");
    const body = { type: type.value, value: readValue(fields.value),
      description: description.value.trim() || null };
    try {
      const result = (await call("PUT", ["orgs", scope, "config", name],
        { body, ifMatch: ifMatch || undefined })).body;
      const warnings = result.warnings && result.warnings.length ? ` Warning: ${result.warnings.join(" ")}` : "";
      await options.onDone(`Saved ${name} in ${scope}.${warnings}`);
    } catch (err) {
      if (err.status === 412) return conflict(name, body);
      const target = fieldOf(err);
      if (target) showError(target, err.message, err);
      else formError.textContent = describe(err);
    }
  }

  function showError(name, message, err) {
    const detail = err && err.body.details ? err.body.details.map((d) => d.msg).join("; ") : "";
    errors[name].textContent = detail ? `${message}: ${detail}` : message;
    fields[name].setAttribute("aria-invalid", "true");
    fields[name].focus();
  }

  async function conflict(name, mine) {
    let now = null;
    try {
      now = (await call("GET", ["orgs", scope, "config", name])).body;
    } catch (err) {
      if (err.status !== 404) return void (formError.textContent = describe(err));
    }
    const headingId2 = uid("conflict");
    replace(panel, h("section", { class: "panel warn", role: "alert", "aria-labelledby": headingId2 },
      h("h2", { id: headingId2, text: `${name} was changed by someone else` }),
      now
        ? h("p", {}, `Since you opened it, ${name} was changed`,
            now.updated_by ? ` by ${now.updated_by}` : "", now.updated_at ? ` at ${when(now.updated_at)}` : "",
            ". It is now: ", h("code", { class: "val", text: `${now.type} ${now.value}` }))
        : h("p", { text: `Since you opened it, ${name} was deleted.` }),
      h("p", {}, "Your version: ", h("code", { class: "val", text: `${mine.type} ${mine.value}` })),
      h("div", { class: "buttons" },
        h("button", { type: "button", class: "primary", text: "Reload (discard my edit)",
          onclick: () => options.onDone(`Reloaded ${name}.`) }),
        h("button", { type: "button", class: "danger", text: "Overwrite with my version",
          onclick: async () => {
            try {
              await call("PUT", ["orgs", scope, "config", name],
                { body: mine, ifMatch: now ? now.etag : undefined });
              await options.onDone(`Saved ${name} in ${scope} (overwrote the other change).`);
            } catch (err) {
              if (err.status === 412) return conflict(name, mine);
              options.ctx.status(describe(err), "error");
            }
          } }))));
    panel.querySelector("button").focus();
  }

  replace(panel, form);
  renderValue().then(() => (editing || override ? type : options.key ? fields.value : key).focus());
}

function fieldOf(err) {
  if (err.code === "invalid_name") return "key";
  if (err.code === "invalid_value") return "value";
  if (err.code === "invalid_request" && err.body.details && err.body.details.length) {
    const loc = err.body.details[0].loc[0];
    if (["type", "value", "description"].includes(loc)) return loc;
  }
  return null;
}

function readValue(control) {
  return control ? control.value : "";
}

async function loadSecretNames(scope) {
  try {
    const list = (await call("GET", ["secrets"], { query: { scope } })).body;
    const names = new Map();
    // One choice a name (the entry stores the bare name), labelled with the scope whose
    // secret it resolves to: the org's own if it has one, else GLOBAL's.
    for (const s of list.secrets) {
      const seen = names.get(s.name.toLowerCase());
      if (!seen || (seen.scope === "GLOBAL" && s.scope !== "GLOBAL")) {
        names.set(s.name.toLowerCase(), { name: s.name, scope: s.scope, shadows: Boolean(seen) });
      } else if (s.scope === "GLOBAL") seen.shadows = true;
    }
    return [...names.values()].sort((a, b) => a.name.localeCompare(b.name));
  } catch (err) {
    return null; // no vault, or it is down: the name is typed instead
  }
}

async function valueControl(type, value, secretNames, scope) {
  if (type === "bool") {
    const v = String(value).toLowerCase() === "false" ? "false" : "true";
    return { input: h("select", {}, ["true", "false"].map((b) => h("option", { value: b, text: b, selected: b === v }))) };
  }
  if (type === "json") {
    return { input: h("textarea", { rows: 5, spellcheck: "false", class: "mono", value }),
      hint: "A JSON document, e.g. {\"retries\": 3}" };
  }
  if (type === "int" || type === "float") {
    return { input: h("input", { type: "text", inputmode: type === "int" ? "numeric" : "decimal",
      autocomplete: "off", value }), hint: type === "int" ? "A whole number" : "A number" };
  }
  if (type === "secret_ref") {
    const names = await secretNames;
    if (names === null) {
      return { input: h("input", { type: "text", autocomplete: "off", spellcheck: "false", value }),
        hint: "The secret's bare name (the vault could not be listed)" };
    }
    const known = names.some((n) => n.name.toLowerCase() === String(value).toLowerCase());
    return {
      input: h("select", {},
        h("option", { value: "", text: names.length ? "Choose a secret…" : "No secrets exist yet", selected: !value }),
        names.map((n) => h("option", { value: n.name, selected: n.name.toLowerCase() === String(value).toLowerCase(),
          text: n.shadows ? `${n.name} (${n.scope}; overrides GLOBAL's)` : `${n.name} (${n.scope})` })),
        value && !known ? h("option", { value, selected: true, text: `${value} (does not exist)` }) : null),
      hint: scope === "GLOBAL"
        ? "GLOBAL's secrets (an org with its own secret of the name reads that one); create new ones in Secrets"
        : `In brackets: whose secret ${scope} reads, its own or GLOBAL's; create new ones in Secrets`,
    };
  }
  return { input: h("input", { type: "text", autocomplete: "off", value }) };
}
