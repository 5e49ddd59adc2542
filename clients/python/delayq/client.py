"""The HTTP client: every v1 call and the seed API's add and pull (schedules: schedules.py;
batch ack and nack: settle_batch.py)."""

import datetime
import json
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from .callback import Callback
from .errors import DelayqError, error_for
from .schedules import ScheduleCalls
from .settle_batch import SettleBatchCalls


@dataclass
class NewTask:
    """One task to add: payload is any JSON value (a str is stored byte for byte).
    Give at most one of delay_ms, at_ms."""

    payload: Any
    delay_ms: Optional[int] = None
    at_ms: Optional[int] = None
    callback: Optional[Callback] = None
    max_attempts: Optional[int] = None
    dedup_key: Optional[str] = None
    # This task's own W3C trace context, replacing the traceparent/tracestate of the call.
    traceparent: Optional[str] = None
    tracestate: Optional[str] = None

    def to_json(self) -> Dict[str, Any]:
        body: Dict[str, Any] = {"payload": self.payload}
        for name in ("delay_ms", "at_ms", "max_attempts", "dedup_key", "traceparent",
                     "tracestate"):
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        if self.callback is not None:
            body["callback"] = self.callback.to_json()
        return body


@dataclass
class Task:
    """The server's task object."""

    id: str
    topic: str
    state: str
    kind: str
    due_at_ms: int
    created_at_ms: int
    attempts: int
    max_attempts: int
    last_error: Optional[str]
    payload: Any
    finished_at_ms: Optional[int] = None
    lease_until_ms: Optional[int] = None
    dedup_key: Optional[str] = None
    schedule: Optional[str] = None  # the schedule that made it
    occurrence_ms: Optional[int] = None  # and the occurrence it stands for
    traceparent: Optional[str] = None  # the trace context given at add
    tracestate: Optional[str] = None

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> "Task":
        return cls(**{k: d.get(k) for k in cls.__dataclass_fields__})


@dataclass
class Leased:
    """A task taken by pull: ack, nack or extend it with its lease."""

    id: str
    payload: Any
    attempt: int
    due_at_ms: int
    lease: str
    lease_until_ms: int
    traceparent: Optional[str] = None  # the trace context given at add
    tracestate: Optional[str] = None

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> "Leased":
        return cls(**{k: d.get(k) for k in cls.__dataclass_fields__})


@dataclass
class Added:
    id: str
    due_at_ms: int
    duplicate: bool = False


class Client(ScheduleCalls, SettleBatchCalls):
    """A client of one delayq server. Thread-safe (one connection per call).

    token: bearer token; timeout: seconds per HTTP attempt; retries/backoff: how often and
    how soon a 429/503 is repeated, for calls safe to repeat (every call except adds
    without a dedup key, seed adds and schedule triggers)."""

    def __init__(self, base_url: str, token: Optional[str] = None, timeout: float = 40.0,
                 retries: int = 3, backoff: float = 0.1, max_backoff: float = 5.0):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.attempts_sent = 0  # HTTP attempts made, for tests and metrics

    # --- transport ----------------------------------------------------------------------

    def _call(self, method: str, path: str, body: Any = None, retry: bool = True,
              headers: Optional[Dict[str, str]] = None) -> Any:
        return self._call_status(method, path, body, retry, headers)[1]

    def _call_status(self, method: str, path: str, body: Any = None,
                     retry: bool = True,
                     headers: Optional[Dict[str, str]] = None) -> Tuple[int, Any]:
        """(HTTP status, decoded answer) of a call that succeeded."""
        data = None if body is None else json.dumps(body).encode()
        delay = self.backoff
        attempt = 0
        while True:
            try:
                return self._once(method, path, data, headers)
            except DelayqError as e:
                if not retry or attempt >= self.retries or e.status not in (429, 503):
                    raise
            attempt += 1
            time.sleep(delay / 2 + random.random() * delay / 2)
            delay = min(delay * 2, self.max_backoff)

    def _once(self, method: str, path: str, data: Optional[bytes],
              headers: Optional[Dict[str, str]] = None) -> Tuple[int, Any]:
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", "Bearer " + self.token)
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        self.attempts_sent += 1
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
                status = response.status
        except urllib.error.HTTPError as e:
            raw = e.read()
            code, message = 0, raw.decode(errors="replace")
            try:
                parsed = json.loads(raw)
                code, message = parsed.get("dm_error", 0), parsed.get("error_msg", message)
            except ValueError:
                pass
            raise error_for(e.code, code, message, e.headers.get("X-Request-Id")) from None
        return status, (json.loads(raw) if raw else None)

    @staticmethod
    def _task(id: str) -> str:
        return "/v1/tasks/" + urllib.parse.quote(str(id), safe="")

    @staticmethod
    def _topic(topic: str) -> str:
        return "/v1/topics/" + urllib.parse.quote(topic, safe="")

    @staticmethod
    def _trace(traceparent: Optional[str], tracestate: Optional[str]) -> Dict[str, str]:
        """The W3C trace context headers of a call (none without a traceparent)."""
        if not traceparent:
            return {}
        headers = {"traceparent": traceparent}
        if tracestate:
            headers["tracestate"] = tracestate
        return headers

    # --- tasks --------------------------------------------------------------------------

    def add(self, topic: str, task: NewTask, traceparent: Optional[str] = None,
            tracestate: Optional[str] = None) -> Added:
        """traceparent/tracestate: the W3C trace context stored with the task and sent on
        with its callback, sink message and pulled form (task.traceparent replaces it)."""
        out = self._call("POST", self._topic(topic) + "/tasks", task.to_json(),
                         retry=task.dedup_key is not None,
                         headers=self._trace(traceparent, tracestate))
        return Added(out["id"], out["due_at_ms"], out.get("duplicate", False))

    def add_batch(self, topic: str, tasks: List[NewTask], traceparent: Optional[str] = None,
                  tracestate: Optional[str] = None) -> List[str]:
        """1-1,000 tasks, all or nothing; the ids in order. The trace context applies to
        every task without a traceparent of its own."""
        safe = all(t.dedup_key is not None for t in tasks)
        out = self._call("POST", self._topic(topic) + "/tasks:batch",
                         {"tasks": [t.to_json() for t in tasks]}, retry=safe,
                         headers=self._trace(traceparent, tracestate))
        return out["ids"]

    def get(self, id: str) -> Task:
        return Task.from_json(self._call("GET", self._task(id)))

    def cancel(self, id: str) -> Task:
        return Task.from_json(self._call("DELETE", self._task(id)))

    def reschedule(self, id: str, at_ms: Optional[int] = None,
                   delay_ms: Optional[int] = None) -> Task:
        """To at_ms or after delay_ms; neither: due now."""
        body: Dict[str, Any] = {"now": True}
        if at_ms is not None:
            body = {"at_ms": at_ms}
        elif delay_ms is not None:
            body = {"delay_ms": delay_ms}
        return Task.from_json(self._call("POST", self._task(id) + "/reschedule", body))

    def redrive(self, id: str) -> Task:
        return Task.from_json(self._call("POST", self._task(id) + "/redrive"))

    def dead(self, topic: str, after: Optional[str] = None,
             limit: int = 100) -> Tuple[List[Task], Optional[str]]:
        """Dead tasks and the `after` of the next page (None when there is none)."""
        query = {"limit": str(limit)}
        if after:
            query["after"] = after
        out = self._call("GET", self._topic(topic) + "/dead?" + urllib.parse.urlencode(query))
        return [Task.from_json(t) for t in out["tasks"]], out.get("next_after")

    def topics(self) -> List[Dict[str, Any]]:
        return self._call("GET", "/v1/topics")["topics"]

    def topic(self, topic: str) -> Dict[str, Any]:
        return self._call("GET", self._topic(topic))

    def pause_topic(self, topic: str, traceparent: Optional[str] = None,
                    tracestate: Optional[str] = None) -> Dict[str, Any]:
        """Stops the topic's deliveries (adds go on); its topic object, "paused": true."""
        return self._call("POST", self._topic(topic) + "/pause",
                          headers=self._trace(traceparent, tracestate))

    def resume_topic(self, topic: str, traceparent: Optional[str] = None,
                     tracestate: Optional[str] = None) -> Dict[str, Any]:
        """Delivers the topic again, what fell due meanwhile oldest first."""
        return self._call("POST", self._topic(topic) + "/resume",
                          headers=self._trace(traceparent, tracestate))

    # --- leases -------------------------------------------------------------------------

    def pull(self, topic: str, max: int = 1, wait_ms: int = 0,
             lease_ms: Optional[int] = None) -> List[Leased]:
        body: Dict[str, Any] = {"max": max, "wait_ms": wait_ms}
        if lease_ms is not None:
            body["lease_ms"] = lease_ms
        out = self._call("POST", self._topic(topic) + "/pull", body)
        return [Leased.from_json(t) for t in out["tasks"]]

    def ack(self, id: str, lease: str) -> Task:
        return Task.from_json(self._call("POST", self._task(id) + "/ack", {"lease": lease}))

    def nack(self, id: str, lease: str, delay_ms: int = 0) -> Task:
        return Task.from_json(self._call("POST", self._task(id) + "/nack",
                                         {"lease": lease, "delay_ms": delay_ms}))

    def extend(self, id: str, lease: str, lease_ms: int) -> int:
        """The new lease deadline (unix ms); ConflictError when stale or expired."""
        out = self._call("POST", self._task(id) + "/extend", {"lease": lease, "lease_ms": lease_ms})
        return out["lease_until_ms"]

    # --- seed API -----------------------------------------------------------------------

    def seed_add(self, topic: str, timing_moment: int, content: str) -> int:
        """The original design's add (unix seconds); never retried. Returns the task id."""
        out = self._call("POST", "/delay/task/add",
                         {"topic": topic, "timing_moment": timing_moment, "content": content},
                         retry=False)
        return out["task_id"]

    def seed_pull(self, topic: str) -> Tuple[int, str]:
        """The oldest due task, marked done (at-most-once): (task_id, content); id 0: none."""
        out = self._call("POST", "/delay/task/pull", {"topic": topic}, retry=False)
        return out["task_id"], out["content"]


def rfc3339_to_ms(text: str) -> int:
    """Helper for at_ms from an RFC 3339 time."""
    return int(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
