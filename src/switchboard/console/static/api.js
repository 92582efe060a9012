// The console's only way to the gateway: the public API, with the signed-in key.
// The key lives in sessionStorage: gone when the tab closes, never in a cookie or on disk.

const KEY = "sb.key";

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

export const session = {
  get key() { return sessionStorage.getItem(KEY); },
  get kind() { return sessionStorage.getItem("sb.kind"); },
  get account() { return sessionStorage.getItem("sb.account"); },
  get label() { return sessionStorage.getItem("sb.label"); },
  get view() { return sessionStorage.getItem("sb.view") || this.account; },
  set view(id) { sessionStorage.setItem("sb.view", id); },
  get playKey() { return this.kind === "inference" ? this.key : sessionStorage.getItem("sb.playkey"); },
  set playKey(k) { if (k) sessionStorage.setItem("sb.playkey", k); else sessionStorage.removeItem("sb.playkey"); },
  save(key, who) {
    sessionStorage.setItem(KEY, key);
    for (const [k, v] of Object.entries(who)) sessionStorage.setItem(`sb.${k}`, v);
  },
  clear() { sessionStorage.clear(); },
};

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined && v !== "") q.set(k, v);
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** api("/keys", {method: "POST", body: {...}}) -> the parsed JSON; throws ApiError. */
export async function api(path, {method = "GET", body, key, params} = {}) {
  const headers = {"Authorization": `Bearer ${key || session.key}`};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const url = `/api/v1${path}${params ? query(params) : ""}`;
  let resp;
  try {
    resp = await fetch(url, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
  } catch (err) {
    throw new ApiError(0, `cannot reach the gateway: ${err.message}`);
  }
  let data = null;
  try { data = await resp.json(); } catch { /* an empty or non-JSON body */ }
  if (!resp.ok) {
    const message = data && data.error && data.error.message ? data.error.message : `HTTP ${resp.status}`;
    throw new ApiError(resp.status, message, data);
  }
  return data;
}

/** Which kind of key this is: /auth/key says whether it manages keys; only root may list
 *  accounts. */
export async function identify(key) {
  const who = (await api("/auth/key", {key})).data;
  let kind = "inference";
  if (who.is_management_key) {
    try {
      await api("/accounts", {key});
      kind = "root";
    } catch (err) {
      if (err.status !== 403) throw err;
      kind = "provisioning";
    }
  }
  return {kind, account: who.account_id, label: who.label || who.name || ""};
}
