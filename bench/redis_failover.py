#!/usr/bin/python3
"""Redis high availability, measured (not asserted): what redis.wait_replicas costs, and how
long delayq takes to serve again after a Redis master is SIGKILLed.

  /usr/bin/python3 bench/redis_failover.py BUILD_DIR            full (3 x 5 s adds, 5 kills each)
  /usr/bin/python3 bench/redis_failover.py BUILD_DIR --quick    smoke (1 x 1 s, 1 kill each)
  KEEP_WORK=1 ...                                               keep the work directory

1. Adds/s with wait_replicas 0 and 1 against one master with one replica (AOF everysec on
   both), seed single adds from delayq_loadgen with 64 connections, beside redis-benchmark
   EVALSHA of a trivial script on the same master measured just before each run.
2. Recovery after a master kill, under Sentinel (one master, two replicas, three sentinels,
   down-after 1 s, failover-timeout 2 s) and under a Redis Cluster (3 masters + 3 replicas, cluster-node-timeout
   2 s): 12 probe threads add to 12 topics (one connection each, adds back to back); the
   master is SIGKILLed; "promoted" is when the sentinels / the cluster name a new master,
   "recovered" when every topic has taken an acknowledged add sent after the kill. The
   killed node is restarted after each round (as a supervisor would) and rejoins as a
   replica before the next round.

Everything runs on 127.0.0.1; every process is started here and stopped on exit. Prints a
Markdown table on stdout, progress on stderr. Exits non-zero if a round does not recover or a
measurement has errors.
"""
import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BUILD = sys.argv[1] if len(sys.argv) > 1 else sys.exit(__doc__)
QUICK = "--quick" in sys.argv[2:]
REPS = 1 if QUICK else 3
ADD_SECONDS = 1 if QUICK else 5
KILLS = 1 if QUICK else 5
BENCH_REQUESTS = 20000 if QUICK else 200000
DELAYQ = os.path.join(BUILD, "src", "delayq")
LOADGEN = os.path.join(BUILD, "bench", "delayq_loadgen")
WORK = tempfile.mkdtemp(prefix="delayq-redis-failover.")
START = time.monotonic()
processes = []


def log(message):
    print(f"redis-failover: [{time.monotonic() - START:.0f}s] {message}", file=sys.stderr, flush=True)


def fail(message):
    log("FAILED: " + message)
    raise SystemExit(1)


def now_ms():
    return time.monotonic() * 1000.0


def free_port(cluster=False):
    # A cluster node also listens on PORT + 10000 (its bus).
    for _ in range(1000):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if not cluster:
            return port
        if port + 10000 > 65535:
            continue
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port + 10000))
            return port
        except OSError:
            pass
    fail("no free loopback port")


def cli(port, *args, timeout=5):
    try:
        out = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args],
                             capture_output=True, text=True, timeout=timeout)
        return out.stdout
    except subprocess.TimeoutExpired:
        return ""


def wait_until(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    fail(what)


class Redis:
    """One redis-server (or sentinel) in its own directory, restartable on the same port."""

    def __init__(self, name, args=(), cluster=False, sentinel_conf=None):
        self.dir = os.path.join(WORK, name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port(cluster)
        self.args = list(args)
        self.sentinel_conf = sentinel_conf
        self.proc = None

    def start(self):
        if self.sentinel_conf is not None:
            conf = os.path.join(self.dir, "sentinel.conf")
            if not os.path.exists(conf):
                with open(conf, "w") as f:
                    f.write(self.sentinel_conf)
            cmd = ["redis-server", conf, "--sentinel", "--bind", "127.0.0.1",
                   "--port", str(self.port), "--dir", self.dir]
        else:
            cmd = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port),
                   "--dir", self.dir, "--appendonly", "yes", "--appendfsync", "everysec",
                   "--save", "", *self.args]
        cmd += ["--daemonize", "no", "--logfile", os.path.join(self.dir, "redis.log")]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(self.proc)
        wait_until(lambda: "PONG" in cli(self.port, "PING"), 10,
                   f"redis-server on port {self.port} did not start")

    def kill(self):
        self.proc.kill()
        self.proc.wait()


class Delayq:
    def __init__(self, name, flags):
        self.dir = os.path.join(WORK, name)
        os.makedirs(self.dir, exist_ok=True)
        self.stdout = open(os.path.join(self.dir, "stdout"), "w+")
        self.proc = subprocess.Popen(
            [DELAYQ, "serve", "--listen", "127.0.0.1:0", "--data-dir",
             os.path.join(self.dir, "data"), "--store", "redis", "--log-level", "warn", *flags],
            stdout=self.stdout, stderr=open(os.path.join(self.dir, "stderr"), "w"))
        processes.append(self.proc)
        self.address = None

        def listening():
            with open(self.stdout.name) as f:
                m = re.search(r"delayq listening on http://(127\.0\.0\.1:\d+)", f.read())
            self.address = m and m.group(1)
            return bool(self.address) or self.proc.poll() is not None

        wait_until(listening, 20, "delayq did not start")
        if not self.address:
            fail("delayq exited: " + open(os.path.join(self.dir, "stderr")).read()[-2000:])

    def stop(self):
        self.proc.terminate()
        if self.proc.wait(timeout=30) != 0:
            fail("delayq exited non-zero")


def add_throughput():
    master = Redis("master")
    master.start()
    replica = Redis("replica", ["--replicaof", "127.0.0.1", str(master.port)])
    replica.start()
    wait_until(lambda: "state=online" in cli(master.port, "INFO", "replication"), 20,
               "the replica did not attach")
    sha = cli(master.port, "SCRIPT", "LOAD", "return 1").strip()
    rows = {0: [], 1: []}
    for rep in range(REPS):
        for wait in (0, 1):
            cli(master.port, "FLUSHALL")
            out = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(master.port),
                                  "-q", "-n", str(BENCH_REQUESTS), "-c", "64", "evalsha", sha, "0"],
                                 capture_output=True, text=True).stdout.replace("\r", "\n")
            ref = float(re.findall(r"([0-9.]+) requests per second", out)[-1])
            server = Delayq(f"w{wait}-{rep}", ["--redis-url", f"redis://127.0.0.1:{master.port}/0",
                                               "--redis-wait-replicas", str(wait)])
            # The replica acknowledges its offset once a second unless asked: the first WAIT
            # may wait for that. One add confirmed before the clock starts.
            wait_until(lambda: add_once(server.address, "warm"), 20, "no add was confirmed")
            result = subprocess.run([LOADGEN, "add", "--addr", server.address, "--connections", "64",
                                     "--duration-s", str(ADD_SECONDS), "--topic", "bench"],
                                    capture_output=True, text=True)
            server.stop()
            stats = json.loads(result.stdout)
            if result.returncode != 0 or stats.get("errors", 1) != 0:
                fail(f"adds with errors (wait_replicas {wait}): {result.stdout} {result.stderr}")
            rows[wait].append((stats["rps"], ref))
            log(f"wait_replicas {wait}, run {rep + 1}: {stats['rps']:.0f} adds/s, "
                f"EVALSHA {ref:.0f}/s, {stats['rps'] / ref:.3f}x")
    master.kill()
    replica.kill()
    return rows


def add_once(address, topic):
    host, port = address.split(":")
    try:
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        conn.request("POST", "/delay/task/add",
                     json.dumps({"topic": topic, "timing_moment": 1, "content": "x"}),
                     {"Content-Type": "application/json"})
        response = conn.getresponse()
        answer = json.loads(response.read() or b"{}")
        conn.close()
        return response.status == 200 and answer.get("dm_error") == 0
    except (OSError, http.client.HTTPException, ValueError):
        return False


class Probe:
    """One thread per topic, each adding back to back on its own connection."""

    def __init__(self, address, topics):
        self.address = address
        self.topics = topics
        self.last_ok = {t: 0.0 for t in topics}
        self.errors = {t: 0 for t in topics}
        self.lock = threading.Lock()
        self.stop = False
        # Daemon threads: a failed round exits the script without waiting for them.
        self.threads = [threading.Thread(target=self.run, args=(t,), daemon=True) for t in topics]
        for thread in self.threads:
            thread.start()

    def run(self, topic):
        host, port = self.address.split(":")
        conn = None
        n = 0
        while not self.stop and n < 1_000_000:
            n += 1
            sent = now_ms()
            body = json.dumps({"topic": topic, "timing_moment": 1, "content": f"{topic}-{n}"})
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(host, int(port), timeout=5)
                conn.request("POST", "/delay/task/add", body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                answer = json.loads(response.read() or b"{}")
                ok = response.status == 200 and answer.get("dm_error") == 0
            except (OSError, http.client.HTTPException, ValueError):
                conn = None
                ok = False
            with self.lock:
                if ok:
                    self.last_ok[topic] = max(self.last_ok[topic], sent)
                else:
                    self.errors[topic] += 1
            if not ok:
                time.sleep(0.005)  # do not spin on a refusal

    def recovered_since(self, ms):
        with self.lock:
            return all(v > ms for v in self.last_ok.values())

    def close(self):
        self.stop = True
        for thread in self.threads:
            thread.join()


def sentinel_master_port(sentinels):
    for s in sentinels:
        parts = cli(s.port, "SENTINEL", "get-master-addr-by-name", "dq").split()
        if len(parts) == 2:
            return int(parts[1])
    return None


def sentinel_recovery():
    master = Redis("s-master")
    master.start()
    nodes = {master.port: master}
    for i in range(2):
        replica = Redis(f"s-replica{i}", ["--replicaof", "127.0.0.1", str(master.port)])
        replica.start()
        nodes[replica.port] = replica
    wait_until(lambda: "connected_slaves:2" in cli(master.port, "INFO", "replication"), 20,
               "the replicas did not attach")
    sentinels = []
    for i in range(3):
        conf = (f"sentinel monitor dq 127.0.0.1 {master.port} 2\n"
                "sentinel down-after-milliseconds dq 1000\nsentinel failover-timeout dq 2000\n")
        s = Redis(f"sentinel{i}", sentinel_conf=conf)
        s.start()
        sentinels.append(s)
    sentinel_list = ",".join(f"127.0.0.1:{s.port}" for s in sentinels)
    server = Delayq("s-delayq", ["--redis-url", f"redis://127.0.0.1:{master.port}/0",
                                 "--redis-sentinels", sentinel_list, "--redis-sentinel-master",
                                 "dq", "--redis-command-timeout", "1s"])
    probe = Probe(server.address, [f"s{t}" for t in range(12)])
    results = []
    for round_ in range(KILLS):
        wait_until(lambda: probe.recovered_since(now_ms() - 200), 30, "adds are not flowing")
        victim_port = sentinel_master_port(sentinels)
        victim = nodes[victim_port]
        killed = now_ms()
        victim.kill()
        promoted = None
        while now_ms() - killed < 30000:
            if promoted is None:
                port = sentinel_master_port(sentinels)
                if port is not None and port != victim_port:
                    promoted = now_ms() - killed
            if promoted is not None and probe.recovered_since(killed):
                break
            time.sleep(0.01)
        if promoted is None:
            fail(f"sentinel round {round_ + 1}: the sentinels promoted no replica within 30 s")
        if not probe.recovered_since(killed):
            fail(f"sentinel round {round_ + 1}: promoted after {promoted:.0f} ms, but adds did "
                 "not resume on every topic within 30 s")
        recovered = now_ms() - killed
        results.append((promoted, recovered))
        log(f"sentinel round {round_ + 1}: promoted after {promoted:.0f} ms, every topic adding "
            f"again after {recovered:.0f} ms")
        # Back as a replica of the new master, as it would be from the config file the
        # sentinels rewrote (these nodes run on command-line options, so say it here).
        new_port = sentinel_master_port(sentinels)
        victim.args = ["--replicaof", "127.0.0.1", str(new_port)]
        victim.start()
        wait_until(lambda: "master_link_status:up" in cli(victim.port, "INFO", "replication"),
                   30, "the restarted node did not rejoin as a replica")
        # A sentinel starts no new failover of the same master within twice failover-timeout
        # of its last one: the next kill waits that out (failovers are rare in production).
        time.sleep(max(0.0, 5.5 - (now_ms() - killed) / 1000))
    probe.close()
    server.stop()
    for n in list(nodes.values()) + sentinels:
        n.kill()
    return results


def cluster_master_of(nodes, slot):
    for node in nodes:
        out = cli(node.port, "CLUSTER", "NODES", timeout=2)
        if not out:
            continue
        for line in out.splitlines():
            fields = line.split()
            if len(fields) < 8 or "master" not in fields[2] or "fail" in fields[2]:
                continue
            for r in fields[8:]:
                if r.startswith("["):
                    continue
                lo, _, hi = r.partition("-")
                if int(lo) <= slot <= int(hi or lo):
                    return int(fields[1].split(":")[1].split("@")[0])
        return None
    return None


def cluster_recovery():
    nodes = [Redis(f"c{i}", ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                             "--cluster-node-timeout", "2000",
                             # Redis 7.0 (Debian 12) replicas otherwise may refuse to stand.
                             "--cluster-replica-validity-factor", "0"], cluster=True)
             for i in range(6)]
    for n in nodes:
        n.start()
    create = subprocess.run(["redis-cli", "--cluster", "create",
                             *[f"127.0.0.1:{n.port}" for n in nodes],
                             "--cluster-replicas", "1", "--cluster-yes"],
                            capture_output=True, text=True)
    if create.returncode != 0:
        fail("redis-cli --cluster create: " + create.stdout[-1000:])
    wait_until(lambda: all("cluster_state:ok" in cli(n.port, "CLUSTER", "INFO") for n in nodes),
               30, "the cluster did not reach cluster_state:ok")
    by_port = {n.port: n for n in nodes}
    server = Delayq("c-delayq", ["--redis-url", f"redis://127.0.0.1:{nodes[0].port}/0",
                                 "--redis-command-timeout", "1s"])
    topics = [f"f{t}" for t in range(12)]
    probe = Probe(server.address, topics)
    results = []
    previous = None
    for round_ in range(KILLS):
        wait_until(lambda: probe.recovered_since(now_ms() - 200), 30, "adds are not flowing")
        # In turn: the master of the global keys first, then masters of topic keys.
        keys = ["dq:{dq}:gen"] + [f"dq:{{{t}}}:n" for t in topics]
        victim_port, slot = None, None
        for key in keys[(round_ > 0):]:
            s = int(cli(nodes[0].port, "CLUSTER", "KEYSLOT", key).strip() or -1)
            port = cluster_master_of(nodes, s)
            if port is not None and port != previous:
                victim_port, slot = port, s
                break
        if victim_port is None:
            fail("no master to kill")
        previous = victim_port
        victim = by_port[victim_port]
        killed = now_ms()
        victim.kill()
        promoted = None
        while now_ms() - killed < 30000:
            if promoted is None:
                port = cluster_master_of([n for n in nodes if n is not victim], slot)
                if port is not None and port != victim_port:
                    promoted = now_ms() - killed
            if promoted is not None and probe.recovered_since(killed):
                break
            time.sleep(0.01)
        if promoted is None or not probe.recovered_since(killed):
            fail(f"cluster round {round_ + 1}: no recovery within 30 s")
        recovered = now_ms() - killed
        results.append((promoted, recovered))
        log(f"cluster round {round_ + 1}: promoted after {promoted:.0f} ms, every topic adding "
            f"again after {recovered:.0f} ms")
        victim.start()
        wait_until(lambda: "master_link_status:up" in cli(victim.port, "INFO", "replication"), 30,
                   "the restarted node did not rejoin as a replica")
    probe.close()
    server.stop()
    for n in nodes:
        n.kill()
    return results


def main():
    for tool in (DELAYQ, LOADGEN):
        if not os.access(tool, os.X_OK):
            fail(f"missing {tool}")
    for tool in ("redis-server", "redis-cli", "redis-benchmark"):
        if not shutil.which(tool):
            fail(f"missing {tool} (scripts/bootstrap.sh bench)")
    try:
        adds = add_throughput()
        sentinel = sentinel_recovery()
        cluster = cluster_recovery()
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
        if not os.environ.get("KEEP_WORK"):
            shutil.rmtree(WORK, ignore_errors=True)
    med = statistics.median
    version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout
    print("| wait_replicas | seed adds/s (64 conn) | EVALSHA req/s (same master) | x EVALSHA |")
    print("|---|---|---|---|")
    for wait in (0, 1):
        rps = [r for r, _ in adds[wait]]
        refs = [f for _, f in adds[wait]]
        ratios = [r / f for r, f in adds[wait]]
        print(f"| {wait} | {med(rps):.0f} | {med(refs):.0f} | {med(ratios):.3f} |")
    print()
    print("| master SIGKILLed under | promoted after (ms, median) | every topic adding again after "
          "(ms, median) | all rounds (promoted / recovered ms) |")
    print("|---|---|---|---|")
    for name, rounds in (("Sentinel (down-after 1 s)", sentinel),
                         ("Redis Cluster (node timeout 2 s)", cluster)):
        print(f"| {name} | {med(p for p, _ in rounds):.0f} | {med(r for _, r in rounds):.0f} | "
              + ", ".join(f"{p:.0f} / {r:.0f}" for p, r in rounds) + " |")
    print()
    print(f"Medians of {REPS} add runs ({ADD_SECONDS} s each) and {KILLS} kills each; "
          f"{version.split()[2] if version else 'redis'}; machine: {os.cpu_count()} cores; "
          f"{time.strftime('%Y-%m-%dT%H:%MZ', time.gmtime())}; commit "
          + subprocess.run(["git", "-C", os.path.dirname(os.path.abspath(__file__)), "rev-parse",
                            "--short", "HEAD"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
