"""redis-benchmark on a redis-server without persistence: SET, EVAL of a trivial script,
ZADD into one sorted set, 64 clients, unpipelined."""
import re

import servers
from harness import median
from servers import Failure


def run(ctx):
    sizes = ctx.sizes
    redis = servers.Redis(ctx.group, "redis", persistence="none").start()
    ctx.figures["version"] = redis.version()
    ctx.log(f"redis {ctx.figures['version']} on 127.0.0.1:{redis.port} (--save '' --appendonly no)")
    for test in sizes["tests"]:
        args = ["-q", "-n", str(sizes["requests"]), "-c", str(sizes["clients"])] + test["args"]
        ctx.log("redis-benchmark " + " ".join(args))
        values, p50s = [], []
        for _ in range(ctx.repetitions):
            out = ctx.tool([ctx.bin["redis-benchmark"], "-h", "127.0.0.1", "-p", str(redis.port)]
                           + args, 300)
            rate, p50 = parse_benchmark(out)
            if rate is None:
                raise Failure(f"redis-benchmark {test['name']} printed no rate: {out[-300:]}")
            values.append(rate)
            p50s.append(p50)
        ctx.figures[test["name"]] = {"rps": median(values), "p50_ms": median(p50s),
                                     "command": "redis-benchmark " + " ".join(
                                         quote(a) for a in args)}
    redis.stop()


def parse_benchmark(out):
    """(requests per second, p50 ms) of redis-benchmark -q's last line."""
    lines = [l for l in out.replace("\r", "\n").splitlines() if "requests per second" in l]
    if not lines:
        return None, None
    rate = re.search(r": ([0-9.]+) requests per second", lines[-1])
    p50 = re.search(r"p50=([0-9.]+) msec", lines[-1])
    return (float(rate.group(1)) if rate else None), (float(p50.group(1)) if p50 else None)


def quote(arg):
    return f'"{arg}"' if " " in arg else arg


def rows(view):
    add = view.fig("adds.buffered-64")
    for test in view.load("redis")["tests"]:
        figure = view.fig(f"redis.{test['name']}")
        if not figure:
            continue
        reference = f"{view.rps(figure['rps'])}, p50 {figure['p50_ms']} ms"
        scenario = f"`{figure['command']}` (redis, no persistence)"
        if add:
            yield (f"{scenario}; delayq: seed add, buffered, 64 conn", view.rps(add["rps"]),
                   reference, view.ratio(add["rps"], figure["rps"]))
        else:
            yield scenario, "— (section adds not run)", reference, "n/a"
