"""Callbacks to nginx /cb (access log on), beside wrk on the same location: throughput of
tasks all due at one instant, and lateness of tasks due within one second. Every call is read
back from the receiver's log: each task exactly once, none early."""
import shutil
import time

import servers
from servers import Failure


def run(ctx):
    sizes = ctx.sizes
    nginx = servers.Nginx(ctx.group, ctx.bin["nginx"], "callbacks").start()
    url = f"http://{nginx.addr}/cb"
    server = ctx.delayq("callbacks", "fsync", *sizes["delayq_flags"])
    ctx.log(f"callbacks to nginx {url}, delayq on {server.addr} ({' '.join(sizes['delayq_flags'])})")
    throughput(ctx, server, nginx, url)
    lateness(ctx, server, nginx, url)
    ctx.stop_delayq(server)
    reference(ctx, url)
    nginx.stop()


def called(ctx, nginx, part, ids, count, timeout_s):
    """Waits for count calls in the receiver's log, then checks them against ids; the log
    starts over for the next part."""
    if not ctx.wait_for_lines(nginx.cb_log, count, timeout_s):
        raise Failure("callbacks: not every task was called")
    # A moment for late duplicates to show up.
    time.sleep(0.5)
    log = ctx.work_path(f"cb-{part}.log")
    shutil.copy(nginx.cb_log, log)
    open(nginx.cb_log, "w").close()
    out = ctx.check_callback_log(log, ids, allow_invalid=True)
    if out.get("missing") or out.get("duplicates") or out.get("unexpected") or out.get("early") \
            or out.get("malformed"):
        raise Failure(f"callbacks: {log} does not hold each added task exactly once ({out})")
    return out


def throughput(ctx, server, nginx, url):
    """Every task due at the same instant, the start of the add phase ("due now")."""
    tasks = ctx.sizes["tasks"]
    ctx.log(f"callback throughput: {tasks} tasks due now")
    ids = ctx.work_path("cb-throughput.ids")
    add = ctx.loadgen("callback-add", 120, addr=server.addr, tasks=tasks, url=url,
                      topic="bench_cb_throughput", ids_out=ids)
    out = called(ctx, nginx, "throughput", ids, tasks, 120)
    span_ms = out["last_log_ms"] - add["first_due_ms"]
    ctx.figures["rate"] = tasks * 1000 / (span_ms if span_ms > 0 else 1)
    ctx.log(f"  {tasks} callbacks in {span_ms} ms from the due instant; add phase {add['add_s']} s")
    ctx.figures["throughput"] = {k: out[k] for k in ("p50_ms", "p99_ms", "max_ms")}


def lateness(ctx, server, nginx, url):
    """Due within one second, added well before it."""
    tasks, lead_ms = ctx.sizes["lateness_tasks"], ctx.sizes["lateness_lead_ms"]
    ctx.log(f"callback lateness: {tasks} tasks due within one second, >= {lead_ms} ms ahead")
    ids = ctx.work_path("cb-lateness.ids")
    add = ctx.loadgen("callback-add", 120, addr=server.addr, tasks=tasks, url=url,
                      topic="bench_cb_lateness", lead_ms=lead_ms, spread_ms=1000, ids_out=ids)
    if add["added_after_due"]:
        ctx.log(f"WARNING: {add['added_after_due']} callback tasks were acknowledged after they "
                "were due")
    out = called(ctx, nginx, "lateness", ids, tasks, lead_ms // 1000 + 60)
    ctx.figures["lateness"] = {k: out[k] for k in ("p50_ms", "p99_ms", "max_ms")}
    ctx.figures["lateness"]["added_after_due"] = add["added_after_due"]


def reference(ctx, url):
    """The same nginx location (logging included) under wrk."""
    if "wrk" not in ctx.bin:
        ctx.note("wrk is not installed; no callback reference (apt-get install wrk)")
        return
    seconds = ctx.sizes["wrk_duration_s"]
    ctx.log(f"wrk -t1 -c64 -d{seconds}s {url}")
    out = ctx.tool([ctx.bin["wrk"], "-t1", "-c64", f"-d{seconds}s", url], seconds + 30)
    ctx.log("  " + " ".join(out.split()))
    if "Non-2xx" in out:
        raise Failure("wrk: " + next(l for l in out.splitlines() if "Non-2xx" in l).strip())
    rates = [l.split()[1] for l in out.splitlines() if l.startswith("Requests/sec:")]
    if not rates:
        raise Failure("wrk printed no Requests/sec")
    ctx.figures["wrk_rps"] = float(rates[0])


def rows(view):
    figure = view.fig("callbacks")
    if not figure or "lateness" not in figure:
        return
    sizes = view.load("callbacks")
    flags = " ".join(sizes["delayq_flags"])
    t, late = figure["throughput"], figure["lateness"]
    ours = (f"{view.rate(figure['rate'], 'callbacks/s')} (due instant → last logged), lateness "
            f"p50 {t['p50_ms']} ms, p99 {t['p99_ms']} ms, max {t['max_ms']} ms; each task "
            "exactly once")
    scenario = (f"callbacks: {sizes['tasks']} tasks due now → nginx `return 200` /cb, access log "
                f"on; delayq {flags}, fsync")
    if figure.get("wrk_rps"):
        yield (scenario, ours, f"wrk -t1 -c64 -d{sizes['wrk_duration_s']}s on /cb: "
               f"{view.rps(figure['wrk_rps'])}", view.ratio(figure["rate"], figure["wrk_rps"]))
    else:
        yield scenario, ours, "n/a (no wrk)", "n/a"
    note = f" ({late['added_after_due']} added after due)" if late["added_after_due"] else ""
    yield (f"callback lateness: {sizes['lateness_tasks']} tasks due within one second (at_ms "
           f"uniform, ≥ {sizes['lateness_lead_ms'] // 1000} s ahead, added in batches); same "
           "delayq flags",
           f"receiver $msec − X-Delayq-Due-At: p50 {late['p50_ms']} ms, p99 {late['p99_ms']} ms, "
           f"max {late['max_ms']} ms; each task exactly once{note}", "—", "—")
