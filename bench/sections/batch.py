"""v1 batch adds, 100 tasks per request, fsync, 1 and 64 connections."""
from servers import Failure


def run(ctx):
    batch = ctx.sizes["batch"]
    for connections in ctx.sizes["connections"]:
        name = f"batch-fsync-{connections}"
        server = ctx.delayq(name, "fsync")
        ctx.log(f"v1 batch add, {batch} tasks per request, fsync, {connections} connection(s), "
                f"delayq on {server.addr}")
        before = server.metric("delayq_tasks_added_total")
        figure = ctx.closed_loop("batch", server.addr, connections, batch=batch)
        added = server.metric("delayq_tasks_added_total") - before
        ctx.stop_delayq(server)
        # A batch is all or nothing: every answered request stored exactly its tasks.
        expected = figure["requests"] * batch
        if added != expected:
            raise Failure(f"batch: /metrics shows {added} tasks added, expected {expected}")
        figure["tasks_per_s"] = round(figure["rps"] * batch, 1)
        ctx.figures[str(connections)] = figure
    ctx.figures["best_tasks_per_s"] = max(
        ctx.figures[str(c)]["tasks_per_s"] for c in ctx.sizes["connections"])


def rows(view):
    sizes = view.load("batch")
    for connections in sizes["connections"]:
        figure = view.fig(f"batch.{connections}")
        if not figure:
            continue
        add = view.fig(f"adds.fsync-{connections}")
        if add:
            reference = (f"seed single add, fsync, {connections} conn: {view.rps(add['rps'])}, "
                         f"so ×{view.ratio(figure['tasks_per_s'], add['rps'])} the tasks/s")
        else:
            reference = "— (section adds not run)"
        yield (f"v1 batch add, {sizes['batch']} tasks/request, fsync, {connections} conn",
               f"{view.rate(figure['tasks_per_s'], 'tasks/s')} ({view.rps(figure['rps'])}), p99 "
               f"{figure['p99_ms']} ms", reference, "—")
