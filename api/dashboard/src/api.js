// The GraphQL client: persisted operations (send the hash; on PersistedQueryNotFound resend with
// the text, which an allow-list server never needs) and the session (access and refresh tokens in
// sessionStorage, refreshed silently before they expire and once more on UNAUTHENTICATED).
import OPS from 'cdtg:operations';

const STORE = 'cdtg.dashboard.session';
const listeners = new Set();
let session = load();
let refreshing = null;
let timer = null;

function load() {
  try {
    return JSON.parse(sessionStorage.getItem(STORE)) || null;
  } catch {
    return null;
  }
}

function save(next) {
  session = next;
  if (next) sessionStorage.setItem(STORE, JSON.stringify(next));
  else sessionStorage.removeItem(STORE);
  schedule();
  listeners.forEach((fn) => fn(session));
}

/** Calls `fn(session)` whenever the session starts, is refreshed or ends. */
export function onSession(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export const currentSession = () => session;

export class ApiError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

async function post(body, token) {
  const headers = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch('/graphql', { method: 'POST', headers, body: JSON.stringify(body), credentials: 'omit' });
  let json;
  try {
    json = await res.json();
  } catch {
    throw new ApiError(`HTTP ${res.status}`, res.status === 401 ? 'UNAUTHENTICATED' : 'INTERNAL');
  }
  return json;
}

/** Runs a registered operation by name; resolves to `data` or throws an ApiError. */
async function send(name, variables, token) {
  const op = OPS[name];
  const body = { operationName: op.query.match(/^(?:query|mutation) (\w+)/)[1], variables, extensions: { persistedQuery: { version: 1, sha256Hash: op.hash } } };
  let json = await post(body, token);
  if (json.errors && json.errors.some((e) => e.message === 'PersistedQueryNotFound')) {
    json = await post({ ...body, query: op.query }, token);
  }
  if (json.errors && json.errors.length) {
    const e = json.errors[0];
    throw new ApiError(e.message, e.extensions && e.extensions.code);
  }
  return json.data;
}

function started(payload) {
  save({ accessToken: payload.accessToken, refreshToken: payload.refreshToken, expiresAt: payload.expiresAt });
  return payload;
}

export async function login(username, password) {
  const data = await send('Login', { input: { username, password, device: 'CDTG dashboard' } });
  return started(data.login);
}

/** One refresh at a time: concurrent callers share it (a refresh token works once). */
export function refresh() {
  if (!session) return Promise.reject(new ApiError('signed out', 'UNAUTHENTICATED'));
  if (!refreshing) {
    const token = session.refreshToken;
    refreshing = send('Refresh', { input: { refreshToken: token } })
      .then((data) => started(data.refreshToken))
      .catch((err) => {
        if (err.code === 'UNAUTHENTICATED' || err.code === 'BAD_USER_INPUT' || err.code === 'FORBIDDEN') save(null);
        throw err;
      })
      .finally(() => {
        refreshing = null;
      });
  }
  return refreshing;
}

function schedule() {
  clearTimeout(timer);
  if (!session) return;
  const wait = Date.parse(session.expiresAt) - Date.now() - 60_000;
  timer = setTimeout(() => refresh().catch(() => {}), Math.max(wait, 5_000));
}
schedule();

export async function logout() {
  const s = session;
  save(null);
  if (s) {
    await send('Logout', { input: { refreshToken: s.refreshToken } }, s.accessToken).catch(() => {});
  }
}

/** A query as the signed-in user; refreshes the session once if the token was refused. */
export async function query(name, variables) {
  if (!session) throw new ApiError('signed out', 'UNAUTHENTICATED');
  if (refreshing) await refreshing.catch(() => {});
  try {
    return await send(name, variables, session && session.accessToken);
  } catch (err) {
    if (err.code !== 'UNAUTHENTICATED' || !session) throw err;
    await refresh();
    return send(name, variables, session.accessToken);
  }
}
