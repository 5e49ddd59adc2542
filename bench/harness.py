"""What a section of a benchmark run works with: its sizes, the servers, the load generator,
and the record of the run (figures, invalid measurements, notes) that becomes its JSON result.
"""
import json
import os
import statistics
import subprocess
import threading
import time

import servers
from servers import Failure


def resolve(value, mode):
    """{quick = A, full = B} → the one of the mode; tables and lists resolved inside."""
    if isinstance(value, dict):
        if set(value) == {"quick", "full"}:
            return resolve(value[mode], mode)
        return {k: resolve(v, mode) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, mode) for v in value]
    return value


def median(values):
    """The lower median, as the medians of every earlier run were taken."""
    return statistics.median_low(values)


class Run:
    """The record of one run: what the JSON result holds. Shared by the sections (which may
    run at once in a quick run), so every change goes through its lock."""

    def __init__(self, mode, settings, log):
        self.mode = mode
        self.settings = settings
        self.log = log
        self.lock = threading.Lock()
        self.data = {
            "format": 1,
            "mode": mode,
            "duration_s": settings["duration_s"],
            "repetitions": settings["repetitions"],
            "load": {},
            "figures": {},
            "skipped": {},
            "failed": {},
            "invalid": [],
            "notes": [],
        }

    def section_figures(self, name):
        with self.lock:
            return self.data["figures"].setdefault(name, {})

    def record(self, key, name, value):
        with self.lock:
            self.data[key][name] = value

    def append(self, key, value):
        with self.lock:
            self.data[key].append(value)


class Context:
    """One section's view of the run."""

    def __init__(self, run, name, sizes, group, binaries, ack_mode):
        self.run = run
        self.name = name
        self.sizes = sizes
        self.group = group
        self.bin = binaries
        self.ack_mode = ack_mode
        self.quick = run.mode == "quick"
        self.duration_s = run.settings["duration_s"]
        self.repetitions = run.settings["repetitions"]
        self.figures = run.section_figures(name)

    # ---- reporting ------------------------------------------------------------------------

    def log(self, message):
        self.run.log(f"{self.name}: {message}")

    def invalid(self, message):
        """Not a valid measurement, but its row is still worth showing: the run goes on and
        exits non-zero at the end."""
        self.log("INVALID: " + message)
        self.run.append("invalid", f"{self.name}: {message}")

    def note(self, message):
        self.log("NOTE: " + message)
        self.run.append("notes", f"{self.name}: {message}")

    def work_path(self, name):
        return os.path.join(self.group.work, name)

    # ---- servers and tools ----------------------------------------------------------------

    def delayq(self, name, durability, *flags):
        """A fresh instance (data in its own directory), started; durability None leaves it
        to the configuration."""
        args = (["--durability", durability] if durability else []) + list(flags)
        return servers.Delayq(self.group, self.bin["delayq"], name, args).start()

    def stop_delayq(self, server):
        warnings = server.stop()
        if warnings:
            self.log(f"delayq ({server.name}) logged {len(warnings)} warnings/errors, e.g.: "
                     f"{warnings[0].strip()}")

    def tool(self, argv, timeout_s):
        """Runs a program to its end; returns its stdout. A non-zero exit fails the section."""
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise Failure(f"{os.path.basename(argv[0])} {argv[1] if len(argv) > 1 else ''}: "
                          f"no answer within {timeout_s} s")
        if out.returncode != 0:
            raise Failure(f"{' '.join(map(str, argv[:2]))} exited {out.returncode}: "
                          f"{out.stderr.strip()[-600:]} {out.stdout.strip()[-300:]}")
        return out.stdout

    def loadgen(self, scenario, limit_s, allow_invalid=False, **options):
        """One delayq_loadgen scenario, given limit_s seconds to finish; returns its JSON report.
        Options are its flags (lease_ms=60000 → --lease-ms 60000). A non-zero exit (an invalid
        measurement) fails, unless allow_invalid: then the report is returned for the caller
        to judge."""
        return self.loadgen_start(scenario, **options).result(limit_s, allow_invalid)

    def loadgen_start(self, scenario, **options):
        argv = [self.bin["loadgen"], scenario]
        for key, value in options.items():
            argv += ["--" + key.replace("_", "-"), str(value)]
        return Loadgen(self, argv)

    def closed_loop(self, scenario, addr, connections, duration_s=None, **options):
        """The repetitions of a closed-loop scenario: medians of rps and p99, sum of
        requests. A run with no requests or any error fails."""
        duration_s = duration_s or self.duration_s
        rps, p99, requests = [], [], 0
        for _ in range(self.repetitions):
            out = self.loadgen(scenario, duration_s + 30, addr=addr, connections=connections,
                               duration_s=duration_s, **options)
            if not out.get("requests"):
                raise Failure(f"loadgen {scenario}: no requests completed")
            if out.get("errors") != 0:
                raise Failure(f"loadgen {scenario}: {out.get('errors')} requests failed")
            requests += out["requests"]
            rps.append(out["rps"])
            p99.append(out["p99_ms"])
        return {"rps": median(rps), "p99_ms": median(p99), "requests": requests}

    def require_zero(self, out, fields, what):
        for field in fields:
            if out.get(field) != 0:
                raise Failure(f"{what}: {field} = {out.get(field)}")

    def check_callback_log(self, log, ids, allow_invalid=False):
        """Every id called exactly once, none early (the loadgen's callback-log check)."""
        return self.loadgen("callback-log", 60, allow_invalid, log=log, ids=ids)

    def wait_for_lines(self, path, count, timeout_s):
        """Until the file has at least count lines; False after timeout_s."""
        def enough():
            with open(path, "rb") as f:
                return sum(1 for _ in f) >= count
        if servers.wait_until(enough, timeout_s):
            return True
        with open(path, "rb") as f:
            self.log(f"{path} has {sum(1 for _ in f)} of {count} lines after {timeout_s} s")
        return False


class Loadgen:
    """A loadgen process started in the background (several may run at once)."""

    def __init__(self, ctx, argv):
        self.ctx = ctx
        self.argv = argv
        directory = ctx.group.directory("loadgen")
        base = f"{ctx.name}-{argv[1]}-{time.monotonic_ns()}"
        self.out_path = os.path.join(directory, base + ".out")
        self.err_path = os.path.join(directory, base + ".err")
        self.process = ctx.group.spawn("loadgen", argv, directory, stdout=base + ".out",
                                       stderr=base + ".err")

    def result(self, limit_s, allow_invalid=False):
        try:
            self.process.popen.wait(timeout=limit_s)
        except subprocess.TimeoutExpired:
            self.ctx.group.kill(self.process)
            raise Failure(f"loadgen {self.argv[1]}: no result within {limit_s} s")
        status = self.ctx.group.stop(self.process)
        with open(self.out_path) as f:
            text = f.read().strip()
        stderr = servers.tail(self.err_path, 3).strip()
        line = text.splitlines()[-1] if text else ""
        if status != 0 and not (allow_invalid and line.startswith("{")):
            raise Failure(f"loadgen {' '.join(self.argv[1:])} exited {status}: {line} {stderr}")
        try:
            out = json.loads(line)
        except json.JSONDecodeError:
            raise Failure(f"loadgen {self.argv[1]} printed no JSON: {text[-300:]} {stderr}")
        self.ctx.log("  " + line)
        return out
