// The delayq dashboard: plain JavaScript, no dependencies, served from the binary.
// Every number comes from the v1 API (docs/API.md); the page holds no data of its own.
// User data (topics, payloads, errors) is only ever set as text, never as HTML.
'use strict';

const REFRESH_MS = 2000;
const LATENESS_SECONDS = 300;
const DEAD_PER_TOPIC = 50;
const STATES = ['scheduled', 'due', 'leased', 'delivering', 'done', 'dead', 'cancelled'];
const TOKEN_KEY = 'delayq.token';

const $ = (id) => document.getElementById(id);

// The token lives in sessionStorage: it survives reloads of this tab, not the browser.
let token = sessionStorage.getItem(TOKEN_KEY) || '';
let timer = null;

class AuthError extends Error {}

async function api(method, path) {
  const headers = {};
  if (token) headers.Authorization = 'Bearer ' + token;
  const response = await fetch(path, { method, headers, cache: 'no-store' });
  let body = null;
  try {
    body = await response.json();
  } catch (e) {
    body = null;
  }
  if (response.status === 401) throw new AuthError(body?.error_msg || 'token required');
  if (!response.ok) {
    throw new Error(`${method} ${path}: ${response.status} ${body?.error_msg || ''}`.trim());
  }
  return body;
}

function cell(row, text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function formatMs(ms) {
  if (ms === null || ms === undefined) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return `${(ms / 60000).toFixed(1)} min`;
}

// "2026-11-26 10:02:04" in local time: short, sortable, unambiguous.
function formatTime(ms) {
  const d = new Date(ms);
  const two = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ` +
    `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

function setStatus(text, isError) {
  const status = $('status');
  status.textContent = text;
  status.classList.toggle('error', Boolean(isError));
}

// --- Topics -----------------------------------------------------------------------------

function renderTopics(topics) {
  const body = $('topics').tBodies[0];
  body.replaceChildren();
  for (const t of topics) {
    const row = document.createElement('tr');
    row.dataset.topic = t.topic;
    cell(row, t.topic);
    for (const state of STATES) {
      const n = state === 'due' ? t.due : (t.counts[state] ?? 0);
      const td = cell(row, String(n), state === 'dead' && n > 0 ? 'dead-count' : '');
      td.dataset.state = state;
    }
    cell(row, t.due > 0 ? formatMs(t.oldest_due_lateness_ms) : '–');
    const state = cell(row, t.paused ? 'paused' : 'delivering', t.paused ? 'dead-count' : '');
    state.dataset.field = 'paused';
    if (t.paused) state.title = `paused since ${formatTime(t.paused_at_ms)}`;
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = t.paused ? 'Resume' : 'Pause';
    button.className = t.paused ? 'resume' : 'pause';
    button.addEventListener('click', () => toggleTopic(t.topic, t.paused, button));
    row.appendChild(document.createElement('td')).appendChild(button);
    body.appendChild(row);
  }
  $('topics-empty').hidden = topics.length > 0;
}

// A paused topic keeps taking adds and delivers nothing until resumed (docs/API.md).
async function toggleTopic(topic, paused, button) {
  button.disabled = true;
  try {
    await api('POST', `/v1/topics/${encodeURIComponent(topic)}/${paused ? 'resume' : 'pause'}`);
    setStatus(`topic ${topic} ${paused ? 'resumed' : 'paused'}`);
    await refresh();
  } catch (e) {
    button.disabled = false;
    handleError(e);
  }
}

// --- Sinks ------------------------------------------------------------------------------

function renderSinks(sinks) {
  const body = $('sinks').tBodies[0];
  body.replaceChildren();
  for (const s of sinks) {
    const row = document.createElement('tr');
    row.dataset.sink = s.sink;
    cell(row, s.sink);
    const status = cell(row, s.reason ? `${s.status}: ${s.reason}` : s.status,
                        s.status === 'available' ? '' : 'dead-count');
    status.dataset.field = 'status';
    cell(row, String(s.produced));
    cell(row, String(s.failed), s.failed > 0 ? 'dead-count' : '');
    cell(row, String(s.in_flight));
    body.appendChild(row);
  }
  $('sinks-panel').hidden = sinks.length === 0;
}

// --- Lateness chart ---------------------------------------------------------------------

const SVG = 'http://www.w3.org/2000/svg';

function svg(name, attributes, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function renderLateness(data) {
  const chart = $('lateness-chart');
  const width = 1200;  // the panel spans the page: a wide, flat chart
  const height = 160;
  const left = 44;
  const bottom = 16;
  const seconds = data.seconds;
  const peak = Math.max(10, ...seconds.map((s) => s.max_ms ?? 0));
  const x = (i) => left + (i * (width - left - 4)) / Math.max(1, seconds.length - 1);
  const y = (ms) => 4 + (height - bottom - 4) * (1 - ms / peak);
  chart.replaceChildren();
  for (const fraction of [0, 0.5, 1]) {
    const ms = peak * fraction;
    chart.appendChild(svg('line', { class: 'grid', x1: left, x2: width, y1: y(ms), y2: y(ms) }));
    chart.appendChild(svg('text', { x: 2, y: Math.max(10, y(ms) + 3) }, formatMs(ms)));
  }
  chart.appendChild(svg('text', { x: left, y: height - 3 }, `-${seconds.length} s`));
  chart.appendChild(svg('text', { x: width - 30, y: height - 3 }, 'now'));
  for (const [key, className] of [['max_ms', 'max'], ['avg_ms', 'avg']]) {
    let d = '';
    seconds.forEach((s, i) => {
      const v = s[key];
      if (v === null) return;
      d += `${d === '' || seconds[i - 1]?.[key] === null ? 'M' : 'L'}${x(i).toFixed(1)},${y(v).toFixed(1)} `;
    });
    if (d) chart.appendChild(svg('path', { class: className, d }));
  }
  const count = seconds.reduce((n, s) => n + s.count, 0);
  const max = seconds.reduce((m, s) => Math.max(m, s.max_ms ?? 0), 0);
  $('lateness-summary').textContent = count === 0
    ? 'No deliveries in the last 5 minutes.'
    : `${count} deliveries; worst ${formatMs(max)} late (orange: max, blue: average).`;
}

// --- Dead tasks -------------------------------------------------------------------------

async function loadDead(topics) {
  const withDead = topics.filter((t) => (t.counts.dead ?? 0) > 0);
  const lists = await Promise.all(withDead.map((t) =>
    api('GET', `/v1/topics/${encodeURIComponent(t.topic)}/dead?limit=${DEAD_PER_TOPIC}`)));
  const body = $('dead').tBodies[0];
  body.replaceChildren();
  for (const list of lists) {
    for (const task of list.tasks) {
      const row = document.createElement('tr');
      row.dataset.id = task.id;
      cell(row, task.topic);
      cell(row, task.id);
      cell(row, `${task.attempts}/${task.max_attempts}`);
      cell(row, task.last_error ?? '');
      cell(row, formatTime(task.due_at_ms));
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = 'Redrive';
      button.className = 'redrive';
      button.addEventListener('click', () => redrive(task.id, button));
      row.appendChild(document.createElement('td')).appendChild(button);
      body.appendChild(row);
    }
  }
  $('dead-empty').hidden = body.rows.length > 0;
}

async function redrive(id, button) {
  button.disabled = true;
  try {
    await api('POST', `/v1/tasks/${id}/redrive`);
    setStatus(`task ${id} redriven: due again`);
    await refresh();
  } catch (e) {
    button.disabled = false;
    handleError(e);
  }
}

// --- Schedules --------------------------------------------------------------------------

const SCHEDULES_SHOWN = 200;

function renderSchedules(schedules) {
  const body = $('schedules').tBodies[0];
  body.replaceChildren();
  for (const s of schedules) {
    const row = document.createElement('tr');
    row.dataset.name = s.name;
    cell(row, s.name);
    cell(row, s.topic);
    cell(row, s.cron !== undefined ? s.cron : `every ${formatMs(s.every_ms)}`);
    cell(row, s.time_zone);
    cell(row, s.next_ms.length > 0 ? formatTime(s.next_ms[0]) : '–');
    cell(row, s.last_occurrence_ms ? formatTime(s.last_occurrence_ms) : '–');
    cell(row, s.paused ? 'paused' : 'active');
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = s.paused ? 'Resume' : 'Pause';
    button.className = s.paused ? 'resume' : 'pause';
    button.addEventListener('click', () => toggleSchedule(s.name, s.paused, button));
    row.appendChild(document.createElement('td')).appendChild(button);
    body.appendChild(row);
  }
  $('schedules-empty').hidden = body.rows.length > 0;
}

async function toggleSchedule(name, paused, button) {
  button.disabled = true;
  try {
    await api('POST', `/v1/schedules/${encodeURIComponent(name)}/${paused ? 'resume' : 'pause'}`);
    setStatus(`schedule ${name} ${paused ? 'resumed' : 'paused'}`);
    await refresh();
  } catch (e) {
    button.disabled = false;
    handleError(e);
  }
}

// --- Task lookup ------------------------------------------------------------------------

async function lookup(event) {
  event.preventDefault();
  const id = $('lookup-id').value.trim();
  const result = $('lookup-result');
  result.hidden = false;
  if (!/^[0-9]+$/.test(id)) {
    result.textContent = 'A task id is a decimal number.';
    return;
  }
  try {
    result.textContent = JSON.stringify(await api('GET', `/v1/tasks/${id}`), null, 2);
  } catch (e) {
    if (e instanceof AuthError) return handleError(e);
    result.textContent = e.message;
  }
}

// --- Refresh loop and token -------------------------------------------------------------

function handleError(e) {
  if (e instanceof AuthError) {
    stop();
    $('main').hidden = true;
    $('token-form').hidden = false;
    const message = $('token-error');
    message.hidden = !token;
    message.textContent = token ? `The token was refused: ${e.message}` : '';
    $('token-input').focus();
    setStatus('token required', true);
    return;
  }
  setStatus(e.message, true);
}

async function refresh() {
  try {
    const [topics, lateness, sinks, schedules] = await Promise.all([
      api('GET', '/v1/topics'),
      api('GET', `/v1/stats/lateness?seconds=${LATENESS_SECONDS}`),
      api('GET', '/v1/stats/sinks'),
      api('GET', `/v1/schedules?limit=${SCHEDULES_SHOWN}`),
    ]);
    renderTopics(topics.topics);
    renderLateness(lateness);
    renderSinks(sinks.sinks);
    renderSchedules(schedules.schedules);
    await loadDead(topics.topics);
    setStatus(`updated ${new Date().toLocaleTimeString()}`);
  } catch (e) {
    handleError(e);
  }
}

function start() {
  $('token-form').hidden = true;
  $('main').hidden = false;
  $('forget-token').hidden = !token;
  stop();
  refresh();
  timer = setInterval(refresh, REFRESH_MS);
}

function stop() {
  if (timer !== null) clearInterval(timer);
  timer = null;
}

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  token = $('token-input').value.trim();
  sessionStorage.setItem(TOKEN_KEY, token);
  $('token-input').value = '';
  start();
});

$('forget-token').addEventListener('click', () => {
  token = '';
  sessionStorage.removeItem(TOKEN_KEY);
  location.reload();
});

$('lookup-form').addEventListener('submit', lookup);

start();
