"""How memory grows with the backlog: tasks due days ahead loaded in stages up to each
checkpoint (10M, 50M, 100M, 300M in a full run), with RSS, RocksDB's own memory figures, disk
and the add rate at each, and the RSS slope beyond the first checkpoint. Long (about an hour
per 300M tasks on 2 cores): a full run leaves it out unless it is named with --only."""
import time

from sections.backlog import add_rate, disk_kb
from servers import Failure

# Tasks are due this far ahead, so none falls due while the largest backlog loads.
MIN_DELAY_MS = 2 * 86_400_000
SPREAD_MS = 5 * 86_400_000


def rocksdb_memory(server):
    """delayq_rocksdb_memory_bytes by kind, in kB (what RocksDB holds: memtables, table readers
    outside the cache, the block cache and what is pinned in it)."""
    out = {}
    for kind in ("memtables", "table_readers", "block_cache", "block_cache_pinned"):
        value = server.gauge(f'delayq_rocksdb_memory_bytes{{kind="{kind}"}}')
        out[kind + "_kb"] = None if value is None else round(value / 1024)
    return out


def checkpoint(ctx, server, stored, loaded):
    # The load's last memtables are still being flushed and compacted; RSS is read once that
    # settles a little, as an operator would see it a minute later.
    time.sleep(ctx.sizes["settle_s"])
    point = {"stored": stored, "rss_kb": server.rss_kb(), "load_tasks_per_s": loaded,
             "disk_kb": disk_kb(f"{server.dir}/data")}
    point.update(rocksdb_memory(server))
    rate = add_rate(ctx, server, f"at {stored} stored")
    point["rate_rps"], point["p99_ms"] = rate["rps"], rate["p99_ms"]
    ctx.log(f"  {stored} stored: RSS {point['rss_kb'] // 1024} MiB, table readers "
            f"{(point['table_readers_kb'] or 0) // 1024} MiB, block cache "
            f"{(point['block_cache_kb'] or 0) // 1024} MiB, disk {point['disk_kb'] // 1024} MiB, "
            f"add rate {rate['rps']:.0f} req/s")
    return point


def slope_mb_per_million(first, last):
    millions = (last["stored"] - first["stored"]) / 1e6
    return round((last["rss_kb"] - first["rss_kb"]) * 1024 / 1e6 / millions, 3) if millions else None


def run(ctx):
    sizes, f = ctx.sizes, ctx.figures
    server = ctx.delayq("backlog-slope", "fsync")
    time.sleep(0.5)
    f["rss_empty_kb"] = server.rss_kb()
    f["rate_empty_rps"] = add_rate(ctx, server, "at 0 (empty store)")["rps"]
    points, stored = [], server.metric("delayq_tasks_added_total")
    for target in sizes["checkpoints"]:
        ctx.log(f"loading to {target} tasks due 2-7 days ahead: v1 batches of {sizes['batch']}, "
                f"{sizes['connections']} connections")
        # The add-rate runs store their seed tasks too (about a million per full measurement):
        # a checkpoint counts what is stored, and the load only makes up the difference.
        if target <= stored:
            raise Failure(f"checkpoint {target} is below the {stored} tasks already stored: "
                          f"raise it in scenarios.toml")
        out = ctx.loadgen("backlog-add", 6 * 3600, addr=server.addr, tasks=target - stored,
                          batch=sizes["batch"], connections=sizes["connections"],
                          min_delay_ms=MIN_DELAY_MS, spread_ms=SPREAD_MS)
        stored = server.metric("delayq_tasks_added_total")
        points.append(checkpoint(ctx, server, stored, out["tasks_per_s"]))
        stored = server.metric("delayq_tasks_added_total")
    f["checkpoints"] = points
    f["slope_mb_per_million"] = slope_mb_per_million(points[0], points[-1])
    f["last_rate_rps"] = points[-1]["rate_rps"]
    f["stored_end"] = stored
    server.kill()
    f["ready_kill_ms"] = server.restart()
    f["rss_killed_kb"] = server.rss_kb()
    ctx.log(f"  slope {f['slope_mb_per_million']} MB per million beyond {points[0]['stored']}; "
            f"SIGKILL at {stored}: ready in {f['ready_kill_ms']} ms, RSS "
            f"{f['rss_killed_kb'] // 1024} MiB")
    ctx.stop_delayq(server)


def rows(view):
    f = view.fig("backlog-slope")
    if not f or "rss_killed_kb" not in f:
        return
    mib = view.mib
    for p in f["checkpoints"]:
        readers = "n/a" if p["table_readers_kb"] is None else mib(p["table_readers_kb"])
        cache = "n/a" if p["block_cache_kb"] is None else mib(p["block_cache_kb"])
        yield (f"(e2) backlog slope: {p['stored']:,} stored (loaded at "
               f"{view.rate(p['load_tasks_per_s'], 'tasks/s')}); fsync",
               f"RSS {mib(p['rss_kb'])}; RocksDB table readers {readers}, block cache {cache}; "
               f"disk {p['disk_kb'] // 1024} MiB; seed add {view.rps(p['rate_rps'])}, p99 "
               f"{p['p99_ms']} ms",
               f"empty store: RSS {mib(f['rss_empty_kb'])}, seed add {view.rps(f['rate_empty_rps'])}",
               view.ratio(p["rate_rps"], f["rate_empty_rps"]))
    first, last = f["checkpoints"][0], f["checkpoints"][-1]
    yield (f"(e2) backlog slope: RSS per million tasks from {first['stored']:,} to "
           f"{last['stored']:,}", f"{f['slope_mb_per_million']} MB per million; after a SIGKILL "
           f"restart at {f['stored_end']:,}: RSS {mib(f['rss_killed_kb'])}, ready in "
           f"{f['ready_kill_ms']} ms", "—", "—")
