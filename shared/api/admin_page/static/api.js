// The admin API, called from this origin with the browser's session (App Service
// authentication) and, when one is given, a function key. The key lives in this module's
// memory only: never in storage, the URL or history; a reload forgets it.

const BASE = new URL("../../", import.meta.url); // .../api/admin/assets/ -> .../api/
let functionKey = "";

export function setFunctionKey(key) {
  functionKey = key.trim();
}

export function hasFunctionKey() {
  return functionKey !== "";
}

/** An error answer of the API: status, code, message and the body's other fields. */
export class ApiError extends Error {
  constructor(status, body) {
    const message = body && body.message ? body.message : `HTTP ${status}`;
    super(message);
    this.status = status;
    this.code = body && body.error ? body.error : null;
    this.body = body || {};
  }
}

/**
 * call("GET", ["orgs", org, "config"], {query, body, ifMatch}) -> {status, body, etag}
 * Path segments are URL-encoded one by one. Throws ApiError for any non-2xx answer.
 */
export async function call(method, segments, options = {}) {
  const url = new URL(segments.map(encodeURIComponent).join("/"), BASE);
  for (const [name, value] of Object.entries(options.query || {})) {
    url.searchParams.set(name, value);
  }
  const headers = { Accept: "application/json" };
  if (functionKey) headers["x-functions-key"] = functionKey;
  if (options.ifMatch) headers["If-Match"] = options.ifMatch;
  const init = { method, headers, credentials: "same-origin", cache: "no-store" };
  if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(options.body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    throw new ApiError(0, { error: "network", message: "the API did not answer; is the app running?" });
  }
  const text = await response.text();
  let body = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch (err) {
      body = null;
    }
  }
  if (!response.ok) throw new ApiError(response.status, body);
  return { status: response.status, body, etag: response.headers.get("ETag") };
}

/** Whether an error means "this caller may not use the admin API". */
export function isAccessError(err) {
  return err instanceof ApiError && (err.status === 401 || err.status === 403);
}

/** A one-line account of an API error for the status region. */
export function describe(err) {
  if (err instanceof ApiError) {
    return err.code ? `${err.message} (${err.code}, HTTP ${err.status})` : err.message;
  }
  return String(err);
}

