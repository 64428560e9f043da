// How dates, scopes and resolutions read on the page.

/** "2026-11-24 15:02 UTC", or an em dash. */
export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

/** "2026-11-24 15:02:07 UTC" (to the second: several changes can fall in one minute). */
export function stamp(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toISOString().slice(0, 19).replace("T", " ") + " UTC";
}

/** Whether an ISO date is in the past. */
export function past(iso) {
  return Boolean(iso) && new Date(iso).getTime() < Date.now();
}

export const RESOLVED = {
  org_secret: "org secret",
  global_secret: "GLOBAL secret",
  env: "environment variable",
  nowhere: "nowhere",
  error: "lookup failed",
};

export const TYPES = ["string", "int", "float", "bool", "json", "secret_ref"];

export const ORG_ID_MAX = 63;
const ORG_ID = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/**
 * An org id or GLOBAL as typed, checked by the API's rules (shared/core/naming.py):
 * {scope} in canonical form ("Acme" -> "acme", "global" in any case -> "GLOBAL"), or
 * {problem} saying what is wrong with it.
 */
export function checkScope(raw) {
  const text = String(raw || "").trim();
  if (!text) return { problem: "Enter an org id." };
  // ASCII first: toLowerCase maps e.g. the Kelvin sign to "k", which the API refuses
  if (!/^[\x20-\x7e]*$/.test(text)) {
    return { problem: "Use only a-z, 0-9 and '-' (no accents or other scripts)." };
  }
  const org = text.toLowerCase();
  if (org === "global") return { scope: "GLOBAL" };
  if (org.length > ORG_ID_MAX) {
    return { problem: `An org id has at most ${ORG_ID_MAX} characters (this one has ${org.length}).` };
  }
  if (!ORG_ID.test(org)) {
    return { problem: "An org id is a-z and 0-9 in groups separated by single '-', " +
      "not starting or ending with '-' (e.g. acme or acme-eu); no spaces or other signs." };
  }
  return { scope: org };
}
