#!/usr/bin/python3
"""Runs the benchmark scenarios of bench/scenarios.toml against references started here on
loopback, writes one JSON result and prints the Markdown tables rendered from it.

  /usr/bin/python3 bench/run.py BUILD_DIR               full run: every section, medians of 3
  /usr/bin/python3 bench/run.py BUILD_DIR --quick       tiny sizes, only validity (bench_smoke)
  /usr/bin/python3 bench/run.py BUILD_DIR --only a,b    the named sections (with --quick too);
                                                        long sections (backlog-slope) run in a
                                                        full run only when named here
  /usr/bin/python3 bench/run.py BUILD_DIR --ack-mode M  batch (one POST /v1/tasks:ack per pull,
                                                        the default) or single (a request per
                                                        task, pipelined), for fire-ms and pull
  /usr/bin/python3 bench/run.py --render RESULT.json    the Markdown tables of a result again

A full run writes bench/results/<date>-<commit>.json (--out elsewhere); a quick run writes only
with --out. Progress goes to stderr, the tables to stdout. Exits non-zero when a step fails or a
result is not a valid measurement (no requests, errors, lost, duplicated or early tasks), and
writes the result all the same, marked invalid. Nothing here asserts a time: the targets table
says met or missed. bench/README.md says what each section measures.
"""
import argparse
import concurrent.futures
import json
import os
import signal
import shutil
import sys
import tempfile
import threading
import time
import tomllib
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402
import machine  # noqa: E402
import render  # noqa: E402
import sections  # noqa: E402
import servers  # noqa: E402
from servers import Failure  # noqa: E402

BINARIES = {
    "delayq": "src/delayq",
    "loadgen": "bench/delayq_loadgen",
    "kafka_producer_loop": "bench/kafka_producer_loop",
    "kafka_mock": "tests/kafka_mock/kafka_mock",
}
PROGRAMS = {"nginx": "/usr/sbin/nginx", "wrk": None, "beanstalkd": "/usr/bin/beanstalkd",
            "redis-server": None, "redis-benchmark": None, "redis-cli": None, "kcat": None}


def load_scenarios():
    with open(os.path.join(HERE, "scenarios.toml"), "rb") as f:
        return tomllib.load(f)


def parse_args(names, long_sections):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("build_dir", nargs="?")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", help="sections, comma-separated: " + ", ".join(names))
    parser.add_argument("--ack-mode", choices=["batch", "single"], default="batch")
    parser.add_argument("--out", help="where to write the JSON result")
    parser.add_argument("--jobs", type=int, help="sections run at once (default: scenarios.toml)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--render", metavar="RESULT", help="print the tables of a JSON result")
    args = parser.parse_args()
    if not args.render and not args.build_dir:
        parser.error("BUILD_DIR is required")
    # Long sections run in a full run only when named; a quick run takes every section.
    args.sections = [n for n in names if args.quick or not long_sections.get(n)]
    if args.only:
        args.sections = args.only.split(",")
        unknown = [s for s in args.sections if s not in names]
        if unknown:
            parser.error(f"unknown section {', '.join(unknown)}; sections: {', '.join(names)}")
    return args


def find_binaries(build_dir):
    found = {}
    for name, path in BINARIES.items():
        path = os.path.join(build_dir, path)
        if os.access(path, os.X_OK):
            found[name] = path
    for name in ("delayq", "loadgen"):
        if name not in found:
            sys.exit(f"bench: {os.path.join(build_dir, BINARIES[name])} not found; build it "
                     f"first: ninja -C {build_dir} delayq delayq_loadgen")
    for name, fallback in PROGRAMS.items():
        path = servers.find_binary(name, fallback)
        if path:
            found[name] = path
    return found


class Logger:
    def __init__(self):
        self.started = time.monotonic()
        self.lock = threading.Lock()

    def __call__(self, message):
        with self.lock:
            print(f"bench: [{time.monotonic() - self.started:.0f}s] {message}", file=sys.stderr,
                  flush=True)


def run_section(name, spec, run, group, binaries, args):
    meta = ("title", "needs", "early", "long")
    sizes = harness.resolve({k: v for k, v in spec.items() if k not in meta}, run.mode)
    run.record("load", name, sizes)
    missing = [p for p in spec.get("needs", []) if p not in binaries]
    if name == "sinks" and "kafka_mock" not in binaries:
        missing.append("tests/kafka_mock/kafka_mock (a build with tests)")
    if missing:
        reason = f"{', '.join(missing)} not installed (scripts/bootstrap.sh bench)"
        run.log(f"NOTE: skipping {name}: {reason}")
        run.record("skipped", name, reason)
        return
    run.log(f"---- {name}: {spec['title']}")
    ctx = harness.Context(run, name, sizes, group, binaries, args.ack_mode)
    try:
        sections.module(name).run(ctx)
    except Failure as e:
        run.log(f"FAILED: {name}: {e}")
        run.record("failed", name, str(e))
    except Exception:  # a defect of the harness: reported like a failure, with its trace
        run.log(f"FAILED: {name}:\n{traceback.format_exc()}")
        run.record("failed", name, traceback.format_exc(limit=3))


def run_sections(run, scenarios, group, binaries, args):
    jobs = args.jobs or run.settings["jobs"]
    specs = scenarios["sections"]
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs))
    order = sorted(args.sections, key=lambda name: not specs[name].get("early", False))
    futures = [pool.submit(run_section, name, specs[name], run, group, binaries, args)
               for name in order]
    try:
        for future in futures:
            future.result()
    except BaseException:
        # Interrupted: the servers go now; the sections still running are abandoned (the
        # process exits without waiting for them).
        group.close()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def default_out(data):
    day = data["started_utc"][:10]
    return os.path.join(HERE, "results", f"{day}-{data['commit']}.json")


def main():
    scenarios = load_scenarios()
    specs = scenarios["sections"]
    args = parse_args(list(specs), {n: spec.get("long", False) for n, spec in specs.items()})
    if args.render:
        with open(args.render) as f:
            print(render.markdown(json.load(f), scenarios["targets"]))
        return 0
    log = Logger()
    binaries = find_binaries(args.build_dir)
    mode = "quick" if args.quick else "full"
    run = harness.Run(mode, harness.resolve(scenarios["run"], mode), log)
    work = tempfile.mkdtemp(prefix="delayq-bench.")
    group = servers.ProcessGroup(work, log)
    run.data.update(machine.describe(work, HERE), sections=args.sections, ack_mode=args.ack_mode)
    log(f"work dir {work}; {mode}, {run.settings['duration_s']} s per run, "
        f"{run.settings['repetitions']} repetition(s); sections {','.join(args.sections)}")
    try:
        run_sections(run, scenarios, group, binaries, args)
    except KeyboardInterrupt:
        run.record("failed", "run", "interrupted")
        raise
    finally:
        group.close()
    data = run.data
    data["machine"].update(machine.after_run(work, args.quick))
    data["finished_utc"] = machine.utc_now()
    data["targets"] = render.evaluate(data, scenarios["targets"])
    data["valid"] = not data["failed"] and not data["invalid"]
    out = args.out or (None if args.quick else default_out(data))
    if out:
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        with open(out, "w") as f:
            json.dump(data, f, indent=1, ensure_ascii=False)
            f.write("\n")
        log(f"result: {out}")
        # The tables are rendered from the file, as for a later --render.
        with open(out) as f:
            data = json.load(f)
    print(render.markdown(data, scenarios["targets"]))
    if data["valid"] and not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        log(f"logs and data kept in {work}")
    if not data["valid"]:
        log("FAILED: " + "; ".join(list(data["failed"]) + data["invalid"]))
        return 1
    log("done")
    return 0


def interrupted(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    # A test driver's timeout sends SIGTERM: stop every server as for a Ctrl-C.
    signal.signal(signal.SIGTERM, interrupted)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.stderr.flush()
        os._exit(130)
