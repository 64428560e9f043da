// How dates, scopes and resolutions read on the page.

/** "2026-11-24 15:02 UTC", or an em dash. */
export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toISOString().slice(0, 16).replace("T", " ") + " UTC";
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
