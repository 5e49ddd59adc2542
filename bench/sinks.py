#!/usr/bin/env python3
"""Benchmark of the Kafka sink (BENCHMARKS.md, "Sinks").

Starts librdkafka's mock Kafka cluster (tests/kafka_mock, 3 brokers on loopback) and, into the
same cluster in the same run:
  1. reference: a plain librdkafka producer loop (bench/kafka_producer_loop.cc) with the sink's
     settings (idempotent, acks=all), N messages as fast as librdkafka takes them;
  2. throughput: N tasks on 4 topics, all due at one moment, delivered through delayq's Kafka
     sink; tasks/s = N / (time from the due moment until the last delivery report);
  3. lateness: tasks due at 10,000 per second for D seconds; lateness = the Kafka message's
     CreateTime (stamped by librdkafka when delayq hands it over) - its due time, read back
     with kcat.
Every message is read back with kcat (not delayq's code): a run with a task missing or early
is invalid and fails.

usage: bench/sinks.py BUILD_DIR [--quick] [--json FILE]
"""
import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

TOPICS = 4
PAYLOAD = "x" * 100  # message value size of both producers


def now_ms():
    return int(time.time() * 1000)


class Mock:
    def __init__(self, binary):
        self.proc = subprocess.Popen([binary, "--brokers", "3"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("bootstrap "):
            raise SystemExit(f"kafka_mock printed {line!r}")
        self.bootstrap = line.split(" ", 1)[1]

    def command(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        if answer != "ok":
            raise SystemExit(f"kafka_mock: {line}: {answer}")

    def stop(self):
        self.proc.kill()
        self.proc.wait()


class Delayq:
    def __init__(self, binary, workdir, bootstrap):
        config = os.path.join(workdir, "delayq.yaml")
        with open(config, "w") as f:
            # The sink's throughput is bounded by the calls in flight, as for callbacks: the
            # defaults (256 in all, 64 per topic) are sized for HTTP receivers.
            f.write(f"sinks:\n  kafka:\n    brokers: \"{bootstrap}\"\n"
                    "callbacks:\n  max_in_flight: 20000\n  max_in_flight_per_topic: 5000\n"
                    "log_level: warn\naccess_log: false\n")
        self.log = open(os.path.join(workdir, "delayq.log"), "w")
        self.proc = subprocess.Popen(
            [binary, "serve", "--config", config, "--listen", "127.0.0.1:0", "--data-dir",
             os.path.join(workdir, "data")], stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        if "listening on http://" not in line:
            raise SystemExit(f"delayq did not start: {line!r}")
        host, port = line.strip().rsplit("http://", 1)[1].split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=60)

    def request(self, method, path, body=None):
        self.conn.request(method, path, body=body)
        r = self.conn.getresponse()
        return r.status, r.read().decode()

    def add(self, topic, kafka_topic, due_times):
        ids = []
        for start in range(0, len(due_times), 1000):
            tasks = [{"payload": PAYLOAD, "at_ms": due,
                      "sink": {"kafka": {"topic": kafka_topic}}}
                     for due in due_times[start:start + 1000]]
            status, body = self.request("POST", f"/v1/topics/{topic}/tasks:batch",
                                        json.dumps({"tasks": tasks}))
            if status != 201:
                raise SystemExit(f"add: {status} {body}")
            ids += json.loads(body)["ids"]
        return ids

    def metric(self, series):
        _, text = self.request("GET", "/metrics")
        for line in text.splitlines():
            if line.startswith(series + " "):
                return float(line.split()[1])
        return -1

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


def read_back(bootstrap, topic):
    out = subprocess.run(["kcat", "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e",
                          "-J", "-q"], capture_output=True, text=True, check=True).stdout
    messages = []
    for line in out.splitlines():
        m = json.loads(line)
        h = m.get("headers") or []
        headers = dict(zip(h[0::2], h[1::2]))
        messages.append((headers["delayq-task-id"], int(headers["delayq-due-at-ms"]),
                         int(headers["delayq-attempt"]), m["ts"]))
    return messages


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def check(messages, ids, name):
    seen = {}
    for task_id, due, attempt, ts in messages:
        seen[task_id] = seen.get(task_id, 0) + 1
    missing = [i for i in ids if i not in seen]
    early = [m for m in messages if m[3] < m[1]]
    duplicates = sum(n - 1 for n in seen.values())
    if missing or early:
        raise SystemExit(f"{name}: invalid run: {len(missing)} tasks missing, {len(early)} early")
    return duplicates


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args()
    n = 10_000 if args.quick else 100_000
    late_seconds = 2 if args.quick else 10
    rate = 10_000
    mock = Mock(os.path.join(args.build, "tests/kafka_mock/kafka_mock"))
    workdir = tempfile.mkdtemp(prefix="delayq-bench-sinks-")
    result = {"quick": args.quick, "tasks": n}
    delayq = None
    try:
        # The mock keeps about 5 MB per partition and drops older messages: enough
        # partitions that every message of a run is still there to be read back.
        for t in ["bench_ref"] + [f"bench_sink_{i}" for i in range(TOPICS)]:
            mock.command(f"create {t} 4 1")
        mock.command("create bench_late 32 1")
        ref = subprocess.run([os.path.join(args.build, "bench/kafka_producer_loop"),
                              mock.bootstrap, "bench_ref", str(n), str(len(PAYLOAD))],
                             capture_output=True, text=True, check=True)
        result["reference_per_second"] = json.loads(ref.stdout)["per_second"]

        delayq = Delayq(os.path.join(args.build, "src/delayq"), workdir, mock.bootstrap)
        # Warm the producer (connections, topic metadata) as the reference loop does.
        warm = delayq.add("bench_warm", "bench_sink_0", [now_ms()])
        while delayq.metric('delayq_sink_produced_total{sink="kafka"}') < 1:
            time.sleep(0.05)
        started = time.time()
        due = now_ms() + (3000 if args.quick else 8000)
        ids = []
        for i in range(TOPICS):
            ids += delayq.add(f"bench_t{i}", f"bench_sink_{i}", [due] * (n // TOPICS))
        if now_ms() >= due:
            raise SystemExit("throughput: adding took longer than the delay; invalid run")
        result["add_seconds"] = round(time.time() - started, 2)
        while delayq.metric('delayq_sink_produced_total{sink="kafka"}') < n + 1:
            time.sleep(0.01)
        done_ms = now_ms()
        messages = []
        for i in range(TOPICS):
            messages += read_back(mock.bootstrap, f"bench_sink_{i}")
        messages = [m for m in messages if m[0] not in warm]
        result["throughput_duplicates"] = check(messages, ids, "throughput")
        last_ts = max(m[3] for m in messages)
        result["sink_per_second"] = round(n / (max(done_ms, last_ts) - due) * 1000)
        result["ratio"] = round(result["sink_per_second"] / result["reference_per_second"], 2)

        first = now_ms() + (3000 if args.quick else 12000)
        count = rate * late_seconds
        dues = [first + i * 1000 // rate for i in range(count)]
        late_ids = delayq.add("bench_late", "bench_late", dues)
        if now_ms() >= first:
            raise SystemExit("lateness: adding took longer than the delay; invalid run")
        while delayq.metric('delayq_sink_produced_total{sink="kafka"}') < n + 1 + count:
            time.sleep(0.05)
        late = read_back(mock.bootstrap, "bench_late")
        result["lateness_duplicates"] = check(late, late_ids, "lateness")
        lateness = [ts - due for _, due, attempt, ts in late if attempt == 1]
        result["lateness_tasks"] = count
        result["lateness_p50_ms"] = percentile(lateness, 0.50)
        result["lateness_p99_ms"] = percentile(lateness, 0.99)
        result["lateness_max_ms"] = max(lateness)
    finally:
        if delayq:
            delayq.stop()
        mock.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    print("| measurement | result | target |")
    print("|---|---|---|")
    print(f"| plain librdkafka producer loop, {n:,} messages | "
          f"{result['reference_per_second']:,.0f} msg/s | reference |")
    print(f"| delayq Kafka sink, {n:,} tasks due at once on {TOPICS} topics | "
          f"{result['sink_per_second']:,} tasks/s = {result['ratio']}x the loop | >= 0.5x |")
    print(f"| lateness at {rate:,} due/s for {late_seconds} s | p50 {result['lateness_p50_ms']} ms,"
          f" p99 {result['lateness_p99_ms']} ms, max {result['lateness_max_ms']} ms | p99 <= 20 ms |")
    print(f"| duplicates | {result['throughput_duplicates']} + {result['lateness_duplicates']} | 0 |")
    print(json.dumps(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f)


if __name__ == "__main__":
    main()
