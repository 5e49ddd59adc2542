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
  /** this task's own W3C trace context, replacing the call's `trace` */
  traceparent?: string;
  tracestate?: string;
}

/** W3C trace context sent as the traceparent/tracestate headers of a call. */
export interface TraceContext {
  traceparent: string;
  tracestate?: string;
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
  /** the schedule that made it */
  schedule?: string;
  /** and the occurrence it stands for */
  occurrence_ms?: number;
  /** the trace context given at add */
  traceparent?: string;
  tracestate?: string;
  payload: unknown;
}

export interface Leased {
  id: string;
  payload: unknown;
  attempt: number;
  due_at_ms: number;
  lease: string;
  lease_until_ms: number;
  /** the trace context given at add */
  traceparent?: string;
  tracestate?: string;
}

export interface TopicStats {
  topic: string;
  counts: Record<"scheduled" | "leased" | "delivering" | "done" | "dead" | "cancelled", number>;
  due: number;
  oldest_due_lateness_ms: number;
  paused: boolean;
  paused_at_ms?: number;
}

/** A sink target: a Kafka topic or a Redis stream. */
export type Sink = { kafka: { topic?: string; key?: string } } | { redis_stream: { stream: string } };

/** The task each occurrence of a schedule makes; at most one of callback and sink. */
export interface ScheduleTask {
  payload: unknown;
  callback?: Callback;
  sink?: Sink;
  max_attempts?: number;
}

/** What putSchedule creates or replaces: exactly one of cron and every_ms. */
export interface ScheduleSpec {
  topic: string;
  /** five fields (minute hour day-of-month month day-of-week), or six with a leading second */
  cron?: string;
  /** a fixed interval, at least 1,000 */
  every_ms?: number;
  /** IANA zone of cron (default "UTC") */
  time_zone?: string;
  start_at_ms?: number;
  end_at_ms?: number;
  jitter_ms?: number;
  catch_up?: "skip" | "latest" | "all";
  catch_up_window_ms?: number;
  paused?: boolean;
  task: ScheduleTask;
}

/** The server's schedule object; times are unix ms of occurrences (before jitter). */
export interface Schedule {
  name: string;
  topic: string;
  cron?: string;
  every_ms?: number;
  time_zone: string;
  start_at_ms: number | null;
  end_at_ms: number | null;
  jitter_ms: number;
  catch_up: "skip" | "latest" | "all";
  catch_up_window_ms: number;
  paused: boolean;
  /** as given, with its kind; callback headers are not returned */
  task: ScheduleTask & { kind: "pull" | "callback" | "sink"; max_attempts: number | null };
  /** the next 5 fire times; [] when paused or ended */
  next_ms: number[];
  /** the last occurrence that fired and its task; null before the first */
  last_occurrence_ms: number | null;
  last_task_id: string | null;
  created_at_ms: number;
  updated_at_ms: number;
}

/** The task a trigger made. */
export interface Triggered {
  id: string;
  schedule: string;
  occurrence_ms: number;
}

/**
 * One item's outcome of a batch ack or nack: `state` when applied ("done" for an ack;
 * "scheduled", "due" or "dead" for a nack), else the error of its code (ConflictError: the
 * lease was lost; NotFoundError; UnauthorizedError; OverloadedError: storage failed for it).
 */
export type Settled =
  | { id: string; state: TaskState; error?: undefined }
  | { id: string; state?: undefined; error: DelayqError };

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
  add(topic: string, task: NewTask, options?: { trace?: TraceContext }): Promise<Added>;
  addBatch(topic: string, tasks: NewTask[], options?: { trace?: TraceContext }): Promise<string[]>;
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
  pauseTopic(topic: string, options?: { trace?: TraceContext }): Promise<TopicStats>;
  resumeTopic(topic: string, options?: { trace?: TraceContext }): Promise<TopicStats>;
  pull(topic: string, options?: { max?: number; wait_ms?: number; lease_ms?: number }): Promise<Leased[]>;
  ack(id: string, lease: string): Promise<Task>;
  nack(id: string, lease: string, delay_ms?: number): Promise<Task>;
  /**
   * Ends 1-1,000 leases with one request, each item applied or refused on its own; the
   * results in request order. Rejects when the request itself was refused (nothing applied).
   */
  ackBatch(items: Array<{ id: string; lease: string }>): Promise<Settled[]>;
  nackBatch(items: Array<{ id: string; lease: string; delay_ms?: number }>): Promise<Settled[]>;
  /** the new lease deadline, unix ms */
  extend(id: string, lease: string, lease_ms: number): Promise<number>;
  /**
   * Creates (created: HTTP 201) or replaces (false: 200). Retried on 429/503, so a put
   * applied before a retry reports created false. InvalidError: serverMessage names the field.
   */
  putSchedule(name: string, spec: ScheduleSpec): Promise<{ schedule: Schedule; created: boolean }>;
  /** NotFoundError when unknown */
  getSchedule(name: string): Promise<Schedule>;
  listSchedules(options?: { topic?: string; cursor?: string; limit?: number }): Promise<{
    schedules: Schedule[];
    next_cursor: string | null;
  }>;
  /** every schedule of the topic (without: every topic's), page after page */
  allSchedules(options?: { topic?: string; pageSize?: number }): AsyncGenerator<Schedule, void, undefined>;
  /** the schedule as it was; retried, so a delete applied before a retry is NotFoundError */
  deleteSchedule(name: string): Promise<Schedule>;
  pauseSchedule(name: string): Promise<Schedule>;
  resumeSchedule(name: string): Promise<Schedule>;
  /** one task now; never retried */
  triggerSchedule(name: string): Promise<Triggered>;
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
  /** acks are sent together once this many wait (default 100, at most 1,000)... */
  ackBatch?: number;
  /** ...or this long after the first of them (default 50, at most a quarter of leaseMs) */
  ackFlushMs?: number;
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
