// The console's only way to the server: the public admin API, with the token held in this module's memory (a PAT,
// the owner token, or the session token of an email and password sign-in at /v1/auth/sessions).
// Not in sessionStorage or localStorage (a script running on the page could read those, and they outlive the page),
// and not in a cookie: a reload or a closed tab signs out, by design.

let token = null;
let identity = null;

/** An answer of the API that is not a success: its code, message and the fields it named. */
export class ApiFailure extends Error {
  constructor(status, body) {
    const error = body?.error ?? {};
    super(error.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = error.code ?? 'HTTP_ERROR';
    this.details = Array.isArray(error.details) ? error.details : [];
  }
}

const SESSION_PREFIX = 'ptc_ses_';

/** Calls the admin API; resolves to the parsed body, or throws an ApiFailure. */
export const api = (method, path, body, options) => call(method, `/v1/admin${path}`, body, options);

async function call(method, url, body, { headers = {}, raw = false } = {}) {
  const init = { method, headers: { ...headers }, cache: 'no-store', credentials: 'omit' };
  if (token) init.headers.authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const res = await fetch(url, init);
  if (raw && res.ok) return res;
  const text = await res.text();
  let parsed;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    if (res.status === 401 && identity) signOut('Your token is no longer valid; sign in again.');
    throw new ApiFailure(res.status, parsed);
  }
  return parsed;
}

/** Checks a token by asking who it belongs to; keeps it only if the API accepts it. */
export async function signIn(candidate) {
  token = candidate;
  try {
    identity = await api('GET', '/whoami');
  } catch (err) {
    token = null;
    identity = null;
    throw err;
  }
  return identity;
}

/**
 * Signs in with a user's email and password: the API answers with a short-lived session token, which is then used
 * like any other token (and checked the same way, through /whoami).
 */
export async function signInWithPassword(email, password) {
  const session = await call('POST', '/v1/auth/sessions', { email, password });
  return signIn(session.token);
}

const listeners = new Set();
export const onSignOut = (fn) => listeners.add(fn);

/** Forgets the token; a session token is also ended on the server when the user signs out (`end`). */
export function signOut(reason, { end = false } = {}) {
  // a failed sign-out call leaves a session that expires on its own: nothing to tell the user
  if (end && token?.startsWith(SESSION_PREFIX)) call('DELETE', '/v1/auth/sessions/current').catch(() => undefined);
  token = null;
  identity = null;
  for (const fn of listeners) fn(reason);
}

export const me = () => identity;

/** What the caller's role allows in an area (`tenants`, `keys`, …): the API's 403 stays the authority. */
export const can = (area, need = 'read') => {
  const access = identity?.permissions?.[area] ?? 'none';
  return access === 'write' || (need === 'read' && access === 'read');
};

/** A query string from the set members of an object. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
