// delayq client: every v1 call (schedules too), the seed API's add and pull, a Consumer and
// a webhook receiver helper. Node >= 18 (global fetch), ESM, no dependencies; types in index.d.ts.
import { createHmac, timingSafeEqual } from "node:crypto";

export const VERSION = "0.1.0";

// --- Errors ------------------------------------------------------------------------------

/** An error answer of the server: HTTP status, dm_error, the server's message. */
export class DelayqError extends Error {
  constructor(status, code, message, requestId) {
    super(`delayq: HTTP ${status} (dm_error ${code}): ${message}`);
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.serverMessage = message;
    this.requestId = requestId;
  }
}
export class InvalidError extends DelayqError {}
export class NotFoundError extends DelayqError {}
export class ConflictError extends DelayqError {}
export class UnauthorizedError extends DelayqError {}
export class OverloadedError extends DelayqError {}
export class ServerError extends DelayqError {}

function errorFor(status, code, message, requestId) {
  let Cls = InvalidError;
  if (status === 404) Cls = NotFoundError;
  else if (status === 409) Cls = ConflictError;
  else if (status === 401 || status === 403) Cls = UnauthorizedError;
  else if (status === 429 || status === 503) Cls = OverloadedError;
  else if (status >= 500) Cls = ServerError;
  return new Cls(status, code, message, requestId);
}

const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });

function taskBody(t) {
  const body = { payload: t.payload ?? null };
  for (const k of ["delay_ms", "at_ms", "at", "max_attempts", "dedup_key", "callback",
    "traceparent", "tracestate"]) {
    if (t[k] !== undefined && t[k] !== null) body[k] = t[k];
  }
  return body;
}

// The PUT body of a schedule: the spec's fields as given, unset ones left out.
function scheduleBody(spec) {
  const body = {};
  for (const [k, v] of Object.entries(spec)) if (v !== undefined && v !== null) body[k] = v;
  if (spec.task) body.task = { ...spec.task, payload: spec.task.payload ?? null };
  return body;
}

// --- Client ------------------------------------------------------------------------------

export class Client {
  /**
   * @param {string} baseUrl e.g. "http://127.0.0.1:7700"
   * @param {{token?: string, timeoutMs?: number, retries?: number, backoffMs?: number,
   *          maxBackoffMs?: number, fetch?: typeof fetch}} [options]
   */
  constructor(baseUrl, options = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? 40_000;
    this.retries = options.retries ?? 3;
    this.backoffMs = options.backoffMs ?? 100;
    this.maxBackoffMs = options.maxBackoffMs ?? 5_000;
    this.fetch = options.fetch ?? globalThis.fetch;
    this.attemptsSent = 0;
  }

  // `retry`: repeat a 429/503 (calls safe to repeat); `raw`: resolve to the answer's text;
  // `status`: resolve to {status, body}; `trace`: {traceparent, tracestate} sent as the W3C
  // trace context headers.
  async #call(method, path, body, { retry = true, raw = false, status = false, trace } = {}) {
    let delay = this.backoffMs;
    for (let attempt = 0; ; attempt++) {
      try {
        const answer = await this.#once(method, path, body, raw, trace);
        return status ? answer : answer.body;
      } catch (e) {
        if (!retry || attempt >= this.retries || !(e instanceof OverloadedError)) throw e;
      }
      await sleep(delay / 2 + Math.random() * (delay / 2));
      delay = Math.min(delay * 2, this.maxBackoffMs);
    }
  }

  async #once(method, path, body, raw, trace) {
    const headers = {};
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (trace?.traceparent) {
      headers.traceparent = trace.traceparent;
      if (trace.tracestate) headers.tracestate = trace.tracestate;
    }
    this.attemptsSent++;
    const response = await this.fetch(this.baseUrl + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await response.text();
    if (response.status >= 300) {
      let code = 0;
      let message = text;
      try {
        const parsed = JSON.parse(text);
        code = parsed.dm_error ?? 0;
        message = parsed.error_msg ?? text;
      } catch {}
      throw errorFor(response.status, code, message, response.headers.get("x-request-id"));
    }
    if (raw) return { status: response.status, body: text };
    return { status: response.status, body: text ? JSON.parse(text) : null };
  }

  static #task(id) { return `/v1/tasks/${encodeURIComponent(id)}`; }
  static #topic(topic) { return `/v1/topics/${encodeURIComponent(topic)}`; }

  /**
   * Adds one task; retried on 429/503 only with a dedup_key. `trace` ({traceparent,
   * tracestate}): the W3C trace context stored with the task and sent on with its callback,
   * sink message and pulled form (the task's own traceparent field replaces it).
   */
  add(topic, task, { trace } = {}) {
    return this.#call("POST", `${Client.#topic(topic)}/tasks`, taskBody(task),
      { retry: task.dedup_key != null, trace });
  }
  /** 1-1,000 tasks, all or nothing; resolves to the ids in order. `trace`: as for add. */
  async addBatch(topic, tasks, { trace } = {}) {
    const safe = tasks.every((t) => t.dedup_key != null);
    const out = await this.#call("POST", `${Client.#topic(topic)}/tasks:batch`,
      { tasks: tasks.map(taskBody) }, { retry: safe, trace });
    return out.ids;
  }
  get(id) { return this.#call("GET", Client.#task(id)); }
  cancel(id) { return this.#call("DELETE", Client.#task(id)); }
  /** `when`: {delay_ms} | {at_ms} | {at} | {now: true} (default). */
  reschedule(id, when = { now: true }) {
    return this.#call("POST", `${Client.#task(id)}/reschedule`, when);
  }
  redrive(id) { return this.#call("POST", `${Client.#task(id)}/redrive`); }
  /** Dead tasks: {tasks, next_after}. */
  dead(topic, { after, limit = 100 } = {}) {
    const q = new URLSearchParams({ limit: String(limit) });
    if (after) q.set("after", after);
    return this.#call("GET", `${Client.#topic(topic)}/dead?${q}`);
  }
  async topics() { return (await this.#call("GET", "/v1/topics")).topics; }
  topic(topic) { return this.#call("GET", Client.#topic(topic)); }
  /** Stops the topic's deliveries (adds go on); resolves to its topic object. */
  pauseTopic(topic, { trace } = {}) {
    return this.#call("POST", `${Client.#topic(topic)}/pause`, undefined, { trace });
  }
  /** Delivers the topic again, what fell due meanwhile oldest first. */
  resumeTopic(topic, { trace } = {}) {
    return this.#call("POST", `${Client.#topic(topic)}/resume`, undefined, { trace });
  }

  /** Due tasks under a lease: [{id, payload, attempt, due_at_ms, lease, lease_until_ms}]. */
  async pull(topic, { max = 1, wait_ms = 0, lease_ms } = {}) {
    const body = { max, wait_ms };
    if (lease_ms !== undefined) body.lease_ms = lease_ms;
    return (await this.#call("POST", `${Client.#topic(topic)}/pull`, body)).tasks;
  }
  ack(id, lease) { return this.#call("POST", `${Client.#task(id)}/ack`, { lease }); }
  nack(id, lease, delay_ms = 0) {
    return this.#call("POST", `${Client.#task(id)}/nack`, { lease, delay_ms });
  }
  /**
   * Completes 1-1,000 leased tasks ({id, lease} each, of any topics) with one request, each
   * applied or refused on its own: resolves to [{id, state} | {id, error}] in request order,
   * `error` the DelayqError of the item's code (ConflictError: the lease was lost). Rejects
   * when the request itself was refused (then nothing was applied).
   */
  async ackBatch(items) {
    const acks = items.map(({ id, lease }) => ({ id, lease }));
    return settledOf(await this.#call("POST", "/v1/tasks:ack", { acks }));
  }
  /** Gives back 1-1,000 leased tasks ({id, lease, delay_ms?} each), each on its own. */
  async nackBatch(items) {
    const nacks = items.map(({ id, lease, delay_ms = 0 }) => ({ id, lease, delay_ms }));
    return settledOf(await this.#call("POST", "/v1/tasks:nack", { nacks }));
  }
  /** Resolves to the new lease deadline (unix ms); ConflictError when stale or expired. */
  async extend(id, lease, lease_ms) {
    return (await this.#call("POST", `${Client.#task(id)}/extend`, { lease, lease_ms })).lease_until_ms;
  }

  // --- Schedules: put, get, list, delete, pause and resume are retried on 429/503 (the same
  // put or state again changes nothing); trigger is not (each one makes a task).

  static #schedule(name) {
    if (!name) throw new TypeError("schedule name must not be empty: give 1-128 characters of [A-Za-z0-9._:-]");
    return `/v1/schedules/${encodeURIComponent(name)}`;
  }
  /** Creates or replaces: {schedule, created} (created: HTTP 201; false: 200, replaced). */
  async putSchedule(name, spec) {
    const { status, body } = await this.#call("PUT", Client.#schedule(name), scheduleBody(spec), { status: true });
    return { schedule: body, created: status === 201 };
  }
  // async: an empty name rejects like any other refusal rather than throwing at the call.
  async getSchedule(name) { return this.#call("GET", Client.#schedule(name)); }
  async deleteSchedule(name) { return this.#call("DELETE", Client.#schedule(name)); }
  async pauseSchedule(name) { return this.#call("POST", `${Client.#schedule(name)}/pause`); }
  async resumeSchedule(name) { return this.#call("POST", `${Client.#schedule(name)}/resume`); }
  /** One task now: {id, schedule, occurrence_ms}. Never retried (a repeat could make two). */
  async triggerSchedule(name) {
    return this.#call("POST", `${Client.#schedule(name)}/trigger`, undefined, { retry: false });
  }
  /** One page in name order: {schedules, next_cursor} (next_cursor null at the end). */
  listSchedules({ topic, cursor, limit } = {}) {
    const q = new URLSearchParams();
    if (topic) q.set("topic", topic);
    if (cursor) q.set("cursor", cursor);
    if (limit) q.set("limit", String(limit));
    const query = String(q);
    return this.#call("GET", query ? `/v1/schedules?${query}` : "/v1/schedules");
  }
  /** Every schedule of `topic` (without: every topic's), page after page: for await ... of. */
  async *allSchedules({ topic, pageSize } = {}) {
    let cursor;
    do {
      const page = await this.listSchedules({ topic, cursor, limit: pageSize });
      yield* page.schedules;
      cursor = page.next_cursor;
    } while (cursor);
  }

  /** The original design's add (unix seconds); never retried. Resolves to the task id as
   * a decimal string (the seed API sends a JSON number beyond 2^53, which a Number rounds). */
  async seedAdd(topic, timing_moment, content) {
    const text = await this.#call("POST", "/delay/task/add", { topic, timing_moment, content },
      { retry: false, raw: true });
    return seedTaskId(text);
  }
  /** The oldest due task, marked done: {task_id, content}; task_id "0" when none. */
  async seedPull(topic) {
    const text = await this.#call("POST", "/delay/task/pull", { topic }, { retry: false, raw: true });
    return { task_id: seedTaskId(text), content: JSON.parse(text).content };
  }
}

function settledOf(answer) {
  return answer.results.map((r) =>
    r.error ? { id: r.id, error: errorFor(r.error.code, 0, r.error.message, null) } : r);
}

function seedTaskId(text) {
  const m = text.match(/"task_id"\s*:\s*(\d+)/);
  return m ? m[1] : "0";
}

// --- Consumer ----------------------------------------------------------------------------

/**
 * Long-polls `topic` and runs `handler(task, signal)` with at most `concurrency` at once:
 * resolves → ack, rejects → nack after retryDelayMs(attempt) (dead after max_attempts).
 * `signal` aborts when the lease is lost or the stop's grace ends. The lease is extended
 * each time `extendAfter` of it has passed while the handler runs. Acks go together, one
 * POST /v1/tasks:ack per `ackBatch` waiting or `ackFlushMs` after the first; nacks one by one.
 */
export class Consumer {
  constructor(client, topic, handler, options = {}) {
    this.client = client;
    this.topic = topic;
    this.handler = handler;
    this.concurrency = options.concurrency ?? 1;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.waitMs = options.waitMs ?? 5_000;
    const f = options.extendAfter ?? 0.5;
    this.extendAfter = f > 0 && f < 1 ? f : 0.5;
    this.retryDelayMs = options.retryDelayMs ?? ((attempt) => 1000 * attempt);
    this.graceMs = options.graceMs ?? 30_000;
    this.onError = options.onError ?? (() => {});
    const batch = options.ackBatch ?? 100;
    this.ackBatch = batch > 0 && batch <= 1000 ? batch : 100;
    // At most a quarter of the lease: an ack arrives well before its lease, no longer
    // extended, runs out.
    this.ackFlushMs = Math.min(options.ackFlushMs > 0 ? options.ackFlushMs : 50, this.leaseMs / 4);
    this.pendingAcks = [];
    this.ackTimer = null;
    this.sendingAcks = new Set();
    this.stopping = new AbortController();
    this.giveUp = new AbortController();
    this.running = new Set();
    this.wake = null;
  }

  /** No further pulls; running handlers get graceMs to finish. */
  stop() {
    this.stopping.abort();
    this.wake?.();
  }

  /** SIGINT and SIGTERM call stop(). */
  stopOnSignals() {
    for (const sig of ["SIGINT", "SIGTERM"]) process.once(sig, () => this.stop());
  }

  /** Resolves after stop(), once running handlers finished or were given up. */
  async run() {
    while (!this.stopping.signal.aborted) {
      const free = this.concurrency - this.running.size;
      if (free <= 0) {
        await new Promise((resolve) => { this.wake = resolve; });
        continue;
      }
      let tasks;
      try {
        tasks = await this.client.pull(this.topic, { max: free, wait_ms: this.waitMs, lease_ms: this.leaseMs });
      } catch (e) {
        this.onError(e);
        await sleep(500, this.stopping.signal);
        continue;
      }
      for (const task of tasks) {
        if (this.stopping.signal.aborted) {
          await this.client.nack(task.id, task.lease, 0).catch(this.onError); // give back
          continue;
        }
        const run = this.#runOne(task).finally(() => {
          this.running.delete(run);
          this.wake?.();
        });
        this.running.add(run);
      }
    }
    const all = Promise.allSettled([...this.running]);
    const timer = setTimeout(() => this.giveUp.abort(), this.graceMs);
    await all;
    clearTimeout(timer);
    this.#flushAcks();
    await Promise.allSettled([...this.sendingAcks]);
  }

  // Acks wait to be sent together: once ackBatch are waiting, or ackFlushMs after the first.
  #ack(task) {
    this.pendingAcks.push({ id: task.id, lease: task.lease });
    if (this.pendingAcks.length >= this.ackBatch) this.#flushAcks();
    else this.ackTimer ??= setTimeout(() => this.#flushAcks(), this.ackFlushMs);
  }

  #flushAcks() {
    clearTimeout(this.ackTimer);
    this.ackTimer = null;
    if (this.pendingAcks.length === 0) return;
    const items = this.pendingAcks.splice(0, this.pendingAcks.length);
    const sending = this.client.ackBatch(items)
      .then((results) => { for (const r of results) if (r.error) this.onError(r.error); })
      .catch(this.onError) // the leases run out and the tasks come again
      .finally(() => this.sendingAcks.delete(sending));
    this.sendingAcks.add(sending);
  }

  async #runOne(task) {
    const lost = new AbortController();
    const onGiveUp = () => lost.abort();
    this.giveUp.signal.addEventListener("abort", onGiveUp, { once: true });
    let leaseLost = false;
    const timer = setInterval(async () => {
      try {
        await this.client.extend(task.id, task.lease, this.leaseMs);
      } catch (e) {
        if (e instanceof ConflictError) { leaseLost = true; lost.abort(); clearInterval(timer); }
        this.onError(e);
      }
    }, this.leaseMs * this.extendAfter);
    let error = null;
    try {
      await this.handler(task, lost.signal);
    } catch (e) {
      error = e ?? new Error("handler failed");
    } finally {
      clearInterval(timer);
      this.giveUp.signal.removeEventListener("abort", onGiveUp);
    }
    if (leaseLost) return; // someone else holds the task now
    try {
      if (this.giveUp.signal.aborted) await this.client.nack(task.id, task.lease, 0);
      else if (error === null) this.#ack(task);
      else await this.client.nack(task.id, task.lease, this.retryDelayMs(task.attempt, error));
    } catch (e) {
      this.onError(e);
    }
  }
}

// --- Webhooks ----------------------------------------------------------------------------

export class BadSignatureError extends Error {}
export class StaleTimestampError extends Error {}

function header(headers, name) {
  if (typeof headers.get === "function") return headers.get(name) ?? "";
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() === lower) return Array.isArray(v) ? v[0] : String(v);
  }
  return "";
}

/**
 * Checks X-Delayq-Signature (v1=hex HMAC-SHA256(key, timestamp + "." + body)) in constant
 * time and refuses a timestamp more than toleranceMs from nowMs. `body`: the raw bytes.
 * Returns {taskId, topic, attempt, dueAtMs, timestamp, body}.
 */
export function verifyWebhook(key, headers, body, { toleranceMs = 300_000, nowMs = Date.now() } = {}) {
  const ts = header(headers, "x-delayq-timestamp");
  if (!/^\d+$/.test(ts)) throw new BadSignatureError("missing or malformed X-Delayq-Timestamp");
  const raw = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const mac = createHmac("sha256", key).update(`${ts}.`).update(raw).digest("hex");
  const want = Buffer.from(`v1=${mac}`);
  const got = Buffer.from(header(headers, "x-delayq-signature"));
  if (got.length !== want.length || !timingSafeEqual(got, want)) {
    throw new BadSignatureError("signature does not match");
  }
  if (Math.abs(nowMs - Number(ts) * 1000) > toleranceMs) {
    throw new StaleTimestampError(`timestamp ${ts} is more than ${toleranceMs} ms from now`);
  }
  return {
    taskId: header(headers, "x-delayq-task-id"),
    topic: header(headers, "x-delayq-topic"),
    attempt: Number(header(headers, "x-delayq-attempt") || 0),
    dueAtMs: Number(header(headers, "x-delayq-due-at") || 0),
    timestamp: Number(ts),
    body: raw,
  };
}

/**
 * A request listener for node:http's createServer: reads the body, verifies it, answers
 * 401 to a bad or stale signature, else the status `onWebhook(hook, req)` resolves to
 * (2xx completes the task; anything else makes delayq retry).
 */
export function webhookHandler(key, onWebhook, { toleranceMs = 300_000, maxBodyBytes = 8 << 20 } = {}) {
  return (req, res) => {
    const chunks = [];
    let size = 0;
    req.on("data", (chunk) => {
      size += chunk.length;
      if (size > maxBodyBytes) req.destroy();
      else chunks.push(chunk);
    });
    req.on("end", async () => {
      let hook;
      try {
        hook = verifyWebhook(key, req.headers, Buffer.concat(chunks), { toleranceMs });
      } catch (e) {
        res.writeHead(401, { "content-type": "text/plain" }).end(String(e.message));
        return;
      }
      try {
        res.writeHead((await onWebhook(hook, req)) ?? 204).end();
      } catch {
        res.writeHead(500).end();
      }
    });
  };
}
