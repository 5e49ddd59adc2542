#!/usr/bin/env python3
"""Benchmark of recurring schedules (BENCHMARKS.md, "Schedules").

Starts delayq (embedded store, durability buffered, access log off) and, in the same run:
  1. create: N schedules, every 60 s, their occurrences spread evenly over one minute
     (start_at_ms = t0 + i * 60000 / N), PUT by 8 client threads; the time to create them;
  2. fire: for one full minute (every schedule's first occurrence, and the next one made at
     each) 4 consumers pull (max 1000, long poll) and ack; lateness = the time the pull was
     answered - the task's due_at_ms (the occurrence), p50 / p99 / max; every occurrence must
     come exactly once;
  3. memory: the server's RSS after creating the schedules minus its RSS before, against a
     second server that holds N plain tasks with the same due times (what the pending
     occurrence tasks cost by themselves): the difference per schedule is the schedules' own
     cost.

usage: bench/schedules.py BUILD_DIR [--count N] [--json FILE]
"""
import argparse
import http.client
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import subprocess

CLIENTS = 8
CONSUMERS = 4


def now_ms():
    return int(time.time() * 1000)


class Delayq:
    def __init__(self, binary, workdir):
        self.log = open(os.path.join(workdir, "delayq.log"), "w")
        self.proc = subprocess.Popen(
            [binary, "serve", "--listen", "127.0.0.1:0", "--data-dir",
             os.path.join(workdir, "data"), "--durability", "buffered", "--access-log", "false",
             "--log-level", "warn"], stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        if "listening on http://" not in line:
            raise SystemExit(f"delayq did not start: {line!r}")
        self.host, port = line.strip().rsplit("http://", 1)[1].split(":")
        self.port = int(port)

    def connect(self):
        return http.client.HTTPConnection(self.host, self.port, timeout=60)

    def rss_bytes(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def call(conn, method, path, body=None):
    conn.request(method, path, body=body)
    r = conn.getresponse()
    return r.status, r.read().decode()


def parallel(count, work):
    """Runs work(conn, i) for i in range(count) on CLIENTS threads with their own connection."""
    errors = []

    def run(k, server):
        conn = server.connect()
        for i in range(k, count, CLIENTS):
            status, body = work(conn, i)
            if status not in (200, 201):
                errors.append(f"{status} {body}")
                return

    return run, errors


def create_schedules(server, count, t0):
    run, errors = parallel(count, lambda conn, i: call(
        conn, "PUT", f"/v1/schedules/s{i}", json.dumps({
            "topic": "bench", "every_ms": 60000,
            "start_at_ms": t0 + i * 60000 // count, "task": {"payload": str(i)}})))
    start = time.time()
    threads = [threading.Thread(target=run, args=(k, server)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"create failed: {errors[0]}")
    return time.time() - start


def add_tasks(server, count, t0):
    def work(conn, i):
        tasks = [{"payload": str(j), "at_ms": t0 + j * 60000 // count}
                 for j in range(i * 1000, min(count, (i + 1) * 1000))]
        return call(conn, "POST", "/v1/topics/bench/tasks:batch", json.dumps({"tasks": tasks}))
    run, errors = parallel((count + 999) // 1000, work)
    threads = [threading.Thread(target=run, args=(k, server)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"adds failed: {errors[0]}")


def consume(server, until_ms, seen, lateness, lock):
    conn = server.connect()
    while now_ms() < until_ms:
        status, body = call(conn, "POST", "/v1/topics/bench/pull",
                            json.dumps({"max": 1000, "wait_ms": 500, "lease_ms": 300000}))
        at = now_ms()
        if status != 200:
            raise SystemExit(f"pull: {status} {body}")
        tasks = json.loads(body)["tasks"]
        acks = []
        with lock:
            for t in tasks:
                key = (t["payload"], t["due_at_ms"])
                seen[key] = seen.get(key, 0) + 1
                lateness.append(at - t["due_at_ms"])
        for t in tasks:
            acks.append({"id": t["id"], "lease": t["lease"]})
        if acks:
            call(conn, "POST", "/v1/tasks:ack", json.dumps({"acks": acks}))


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build_dir")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--json")
    args = parser.parse_args()
    binary = os.path.join(args.build_dir, "src", "delayq")
    workdir = tempfile.mkdtemp(prefix="delayq-bench-schedules-")
    n = args.count
    try:
        # The tasks' own cost: the same due times as plain tasks in another server.
        os.makedirs(os.path.join(workdir, "plain"))
        plain = Delayq(binary, os.path.join(workdir, "plain"))
        time.sleep(1)
        plain_before = plain.rss_bytes()
        add_tasks(plain, n, now_ms() + 3_600_000)
        time.sleep(2)
        plain_cost = plain.rss_bytes() - plain_before
        plain.stop()

        os.makedirs(os.path.join(workdir, "sched"))
        server = Delayq(binary, os.path.join(workdir, "sched"))
        time.sleep(1)
        before = server.rss_bytes()
        t0 = now_ms() + 5_000 + n // 2  # after the creation (at 2,000 per second or more)
        create_s = create_schedules(server, n, t0)
        if now_ms() > t0:
            raise SystemExit("creating took longer than planned; first occurrences passed")
        time.sleep(1)
        sched_cost = server.rss_bytes() - before
        seen, lateness, lock = {}, [], threading.Lock()
        until = t0 + 61_000
        consumers = [threading.Thread(target=consume, args=(server, until, seen, lateness, lock))
                     for _ in range(CONSUMERS)]
        for c in consumers:
            c.start()
        for c in consumers:
            c.join()
        server.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    duplicated = sum(1 for v in seen.values() if v > 1)
    first = sum(1 for (p, due) in seen if due < t0 + 60_000)
    early = sum(1 for v in lateness if v < 0)
    result = {
        "schedules": n,
        "create_seconds": round(create_s, 2),
        "create_per_second": round(n / create_s),
        "fired_first_minute": first,
        "duplicated": duplicated,
        "early": early,
        "lateness_p50_ms": percentile(lateness, 0.50),
        "lateness_p99_ms": percentile(lateness, 0.99),
        "lateness_max_ms": max(lateness) if lateness else None,
        "rss_schedules_bytes": sched_cost,
        "rss_plain_tasks_bytes": plain_cost,
        "rss_per_schedule_beyond_tasks": round((sched_cost - plain_cost) / n, 1),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    if first != n or duplicated or early:
        sys.exit(f"invalid run: {first} of {n} first occurrences, {duplicated} twice, "
                 f"{early} early")


if __name__ == "__main__":
    main()
