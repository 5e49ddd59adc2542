// The seven must-show scenarios, schedules (8), batch ack/nack (9) and trace context with topic
// pause/resume (10) against the real delayq binary
// (DELAYQ_BINARY), each on its own server on an ephemeral loopback port.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import {
  BadSignatureError, Client, ConflictError, Consumer, InvalidError, NotFoundError, OverloadedError,
  StaleTimestampError, UnauthorizedError, verifyWebhook, webhookHandler,
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

test("2. a consumer with concurrency 8 processes 1,000 due tasks, each exactly once; acks in batches", async (t) => {
  const paths = new Map();
  const c = new Client(await startServer(t), {
    fetch: (url, init) => {
      const path = new URL(url).pathname;
      paths.set(path, (paths.get(path) ?? 0) + 1);
      return fetch(url, init);
    },
  });
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
  const single = [...paths].filter(([path]) => path.endsWith("/ack")).reduce((n, [, k]) => n + k, 0);
  const batches = paths.get("/v1/tasks:ack") ?? 0;
  assert.ok(single === 0 && batches >= 1 && batches <= 500, `${single} single acks, ${batches} batch acks`);
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
  // A schedule's put is repeated (the same put again changes nothing); a trigger is not
  // (each one makes a task).
  let sent = c.attemptsSent;
  await assert.rejects(c.putSchedule("s", { topic: "t", every_ms: 60_000, task: { payload: "x" } }),
    OverloadedError);
  assert.equal(c.attemptsSent - sent, 4);
  sent = c.attemptsSent;
  await assert.rejects(c.triggerSchedule("s"), OverloadedError);
  assert.equal(c.attemptsSent - sent, 1);
});

test("7. the seed API add + pull round trip", async (t) => {
  const c = new Client(await startServer(t));
  const content = '{"uid":"111111"}';
  const id = await c.seedAdd("order_timeout", Math.floor(Date.now() / 1000), content);
  assert.match(id, /^[1-9]\d*$/);
  assert.deepEqual(await c.seedPull("order_timeout"), { task_id: id, content });
  assert.deepEqual(await c.seedPull("order_timeout"), { task_id: "0", content: "" });
});

function assertSpacing(nextMs, everyMs) {
  assert.equal(nextMs.length, 5, `next_ms ${nextMs}`);
  for (let i = 1; i < nextMs.length; i++) assert.equal(nextMs[i] - nextMs[i - 1], everyMs, `next_ms ${nextMs}`);
}

test("8. schedules: put, get, list by topic, an occurrence's task, pause, resume, trigger, replace, delete, invalid", async (t) => {
  const c = new Client(await startServer(t));
  const spec = { topic: "ticks", every_ms: 1000, task: { payload: { beat: true }, max_attempts: 3 } };
  const { schedule: put, created } = await c.putSchedule("heartbeat", spec);
  assert.equal(created, true);
  assert.equal(put.every_ms, 1000);
  assert.equal(put.task.kind, "pull");
  assert.equal(put.task.max_attempts, 3);
  assertSpacing(put.next_ms, 1000);
  const got = await c.getSchedule("heartbeat");
  assert.equal(got.topic, "ticks");
  assert.equal(got.paused, false);
  assert.equal(got.last_task_id, null);
  assertSpacing(got.next_ms, 1000);
  // Two more: one in the topic (a six-field cron, paused), one elsewhere.
  const nightly = await c.putSchedule("nightly", {
    topic: "ticks", cron: "30 0 3 * * *", time_zone: "Europe/London", paused: true, task: { payload: "nightly" },
  });
  assert.equal(nightly.created, true);
  await c.putSchedule("other", { topic: "elsewhere", cron: "0 0 1 1 *", task: { payload: 1 } });
  const paged = [];
  let cursor;
  for (let pages = 0; ; pages++) {
    assert.ok(pages < 4, `paging did not end: ${paged}`);
    const page = await c.listSchedules({ topic: "ticks", cursor, limit: 1 });
    paged.push(...page.schedules.map((s) => s.name));
    cursor = page.next_cursor;
    if (cursor === null) break;
  }
  assert.deepEqual(paged, ["heartbeat", "nightly"]);
  const walked = [];
  for await (const s of c.allSchedules({ topic: "ticks", pageSize: 1 })) walked.push(s.name);
  assert.deepEqual(walked, ["heartbeat", "nightly"]);
  // The first occurrence, due about a second after the put.
  const tasks = await c.pull("ticks", { max: 1, wait_ms: 5000, lease_ms: 10_000 });
  assert.equal(tasks.length, 1);
  assert.deepEqual(tasks[0].payload, { beat: true });
  const done = await c.ack(tasks[0].id, tasks[0].lease);
  assert.equal(done.schedule, "heartbeat");
  assert.equal(done.occurrence_ms, put.next_ms[0]);
  assert.ok(done.due_at_ms >= done.occurrence_ms);
  assert.equal(done.max_attempts, 3);
  const paused = await c.pauseSchedule("heartbeat");
  assert.equal(paused.paused, true);
  assert.deepEqual(paused.next_ms, []);
  const afterPause = await c.getSchedule("heartbeat");
  assert.equal(afterPause.paused, true);
  assert.deepEqual(afterPause.next_ms, []);
  const resumed = await c.resumeSchedule("heartbeat");
  assert.equal(resumed.paused, false);
  assertSpacing(resumed.next_ms, 1000);
  const before = Date.now();
  const triggered = await c.triggerSchedule("heartbeat");
  assert.equal(triggered.schedule, "heartbeat");
  assert.ok(triggered.occurrence_ms >= before - 1000, `occurrence_ms ${triggered.occurrence_ms}`);
  const now = await c.get(triggered.id);
  assert.equal(now.schedule, "heartbeat");
  assert.equal(now.occurrence_ms, triggered.occurrence_ms);
  assert.equal(now.state, "due");
  const replaced = await c.putSchedule("heartbeat", { ...spec, every_ms: 2000 });
  assert.equal(replaced.created, false);
  assert.equal(replaced.schedule.every_ms, 2000);
  assertSpacing(replaced.schedule.next_ms, 2000);
  assert.equal((await c.deleteSchedule("heartbeat")).name, "heartbeat");
  await assert.rejects(c.getSchedule("heartbeat"), NotFoundError);
  const error = await c.putSchedule("bad", { topic: "ticks", cron: "0 25 * * *", task: { payload: "x" } })
    .catch((e) => e);
  assert.ok(error instanceof InvalidError, String(error));
  assert.equal(error.status, 400);
  assert.match(error.serverMessage, /cron: hour field "25"/);
});

test("9. batch ack and nack: each item on its own, in request order; a refused request is the typed error", async (t) => {
  const c = new Client(await startServer(t));
  await addDue(c, "batch", 3);
  const tasks = [];
  for (let tries = 0; tasks.length < 3; tries++) { // a pull answers with the tasks ready then
    assert.ok(tries < 5, `pulled ${tasks.length} of 3`);
    tasks.push(...(await c.pull("batch", { max: 3 - tasks.length, wait_ms: 5000, lease_ms: 10_000 })));
  }
  const [a, b, d] = tasks;
  const acked = await c.ackBatch([{ id: a.id, lease: a.lease }, { id: b.id, lease: d.lease }]);
  assert.deepEqual(acked.map((r) => r.id), [a.id, b.id]);
  assert.equal(acked[0].state, "done");
  assert.ok(acked[1].error instanceof ConflictError, String(acked[1].error));
  assert.equal(acked[1].error.status, 409);
  assert.match(acked[1].error.serverMessage, /lease/);
  const nacked = await c.nackBatch([{ id: b.id, lease: b.lease }, { id: d.id, lease: d.lease, delay_ms: 3_600_000 }]);
  assert.deepEqual(nacked.map((r) => r.error), [undefined, undefined]);
  assert.ok(["due", "scheduled"].includes(nacked[0].state), nacked[0].state);
  assert.equal(nacked[1].state, "scheduled");
  const task = await c.get(d.id);
  assert.equal(task.state, "scheduled");
  assert.ok(task.due_at_ms > Date.now() + 3_000_000);
  const refused = await c.ackBatch([]).catch((e) => e);
  assert.ok(refused instanceof InvalidError, String(refused));
  assert.match(refused.serverMessage, /acks must hold 1 to 1000 items/);
});

test("10. trace context on add, batch, pull and GET; topic pause and resume", async (t) => {
  const c = new Client(await startServer(t));
  const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const other = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";
  const trace = { traceparent: parent, tracestate: "congo=t61rcWkgMzE" };
  const added = await c.add("traced", { payload: "p" }, { trace });
  const task = await c.get(added.id);
  assert.equal(task.traceparent, parent);
  assert.equal(task.tracestate, "congo=t61rcWkgMzE");
  const ids = await c.addBatch("batch", [{ payload: "a" }, { payload: "b", traceparent: other }], { trace });
  assert.equal((await c.get(ids[0])).traceparent, parent);
  const own = await c.get(ids[1]);
  assert.equal(own.traceparent, other);
  assert.equal(own.tracestate, undefined);
  const leased = await c.pull("traced", { max: 1, wait_ms: 5000 });
  assert.deepEqual(leased.map((l) => [l.traceparent, l.tracestate]), [[parent, "congo=t61rcWkgMzE"]]);
  const refused = await c.add("traced", { payload: "p" }, { trace: { traceparent: "00-zz" } }).catch((e) => e);
  assert.ok(refused instanceof InvalidError, String(refused));
  assert.match(refused.serverMessage, /traceparent header is invalid/);
  assert.equal((await c.pauseTopic("traced", { trace })).paused, true);
  assert.equal((await c.resumeTopic("traced", { trace })).paused, false);
});
