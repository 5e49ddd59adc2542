// A topic's page (#/topics/NAME): its counts, pause state and limits, its due horizon, its
// scheduled tasks by due time (paged; cancel, reschedule, run now), its dead tasks (redrive
// one, or redrive or delete them all) and its schedules.

import {
  bucketButtons, deadRow, horizonBucket, markBucket, optional, pauseButton, renderHorizon,
  renderSchedules,
} from './overview.js';
import {
  $, act, api, ApiError, button, cell, formatTime, isMissingRoute, parseDuration, payloadText,
  noteRefreshed, topicPath,
} from './common.js';
import { formatMs } from './charts.js';

const PAGE = 20;
const DEAD_PAGE = 50;
// A bulk call handles at most this many (the server's bound); "all" is a loop of calls.
const BULK_LIMIT = 1000;
const STATES = ['scheduled', 'due', 'leased', 'delivering', 'done', 'dead', 'cancelled'];

// Paging state of the page shown: the cursors of the pages before the current one.
const view = { topic: null, cursors: [], cursor: '', deadAfters: [], deadAfter: '' };

export function showTopic(topic) {
  if (view.topic !== topic) {
    Object.assign(view, { topic, cursors: [], cursor: '', deadAfters: [], deadAfter: '' });
  }
  $('topic-name').textContent = topic;
}

export function currentTopic() { return view.topic; }

// --- Counts, pause, limits --------------------------------------------------------------

function renderSummary(t, ctx) {
  const body = $('topic-counts').tBodies[0];
  body.replaceChildren();
  const row = document.createElement('tr');
  for (const state of STATES) {
    const n = t === null ? 0 : (state === 'due' ? t.due : (t.counts[state] ?? 0));
    const td = cell(row, String(n), state === 'dead' && n > 0 ? 'dead-count' : '');
    td.dataset.state = state;
  }
  cell(row, t !== null && t.due > 0 ? formatMs(t.oldest_due_lateness_ms) : '–');
  body.appendChild(row);

  const paused = t !== null && t.paused;
  const state = $('topic-state');
  state.textContent = paused ? `paused since ${formatTime(t.paused_at_ms)}` : 'delivering';
  state.dataset.paused = String(paused);
  state.classList.toggle('dead-count', paused);
  $('topic-pause').replaceChildren(pauseButton({ topic: view.topic, paused }, ctx));

  const limits = t?.limits;
  $('topic-limits').textContent = limits === undefined
    ? 'Limits: not reported by this server.'
    : `Callbacks: at most ${limits.max_in_flight} in flight, ` +
      (limits.rate_limit > 0 ? `${limits.rate_limit} started per second.` : 'no rate limit.');
  $('topic-empty').hidden = t !== null;
}

// --- Scheduled tasks --------------------------------------------------------------------

function taskAction(label, className, task, ctx, call) {
  return button(label, className, (b) => act(b, call, ctx.refresh, ctx.onError));
}

function reschedulePrompt(task) {
  const text = window.prompt(
    `Reschedule task ${task.id}: due in (30s, 10m, 2h, 3d) or at (RFC 3339 time)`, '10m');
  if (text === null || text.trim() === '') return null;
  const ms = parseDuration(text);
  if (ms !== null) return { delay_ms: ms };
  return { at: text.trim() };
}

function scheduledRow(task, ctx) {
  const row = document.createElement('tr');
  row.dataset.id = task.id;
  cell(row, task.id);
  cell(row, formatTime(task.due_at_ms));
  cell(row, task.state);
  cell(row, task.kind);
  cell(row, `${task.attempts}/${task.max_attempts}`);
  cell(row, payloadText(task.payload), 'payload');
  const actions = row.appendChild(document.createElement('td'));
  actions.className = 'actions';
  const path = `/v1/tasks/${task.id}`;
  actions.append(
    taskAction('Run now', 'run-now', task, ctx, async () => {
      await api('POST', `${path}/reschedule`, { now: true });
      return `task ${task.id} due now`;
    }),
    taskAction('Reschedule', 'reschedule', task, ctx, async () => {
      const body = reschedulePrompt(task);
      if (body === null) return null;
      const moved = await api('POST', `${path}/reschedule`, body);
      return `task ${task.id} due ${formatTime(moved.due_at_ms)}`;
    }),
    taskAction('Cancel', 'cancel', task, ctx, async () => {
      await api('DELETE', path);
      return `task ${task.id} cancelled`;
    }));
  return row;
}

async function loadScheduled(ctx) {
  const query = new URLSearchParams({ state: 'scheduled', limit: String(PAGE) });
  if (view.cursor) query.set('cursor', view.cursor);
  const list = await optional(`${topicPath(view.topic)}/tasks?${query}`);
  const body = $('scheduled').tBodies[0];
  body.replaceChildren();
  $('scheduled-missing').hidden = list !== null;
  if (list === null) {
    $('scheduled-empty').hidden = true;
    $('scheduled-next').disabled = true;
    $('scheduled-prev').disabled = true;
    return;
  }
  for (const task of list.tasks) body.appendChild(scheduledRow(task, ctx));
  $('scheduled-empty').hidden = list.tasks.length > 0;
  $('scheduled-next').disabled = !list.next_cursor;
  $('scheduled-next').dataset.cursor = list.next_cursor || '';
  $('scheduled-prev').disabled = view.cursors.length === 0;
  $('scheduled-page').textContent = `page ${view.cursors.length + 1}`;
}

// --- Dead tasks -------------------------------------------------------------------------

async function loadDead(ctx) {
  const query = new URLSearchParams({ limit: String(DEAD_PAGE) });
  if (view.deadAfter) query.set('after', view.deadAfter);
  const list = await api('GET', `${topicPath(view.topic)}/dead?${query}`);
  const body = $('topic-dead').tBodies[0];
  body.replaceChildren();
  for (const task of list.tasks) body.appendChild(deadRow(task, ctx, false));
  $('topic-dead-empty').hidden = list.tasks.length > 0;
  $('dead-next').disabled = !list.next_after;
  $('dead-next').dataset.after = list.next_after || '';
  $('dead-prev').disabled = view.deadAfters.length === 0;
  const any = list.tasks.length > 0 || view.deadAfters.length > 0;
  $('dead-redrive-all').disabled = !any;
  $('dead-delete-all').disabled = !any;
}

// Every dead task of the topic, a bounded call at a time, while the server says more remain.
async function bulkDead(op) {
  const counted = op === 'redrive' ? 'redriven' : 'deleted';
  let total = 0;
  for (;;) {
    const answer = await api('POST', `${topicPath(view.topic)}/dead:${op}`, { limit: BULK_LIMIT });
    total += answer[counted];
    if (!answer.more || answer[counted] === 0) break;
  }
  view.deadAfters = [];
  view.deadAfter = '';
  return `${total} dead task${total === 1 ? '' : 's'} of ${view.topic} ${counted}`;
}

// --- The view ---------------------------------------------------------------------------

export function wireTopicPage(ctx) {
  $('scheduled-next').addEventListener('click', () => {
    view.cursors.push(view.cursor);
    view.cursor = $('scheduled-next').dataset.cursor;
    ctx.refresh();
  });
  $('scheduled-prev').addEventListener('click', () => {
    view.cursor = view.cursors.pop() ?? '';
    ctx.refresh();
  });
  $('dead-next').addEventListener('click', () => {
    view.deadAfters.push(view.deadAfter);
    view.deadAfter = $('dead-next').dataset.after;
    ctx.refresh();
  });
  $('dead-prev').addEventListener('click', () => {
    view.deadAfter = view.deadAfters.pop() ?? '';
    ctx.refresh();
  });
  $('dead-redrive-all').addEventListener('click', (e) =>
    act(e.currentTarget, () => bulkDead('redrive'), ctx.refresh, ctx.onError));
  $('dead-delete-all').addEventListener('click', (e) => {
    const b = e.currentTarget;
    if (!window.confirm(`Delete every dead task of ${view.topic} for good?`)) return;
    act(b, () => bulkDead('delete'), ctx.refresh, ctx.onError);
  });
  bucketButtons('topic-horizon-panel', 'topic', ctx);
}

export async function refreshTopic(ctx) {
  const path = topicPath(view.topic);
  const bucket = horizonBucket.topic;
  const [topic, horizon, schedules] = await Promise.all([
    api('GET', path).catch((e) => {
      // A topic that holds no task (and is not paused) is not listed: show it empty.
      if (e instanceof ApiError && e.status === 404 && !isMissingRoute(e)) return null;
      throw e;
    }),
    optional(`${path}/horizon?bucket=${bucket}`),
    api('GET', `/v1/schedules?topic=${encodeURIComponent(view.topic)}&limit=200`),
  ]);
  renderSummary(topic, ctx);
  renderHorizon($('topic-horizon-chart'), $('topic-horizon-summary'), horizon, bucket);
  markBucket('topic-horizon-panel', 'topic');
  renderSchedules('topic-schedules', schedules.schedules, ctx);
  $('topic-schedules-panel').hidden = schedules.schedules.length === 0;
  await Promise.all([loadScheduled(ctx), loadDead(ctx)]);
  noteRefreshed();
}
