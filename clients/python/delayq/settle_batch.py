"""Batch acknowledgement: many leases ended with one request, and the Consumer's batcher
that collects its acks into such requests."""

import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from .errors import DelayqError, error_for


@dataclass
class Settled:
    """One item's outcome of ack_batch or nack_batch, in request order: state when it was
    applied ("done" for an ack; "scheduled", "due" or "dead" for a nack), else error, the
    DelayqError its code stands for (ConflictError: the lease was lost; NotFoundError;
    UnauthorizedError; OverloadedError: storage failed for that item)."""

    id: str
    state: Optional[str] = None
    error: Optional[DelayqError] = None


def settled_from_json(out: Dict[str, Any]) -> List[Settled]:
    results = []
    for r in out["results"]:
        e = r.get("error")
        error = error_for(e["code"], 0, e["message"], None) if e else None
        results.append(Settled(r["id"], r.get("state"), error))
    return results


class SettleBatchCalls:
    """The batch calls of Client. Both are retried on 429/503 like the single ack and nack;
    a DelayqError raised is the request's (bad input, overloaded): then nothing was applied."""

    def _call(self, method: str, path: str, body: Any = None, retry: bool = True) -> Any:
        raise NotImplementedError  # Client's

    def ack_batch(self, items: Iterable[Tuple[str, str]]) -> List[Settled]:
        """Completes 1-1,000 leased tasks, (id, lease) each, of any topics; each item is
        applied or refused on its own."""
        acks = [{"id": id, "lease": lease} for id, lease in items]
        return settled_from_json(self._call("POST", "/v1/tasks:ack", {"acks": acks}))

    def nack_batch(self, items: Iterable[Tuple[str, str, int]]) -> List[Settled]:
        """Gives back 1-1,000 leased tasks, (id, lease, delay_ms) each, each on its own."""
        nacks = [{"id": id, "lease": lease, "delay_ms": delay_ms} for id, lease, delay_ms in items]
        return settled_from_json(self._call("POST", "/v1/tasks:nack", {"nacks": nacks}))


class AckBatcher:
    """Collects acks and sends them with ack_batch on its own thread: once `size` are
    waiting, or `every_s` after the first of them, and the rest on close()."""

    def __init__(self, client: SettleBatchCalls, size: int, every_s: float,
                 on_error: Callable[[BaseException], None]):
        self.client = client
        self.size = size
        self.every_s = every_s
        self.on_error = on_error
        self._pending: List[Tuple[str, str]] = []
        self._closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def add(self, id: str, lease: str) -> None:
        with self._cond:
            self._pending.append((id, lease))
            self._cond.notify()

    def close(self) -> None:
        """Sends what is waiting; returns once every send has been answered."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._closed)
                # The first ack waits at most every_s for others to join it.
                self._cond.wait_for(lambda: len(self._pending) >= self.size or self._closed,
                                    self.every_s)
                items = self._pending[:self.size]
                del self._pending[:self.size]
                done = self._closed and not self._pending and not items
            if done:
                return
            if items:
                self._send(items)

    def _send(self, items: List[Tuple[str, str]]) -> None:
        try:
            results = self.client.ack_batch(items)
        except (DelayqError, OSError) as e:
            self.on_error(e)  # the leases run out and the tasks come again
            return
        for r in results:
            if r.error is not None:
                self.on_error(r.error)
