"""A consumer loop: long poll, a thread per running handler up to a limit, acks in batches,
nacks, automatic lease extension, graceful stop."""

import signal
import threading
from typing import Callable, Optional

from .client import Client, Leased
from .errors import ConflictError, DelayqError
from .settle_batch import AckBatcher


class Consumer:
    """Runs handler(task, lost) for each task of topic, at most `concurrency` at once.

    handler returns normally → ack; raises → nack, due again after retry_delay_ms(attempt)
    (dead after max_attempts). `lost` is a threading.Event set when the lease was lost (an
    extension answered 409) or the stop's grace ran out: stop working then. While a handler
    runs, its lease is extended each time `extend_after` of it has passed.

    Acks are sent together, one POST /v1/tasks:ack once `ack_batch` (at most 1,000) are
    waiting or `ack_flush_ms` after the first of them (at most a quarter of the lease, so
    that an ack arrives well before its lease, no longer extended, runs out); nacks one by
    one."""

    def __init__(self, client: Client, topic: str, handler: Callable[[Leased, threading.Event], None],
                 concurrency: int = 1, lease_ms: int = 30_000, wait_ms: int = 5_000,
                 extend_after: float = 0.5,
                 retry_delay_ms: Callable[[int, BaseException], int] = lambda attempt, e: 1000 * attempt,
                 grace_s: float = 30.0,
                 on_error: Optional[Callable[[BaseException], None]] = None,
                 ack_batch: int = 100, ack_flush_ms: int = 50):
        self.client = client
        self.topic = topic
        self.handler = handler
        self.concurrency = concurrency
        self.lease_ms = lease_ms
        self.wait_ms = wait_ms
        self.extend_after = extend_after if 0 < extend_after < 1 else 0.5
        self.retry_delay_ms = retry_delay_ms
        self.grace_s = grace_s
        self.on_error = on_error or (lambda e: None)
        self.ack_batch = ack_batch if 0 < ack_batch <= 1000 else 100
        self.ack_flush_ms = min(ack_flush_ms if ack_flush_ms > 0 else 50, lease_ms / 4)
        self._acks: Optional[AckBatcher] = None
        self._stopping = threading.Event()
        self._slots = threading.Semaphore(concurrency)
        self._running = set()
        self._lock = threading.Lock()
        self._all_lost = threading.Event()

    def stop(self) -> None:
        """Ask run() to stop: no further pulls; running handlers get grace_s to finish."""
        self._stopping.set()

    def install_signal_handlers(self) -> None:
        """SIGINT and SIGTERM stop the consumer (call from the main thread)."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stop())

    def run(self) -> None:
        """Blocks until stop(); returns once the running handlers finished or were given up
        and the acks still waiting were sent."""
        self._acks = AckBatcher(self.client, self.ack_batch, self.ack_flush_ms / 1000.0,
                                self.on_error)
        while not self._stopping.is_set():
            self._slots.acquire()
            free = 1
            while free < self.concurrency and self._slots.acquire(blocking=False):
                free += 1
            try:
                tasks = self.client.pull(self.topic, max=free, wait_ms=self.wait_ms,
                                         lease_ms=self.lease_ms)
            except (DelayqError, OSError) as e:
                self.on_error(e)
                for _ in range(free):
                    self._slots.release()
                self._stopping.wait(0.5)
                continue
            for _ in range(free - len(tasks)):
                self._slots.release()
            for task in tasks:
                if self._stopping.is_set():  # stopping: give it back
                    self._quiet(lambda: self.client.nack(task.id, task.lease, 0))
                    self._slots.release()
                    continue
                thread = threading.Thread(target=self._run_one, args=(task,), daemon=True)
                with self._lock:
                    self._running.add(thread)
                thread.start()
        with self._lock:
            threads = list(self._running)
        for thread in threads:
            thread.join(self.grace_s)
        self._all_lost.set()  # handlers still running past the grace: their leases are given up
        with self._lock:
            threads = list(self._running)
        for thread in threads:
            thread.join()
        self._acks.close()

    def _quiet(self, call) -> None:
        try:
            call()
        except (DelayqError, OSError) as e:
            self.on_error(e)

    def _run_one(self, task: Leased) -> None:
        lost = threading.Event()
        done = threading.Event()

        def extender():
            interval = self.lease_ms * self.extend_after / 1000.0
            while not done.wait(interval):
                if self._all_lost.is_set():
                    lost.set()
                    return
                try:
                    self.client.extend(task.id, task.lease, self.lease_ms)
                except ConflictError as e:
                    lost.set()
                    self.on_error(e)
                    return
                except (DelayqError, OSError) as e:
                    self.on_error(e)

        ext = threading.Thread(target=extender, daemon=True)
        ext.start()
        error: Optional[BaseException] = None
        try:
            self.handler(task, lost)
        except Exception as e:  # the handler's failure → nack
            error = e
        done.set()
        ext.join()
        try:
            if lost.is_set() and not self._all_lost.is_set():
                return  # someone else holds the task now
            if self._all_lost.is_set():
                self._quiet(lambda: self.client.nack(task.id, task.lease, 0))
            elif error is None:
                self._acks.add(task.id, task.lease)
            else:
                delay = self.retry_delay_ms(task.attempt, error)
                self._quiet(lambda: self.client.nack(task.id, task.lease, delay))
        finally:
            with self._lock:
                self._running.discard(threading.current_thread())
            self._slots.release()
