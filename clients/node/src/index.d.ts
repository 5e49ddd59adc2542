// Type declarations of the delayq client (src/index.js).
import type { IncomingMessage, ServerResponse } from "node:http";

export const VERSION: string;

export class DelayqError extends Error {
  readonly status: number;
  /** dm_error */
  readonly code: number;
  /** the server's error_msg */
  readonly serverMessage: string;
  readonly requestId: string | null;
}
/** 400, 405, 413 */
export class InvalidError extends DelayqError {}
/** 404 */
export class NotFoundError extends DelayqError {}
/** 409: a stale or expired lease, a task in the wrong state */
export class ConflictError extends DelayqError {}
/** 401, 403 */
export class UnauthorizedError extends DelayqError {}
/** 429, 503 */
export class OverloadedError extends DelayqError {}
/** other 5xx */
export class ServerError extends DelayqError {}

export interface Callback {
  url?: string;
  service?: string;
  path?: string;
  method?: "POST" | "PUT" | "PATCH" | "GET" | "DELETE";
  headers?: Record<string, string>;
  timeout_ms?: number;
}

/** One task to add; at most one of delay_ms, at_ms, at. */
export interface NewTask {
  payload: unknown;
  delay_ms?: number;
  at_ms?: number;
  /** RFC 3339 */
  at?: string;
  callback?: Callback;
  max_attempts?: number;
  dedup_key?: string;
}

export interface Added {
  id: string;
  due_at_ms: number;
  duplicate?: boolean;
}

export type TaskState =
  | "scheduled" | "due" | "leased" | "delivering" | "done" | "dead" | "cancelled";

export interface Task {
  id: string;
  topic: string;
  state: TaskState;
  kind: "pull" | "callback";
  due_at_ms: number;
  created_at_ms: number;
  attempts: number;
  max_attempts: number;
  last_error: string | null;
  finished_at_ms?: number;
  lease_until_ms?: number;
  dedup_key?: string;
  payload: unknown;
}

export interface Leased {
  id: string;
  payload: unknown;
  attempt: number;
  due_at_ms: number;
  lease: string;
  lease_until_ms: number;
}

export interface TopicStats {
  topic: string;
  counts: Record<"scheduled" | "leased" | "delivering" | "done" | "dead" | "cancelled", number>;
  due: number;
  oldest_due_lateness_ms: number;
}

export interface ClientOptions {
  /** bearer token */
  token?: string;
  /** per HTTP attempt (default 40,000) */
  timeoutMs?: number;
  /** repeats of a 429/503 for calls safe to repeat (default 3) */
  retries?: number;
  /** first backoff (default 100 ms, doubling, with jitter) */
  backoffMs?: number;
  maxBackoffMs?: number;
  fetch?: typeof fetch;
}

export class Client {
  constructor(baseUrl: string, options?: ClientOptions);
  /** HTTP attempts made so far */
  attemptsSent: number;
  add(topic: string, task: NewTask): Promise<Added>;
  addBatch(topic: string, tasks: NewTask[]): Promise<string[]>;
  get(id: string): Promise<Task>;
  cancel(id: string): Promise<Task>;
  reschedule(
    id: string,
    when?: { delay_ms: number } | { at_ms: number } | { at: string } | { now: true },
  ): Promise<Task>;
  redrive(id: string): Promise<Task>;
  dead(topic: string, options?: { after?: string; limit?: number }): Promise<{
    tasks: Task[];
    next_after: string | null;
  }>;
  topics(): Promise<TopicStats[]>;
  topic(topic: string): Promise<TopicStats>;
  pull(topic: string, options?: { max?: number; wait_ms?: number; lease_ms?: number }): Promise<Leased[]>;
  ack(id: string, lease: string): Promise<Task>;
  nack(id: string, lease: string, delay_ms?: number): Promise<Task>;
  /** the new lease deadline, unix ms */
  extend(id: string, lease: string, lease_ms: number): Promise<number>;
  /** the task id, a decimal string */
  seedAdd(topic: string, timing_moment: number, content: string): Promise<string>;
  /** task_id "0" when nothing is due */
  seedPull(topic: string): Promise<{ task_id: string; content: string }>;
}

export interface ConsumerOptions {
  concurrency?: number;
  leaseMs?: number;
  waitMs?: number;
  /** extend once this fraction of the lease has passed (default 0.5) */
  extendAfter?: number;
  retryDelayMs?: (attempt: number, error: unknown) => number;
  graceMs?: number;
  onError?: (error: unknown) => void;
}

export class Consumer {
  constructor(
    client: Client,
    topic: string,
    handler: (task: Leased, signal: AbortSignal) => Promise<void> | void,
    options?: ConsumerOptions,
  );
  run(): Promise<void>;
  stop(): void;
  stopOnSignals(): void;
}

export interface Webhook {
  taskId: string;
  topic: string;
  attempt: number;
  dueAtMs: number;
  timestamp: number;
  body: Buffer;
}

export class BadSignatureError extends Error {}
export class StaleTimestampError extends Error {}

export function verifyWebhook(
  key: string | Buffer,
  headers: Headers | Record<string, string | string[] | undefined>,
  body: Buffer | string,
  options?: { toleranceMs?: number; nowMs?: number },
): Webhook;

export function webhookHandler(
  key: string | Buffer,
  onWebhook: (hook: Webhook, req: IncomingMessage) => Promise<number | void> | number | void,
  options?: { toleranceMs?: number; maxBodyBytes?: number },
): (req: IncomingMessage, res: ServerResponse) => void;
