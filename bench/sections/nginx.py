"""nginx `return 200`: the HTTP ceiling, at each connection count of the delayq rows."""
import servers


def run(ctx):
    nginx = servers.Nginx(ctx.group, ctx.bin["nginx"], "nginx").start()
    ctx.figures["version"] = nginx.version()
    ctx.log(f"nginx {ctx.figures['version']} on {nginx.addr}")
    for connections in ctx.sizes["connections"]:
        ctx.log(f"nginx return 200, {connections} connection(s)")
        ctx.figures[str(connections)] = ctx.closed_loop("http", nginx.addr, connections, path="/")
    nginx.stop()


def rows(view):
    for connections in view.load("nginx")["connections"]:
        figure = view.fig(f"nginx.{connections}")
        if figure:
            yield (f"nginx `return 200` (reference), {connections} conn", "—",
                   f"{view.rps(figure['rps'])}, p99 {figure['p99_ms']} ms", "1.00")
