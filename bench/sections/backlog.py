"""A backlog of tasks due hours ahead: RSS, disk bytes per task, the add rate at 0 and at N
stored, restart to ready after SIGTERM and after SIGKILL."""
import subprocess
import time


def add_rate(ctx, server, label):
    """64-connection seed adds for rate_s (repetitions, median) into the running instance."""
    ctx.log(f"add rate {label}: seed add, fsync, 64 connections, {ctx.sizes['rate_s']} s × "
            f"{ctx.repetitions}")
    return ctx.closed_loop("add", server.addr, 64, duration_s=ctx.sizes["rate_s"])


def disk_kb(path):
    return int(subprocess.run(["du", "-sk", path], capture_output=True, text=True,
                              check=True).stdout.split()[0])


def run(ctx):
    sizes, f = ctx.sizes, ctx.figures
    server = ctx.delayq("backlog", "fsync")
    data_dir = f"{server.dir}/data"
    time.sleep(0.5)
    f["rss_empty_kb"], f["threads_empty"] = server.rss_kb(), server.threads()
    ctx.log(f"backlog: delayq on {server.addr}, empty store, RSS {f['rss_empty_kb']} kB, "
            f"{f['threads_empty']} threads")
    start = add_rate(ctx, server, "at 0 (empty store)")
    f["rate_start_rps"], f["p99_start_ms"] = start["rps"], start["p99_ms"]

    ctx.log(f"adding {sizes['tasks']} tasks due 1-5 h ahead: v1 batches of {sizes['batch']}, "
            f"{sizes['connections']} connections")
    out = ctx.loadgen("backlog-add", 3600, addr=server.addr, tasks=sizes["tasks"],
                      batch=sizes["batch"], connections=sizes["connections"],
                      min_delay_ms=sizes["min_delay_ms"], spread_ms=sizes["spread_ms"])
    f["load_tasks_per_s"] = out["tasks_per_s"]
    f["rss_loaded_kb"] = server.rss_kb()

    end = add_rate(ctx, server, f"at {sizes['tasks']} stored")
    f["rate_end_rps"], f["p99_end_ms"] = end["rps"], end["p99_ms"]
    f["rss_end_kb"], f["threads_end"] = server.rss_kb(), server.threads()
    f["stored"] = server.metric("delayq_tasks_added_total")
    ctx.log(f"  RSS {f['rss_end_kb']} kB, {f['threads_end']} threads, {f['stored']} tasks stored")

    # SIGTERM (graceful stop, WAL synced), then start again on the same directory: RocksDB
    # replays the WAL and flushes it at open, so the directory then holds the data in SST files.
    stop_started = time.monotonic()
    ctx.stop_delayq(server)
    f["stop_ms"] = round((time.monotonic() - stop_started) * 1000)
    f["disk_kb_stopped"] = disk_kb(data_dir)
    f["ready_term_ms"] = server.restart()
    f["rss_restarted_kb"] = server.rss_kb()
    f["disk_kb"] = disk_kb(data_dir)
    f["bytes_per_task"] = round(f["disk_kb"] * 1024 / f["stored"])
    ctx.log(f"  SIGTERM: stopped in {f['stop_ms']} ms; ready in {f['ready_term_ms']} ms; data dir "
            f"{f['disk_kb'] // 1024} MiB (before the restart {f['disk_kb_stopped'] // 1024} MiB)")

    # Some adds after the restart, so the WAL has work to replay, then SIGKILL.
    f["rate_restarted_rps"] = add_rate(ctx, server, f"after the restart ({f['stored']} stored)")["rps"]
    server.kill()
    f["ready_kill_ms"] = server.restart()
    f["rss_killed_kb"] = server.rss_kb()
    ctx.log(f"  SIGKILL: ready in {f['ready_kill_ms']} ms; RSS {f['rss_killed_kb']} kB")
    ctx.stop_delayq(server)

    f["rss_max_bytes"] = 1024 * max(f["rss_end_kb"], f["rss_loaded_kb"], f["rss_restarted_kb"],
                                    f["rss_killed_kb"])
    f["ready_worst_ms"] = max(f["ready_term_ms"], f["ready_kill_ms"])


def rows(view):
    f = view.fig("backlog")
    if not f or "ready_worst_ms" not in f:
        return
    mib = view.mib
    stored = f["stored"]
    yield (f"(e) backlog: {stored} tasks due 1–5 h ahead (loaded with v1 batches of 1,000, 64 "
           f"conn, at {view.rate(f['load_tasks_per_s'], 'tasks/s')}); fsync",
           f"RSS empty {mib(f['rss_empty_kb'])} → loaded {mib(f['rss_loaded_kb'])} → after the "
           f"end-rate run {mib(f['rss_end_kb'])} → after SIGTERM restart "
           f"{mib(f['rss_restarted_kb'])} → after SIGKILL restart {mib(f['rss_killed_kb'])}; "
           f"threads {f['threads_empty']} → {f['threads_end']}", "—", "—")
    yield ("(e) backlog: disk", f"{f['disk_kb'] // 1024} MiB after a SIGTERM + restart (du -sk; "
           f"WAL flushed at open), {f['bytes_per_task']} bytes per task", "—", "—")
    yield (f"(e) backlog: seed add, fsync, 64 conn, at {stored} stored vs empty store "
           f"({view.load('backlog')['rate_s']} s runs, median)",
           f"{view.rps(f['rate_end_rps'])}, p99 {f['p99_end_ms']} ms (after a restart: "
           f"{view.rps(f['rate_restarted_rps'])})",
           f"empty store: {view.rps(f['rate_start_rps'])}, p99 {f['p99_start_ms']} ms",
           view.ratio(f["rate_end_rps"], f["rate_start_rps"]))
    yield (f"(e) backlog: restart to ready (launch → first 200 from /readyz, polled every 10 ms) "
           f"with {stored} stored",
           f"after SIGTERM {f['ready_term_ms']} ms (the stop took {f['stop_ms']} ms); after "
           f"SIGKILL {f['ready_kill_ms']} ms", "—", "—")
