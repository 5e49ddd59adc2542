"""The Kafka sink, into librdkafka's mock Kafka cluster (3 brokers on loopback), beside a plain
librdkafka producer loop (bench/kafka_producer_loop.cc, the sink's settings: idempotent,
acks=all) into the same cluster in the same run:
  1. reference: N messages as fast as librdkafka takes them;
  2. throughput: N tasks on 4 topics, all due at one moment, through delayq's Kafka sink;
     tasks/s = N / (the due moment → the last delivery report);
  3. lateness: tasks due at 10,000 per second for D seconds; lateness = the message's
     CreateTime (stamped by librdkafka when delayq hands it over) − its due time.
Every message is read back with kcat (not delayq's code): a task missing or early makes the
run invalid."""
import json
import os
import time

import servers
from servers import Failure

PRODUCED = 'delayq_sink_produced_total{sink="kafka"}'


def now_ms():
    return int(time.time() * 1000)


def start_delayq(ctx, bootstrap):
    directory = ctx.group.directory("sinks-delayq")
    config = os.path.join(directory, "delayq.yaml")
    with open(config, "w") as f:
        # The sink's throughput is bounded by the calls in flight, as for callbacks: the
        # defaults (256 in all, 64 per topic) are sized for HTTP receivers.
        f.write(f'sinks:\n  kafka:\n    brokers: "{bootstrap}"\n'
                "callbacks:\n  max_in_flight: 20000\n  max_in_flight_per_topic: 5000\n"
                "access_log: false\n")
    return ctx.delayq("sinks-delayq", None, "--config", config)


def add(client, topic, kafka_topic, due_times, payload):
    ids = []
    for start in range(0, len(due_times), 1000):
        tasks = [{"payload": payload, "at_ms": due, "sink": {"kafka": {"topic": kafka_topic}}}
                 for due in due_times[start:start + 1000]]
        status, body = client.request("POST", f"/v1/topics/{topic}/tasks:batch",
                                      json.dumps({"tasks": tasks}))
        if status != 201:
            raise Failure(f"sinks: add: {status} {body}")
        ids += json.loads(body)["ids"]
    return ids


def wait_produced(client, count, interval_s):
    """Until the sink reports count messages produced (bounded by the section's timeout)."""
    if not servers.wait_until(lambda: (client.metric(PRODUCED) or 0) >= count, 300, interval_s):
        raise Failure(f"sinks: fewer than {count} messages produced within 300 s")


def read_back(ctx, bootstrap, topic):
    out = ctx.tool([ctx.bin["kcat"], "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e",
                    "-J", "-q"], 300)
    messages = []
    for line in out.splitlines():
        m = json.loads(line)
        h = m.get("headers") or []
        headers = dict(zip(h[0::2], h[1::2]))
        messages.append((headers["delayq-task-id"], int(headers["delayq-due-at-ms"]),
                         int(headers["delayq-attempt"]), m["ts"]))
    return messages


def check(messages, ids, name):
    seen = {}
    for task_id, *_ in messages:
        seen[task_id] = seen.get(task_id, 0) + 1
    missing = [i for i in ids if i not in seen]
    early = [m for m in messages if m[3] < m[1]]
    if missing or early:
        raise Failure(f"sinks {name}: {len(missing)} tasks missing, {len(early)} early")
    return sum(n - 1 for n in seen.values())


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def run(ctx):
    sizes, f = ctx.sizes, ctx.figures
    n, payload = sizes["tasks"], "x" * sizes["payload_bytes"]
    mock = servers.KafkaMock(ctx.group, ctx.bin["kafka_mock"])
    # The mock keeps about 5 MB per partition and drops older messages: enough partitions that
    # every message of a run is still there to be read back.
    for topic in ["bench_ref"] + [f"bench_sink_{i}" for i in range(sizes["topics"])]:
        mock.command(f"create {topic} 4 1")
    mock.command("create bench_late 32 1")
    out = ctx.tool([ctx.bin["kafka_producer_loop"], mock.bootstrap, "bench_ref", str(n),
                    str(len(payload))], 300)
    f["reference_per_second"] = json.loads(out)["per_second"]

    server = start_delayq(ctx, mock.bootstrap)
    client = servers.HttpClient(server.addr)
    # Warm the producer (connections, topic metadata) as the reference loop does.
    warm = add(client, "bench_warm", "bench_sink_0", [now_ms()], payload)
    wait_produced(client, 1, 0.05)
    started = time.monotonic()
    due = now_ms() + sizes["throughput_lead_ms"]
    ids = []
    for i in range(sizes["topics"]):
        ids += add(client, f"bench_t{i}", f"bench_sink_{i}", [due] * (n // sizes["topics"]), payload)
    if now_ms() >= due:
        raise Failure("sinks throughput: adding took longer than the delay; invalid run")
    f["add_seconds"] = round(time.monotonic() - started, 2)
    wait_produced(client, n + 1, 0.01)
    done_ms = now_ms()
    messages = []
    for i in range(sizes["topics"]):
        messages += read_back(ctx, mock.bootstrap, f"bench_sink_{i}")
    messages = [m for m in messages if m[0] not in warm]
    f["throughput_duplicates"] = check(messages, ids, "throughput")
    last_ts = max(m[3] for m in messages)
    f["sink_per_second"] = round(n / (max(done_ms, last_ts) - due) * 1000)

    first = now_ms() + sizes["lateness_lead_ms"]
    count = sizes["lateness_rate"] * sizes["lateness_seconds"]
    dues = [first + i * 1000 // sizes["lateness_rate"] for i in range(count)]
    late_ids = add(client, "bench_late", "bench_late", dues, payload)
    if now_ms() >= first:
        raise Failure("sinks lateness: adding took longer than the delay; invalid run")
    wait_produced(client, n + 1 + count, 0.05)
    late = read_back(ctx, mock.bootstrap, "bench_late")
    f["lateness_duplicates"] = check(late, late_ids, "lateness")
    lateness = [ts - due for _, due, attempt, ts in late if attempt == 1]
    f["lateness_tasks"] = count
    f["lateness_p50_ms"] = percentile(lateness, 0.50)
    f["lateness_p99_ms"] = percentile(lateness, 0.99)
    f["lateness_max_ms"] = max(lateness)
    client.close()
    ctx.stop_delayq(server)
    mock.stop()


def rows(view):
    f = view.fig("sinks")
    if not f or "lateness_max_ms" not in f:
        return
    sizes = view.load("sinks")
    n = sizes["tasks"]
    yield (f"Kafka sink: {n:,} tasks due at once on {sizes['topics']} topics → librdkafka's mock "
           "cluster (3 brokers); callbacks.max_in_flight 20000, per topic 5000",
           f"{f['sink_per_second']:,} tasks/s (due moment → last delivery report); "
           f"{f['throughput_duplicates']} duplicates",
           f"plain librdkafka producer loop, {n:,} messages: {f['reference_per_second']:,.0f} msg/s",
           view.ratio(f["sink_per_second"], f["reference_per_second"]))
    yield (f"Kafka sink lateness: {sizes['lateness_rate']:,} due/s for {sizes['lateness_seconds']} "
           f"s ({f['lateness_tasks']:,} tasks); CreateTime − due, read back with kcat",
           f"p50 {f['lateness_p50_ms']} ms, p99 {f['lateness_p99_ms']} ms, max "
           f"{f['lateness_max_ms']} ms; {f['lateness_duplicates']} duplicates, none missing or early",
           "—", "—")
