"""v1 long poll: a pull waits on a fresh topic, a task is added with a short delay; the wake-up
latency (answer read − due_at_ms)."""


def run(ctx):
    sizes = ctx.sizes
    server = ctx.delayq("longpoll", "fsync")
    ctx.log(f"v1 long poll: {sizes['rounds']} rounds, delayq on {server.addr}")
    out = ctx.loadgen("longpoll", sizes["rounds"] * 12 + 30, addr=server.addr,
                      rounds=sizes["rounds"], delay_ms=sizes["delay_ms"], wait_ms=sizes["wait_ms"])
    ctx.stop_delayq(server)
    for key in ("p50_ms", "p99_ms", "max_ms"):
        ctx.figures[key] = out[key]


def rows(view):
    figure = view.fig("longpoll")
    if not figure:
        return
    sizes = view.load("longpoll")
    yield (f"v1 long poll: a pull waits (wait_ms {sizes['wait_ms']}) on a fresh topic, a task is "
           f"added with delay_ms {sizes['delay_ms']}; {sizes['rounds']} rounds, fsync",
           f"answer read − due_at_ms: p50 {figure['p50_ms']} ms, p99 {figure['p99_ms']} ms, max "
           f"{figure['max_ms']} ms", "—", "—")
