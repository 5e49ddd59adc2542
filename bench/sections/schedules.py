"""Recurring schedules, on one server (embedded store, durability buffered, access log off):
  1. create: N schedules, one occurrence per period, spread evenly over one period
     (start_at_ms = t0 + i * period / N), PUT by 8 client threads; the time to create them;
  2. fire: for one full period (every schedule's first occurrence, and the next one made at
     each) 4 consumers pull (max 1000, long poll) and ack; lateness = the pull answered − the
     task's due_at_ms (the occurrence); every occurrence exactly once, none early;
  3. memory: RSS after creating the schedules minus before, against a second server holding N
     plain tasks with the same due times (what the pending occurrence tasks cost by
     themselves): the difference per schedule is the schedules' own cost."""
import json
import threading
import time

import servers
from servers import Failure


def now_ms():
    return int(time.time() * 1000)


def start(ctx, name):
    return ctx.delayq(name, "buffered", "--access-log", "false")


def parallel(server, clients, count, work):
    """work(client, i) for i in range(count) on `clients` threads, one connection each."""
    errors = []

    def run(k):
        client = servers.HttpClient(server.addr)
        for i in range(k, count, clients):
            status, body = work(client, i)
            if status not in (200, 201):
                errors.append(f"{status} {body}")
                return
        client.close()

    threads = [threading.Thread(target=run, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise Failure(f"schedules: {errors[0]}")


def consume(server, until_ms, seen, lateness, lock, errors):
    client = servers.HttpClient(server.addr)
    while now_ms() < until_ms:
        status, body = client.request("POST", "/v1/topics/bench/pull", json.dumps(
            {"max": 1000, "wait_ms": 500, "lease_ms": 300000}))
        at = now_ms()
        if status != 200:
            errors.append(f"pull: {status} {body}")
            return
        tasks = json.loads(body)["tasks"]
        with lock:
            for t in tasks:
                key = (t["payload"], t["due_at_ms"])
                seen[key] = seen.get(key, 0) + 1
                lateness.append(at - t["due_at_ms"])
        if tasks:
            status, body = client.request("POST", "/v1/tasks:ack", json.dumps(
                {"acks": [{"id": t["id"], "lease": t["lease"]} for t in tasks]}))
            if status != 200:
                errors.append(f"ack: {status} {body}")
                return
    client.close()


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else None


def run(ctx):
    sizes, f = ctx.sizes, ctx.figures
    n, period, clients = sizes["count"], sizes["period_ms"], sizes["clients"]
    # The tasks' own cost: the same due times as plain tasks in another server.
    plain = start(ctx, "schedules-plain")
    time.sleep(sizes["settle_s"])
    before = plain.rss_kb()
    t_plain = now_ms() + 3_600_000
    parallel(plain, clients, (n + 999) // 1000, lambda c, i: c.request(
        "POST", "/v1/topics/bench/tasks:batch", json.dumps({"tasks": [
            {"payload": str(j), "at_ms": t_plain + j * period // n}
            for j in range(i * 1000, min(n, (i + 1) * 1000))]})))
    time.sleep(2 * sizes["settle_s"])
    f["rss_plain_tasks_bytes"] = (plain.rss_kb() - before) * 1024
    ctx.stop_delayq(plain)

    server = start(ctx, "schedules")
    time.sleep(sizes["settle_s"])
    before = server.rss_kb()
    t0 = now_ms() + sizes["lead_ms"] + n // 2
    started = time.monotonic()
    parallel(server, clients, n, lambda c, i: c.request("PUT", f"/v1/schedules/s{i}", json.dumps({
        "topic": "bench", "every_ms": period, "start_at_ms": t0 + i * period // n,
        "task": {"payload": str(i)}})))
    f["create_seconds"] = round(time.monotonic() - started, 2)
    f["create_per_second"] = round(n / f["create_seconds"]) if f["create_seconds"] else None
    if now_ms() > t0:
        raise Failure("schedules: creating took longer than planned; first occurrences passed")
    time.sleep(sizes["settle_s"])
    f["rss_schedules_bytes"] = (server.rss_kb() - before) * 1024
    seen, lateness, lock, errors = {}, [], threading.Lock(), []
    consumers = [threading.Thread(target=consume, args=(server, t0 + period + 1000, seen,
                                                        lateness, lock, errors))
                 for _ in range(sizes["consumers"])]
    for c in consumers:
        c.start()
    for c in consumers:
        c.join()
    ctx.stop_delayq(server)
    if errors:
        raise Failure(f"schedules: {errors[0]}")
    f["fired_first_period"] = sum(1 for (_, due) in seen if due < t0 + period)
    f["duplicated"] = sum(1 for v in seen.values() if v > 1)
    f["early"] = sum(1 for v in lateness if v < 0)
    f["lateness_p50_ms"] = percentile(lateness, 0.50)
    f["lateness_p99_ms"] = percentile(lateness, 0.99)
    f["lateness_max_ms"] = max(lateness) if lateness else None
    f["rss_per_schedule_beyond_tasks"] = round(
        (f["rss_schedules_bytes"] - f["rss_plain_tasks_bytes"]) / n, 1)
    if f["fired_first_period"] != n or f["duplicated"] or f["early"]:
        raise Failure(f"schedules: {f['fired_first_period']} of {n} first occurrences, "
                      f"{f['duplicated']} twice, {f['early']} early")


def rows(view):
    f = view.fig("schedules")
    if not f or "rss_per_schedule_beyond_tasks" not in f:
        return
    sizes = view.load("schedules")
    n, period_s = sizes["count"], sizes["period_ms"] / 1000
    yield (f"schedules: {n:,} every-{period_s:g}-s schedules, occurrences spread over one period, "
           f"PUT by {sizes['clients']} clients; buffered",
           f"created in {f['create_seconds']} s ({view.rate(f['create_per_second'], 'schedules/s')})",
           "—", "—")
    yield (f"schedules: the first period's occurrences, {sizes['consumers']} consumers (pull max "
           "1,000, long poll, batch ack)",
           f"lateness (pull answered − due_at_ms) p50 {f['lateness_p50_ms']} ms, p99 "
           f"{f['lateness_p99_ms']} ms, max {f['lateness_max_ms']} ms; {f['fired_first_period']:,} "
           "of them, each exactly once", "—", "—")
    yield ("schedules: RSS growth per schedule beyond its pending occurrence task",
           f"{f['rss_per_schedule_beyond_tasks']} B (schedules +{f['rss_schedules_bytes'] // 1024} "
           f"kB)", f"{n:,} plain tasks, same due times: +{f['rss_plain_tasks_bytes'] // 1024} kB",
           "—")
