"""Many topics with one callback task each, due within a short spread, called at nginx /cb:
lateness, RSS and threads per idle topic, against the same tasks in one topic (same payload,
URL and topic-name length), so the difference in RSS growth is what the topics cost."""
import shutil
import time

import servers
from servers import Failure


def run(ctx):
    nginx = servers.Nginx(ctx.group, ctx.bin["nginx"], "topics").start()
    ctx.figures["one"] = one_run(ctx, nginx, "one-topic", one_topic="bt00000000")
    ctx.figures["many"] = one_run(ctx, nginx, "many-topics")
    nginx.stop()
    count = ctx.sizes["count"]
    grown = ctx.figures["many"]["rss_delta_kb"] - ctx.figures["one"]["rss_delta_kb"]
    ctx.figures["bytes_per_topic_while_busy"] = round(grown * 1024 / count)
    # Topics that never went idle: what grew is the undelivered work, not idle topics.
    ctx.figures["bytes_per_topic"] = (round(grown * 1024 / count)
                                      if ctx.figures["many"]["missing"] == 0 else None)


def one_run(ctx, nginx, label, **extra):
    sizes = ctx.sizes
    count, lead_ms, spread_ms = sizes["count"], sizes["lead_ms"], sizes["spread_ms"]
    name = f"topics-{label}"
    open(nginx.cb_log, "w").close()
    server = ctx.delayq(name, "fsync", *sizes["delayq_flags"])
    time.sleep(0.5)
    rss_before, threads_before = server.rss_kb(), server.threads()
    ctx.log(f"{label}: {count} callback tasks due within {spread_ms} ms, >= {lead_ms} ms ahead; "
            f"delayq on {server.addr}, RSS {rss_before} kB, {threads_before} threads")
    ids = ctx.work_path(f"{name}.ids")
    add = ctx.loadgen("topics-add", lead_ms // 1000 + 300, addr=server.addr, topics=count,
                      url=f"http://{nginx.addr}/cb", lead_ms=lead_ms, spread_ms=spread_ms,
                      connections=64, ids_out=ids, **extra)
    if add["added_after_due"]:
        ctx.log(f"WARNING: {add['added_after_due']} tasks were acknowledged after they were due")
    # Bounded: the last task is due lead + spread after the adds began; a minute on top is far
    # more than delivering them takes when it works. Not delivering them all is a result to
    # report (the row is still shown), and makes the run exit non-zero.
    bound_s = (lead_ms + spread_ms) // 1000 + 60
    complete = ctx.wait_for_lines(nginx.cb_log, count, bound_s)
    time.sleep(sizes["settle_s"])
    log = ctx.work_path(f"{name}.log")
    shutil.copy(nginx.cb_log, log)
    out = ctx.check_callback_log(log, ids, allow_invalid=True)
    for field in ("duplicates", "unexpected", "malformed", "early"):
        if out.get(field):
            raise Failure(f"topics ({label}): {field} = {out[field]}")
    if not complete or out["missing"]:
        ctx.invalid(f"topics ({label}): {out['missing']} of {count} tasks not called within "
                    f"{bound_s} s of the adds (delayq log: {server.dir}/stderr)")
    figure = {k: out[k] for k in ("p50_ms", "p99_ms", "max_ms", "missing")}
    figure["added_after_due"] = add["added_after_due"]
    figure["rss_delta_kb"] = server.rss_kb() - rss_before
    figure["threads_before"], figure["threads_after"] = threads_before, server.threads()
    ctx.log(f"  RSS +{figure['rss_delta_kb']} kB, {figure['threads_after']} threads")
    if not out["missing"]:
        ctx.stop_delayq(server)
    elif ctx.group.stop(server.process) is None:
        # A server that failed the run may also fail to stop: a result too, reported.
        ctx.invalid(f"topics ({label}): delayq did not stop within 10 s of SIGTERM and was killed")
        figure["killed"] = True
    return figure


def note_of(figure, count, bound_s):
    note = f" ({figure['added_after_due']} added after due)" if figure["added_after_due"] else ""
    if figure["missing"]:
        note += f" — **{figure['missing']} of {count} not called** within {bound_s} s"
    if figure.get("killed"):
        note += "; did not stop within 10 s of SIGTERM (killed)"
    return note


def rows(view):
    f = view.fig("topics")
    if not f or "many" not in f:
        return
    sizes = view.load("topics")
    count, many, one = sizes["count"], f["many"], f["one"]
    bound_s = (sizes["lead_ms"] + sizes["spread_ms"]) // 1000 + 60
    called = "each task exactly once" if many["missing"] == 0 else "no task called twice"
    yield (f"(f) many topics: {count} topics with one callback task each, due within "
           f"{sizes['spread_ms'] // 1000} s → nginx /cb; delayq {' '.join(sizes['delayq_flags'])}, "
           "fsync",
           f"lateness at nginx p50 {many['p50_ms']} ms, p99 {many['p99_ms']} ms, max "
           f"{many['max_ms']} ms, {called}{note_of(many, count, bound_s)}; RSS "
           f"+{many['rss_delta_kb'] // 1024} MiB, threads {many['threads_before']} → "
           f"{many['threads_after']}",
           f"same {count} tasks in one topic: p50 {one['p50_ms']} ms, p99 {one['p99_ms']} ms, max "
           f"{one['max_ms']} ms{note_of(one, count, bound_s)}; RSS +{one['rss_delta_kb'] // 1024} "
           "MiB", "—")
    if f["bytes_per_topic"] is not None:
        yield (f"(f) memory per idle topic: (RSS growth with {count} topics − with one topic) ÷ "
               f"{count}", f"{f['bytes_per_topic']} bytes per topic", "—", "—")
    else:
        yield ("(f) memory per idle topic", f"not measurable: {many['missing']} deliveries still "
               f"pending (RSS +{many['rss_delta_kb'] // 1024} MiB, "
               f"{f['bytes_per_topic_while_busy']} bytes per topic while not idle)", "—", "—")
