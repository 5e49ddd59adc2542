"""v1 firing with millisecond due times: c1, tasks due uniformly over a spread; c2, a burst due
within one second. Lateness at 4 pull consumers (max 100), acking."""
from harness import median

CHECKED = ["missing", "duplicates", "unexpected", "redelivered", "early", "add_errors",
           "pull_errors", "ack_errors"]


def run(ctx):
    sizes = ctx.sizes
    server = ctx.delayq("fire-ms", "fsync")
    for case in sizes["cases"]:
        name = case["name"]
        ctx.log(f"fire-ms {name}: {case['tasks']} tasks within {case['spread_ms']} ms (at_ms, "
                f"first due >= {sizes['lead_ms']} ms after the adds start), {sizes['consumers']} "
                f"consumers, max {sizes['max']}, delayq on {server.addr}")
        p50s, p99s, maxes, late_added = [], [], [], 0
        for _ in range(ctx.repetitions):
            out = ctx.loadgen("fire-ms", sizes["lead_ms"] // 1000 + 200, addr=server.addr,
                              tasks=case["tasks"], spread_ms=case["spread_ms"],
                              lead_ms=sizes["lead_ms"], consumers=sizes["consumers"],
                              max=sizes["max"], wait_ms=sizes["wait_ms"],
                              lease_ms=sizes["lease_ms"], timeout_s=sizes["timeout_s"],
                              ack_mode=ctx.ack_mode)
            ctx.require_zero(out, CHECKED, f"fire-ms {name}")
            p50s.append(out["p50_ms"])
            p99s.append(out["p99_ms"])
            maxes.append(out["max_ms"])
            late_added += out["added_after_due"]
        if late_added:
            ctx.log(f"WARNING: {late_added} tasks were acknowledged after they were due")
        ctx.figures[name] = {"p50_ms": median(p50s), "p99_ms": median(p99s),
                             "max_ms": median(maxes), "worst_max_ms": max(maxes),
                             "added_after_due": late_added}
    ctx.stop_delayq(server)


def ack_words(mode):
    if mode == "single":
        return "the acks of a pull pipelined on its connection, one request each"
    return "the acks of a pull in one POST /v1/tasks:ack"


def rows(view):
    sizes = view.load("fire-ms")
    for case in sizes["cases"]:
        figure = view.fig(f"fire-ms.{case['name']}")
        if not figure:
            continue
        if case.get("burst"):
            description = f"{case['tasks']} tasks due within one second"
        else:
            description = f"{case['tasks']} tasks due uniformly within {case['spread_ms'] // 1000} s"
        note = f" ({figure['added_after_due']} added after due)" if figure["added_after_due"] else ""
        yield (f"firing (v1, ms precision): {description}, added beforehand in batches of 1,000; "
               f"{sizes['consumers']} pull consumers (max {sizes['max']}, wait_ms "
               f"{sizes['wait_ms']}; {ack_words(view.data.get('ack_mode'))}); fsync",
               f"lateness (pull answer read − due_at_ms) p50 {figure['p50_ms']} ms, p99 "
               f"{figure['p99_ms']} ms, max {figure['max_ms']} ms (worst run "
               f"{figure['worst_max_ms']} ms); each task exactly once in every run{note}",
               "—", "—")
