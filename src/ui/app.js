// The delayq dashboard: plain JavaScript modules, no dependencies, served from the binary.
// Every number comes from the v1 API (docs/API.md); the page holds no data of its own.
// Views by the URL's hash: #/ the overview (overview.js), #/topics/NAME a topic (topic.js).
// User data (topics, payloads, errors) is only ever set as text, never as HTML.

import { $, auth, AuthError, setStatus, setToken } from './common.js';
import { bucketButtons, lookup, refreshOverview } from './overview.js';
import { refreshTopic, showTopic, wireTopicPage } from './topic.js';

const REFRESH_MS = 2000;

let timer = null;
let refreshing = null;  // the refresh in progress: a click's refresh waits for it, not overlaps

// The view the hash names: {topic: null} for the overview.
function route() {
  const match = /^#\/topics\/([^/]+)$/.exec(location.hash);
  if (!match) return { topic: null };
  try {
    return { topic: decodeURIComponent(match[1]) };
  } catch (e) {
    return { topic: null };
  }
}

function handleError(e) {
  if (e instanceof AuthError) {
    stop();
    $('main').hidden = true;
    $('token-form').hidden = false;
    const message = $('token-error');
    message.hidden = !auth.token;
    message.textContent = auth.token ? `The token was refused: ${e.message}` : '';
    $('token-input').focus();
    setStatus('token required', true);
    return;
  }
  setStatus(e.message, true);
}

const ctx = { refresh, onError: handleError };

async function refreshOnce() {
  const { topic } = route();
  $('overview-view').hidden = topic !== null;
  $('topic-view').hidden = topic === null;
  $('nav-overview').classList.toggle('current', topic === null);
  try {
    if (topic === null) {
      document.title = 'delayq';
      await refreshOverview(ctx);
    } else {
      document.title = `${topic} · delayq`;
      showTopic(topic);
      await refreshTopic(ctx);
    }
  } catch (e) {
    handleError(e);
  }
}

async function refresh() {
  if (refreshing) await refreshing;
  refreshing = refreshOnce();
  try {
    await refreshing;
  } finally {
    refreshing = null;
  }
}

function start() {
  $('token-form').hidden = true;
  $('main').hidden = false;
  $('forget-token').hidden = !auth.token;
  stop();
  refresh();
  timer = setInterval(() => { if (!refreshing) refresh(); }, REFRESH_MS);
}

function stop() {
  if (timer !== null) clearInterval(timer);
  timer = null;
}

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  setToken($('token-input').value.trim());
  $('token-input').value = '';
  start();
});

$('forget-token').addEventListener('click', () => {
  setToken('');
  location.reload();
});

$('lookup-form').addEventListener('submit', (event) => lookup(event, handleError));
window.addEventListener('hashchange', () => {
  window.scrollTo(0, 0);
  refresh();
});
bucketButtons('horizon-panel', 'overview', ctx);
wireTopicPage(ctx);

start();
