"""Listing a topic's scheduled tasks and its due horizon as the backlog grows: the time of one
page of 100 (`GET /v1/topics/{topic}/tasks`) from the start of the due index and from its
middle, and of the minute and hour horizons, at each backlog size. The page's cost is a range
read bounded per page, so its time should not grow with the backlog."""
import json
import time

from servers import Failure, HttpClient
from harness import median

TOPIC = "bench_listing"
MIN_DELAY_MS = 60_000
SPREAD_MS = 6 * 86_400_000


def timed(client, path, rounds):
    """Median and highest ms of `rounds` GETs of path on one keep-alive connection, and the last
    answer's JSON."""
    times, body = [], None
    for _ in range(rounds):
        started = time.perf_counter()
        status, text = client.request("GET", path)
        times.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise Failure(f"GET {path}: HTTP {status}: {text[:300]}")
        body = json.loads(text)
    return {"median_ms": round(median(times), 3), "max_ms": round(max(times), 3)}, body


def measure(ctx, server, stored):
    rounds, limit = ctx.sizes["rounds"], ctx.sizes["limit"]
    client = HttpClient(server.addr)
    try:
        now = int(time.time() * 1000)
        base = f"/v1/topics/{TOPIC}/tasks?state=scheduled&limit={limit}"
        first, page = timed(client, base, rounds)
        if len(page["tasks"]) != limit:
            raise Failure(f"the first page at {stored} stored holds {len(page['tasks'])} tasks, "
                          f"not {limit}")
        middle, page = timed(client, f"{base}&from_ms={now + SPREAD_MS // 2}", rounds)
        if len(page["tasks"]) != limit:
            raise Failure(f"the middle page at {stored} stored holds {len(page['tasks'])} tasks")
        minute, _ = timed(client, f"/v1/topics/{TOPIC}/horizon?bucket=minute", rounds)
        hour, horizon = timed(client, f"/v1/topics/{TOPIC}/horizon?bucket=hour", rounds)
    finally:
        client.close()
    point = {"stored": stored, "page_first": first, "page_middle": middle,
             "horizon_minute": minute, "horizon_hour": hour,
             "horizon_hour_total": sum(b["count"] for b in horizon["buckets"])}
    ctx.log(f"  {stored} stored: page of {limit} {first['median_ms']} ms (first), "
            f"{middle['median_ms']} ms (middle); horizon minute {minute['median_ms']} ms, hour "
            f"{hour['median_ms']} ms (hour buckets sum to {point['horizon_hour_total']})")
    return point


def run(ctx):
    sizes = ctx.sizes
    server = ctx.delayq("listing", "buffered")
    points, stored = [], 0
    for target in sizes["backlogs"]:
        ctx.log(f"loading {TOPIC} to {target} tasks due 1 min to 6 days ahead")
        ctx.loadgen("backlog-add", 3600, addr=server.addr, tasks=target - stored, batch=1000,
                    connections=16, topic=TOPIC, min_delay_ms=MIN_DELAY_MS, spread_ms=SPREAD_MS)
        stored = target
        points.append(measure(ctx, server, stored))
    ctx.stop_delayq(server)
    ctx.figures["points"] = points
    small, large = points[0], points[-1]
    ctx.figures["page_ratio"] = round(large["page_first"]["median_ms"] /
                                      small["page_first"]["median_ms"], 2)


def rows(view):
    f = view.fig("listing")
    if not f or "page_ratio" not in f:
        return
    limit = view.load("listing")["limit"]
    for p in f["points"]:
        yield (f"listing: one page of {limit} of {p['stored']:,} scheduled tasks (one topic), "
               f"then the topic's horizons",
               f"page from the start {p['page_first']['median_ms']} ms (max "
               f"{p['page_first']['max_ms']}), from the middle {p['page_middle']['median_ms']} ms; "
               f"horizon minute {p['horizon_minute']['median_ms']} ms, hour "
               f"{p['horizon_hour']['median_ms']} ms", "—", "—")
    small, large = f["points"][0], f["points"][-1]
    yield (f"listing: page time at {large['stored']:,} vs {small['stored']:,} stored",
           f"{large['page_first']['median_ms']} ms", f"{small['page_first']['median_ms']} ms",
           f"{f['page_ratio']:.2f}")
