// The overview (#/): every topic with its counts, the overall due horizon, the added / fired /
// failed rates, firing lateness, sinks, schedules (when there are any), dead tasks and the
// task lookup.

import { barChart, formatMs, lineChart, lineLabelMs, lineLabelRate } from './charts.js';
import {
  $, act, api, AuthError, button, cell, formatTime, isMissingRoute, noteRefreshed, topicPath,
} from './common.js';

const SECONDS = 300;
const DEAD_PER_TOPIC = 50;
const SCHEDULES_SHOWN = 200;
const STATES = ['scheduled', 'due', 'leased', 'delivering', 'done', 'dead', 'cancelled'];

export const horizonBucket = { overview: 'minute', topic: 'minute' };

// --- Topics -----------------------------------------------------------------------------

export function topicLink(topic) {
  const a = document.createElement('a');
  a.href = `#/topics/${encodeURIComponent(topic)}`;
  a.textContent = topic;
  return a;
}

function renderTopics(topics, ctx) {
  const body = $('topics').tBodies[0];
  body.replaceChildren();
  for (const t of topics) {
    const row = document.createElement('tr');
    row.dataset.topic = t.topic;
    cell(row, '').appendChild(topicLink(t.topic));
    for (const state of STATES) {
      const n = state === 'due' ? t.due : (t.counts[state] ?? 0);
      const td = cell(row, String(n), state === 'dead' && n > 0 ? 'dead-count' : '');
      td.dataset.state = state;
    }
    cell(row, t.due > 0 ? formatMs(t.oldest_due_lateness_ms) : '–');
    const state = cell(row, t.paused ? 'paused' : 'delivering', t.paused ? 'dead-count' : '');
    state.dataset.field = 'paused';
    if (t.paused) state.title = `paused since ${formatTime(t.paused_at_ms)}`;
    row.appendChild(document.createElement('td')).appendChild(pauseButton(t, ctx));
    body.appendChild(row);
  }
  $('topics-empty').hidden = topics.length > 0;
}

// A paused topic keeps taking adds and delivers nothing until resumed (docs/API.md).
export function pauseButton(t, ctx) {
  const verb = t.paused ? 'resume' : 'pause';
  return button(t.paused ? 'Resume' : 'Pause', verb, (b) => act(b, async () => {
    await api('POST', `${topicPath(t.topic)}/${verb}`);
    return `topic ${t.topic} ${t.paused ? 'resumed' : 'paused'}`;
  }, ctx.refresh, ctx.onError));
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

// --- Charts -----------------------------------------------------------------------------

function renderLateness(data) {
  lineChart($('lateness-chart'), data.seconds,
    [{ key: 'max_ms', className: 'max' }, { key: 'avg_ms', className: 'avg' }], lineLabelMs);
  const count = data.seconds.reduce((n, s) => n + s.count, 0);
  const max = data.seconds.reduce((m, s) => Math.max(m, s.max_ms ?? 0), 0);
  $('lateness-summary').textContent = count === 0
    ? 'No deliveries in the last 5 minutes.'
    : `${count} deliveries; worst ${formatMs(max)} late (orange: max, blue: average).`;
}

function renderRates(data) {
  const chart = $('rates-chart');
  const summary = $('rates-summary');
  chart.toggleAttribute('hidden', data === null);
  if (data === null) {
    chart.replaceChildren();
    summary.textContent = 'Rates are not available on this server.';
    return;
  }
  lineChart(chart, data.seconds, [
    { key: 'added', className: 'added' }, { key: 'fired', className: 'fired' },
    { key: 'failed', className: 'failed' }], lineLabelRate);
  const sum = (key) => data.seconds.reduce((n, s) => n + s[key], 0);
  summary.textContent = `Last 5 minutes: ${sum('added')} added (blue), ${sum('fired')} fired ` +
    `(green), ${sum('failed')} failed attempts (red).`;
}

// The due horizon: how many tasks fall due per minute (next hour) or per hour (next 7 days).
// `data` null: the server has no horizon route.
export function renderHorizon(chart, summary, data, bucket) {
  chart.toggleAttribute('hidden', data === null);
  if (data === null) {
    chart.replaceChildren();
    summary.textContent = 'The due horizon is not available on this server.';
    return;
  }
  barChart(chart, data.buckets, bucket);
  const total = data.buckets.reduce((n, b) => n + b.count, 0);
  const span = bucket === 'minute' ? 'the next hour' : 'the next 7 days';
  const approximate = data.buckets.some((b) => b.exact === false) ? ' (estimated)' : '';
  const overdue = typeof data.overdue === 'object' && data.overdue?.count > 0
    ? ` ${data.overdue.count} due already and not yet handed out.` : '';
  summary.textContent = (total === 0
    ? `Nothing falls due in ${span}.`
    : `${total} tasks fall due in ${span}${approximate} (per ${bucket}).`) + overdue;
}

// A GET whose route may be missing on an older server: null then.
export async function optional(path) {
  try {
    return await api('GET', path);
  } catch (e) {
    if (isMissingRoute(e)) return null;
    throw e;
  }
}

export function bucketButtons(containerId, key, ctx) {
  for (const b of $(containerId).querySelectorAll('button[data-bucket]')) {
    b.addEventListener('click', () => {
      horizonBucket[key] = b.dataset.bucket;
      ctx.refresh();
    });
  }
}

export function markBucket(containerId, key) {
  for (const b of $(containerId).querySelectorAll('button[data-bucket]')) {
    b.classList.toggle('selected', b.dataset.bucket === horizonBucket[key]);
  }
}

// --- Dead tasks -------------------------------------------------------------------------

export function deadRow(task, ctx, withTopic) {
  const row = document.createElement('tr');
  row.dataset.id = task.id;
  if (withTopic) cell(row, '').appendChild(topicLink(task.topic));
  cell(row, task.id);
  cell(row, `${task.attempts}/${task.max_attempts}`);
  cell(row, task.last_error ?? '', 'error-text');
  cell(row, formatTime(task.due_at_ms));
  row.appendChild(document.createElement('td')).appendChild(
    button('Redrive', 'redrive', (b) => act(b, async () => {
      await api('POST', `/v1/tasks/${task.id}/redrive`);
      return `task ${task.id} redriven: due again`;
    }, ctx.refresh, ctx.onError)));
  return row;
}

async function loadDead(topics, ctx) {
  const withDead = topics.filter((t) => (t.counts.dead ?? 0) > 0);
  const lists = await Promise.all(withDead.map((t) =>
    api('GET', `${topicPath(t.topic)}/dead?limit=${DEAD_PER_TOPIC}`)));
  const body = $('dead').tBodies[0];
  body.replaceChildren();
  for (const list of lists) {
    for (const task of list.tasks) body.appendChild(deadRow(task, ctx, true));
  }
  $('dead-empty').hidden = body.rows.length > 0;
}

// --- Schedules --------------------------------------------------------------------------

export function renderSchedules(tableId, schedules, ctx) {
  const body = $(tableId).tBodies[0];
  body.replaceChildren();
  for (const s of schedules) {
    const row = document.createElement('tr');
    row.dataset.name = s.name;
    cell(row, s.name);
    cell(row, '').appendChild(topicLink(s.topic));
    cell(row, s.cron !== undefined ? s.cron : `every ${formatMs(s.every_ms)}`);
    cell(row, s.time_zone);
    cell(row, s.next_ms.length > 0 ? formatTime(s.next_ms[0]) : '–');
    cell(row, s.last_occurrence_ms ? formatTime(s.last_occurrence_ms) : '–');
    cell(row, s.paused ? 'paused' : 'active');
    const verb = s.paused ? 'resume' : 'pause';
    row.appendChild(document.createElement('td')).appendChild(
      button(s.paused ? 'Resume' : 'Pause', verb, (b) => act(b, async () => {
        await api('POST', `/v1/schedules/${encodeURIComponent(s.name)}/${verb}`);
        return `schedule ${s.name} ${s.paused ? 'resumed' : 'paused'}`;
      }, ctx.refresh, ctx.onError)));
    body.appendChild(row);
  }
}

// --- Task lookup ------------------------------------------------------------------------

export async function lookup(event, onError) {
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
    if (e instanceof AuthError) return onError(e);
    result.textContent = e.message;
  }
}

// --- The view ---------------------------------------------------------------------------

export async function refreshOverview(ctx) {
  const bucket = horizonBucket.overview;
  const [topics, lateness, rates, horizon, sinks, schedules] = await Promise.all([
    api('GET', '/v1/topics'),
    api('GET', `/v1/stats/lateness?seconds=${SECONDS}`),
    optional(`/v1/stats/rates?seconds=${SECONDS}`),
    optional(`/v1/horizon?bucket=${bucket}`),
    api('GET', '/v1/stats/sinks'),
    api('GET', `/v1/schedules?limit=${SCHEDULES_SHOWN}`),
  ]);
  renderTopics(topics.topics, ctx);
  renderLateness(lateness);
  renderRates(rates);
  renderHorizon($('horizon-chart'), $('horizon-summary'), horizon, bucket);
  markBucket('horizon-panel', 'overview');
  renderSinks(sinks.sinks);
  renderSchedules('schedules', schedules.schedules, ctx);
  $('schedules-panel').hidden = schedules.schedules.length === 0;
  await loadDead(topics.topics, ctx);
  noteRefreshed();
}
