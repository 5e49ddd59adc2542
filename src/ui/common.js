// What every view of the dashboard shares: the API client (with the bearer token), table
// cells, buttons, times and the status line. User data is only ever set as text, never HTML.

const TOKEN_KEY = 'delayq.token';

export const $ = (id) => document.getElementById(id);

// The token lives in sessionStorage: it survives reloads of this tab, not the browser.
export const auth = { token: sessionStorage.getItem(TOKEN_KEY) || '' };

export function setToken(token) {
  auth.token = token;
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export class AuthError extends Error {}

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

export async function api(method, path, body) {
  const headers = {};
  if (auth.token) headers.Authorization = 'Bearer ' + auth.token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method, headers, cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let answer = null;
  try {
    answer = await response.json();
  } catch (e) {
    answer = null;
  }
  if (response.status === 401) throw new AuthError(answer?.error_msg || 'token required');
  if (!response.ok) {
    throw new ApiError(`${method} ${path}: ${response.status} ${answer?.error_msg || ''}`.trim(),
      response.status);
  }
  return answer;
}

// A route this server does not have (an older delayq): the panel says so instead of failing.
// (404 "no route", or 405 where the path answers other methods only: the list of a topic's
// tasks shares its path with the add.)
export function isMissingRoute(e) {
  return e instanceof ApiError &&
    ((e.status === 404 && /no route/.test(e.message)) || e.status === 405);
}

export function cell(row, text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

export function button(text, className, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.className = className;
  b.addEventListener('click', () => onClick(b));
  return b;
}

// "2026-11-26 10:02:04" in local time: short, sortable, unambiguous.
export function formatTime(ms) {
  const d = new Date(ms);
  const two = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ` +
    `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

export function payloadText(payload) {
  const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
  return text.length > 80 ? text.slice(0, 79) + '…' : text;
}

// What an action did stays on the status line this long before "updated …" replaces it.
const ACTION_NOTE_MS = 6000;
let noteUntil = 0;

export function setStatus(text, isError) {
  const status = $('status');
  status.textContent = text;
  status.classList.toggle('error', Boolean(isError));
}

// An action's outcome ("task 12 cancelled"), kept over the next refreshes for a while.
export function noteAction(text) {
  setStatus(text);
  noteUntil = Date.now() + ACTION_NOTE_MS;
}

export function noteRefreshed() {
  if (Date.now() >= noteUntil) setStatus(`updated ${new Date().toLocaleTimeString()}`);
}

export function topicPath(topic) {
  return `/v1/topics/${encodeURIComponent(topic)}`;
}

// "30s", "10m", "2h", "3d", "500ms" -> milliseconds; null when not such a duration.
export function parseDuration(text) {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(text.trim());
  if (!match) return null;
  const unit = { ms: 1, s: 1000, m: 60000, h: 3600000, d: 86400000 }[match[2]];
  return Math.round(Number(match[1]) * unit);
}

// Runs `action` with `b` disabled; then `after` (a refresh). Errors go to `onError`.
export async function act(b, action, done, onError) {
  b.disabled = true;
  try {
    const message = await action();
    if (message) noteAction(message);
    await done();
  } catch (e) {
    b.disabled = false;
    onError(e);
  }
}
