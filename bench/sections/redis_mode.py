"""Distributed mode: adds/s and pulled+acked/s with 1, 2 and 3 delayq instances on one Redis
(section redis-mode) or a 3-master Redis Cluster (redis-cluster), appendonly yes, appendfsync
everysec, beside redis-benchmark on the same server in the same run.

Each repetition measures its references just before its own run (the machine is shared and
its speed drifts over minutes), so each has its own ratio; the figures are medians. Adds: seed
single adds, 64 connections from one loadgen process (as redis-benchmark is one), spread
round-robin over the instances, all to one topic. Fired: each instance gets its own topic of N
tasks due at once, pulled (max 100) and acked by 4 consumers on that instance (one
`tasks:ack` per pull with the run's default --ack-mode batch, one request per task with
--ack-mode single); rates summed."""
import os

import servers
from harness import median
from sections.fire_ms import ack_words
from sections.redis import parse_benchmark
from servers import Failure


def run(ctx):
    sizes = ctx.sizes
    redis = servers.Redis(ctx.group, ctx.name, persistence="aof", masters=sizes["masters"]).start()
    ctx.figures["version"] = redis.version()
    ctx.log(f"redis {ctx.figures['version']} on {redis.url()} ({sizes['masters']} master(s); "
            "appendonly yes, appendfsync everysec)")
    sha = None
    for port in redis.ports:
        sha = servers.redis_command(port, "SCRIPT", "LOAD", "return 1")
    for k in sizes["instances"]:
        runs = [repetition(ctx, redis, sha, k) for _ in range(ctx.repetitions)]
        ctx.figures[str(k)] = {key: median([r[key] for r in runs]) for key in runs[0]}
    redis.stop()


def reference(ctx, redis, sha, command):
    """redis-benchmark -c 64, unpipelined, on the master owning bench_zset."""
    target = redis.port
    for port in redis.ports:
        try:
            servers.redis_command(port, "DEL", "bench_zset")
            target = port
        except servers.RedisError:  # MOVED: another master owns the key
            pass
    if command == "EVALSHA":
        args = ["evalsha", sha, "0"]
    else:
        args = ["-r", "1000000", "zadd", "bench_zset", "__rand_int__", "__rand_int__"]
    out = ctx.tool([ctx.bin["redis-benchmark"], "-h", "127.0.0.1", "-p", str(target), "-q", "-n",
                    str(ctx.sizes["bench_requests"]), "-c", "64"] + args, 300)
    rate, _ = parse_benchmark(out)
    if rate is None:
        raise Failure(f"redis-benchmark {command} printed no rate: {out[-300:]}")
    ctx.log(f"redis-benchmark -c 64 {' '.join(args)}: {rate} requests per second")
    return rate


def repetition(ctx, redis, sha, k):
    sizes = ctx.sizes
    redis.flush_all()
    # Instances sharing this machine split its cores: io_threads = cores / instances (at least
    # 1), as an operator would size co-located instances; six HTTP threads on two cores for
    # three instances cost 15 % of the add rate.
    io_threads = max(1, (os.cpu_count() or 1) // k)
    instances = [ctx.delayq(f"{ctx.name}-{k}-i{j}", None, "--store", "redis", "--redis-url",
                            redis.url(), "--io-threads", str(io_threads)) for j in range(k)]
    evalsha = reference(ctx, redis, sha, "EVALSHA")
    out = ctx.loadgen("add", sizes["add_s"] + 30, addr=",".join(i.addr for i in instances),
                      connections=64, duration_s=sizes["add_s"], topic="bench")
    if out.get("errors") != 0 or not out.get("requests"):
        raise Failure(f"adds with errors: {out}")
    zadd = reference(ctx, redis, sha, "ZADD")
    pulls = [ctx.loadgen_start("pull", addr=i.addr, tasks=sizes["fire_tasks"],
                               consumers=sizes["consumers"], topic=f"fire{j}", timeout_s=120,
                               ack_mode=ctx.ack_mode)
             for j, i in enumerate(instances)]
    fired = 0.0
    for pull in pulls:
        result = pull.result(180)
        if result.get("acked") != sizes["fire_tasks"] or result.get("duplicates") != 0:
            raise Failure(f"pull run lost or repeated tasks: {result}")
        fired += result["tasks_per_s"]
    for instance in instances:
        ctx.stop_delayq(instance)
    ctx.log(f"{k} instance(s): adds {out['rps']}/s (EVALSHA {evalsha}/s), pulled+acked {fired:.0f} "
            f"tasks/s (ZADD {zadd}/s)")
    return {"add_rps": out["rps"], "evalsha_rps": evalsha, "add_ratio": out["rps"] / evalsha,
            "fire_tasks_per_s": fired, "zadd_rps": zadd, "fire_ratio": fired / zadd}


def rows(view):
    for section in ("redis-mode", "redis-cluster"):
        sizes = view.load(section)
        if not sizes:
            continue
        where = ("one Redis" if sizes["masters"] == 1 else
                 f"a {sizes['masters']}-master Redis Cluster (reference: the master owning the key)")
        for k in sizes["instances"]:
            f = view.fig(f"{section}.{k}")
            if not f:
                continue
            yield (f"distributed mode: {k} instance(s) on {where}, AOF everysec; seed adds, 64 "
                   "conn round-robin", view.rate(f["add_rps"], "adds/s"),
                   f"redis-benchmark -c 64 EVALSHA of \"return 1\": {view.rps(f['evalsha_rps'])}",
                   f"{f['add_ratio']:.3f}")
            yield (f"distributed mode: {k} instance(s) on {where}; {sizes['fire_tasks']} tasks due "
                   f"per instance, {sizes['consumers']} consumers each, pull (max 100) + "
                   f"{ack_words(view.data.get('ack_mode'))}",
                   view.rate(f["fire_tasks_per_s"], "tasks/s"),
                   f"redis-benchmark -c 64 ZADD: {view.rps(f['zadd_rps'])}", f"{f['fire_ratio']:.3f}")
