"""Seed single adds: fsync and buffered, 1 and 64 connections, adds per group commit."""
from servers import Failure


def run(ctx):
    for durability in ctx.sizes["durabilities"]:
        for connections in ctx.sizes["connections"]:
            name = f"add-{durability}-{connections}"
            server = ctx.delayq(name, durability)
            ctx.log(f"seed add, {durability}, {connections} connection(s), delayq on {server.addr}")
            added = -server.metric("delayq_tasks_added_total")
            commits = -server.metric("delayq_add_commits_total")
            figure = ctx.closed_loop("add", server.addr, connections)
            added += server.metric("delayq_tasks_added_total")
            commits += server.metric("delayq_add_commits_total")
            if added <= 0 or commits <= 0:
                raise Failure(f"/metrics shows {added} adds in {commits} commits")
            figure["per_commit"] = round(added / commits, 1)
            ctx.log(f"  {added} adds in {commits} group commits: {figure['per_commit']} per commit")
            ctx.stop_delayq(server)
            ctx.figures[f"{durability}-{connections}"] = figure


def rows(view):
    sizes = view.load("adds")
    for durability in sizes["durabilities"]:
        for connections in sizes["connections"]:
            figure = view.fig(f"adds.{durability}-{connections}")
            if not figure:
                continue
            ours = f"{view.rps(figure['rps'])}, p99 {figure['p99_ms']} ms"
            if durability == "fsync":
                ours += f", {figure['per_commit']} adds/fsync"
            nginx = view.fig(f"nginx.{connections}")
            scenario = f"seed add, {durability}, {connections} conn"
            if nginx:
                yield (scenario, ours, f"{view.rps(nginx['rps'])}, p99 {nginx['p99_ms']} ms",
                       view.ratio(figure["rps"], nginx["rps"]))
            else:
                yield scenario, ours, "n/a (no nginx, or section nginx not run)", "n/a"
