// The gateway's HTTP API from the browser. The token lives in sessionStorage (gone with the tab) and travels only
// in the Authorization header — and on the WebSocket as the first message — never in a URL.

const TOKEN_KEY = "echoai.token";

export class ApiError extends Error {
  constructor(status, error, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
    this.error = error;
    this.detail = detail;
  }
}

export const auth = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
};

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (auth.token) headers.Authorization = `Bearer ${auth.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let resp;
  try {
    resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new ApiError(0, "unreachable", "The gateway cannot be reached; check that it is running.");
  }
  if (resp.status === 204) return null;
  const text = await resp.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (!resp.ok) {
    const error = data && data.error ? data.error : `http_${resp.status}`;
    const detail = data && typeof data.detail === "string" ? data.detail : `HTTP ${resp.status}`;
    if (resp.status === 401) window.dispatchEvent(new CustomEvent("echoai:unauthorized"));
    throw new ApiError(resp.status, error, detail);
  }
  return data;
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body ?? {});

/** Every item of a paged list (`{items, next_cursor}`), up to `max`. */
export async function all(path, max = 1000) {
  const items = [];
  let cursor = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const page = await get(`${path}${sep}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}
