"""The seven must-show scenarios against the real delayq binary (the eighth, schedules:
test_schedules.py)."""

import collections
import http.server
import socket
import threading
import time

import pytest

import delayq
from delayq import Callback, Client, Consumer, NewTask


def wait_state(client, task_id, state, timeout=20.0):
    deadline = time.time() + timeout
    while True:
        task = client.get(task_id)
        if task.state == state:
            return task
        assert time.time() < deadline, f"task {task_id} is {task.state}, not {state}"
        time.sleep(0.02)


def run_consumer(consumer):
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    return thread


def add_due(client, topic, n, max_attempts=None):
    ids = []
    while len(ids) < n:
        batch = [NewTask(payload=f"t{i}", max_attempts=max_attempts)
                 for i in range(len(ids), min(n, len(ids) + 1000))]
        ids += client.add_batch(topic, batch)
    return ids


# 1. add / get / cancel; a batch of 1,000; the same dedup key twice returns the same id.
def test_scenario1_add_get_cancel_batch_dedup(start_server):
    c = Client(start_server().url)
    added = c.add("orders", NewTask(payload={"order": 42}, delay_ms=3_600_000))
    task = c.get(added.id)
    assert task.state == "scheduled" and task.payload == {"order": 42}
    assert c.cancel(added.id).state == "cancelled"
    with pytest.raises(delayq.NotFoundError):
        c.get("999999")
    ids = c.add_batch("bulk", [NewTask(payload=f"item {i}", delay_ms=3_600_000) for i in range(1000)])
    assert len(set(ids)) == 1000
    assert c.topic("bulk")["counts"]["scheduled"] == 1000
    first = c.add("orders", NewTask(payload="close 43", dedup_key="order-43", delay_ms=3_600_000))
    second = c.add("orders", NewTask(payload="again", dedup_key="order-43"))
    assert second.id == first.id and second.duplicate


def count_paths(client):
    """Counts the client's HTTP attempts per path (query left out)."""
    paths = collections.Counter()
    once = client._once

    def counting(method, path, *rest):
        paths[path.split("?")[0]] += 1
        return once(method, path, *rest)

    client._once = counting
    return paths


# 2. A consumer with concurrency 8 processes 1,000 due tasks, each exactly once; its acks go
# in batches.
def test_scenario2_consumer_concurrency_8_exactly_once(start_server):
    c = Client(start_server().url)
    ids = add_due(c, "work", 1000)
    paths = count_paths(c)
    seen = {}
    lock = threading.Lock()
    in_flight = [0, 0]  # now, peak
    all_seen = threading.Event()

    def handler(task, lost):
        with lock:
            in_flight[0] += 1
            in_flight[1] = max(in_flight[1], in_flight[0])
        time.sleep(0.002)  # some work, so that handlers overlap
        with lock:
            in_flight[0] -= 1
            seen[task.id] = seen.get(task.id, 0) + 1
            if len(seen) == len(ids):
                all_seen.set()

    consumer = Consumer(c, "work", handler, concurrency=8, lease_ms=20_000, wait_ms=1000)
    thread = run_consumer(consumer)
    assert all_seen.wait(45), f"{len(seen)} of 1000 processed"
    consumer.stop()
    thread.join(30)
    assert not thread.is_alive()
    assert c.topic("work")["counts"]["done"] == 1000
    assert all(seen.get(i) == 1 for i in ids)
    assert 2 <= in_flight[1] <= 8
    single = sum(n for path, n in paths.items() if path.endswith("/ack"))
    assert single == 0 and 1 <= paths["/v1/tasks:ack"] <= 500, paths


# 3. A handler that takes 3x its lease keeps its task (auto-extend): no redelivery,
# attempt stays 1.
def test_scenario3_auto_extend_keeps_the_task(start_server):
    c = Client(start_server().url)
    added = c.add("slow", NewTask(payload="long job"))
    lease_ms = 500
    calls = []

    def handler(task, lost):
        calls.append(task.attempt)
        assert not lost.wait(3 * lease_ms / 1000)

    consumer = Consumer(c, "slow", handler, concurrency=2, lease_ms=lease_ms, wait_ms=300)
    thread = run_consumer(consumer)
    task = wait_state(c, added.id, "done")
    consumer.stop()
    thread.join(30)
    assert task.attempts == 1
    assert calls == [1]


# 4. A failing handler -> nack -> attempt 2 -> success; after max_attempts the task is dead.
def test_scenario4_nack_retry_then_dead(start_server):
    c = Client(start_server().url)
    flaky = c.add("retry", NewTask(payload="flaky", max_attempts=5))
    doomed = c.add("retry", NewTask(payload="doomed", max_attempts=3))
    attempts = {}

    def handler(task, lost):
        attempts.setdefault(task.id, []).append(task.attempt)
        if task.id == doomed.id or task.attempt == 1:
            raise RuntimeError("boom")

    consumer = Consumer(c, "retry", handler, concurrency=2, wait_ms=300,
                        retry_delay_ms=lambda attempt, e: 100)
    thread = run_consumer(consumer)
    ok = wait_state(c, flaky.id, "done")
    dead = wait_state(c, doomed.id, "dead")
    consumer.stop()
    thread.join(30)
    assert attempts[flaky.id] == [1, 2] and ok.attempts == 2
    assert attempts[doomed.id] == [1, 2, 3] and dead.attempts == 3
    listed, _ = c.dead("retry")
    assert [t.id for t in listed] == [doomed.id]


# 5. The webhook helper accepts a real callback from delayq with a signing key, and rejects
# the same request with a changed body and with a timestamp older than the tolerance.
def test_scenario5_webhook_verification(start_server):
    key = b"signing-key-for-tests"
    received = []
    got = threading.Event()

    def on_webhook(hook):
        received.append(hook)
        got.set()
        return 204

    handler = delayq.webhook_handler(key, on_webhook, tolerance_s=60)
    captured = {}

    class Capturing(handler):
        def _handle(self):
            captured["headers"] = {k: v for k, v in self.headers.items()}
            super()._handle()

        do_POST = _handle

    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Capturing)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        s = start_server(env={"DELAYQ_SIGNING_KEY": key.decode()})
        c = Client(s.url)
        url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
        added = c.add("hooks", NewTask(payload={"user": "7"}, callback=Callback(url=url)))
        assert got.wait(20), "no callback arrived"
        hook = received[0]
        assert hook.task_id == added.id and hook.attempt == 1 and hook.body == b'{"user":"7"}'
        headers = captured["headers"]
        delayq.verify_webhook(key, headers, hook.body, 60)
        with pytest.raises(delayq.BadSignature):
            delayq.verify_webhook(key, headers, b'{"user":"8"}', 60)
        with pytest.raises(delayq.StaleTimestamp):
            delayq.verify_webhook(key, headers, hook.body, 60, now=hook.timestamp + 61)
        wait_state(c, added.id, "done")
    finally:
        receiver.shutdown()


# 6. 503 from the server (its connection limit taken) is retried and then surfaced as the
# typed error; a wrong token surfaces as unauthorized.
def test_scenario6_retries_then_typed_error_and_wrong_token(start_server):
    s = start_server(env={"DELAYQ_AUTH_TOKENS": "right-token-0123456789"},
                     args=("--limits-max-connections", "2"))
    with pytest.raises(delayq.UnauthorizedError):
        Client(s.url, token="wrong-token-0123456789").get("1")
    host, port = s.url[len("http://"):].split(":")
    held = []
    deadline = time.time() + 10
    try:
        # Each holder is answered once (so the server counts it) and then stays open.
        while len(held) < 2:
            assert time.time() < deadline, "could not take the connection limit"
            conn = socket.create_connection((host, int(port)), timeout=2)
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            if b" 200 " in conn.recv(4096).split(b"\r\n")[0] + b" ":
                held.append(conn)
            else:
                conn.close()
                time.sleep(0.02)
        c = Client(s.url, token="right-token-0123456789", retries=3, backoff=0.02)
        with pytest.raises(delayq.OverloadedError) as e:
            c.get("1")
        assert e.value.status == 503
        assert c.attempts_sent == 4  # 1 + 3 retries
        before = c.attempts_sent
        with pytest.raises(delayq.OverloadedError):
            c.add("t", NewTask(payload="x"))  # no dedup key: not repeated
        assert c.attempts_sent - before == 1
        # A schedule's put is repeated (the same put again changes nothing); a trigger is
        # not (each one makes a task).
        before = c.attempts_sent
        with pytest.raises(delayq.OverloadedError):
            c.put_schedule("s", delayq.ScheduleSpec(topic="t", every_ms=60_000,
                                                    task=delayq.ScheduleTask(payload="x")))
        assert c.attempts_sent - before == 4
        before = c.attempts_sent
        with pytest.raises(delayq.OverloadedError):
            c.trigger_schedule("s")
        assert c.attempts_sent - before == 1
    finally:
        for conn in held:
            conn.close()


# 7. The seed API add + pull round trip.
def test_scenario7_seed_add_pull(start_server):
    c = Client(start_server().url)
    content = '{"uid":"111111"}'
    task_id = c.seed_add("order_timeout", int(time.time()), content)
    assert task_id > 0
    assert c.seed_pull("order_timeout") == (task_id, content)
    assert c.seed_pull("order_timeout") == (0, "")
