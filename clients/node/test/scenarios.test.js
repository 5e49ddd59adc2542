// The seven must-show scenarios against the real delayq binary (DELAYQ_BINARY), each on its
// own server on an ephemeral loopback port.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import {
  BadSignatureError, Client, Consumer, NotFoundError, OverloadedError, StaleTimestampError,
  UnauthorizedError, verifyWebhook, webhookHandler,
} from "../src/index.js";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// `promise`, or a failure saying `message()` after `ms`. The timer is cleared either way: a
// pending one would keep the test process alive until it fired, long after the test.
async function within(ms, promise, message) {
  let timer;
  const expired = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new assert.AssertionError({ message: message() })), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

async function startServer(t, { env = {}, args = [] } = {}) {
  const binary = process.env.DELAYQ_BINARY;
  if (!binary) throw new Error("DELAYQ_BINARY is not set (the path of a built delayq)");
  const dir = mkdtempSync(join(tmpdir(), "delayq-node-"));
  const child = spawn(binary, ["serve", "--listen", "127.0.0.1:0", "--data-dir", dir, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "ignore"],
  });
  t.after(() => { child.kill("SIGKILL"); rmSync(dir, { recursive: true, force: true }); });
  const url = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error("delayq did not start")), 20_000);
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
  });
  return url;
}

async function waitState(c, id, state, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const task = await c.get(id);
    if (task.state === state) return task;
    assert.ok(Date.now() < deadline, `task ${id} is ${task.state}, not ${state}`);
    await sleep(20);
  }
}

async function addDue(c, topic, n, max_attempts) {
  const ids = [];
  while (ids.length < n) {
    const batch = [];
    for (let i = ids.length; i < n && batch.length < 1000; i++) batch.push({ payload: `t${i}`, max_attempts });
    ids.push(...(await c.addBatch(topic, batch)));
  }
  return ids;
}

test("1. add / get / cancel; a batch of 1,000; the same dedup key twice returns the same id", async (t) => {
  const c = new Client(await startServer(t));
  const added = await c.add("orders", { payload: { order: 42 }, delay_ms: 3_600_000 });
  const task = await c.get(added.id);
  assert.equal(task.state, "scheduled");
  assert.deepEqual(task.payload, { order: 42 });
  assert.equal((await c.cancel(added.id)).state, "cancelled");
  await assert.rejects(c.get("999999"), NotFoundError);
  const batch = Array.from({ length: 1000 }, (_, i) => ({ payload: `item ${i}`, delay_ms: 3_600_000 }));
  const ids = await c.addBatch("bulk", batch);
  assert.equal(new Set(ids).size, 1000);
  assert.equal((await c.topic("bulk")).counts.scheduled, 1000);
  const first = await c.add("orders", { payload: "close 43", dedup_key: "order-43", delay_ms: 3_600_000 });
  const second = await c.add("orders", { payload: "again", dedup_key: "order-43" });
  assert.equal(second.id, first.id);
  assert.equal(second.duplicate, true);
});

test("2. a consumer with concurrency 8 processes 1,000 due tasks, each exactly once", async (t) => {
  const c = new Client(await startServer(t));
  const ids = await addDue(c, "work", 1000);
  const seen = new Map();
  let inFlight = 0;
  let peak = 0;
  let allSeen;
  const done = new Promise((r) => { allSeen = r; });
  const consumer = new Consumer(c, "work", async (task) => {
    peak = Math.max(peak, ++inFlight);
    await sleep(2); // some work, so that handlers overlap
    inFlight--;
    seen.set(task.id, (seen.get(task.id) ?? 0) + 1);
    if (seen.size === ids.length) allSeen();
  }, { concurrency: 8, leaseMs: 20_000, waitMs: 1000 });
  const running = consumer.run();
  await within(45_000, done, () => `${seen.size} of 1000 processed`);
  consumer.stop();
  await running;
  assert.equal((await c.topic("work")).counts.done, 1000);
  for (const id of ids) assert.equal(seen.get(id), 1, `task ${id}`);
  assert.ok(peak >= 2 && peak <= 8, `peak concurrency ${peak}`);
});

test("3. a handler that takes 3x its lease keeps its task (auto-extend)", async (t) => {
  const c = new Client(await startServer(t));
  const added = await c.add("slow", { payload: "long job" });
  const leaseMs = 500;
  const calls = [];
  const consumer = new Consumer(c, "slow", async (task, signal) => {
    calls.push(task.attempt);
    await sleep(3 * leaseMs);
    assert.equal(signal.aborted, false);
  }, { concurrency: 2, leaseMs, waitMs: 300 });
  const running = consumer.run();
  const task = await waitState(c, added.id, "done");
  consumer.stop();
  await running;
  assert.equal(task.attempts, 1);
  assert.deepEqual(calls, [1]);
});

test("4. a failing handler -> nack -> attempt 2 -> success; after max_attempts dead", async (t) => {
  const c = new Client(await startServer(t));
  const flaky = await c.add("retry", { payload: "flaky", max_attempts: 5 });
  const doomed = await c.add("retry", { payload: "doomed", max_attempts: 3 });
  const attempts = new Map();
  const consumer = new Consumer(c, "retry", async (task) => {
    attempts.set(task.id, [...(attempts.get(task.id) ?? []), task.attempt]);
    if (task.id === doomed.id || task.attempt === 1) throw new Error("boom");
  }, { concurrency: 2, waitMs: 300, retryDelayMs: () => 100 });
  const running = consumer.run();
  const ok = await waitState(c, flaky.id, "done");
  const dead = await waitState(c, doomed.id, "dead");
  consumer.stop();
  await running;
  assert.deepEqual(attempts.get(flaky.id), [1, 2]);
  assert.equal(ok.attempts, 2);
  assert.deepEqual(attempts.get(doomed.id), [1, 2, 3]);
  assert.equal(dead.attempts, 3);
  const list = await c.dead("retry");
  assert.deepEqual(list.tasks.map((x) => x.id), [doomed.id]);
});

test("5. the webhook helper accepts a real signed callback, rejects a changed body and a stale timestamp", async (t) => {
  const key = "signing-key-for-tests";
  let resolveHook;
  const arrived = new Promise((r) => { resolveHook = r; });
  const handler = webhookHandler(key, (hook, req) => { resolveHook({ hook, headers: req.headers }); return 204; },
    { toleranceMs: 60_000 });
  const receiver = createServer(handler);
  await new Promise((r) => receiver.listen(0, "127.0.0.1", r));
  t.after(() => receiver.close());
  const c = new Client(await startServer(t, { env: { DELAYQ_SIGNING_KEY: key } }));
  const url = `http://127.0.0.1:${receiver.address().port}/hook`;
  const added = await c.add("hooks", { payload: { user: "7" }, callback: { url } });
  const { hook, headers } = await within(20_000, arrived, () => "no callback arrived");
  assert.equal(hook.taskId, added.id);
  assert.equal(hook.attempt, 1);
  assert.equal(hook.body.toString(), '{"user":"7"}');
  verifyWebhook(key, headers, hook.body, { toleranceMs: 60_000 });
  assert.throws(() => verifyWebhook(key, headers, '{"user":"8"}', { toleranceMs: 60_000 }), BadSignatureError);
  assert.throws(() => verifyWebhook(key, headers, hook.body, { toleranceMs: 60_000, nowMs: (hook.timestamp + 61) * 1000 }),
    StaleTimestampError);
  const signed = Object.fromEntries(Object.entries(headers).filter(([k]) => k.startsWith("x-delayq-")));
  const replay = await fetch(url, { method: "POST", headers: signed, body: '{"user":"8"}' });
  assert.equal(replay.status, 401);
  await waitState(c, added.id, "done");
});

function holdConnection(host, port) {
  return new Promise((resolve) => {
    const socket = connect(port, host, () => socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    socket.once("data", (data) => resolve({ socket, ok: data.toString().startsWith("HTTP/1.1 200") }));
    socket.once("error", () => resolve({ socket, ok: false }));
  });
}

test("6. 503 is retried and then surfaced as the typed error; a wrong token is unauthorized", async (t) => {
  const url = await startServer(t, {
    env: { DELAYQ_AUTH_TOKENS: "right-token-0123456789" }, args: ["--limits-max-connections", "2"],
  });
  const wrong = new Client(url, { token: "wrong-token-0123456789" });
  await assert.rejects(wrong.get("1"), UnauthorizedError);
  // fetch keeps its connection alive: let the server see it closed before taking the limit.
  const { hostname, port } = new URL(url);
  const held = [];
  t.after(() => held.forEach((h) => h.destroy()));
  const deadline = Date.now() + 10_000;
  while (held.length < 2) {
    assert.ok(Date.now() < deadline, "could not take the connection limit");
    const { socket, ok } = await holdConnection(hostname, Number(port));
    if (ok) held.push(socket);
    else { socket.destroy(); await sleep(20); }
  }
  const c = new Client(url, { token: "right-token-0123456789", retries: 3, backoffMs: 20 });
  const error = await c.get("1").catch((e) => e);
  assert.ok(error instanceof OverloadedError, String(error));
  assert.equal(error.status, 503);
  assert.equal(c.attemptsSent, 4); // 1 + 3 retries
  const before = c.attemptsSent;
  await assert.rejects(c.add("t", { payload: "x" }), OverloadedError); // no dedup key: not repeated
  assert.equal(c.attemptsSent - before, 1);
});

test("7. the seed API add + pull round trip", async (t) => {
  const c = new Client(await startServer(t));
  const content = '{"uid":"111111"}';
  const id = await c.seedAdd("order_timeout", Math.floor(Date.now() / 1000), content);
  assert.match(id, /^[1-9]\d*$/);
  assert.deepEqual(await c.seedPull("order_timeout"), { task_id: id, content });
  assert.deepEqual(await c.seedPull("order_timeout"), { task_id: "0", content: "" });
});
