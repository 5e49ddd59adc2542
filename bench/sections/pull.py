"""v1 pull + ack throughput: tasks due, 4 consumers, max 100, lease 60 s."""
from servers import Failure
from sections.fire_ms import ack_words


def run(ctx):
    sizes = ctx.sizes
    server = ctx.delayq("pull", "fsync")
    ctx.log(f"v1 pull + ack: {sizes['tasks']} tasks due, {sizes['consumers']} consumers, max "
            f"{sizes['max']}, delayq on {server.addr}")
    out = ctx.loadgen("pull", 180, addr=server.addr, tasks=sizes["tasks"],
                      consumers=sizes["consumers"], max=sizes["max"], lease_ms=sizes["lease_ms"],
                      ack_mode=ctx.ack_mode)
    ctx.stop_delayq(server)
    ctx.require_zero(out, ["missing", "duplicates", "unexpected", "redelivered", "preload_errors",
                           "pull_errors", "ack_errors"], "pull")
    if out.get("acked") != sizes["tasks"]:
        raise Failure("pull: not every task acked")
    for key in ("tasks_per_s", "pull_p99_ms", "acks_p99_ms", "preload_tasks_per_s"):
        ctx.figures[key] = out[key]


def rows(view):
    figure = view.fig("pull")
    if not figure:
        return
    sizes = view.load("pull")
    yield (f"v1 pull + ack: {sizes['tasks']} tasks due, {sizes['consumers']} consumers, max "
           f"{sizes['max']}, lease {sizes['lease_ms'] // 1000} s; "
           f"{ack_words(view.data.get('ack_mode'))}; fsync",
           f"{view.rate(figure['tasks_per_s'], 'tasks/s')} pulled and acked, pull p99 "
           f"{figure['pull_p99_ms']} ms, {sizes['max']} acks p99 {figure['acks_p99_ms']} ms; "
           "each task exactly once",
           f"preload, batches of 1,000: {view.rate(figure['preload_tasks_per_s'], 'tasks/s')}", "—")
