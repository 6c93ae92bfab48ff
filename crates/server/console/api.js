// Talon console, the HTTP side: sign-in at /oauth2/token and admin API calls with the bearer token.
// The token is kept in sessionStorage (this tab only, gone when it closes), never in localStorage; the
// secret typed at sign-in is sent once and never stored. No cookies: every call carries the bearer
// header itself, so another site cannot make the browser act for the admin (no CSRF).

const KEY = 'talon.console.session';

/** A refused call: HTTP status, the Falcon envelope's message, and its trace ID. */
export class ApiError extends Error {
  constructor(status, message, traceId) {
    super(message);
    this.status = status;
    this.traceId = traceId;
  }
}

async function failure(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: the status says enough
  }
  const message = body?.errors?.[0]?.message ?? `HTTP ${response.status}`;
  return new ApiError(response.status, message, response.headers.get('X-Cs-Traceid') ?? body?.meta?.trace_id);
}

/** The current session ({token, expires_at, client_id}), or null when signed out or expired. */
export function session() {
  let saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem(KEY));
  } catch {
    saved = null;
  }
  if (!saved || typeof saved.token !== 'string' || Date.now() / 1000 >= saved.expires_at) {
    sessionStorage.removeItem(KEY);
    return null;
  }
  return saved;
}

/** Exchanges an admin client's ID and secret for a token. */
export async function signIn(clientId, clientSecret) {
  const body = new URLSearchParams({ client_id: clientId, client_secret: clientSecret });
  const response = await fetch('/oauth2/token', { method: 'POST', body, credentials: 'omit', cache: 'no-store' });
  if (response.status !== 201) {
    throw await failure(response);
  }
  const answer = await response.json();
  const saved = { token: answer.access_token, expires_at: Date.now() / 1000 + answer.expires_in, client_id: clientId };
  sessionStorage.setItem(KEY, JSON.stringify(saved));
}

export function signOut() {
  sessionStorage.removeItem(KEY);
}

/** Calls the admin API; answers the envelope, or throws an ApiError. A 401 ends the session. */
export async function call(method, path, body) {
  const current = session();
  if (!current) {
    throw new ApiError(401, 'Your session has ended: sign in again.');
  }
  const init = { method, headers: { Authorization: `Bearer ${current.token}` }, credentials: 'omit', cache: 'no-store' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (!response.ok) {
    if (response.status === 401) {
      signOut();
    }
    throw await failure(response);
  }
  return response.json();
}

/** The scope catalogue: resource names in catalogue order. */
export async function resources() {
  const response = await fetch('/console/scopes.json', { credentials: 'omit' });
  if (!response.ok) {
    throw await failure(response);
  }
  return response.json();
}

export const CLIENTS = '/api-clients/entities/clients/v1';
export const AUDIT = '/api-clients/entities/audit/v1';
export const clientPath = (id, suffix = '') => `${CLIENTS}/${encodeURIComponent(id)}${suffix}`;
