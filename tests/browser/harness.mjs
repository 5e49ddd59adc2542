// Shared by the dashboard test and `make screenshot`: starts the real delayq binary on
// 127.0.0.1:0 with a fresh data directory, talks to its API, and launches Debian's Chromium
// through playwright-core (no browser download: executablePath is /usr/bin/chromium).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.DELAYQ_CHROMIUM || '/usr/bin/chromium';

export async function startServer(binary, { env = {}, args = [] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'delayq-browser-'));
  const child = spawn(binary, ['serve', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data'),
    ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stderr.on('data', (chunk) => { log += chunk; });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`delayq did not start:\n${log}`)), 20000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = out.match(/listening on (http:\/\/[0-9.:]+)/);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`delayq exited with ${code}:\n${log}`));
    });
  });
  return {
    url,
    log: () => log,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.on('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// A small v1 API client; throws on a non-2xx answer.
export function client(url, token) {
  return async function call(method, path, body) {
    const headers = { 'Content-Type': 'application/json' };
    if (token) headers.Authorization = `Bearer ${token}`;
    const response = await fetch(url + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
}

// Tasks in every state the page shows: scheduled (orders), due (emails), leased (emails),
// dead (payments, made dead by a nack of its only attempt). Returns their ids.
export async function seedTasks(call) {
  const orders = [];
  for (let i = 0; i < 3; i++) {
    orders.push((await call('POST', '/v1/topics/orders/tasks',
      { payload: { order: 1000 + i, action: 'close-unpaid' }, delay_ms: 3600000 })).id);
  }
  const emails = [];
  for (let i = 0; i < 3; i++) {
    emails.push((await call('POST', '/v1/topics/emails/tasks',
      { payload: { user: 7, template: 'welcome' }, delay_ms: 0 })).id);
  }
  const pulled = await call('POST', '/v1/topics/emails/pull', { max: 1, lease_ms: 600000 });
  if (pulled.tasks.length !== 1) throw new Error('the due email task was not pulled');
  const deadId = (await call('POST', '/v1/topics/payments/tasks',
    { payload: { invoice: 42 }, delay_ms: 0, max_attempts: 1 })).id;
  const claim = await call('POST', '/v1/topics/payments/pull', { max: 1, wait_ms: 5000 });
  if (claim.tasks.length !== 1) throw new Error('the payment task was not pulled');
  await call('POST', `/v1/tasks/${deadId}/nack`, { lease: claim.tasks[0].lease });
  const dead = await call('GET', `/v1/tasks/${deadId}`);
  if (dead.state !== 'dead') throw new Error(`payment task is ${dead.state}, not dead`);
  return { orders, emails, deadId };
}

// `n` dead tasks of `topic`: added with one attempt, pulled, nacked. Returns their ids.
export async function makeDead(call, topic, n) {
  const tasks = Array.from({ length: n }, (_, i) => ({ payload: { refund: i }, max_attempts: 1 }));
  const { ids } = await call('POST', `/v1/topics/${topic}/tasks:batch`, { tasks });
  for (let left = n; left > 0;) {
    const got = await call('POST', `/v1/topics/${topic}/pull`, { max: n, wait_ms: 5000 });
    if (got.tasks.length === 0) throw new Error(`the ${topic} tasks were not pulled`);
    await call('POST', '/v1/tasks:nack', {
      nacks: got.tasks.map((t) => ({ id: t.id, lease: t.lease })),
    });
    left -= got.tasks.length;
  }
  return ids;
}

export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: run scripts/bootstrap.sh (Debian package chromium)`);
  }
  // The flags keep Chromium off the network (this machine's is closed) and work as root.
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
