"""Schedules: recurring tasks the server makes from a cron expression or an interval, one
task per occurrence. The calls are Client methods (ScheduleCalls is mixed into Client)."""

import urllib.parse
from dataclasses import dataclass, field, fields
from typing import Any, Dict, Iterator, List, Optional, Tuple

from .callback import Callback


@dataclass
class ScheduleTask:
    """The task each occurrence makes: payload is any JSON value; at most one of callback
    and sink (e.g. {"kafka": {"topic": "t"}}); neither: a pull task. In answers, kind is
    "pull", "callback" or "sink" (callback headers are not returned)."""

    payload: Any
    callback: Optional[Callback] = None
    sink: Optional[Dict[str, Any]] = None
    max_attempts: Optional[int] = None
    kind: Optional[str] = None

    def to_json(self) -> Dict[str, Any]:
        body: Dict[str, Any] = {"payload": self.payload}
        if self.callback is not None:
            body["callback"] = self.callback.to_json()
        if self.sink is not None:
            body["sink"] = self.sink
        if self.max_attempts is not None:
            body["max_attempts"] = self.max_attempts
        return body

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> "ScheduleTask":
        callback = d.get("callback")
        return cls(payload=d.get("payload"), sink=d.get("sink"), kind=d.get("kind"),
                   max_attempts=d.get("max_attempts"),
                   callback=Callback.from_json(callback) if callback else None)


@dataclass
class ScheduleSpec:
    """What put_schedule creates or replaces. Exactly one of cron (five fields, or six with a
    leading second, read in time_zone) and every_ms (at least 1,000). None takes the
    server's default: time_zone "UTC", catch_up "latest", catch_up_window_ms 3,600,000."""

    topic: str
    task: ScheduleTask
    cron: Optional[str] = None
    every_ms: Optional[int] = None
    time_zone: Optional[str] = None
    start_at_ms: Optional[int] = None
    end_at_ms: Optional[int] = None
    jitter_ms: Optional[int] = None
    catch_up: Optional[str] = None  # "skip", "latest" or "all"
    catch_up_window_ms: Optional[int] = None
    paused: Optional[bool] = None

    def to_json(self) -> Dict[str, Any]:
        body = {f.name: getattr(self, f.name) for f in fields(self)
                if f.name != "task" and getattr(self, f.name) is not None}
        body["task"] = self.task.to_json()
        return body


@dataclass
class Schedule:
    """The server's schedule object. next_ms: the next 5 fire times ([] when paused or
    ended); last_occurrence_ms / last_task_id: the last occurrence that fired and its task
    (None before the first). Times are unix ms of occurrences (before jitter)."""

    name: str
    topic: str
    task: ScheduleTask
    time_zone: str = "UTC"
    cron: Optional[str] = None
    every_ms: Optional[int] = None
    start_at_ms: Optional[int] = None
    end_at_ms: Optional[int] = None
    jitter_ms: int = 0
    catch_up: str = "latest"
    catch_up_window_ms: int = 0
    paused: bool = False
    next_ms: List[int] = field(default_factory=list)
    last_occurrence_ms: Optional[int] = None
    last_task_id: Optional[str] = None
    created_at_ms: int = 0
    updated_at_ms: int = 0

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> "Schedule":
        values = {f.name: d[f.name] for f in fields(cls) if f.name in d}
        values["task"] = ScheduleTask.from_json(d.get("task") or {})
        return cls(**values)


@dataclass
class Triggered:
    """The task trigger_schedule made."""

    id: str
    schedule: str
    occurrence_ms: int


def _path(name: str) -> str:
    if not name:
        raise ValueError("schedule name must not be empty: give 1-128 characters of "
                         "[A-Za-z0-9._:-]")
    return "/v1/schedules/" + urllib.parse.quote(name, safe="")


class ScheduleCalls:
    """The schedule calls of Client. Put, get, list, delete, pause and resume are retried
    on 429/503 (the same put or state again changes nothing); trigger is not (each one
    makes a task)."""

    def _call_status(self, method: str, path: str, body: Any = None,
                     retry: bool = True) -> Tuple[int, Any]:
        raise NotImplementedError  # Client's

    def put_schedule(self, name: str, spec: ScheduleSpec) -> Tuple[Schedule, bool]:
        """Creates (True, HTTP 201) or replaces (False, 200) schedule `name` (1-128 of
        [A-Za-z0-9._:-]). InvalidError with the server's message naming the field, e.g.
        'cron: hour field "25": 25 is out of range 0-23'. A put applied before a retry
        reports False."""
        status, out = self._call_status("PUT", _path(name), spec.to_json())
        return Schedule.from_json(out), status == 201

    def get_schedule(self, name: str) -> Schedule:
        """NotFoundError when unknown."""
        return Schedule.from_json(self._call_status("GET", _path(name))[1])

    def delete_schedule(self, name: str) -> Schedule:
        """Deletes it and cancels its pending task; returns it as it was. A delete applied
        before a retry raises NotFoundError."""
        return Schedule.from_json(self._call_status("DELETE", _path(name))[1])

    def pause_schedule(self, name: str) -> Schedule:
        """No more occurrences; the pending task is cancelled."""
        return Schedule.from_json(self._call_status("POST", _path(name) + "/pause")[1])

    def resume_schedule(self, name: str) -> Schedule:
        """Occurrences again from the next one after now (none caught up)."""
        return Schedule.from_json(self._call_status("POST", _path(name) + "/resume")[1])

    def trigger_schedule(self, name: str) -> Triggered:
        """One task now, besides the timing. Never retried: a repeat after a 503 whose
        outcome is unknown could make two."""
        out = self._call_status("POST", _path(name) + "/trigger", retry=False)[1]
        return Triggered(out["id"], out["schedule"], out["occurrence_ms"])

    def list_schedules(self, topic: Optional[str] = None, cursor: Optional[str] = None,
                       limit: Optional[int] = None) -> Tuple[List[Schedule], Optional[str]]:
        """One page in name order (limit 1-1,000, the server's default 100) and the cursor
        of the next page (None at the end). Without topic: every topic's (admin)."""
        query = {k: str(v) for k, v in (("topic", topic), ("cursor", cursor), ("limit", limit))
                 if v}
        path = "/v1/schedules" + ("?" + urllib.parse.urlencode(query) if query else "")
        out = self._call_status("GET", path)[1]
        return [Schedule.from_json(s) for s in out["schedules"]], out.get("next_cursor")

    def iter_schedules(self, topic: Optional[str] = None,
                       page_size: Optional[int] = None) -> Iterator[Schedule]:
        """Every schedule of topic (without: every topic's), page after page."""
        cursor = None
        while True:
            page, cursor = self.list_schedules(topic, cursor, page_size)
            yield from page
            if not cursor:
                return
