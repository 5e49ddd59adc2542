"""Seed firing at 1 s resolution: tasks due on distinct seconds, taken by seed pulls."""
from harness import median
from servers import Failure


def run(ctx):
    """The repetitions on one server (as the fire-ms section does); figures are medians."""
    sizes = ctx.sizes
    server = ctx.delayq("fire", "fsync")
    ctx.log(f"firing: {sizes['tasks']} tasks over {sizes['spread_s']} s, {sizes['consumers']} "
            f"consumers, delayq on {server.addr}")
    runs = [one_run(ctx, server) for _ in range(ctx.repetitions)]
    ctx.stop_delayq(server)
    for key in ("p50_ms", "p99_ms", "max_ms", "added_after_due", "add_rps"):
        ctx.figures[key] = median([out[key] for out in runs])
    ctx.figures["p99_runs_ms"] = [out["p99_ms"] for out in runs]


def one_run(ctx, server):
    sizes = ctx.sizes
    out = ctx.loadgen("fire", sizes["lead_s"] + sizes["spread_s"] + 120, addr=server.addr,
                      tasks=sizes["tasks"], spread_s=sizes["spread_s"],
                      consumers=sizes["consumers"], lead_s=sizes["lead_s"])
    ctx.require_zero(out, ["missing", "duplicates", "unexpected", "early", "add_errors"], "firing")
    if out.get("received") != sizes["tasks"]:
        raise Failure("firing: not every task received")
    if out["added_after_due"]:
        # The adds ran into the firing window, so part of the lateness is the add phase's.
        ctx.log(f"WARNING: {out['added_after_due']} tasks were acknowledged after their due second")
    ctx.log(f"firing: p50 {out['p50_ms']} ms, p99 {out['p99_ms']} ms, max {out['max_ms']} ms")
    return out


def rows(view):
    figure = view.fig("fire")
    if not figure:
        return
    sizes = view.load("fire")
    note = f" ({figure['added_after_due']} added after due)" if figure["added_after_due"] else ""
    yield (f"firing: {sizes['tasks']} tasks due on {sizes['spread_s']} distinct seconds "
           f"(~{sizes['tasks'] // sizes['spread_s']}/s, 1 s resolution), {sizes['consumers']} "
           "consumers, fsync",
           f"lateness p50 {figure['p50_ms']} ms, p99 {figure['p99_ms']} ms, max "
           f"{figure['max_ms']} ms; 0 duplicates{note}",
           "seed: 1,000/s on time, 3,000/s sometimes 1–2 s late", "—")
    yield "firing add phase, 32 conn, fsync", view.rps(figure["add_rps"]), "seed: ~35 writes/s", "—"
