"""beanstalkd: put with a delay, then reserve + delete, in each binlog mode; beside delayq's
v1 pull of one task under a lease and its ack (two round trips, like beanstalkd's two
commands), the tasks due when the drain starts."""
import subprocess

import servers
from harness import median
from servers import Failure


def run(ctx):
    sizes = ctx.sizes
    version = subprocess.run([ctx.bin["beanstalkd"], "-v"], capture_output=True,
                             text=True).stdout.split()
    ctx.figures["version"] = version[1] if len(version) > 1 else "unknown"
    for mode in sizes["modes"]:
        for connections in sizes["connections"]:
            process, addr = servers.start_beanstalkd(ctx.group, ctx.bin["beanstalkd"],
                                                     f"beanstalk-{mode}-{connections}", mode)
            ctx.log(f"beanstalkd {ctx.figures['version']} ({mode}) on {addr}: put (delay "
                    f"{sizes['delay_s']} s), then reserve + delete, {connections} connection(s)")
            puts, put99, drains = [], [], []
            for _ in range(ctx.repetitions):
                out = ctx.loadgen("beanstalk", sizes["duration_s"] + 180, addr=addr,
                                  connections=connections, duration_s=sizes["duration_s"],
                                  delay_s=sizes["delay_s"], max_jobs=sizes["max_jobs"])
                puts.append(out["put_rps"])
                put99.append(out["put_p99_ms"])
                drains.append(out["drain_jobs_per_s"])
            ctx.group.stop(process)
            ctx.figures[f"{mode}-{connections}"] = {
                "put_rps": median(puts), "put_p99_ms": median(put99),
                "drain_jobs_per_s": median(drains)}

    tasks = sizes["pull1_tasks"]
    for connections in sizes["connections"]:
        server = ctx.delayq(f"pull1-{connections}", "fsync")
        ctx.log(f"delayq v1 pull (max 1) + ack, {tasks} tasks due, {connections} consumer(s), "
                f"on {server.addr}")
        rates = []
        for _ in range(ctx.repetitions):
            out = ctx.loadgen("pull", 300, addr=server.addr, tasks=tasks, consumers=connections,
                              max=1, wait_ms=0, lease_ms=60000)
            if out.get("acked") != tasks:
                raise Failure("pull (max 1): not every task acked")
            rates.append(out["tasks_per_s"])
        ctx.stop_delayq(server)
        ctx.figures[f"pull1-{connections}"] = {"tasks_per_s": median(rates)}


def rows(view):
    sizes = view.load("beanstalk")
    for mode in sizes["modes"]:
        text = servers.BEANSTALK_MODES[mode][1]
        for connections in sizes["connections"]:
            bs = view.fig(f"beanstalk.{mode}-{connections}")
            if not bs:
                continue
            reference = f"{view.rps(bs['put_rps'])}, p99 {bs['put_p99_ms']} ms"
            # Durable modes against delayq's fsync adds; in memory against its buffered adds.
            durability = "buffered" if mode == "mem" else "fsync"
            add = view.fig(f"adds.{durability}-{connections}")
            scenario = f"beanstalkd `put` (delay 1 s), {text}, {connections} conn"
            if add:
                yield (f"{scenario}; delayq: seed add, {durability}",
                       f"{view.rps(add['rps'])}, p99 {add['p99_ms']} ms", reference,
                       view.ratio(add["rps"], bs["put_rps"]))
            else:
                yield scenario, "— (section adds not run)", reference, "n/a"
    for mode in sizes["modes"]:
        text = servers.BEANSTALK_MODES[mode][1]
        for connections in sizes["connections"]:
            bs = view.fig(f"beanstalk.{mode}-{connections}")
            pull1 = view.fig(f"beanstalk.pull1-{connections}")
            if not bs or not pull1:
                continue
            yield (f"beanstalkd `reserve-with-timeout 0` + `delete`, {text}, {connections} conn; "
                   f"delayq: v1 pull (max 1) + ack, fsync, {connections} consumer(s)",
                   view.rate(pull1["tasks_per_s"], "tasks/s"),
                   view.rate(bs["drain_jobs_per_s"], "jobs/s"),
                   view.ratio(pull1["tasks_per_s"], bs["drain_jobs_per_s"]))
