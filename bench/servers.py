"""The servers a benchmark run starts: one ProcessGroup owns every process, and starters for
delayq, nginx, beanstalkd, redis, a Redis Cluster and librdkafka's mock Kafka cluster.

Every server is the run's own, on loopback, with fresh directories under the run's work dir.
"""
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time


class Failure(Exception):
    """A step failed or a result is not a valid measurement: the run exits non-zero."""


class Process:
    def __init__(self, name, popen, directory):
        self.name = name
        self.popen = popen
        self.pid = popen.pid
        self.dir = directory

    def alive(self):
        return self.popen.poll() is None

    def rss_kb(self):
        return _status_field(self.pid, "VmRSS:")

    def threads(self):
        return _status_field(self.pid, "Threads:")


def _status_field(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    raise Failure(f"/proc/{pid}/status has no {field}")


class ProcessGroup:
    """Starts processes and stops them: SIGTERM, then SIGKILL after the grace period, and
    SIGKILL to the children it leaves (the nginx master's workers). close() stops whatever is
    still running. The processes stay in the run's own process group, so whatever stops the
    whole run (a terminal's Ctrl-C, a test driver's kill of the group) reaches them too."""

    def __init__(self, work, log):
        self.work = work
        self.log = log
        self._running = []
        self._lock = threading.Lock()
        self._closed = False

    def directory(self, name):
        path = os.path.join(self.work, name)
        os.makedirs(path, exist_ok=True)
        return path

    def spawn(self, name, argv, directory, stdout="stdout", stderr="stderr", stdin=None):
        """Starts argv with its output appended to files in directory (names relative to it);
        stdout=subprocess.PIPE reads it instead."""
        if self._closed:
            raise Failure("the run is stopping")
        out = stdout if stdout == subprocess.PIPE else open(os.path.join(directory, stdout), "ab")
        err = open(os.path.join(directory, stderr), "ab")
        popen = subprocess.Popen(argv, stdout=out, stderr=err, stdin=stdin,
                                 text=stdout == subprocess.PIPE)
        if out is not subprocess.PIPE:
            out.close()
        err.close()
        process = Process(name, popen, directory)
        with self._lock:
            self._running.append(process)
        return process

    def stop(self, process, grace_s=10.0, sig=signal.SIGTERM):
        """Returns the exit status, or None when it had to be killed after grace_s."""
        status = None
        if process.alive():
            _signal(process.pid, sig)
            try:
                status = process.popen.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                # A KILLed master would leave its workers behind.
                children = _children(process.pid)
                _signal(process.pid, signal.SIGKILL)
                for child in children:
                    _signal(child, signal.SIGKILL)
                process.popen.wait()
        else:
            status = process.popen.returncode
        with self._lock:
            if process in self._running:
                self._running.remove(process)
        return status

    def kill(self, process):
        """SIGKILL, as a crash would."""
        return self.stop(process, grace_s=10.0, sig=signal.SIGKILL)

    def close(self):
        with self._lock:
            self._closed = True
            running = list(self._running)
        for process in running:
            self.stop(process)


def _signal(pid, sig):
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _children(pid):
    """The pids whose parent is pid, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                # The command name may hold spaces and parentheses: the fields follow the last ')'.
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def wait_until(condition, timeout_s, interval_s=0.05):
    deadline = time.monotonic() + timeout_s
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)


def port_accepts(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def free_port(bus_offset=None):
    """A loopback port nobody listens on now (and, with bus_offset, port + bus_offset too, for
    a Redis Cluster node's bus). Servers that cannot report the port they bound are given one
    of these, and their starters retry on a bind race."""
    for _ in range(1000):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if bus_offset is None:
            return port
        if port + bus_offset > 65535:
            continue
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port + bus_offset))
            return port
        except OSError:
            pass
    raise Failure("no free loopback port")


def http_get(addr, path, timeout_s=5.0):
    host, port = addr.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout_s)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        conn.close()


def tail(path, lines=5):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def find_binary(name, fallback=None):
    found = shutil.which(name)
    if not found and fallback and os.access(fallback, os.X_OK):
        found = fallback
    return found


class HttpClient:
    """One keep-alive connection to a server."""

    def __init__(self, addr, timeout_s=60.0):
        host, port = addr.rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=timeout_s)

    def request(self, method, path, body=None):
        self.conn.request(method, path, body=body)
        response = self.conn.getresponse()
        return response.status, response.read().decode(errors="replace")

    def metric(self, series):
        """One sample of /metrics (any labels written out in series); None when absent."""
        _, text = self.request("GET", "/metrics")
        for line in text.splitlines():
            if line.startswith(series + " "):
                return float(line.split()[1])
        return None

    def close(self):
        self.conn.close()


# ---- delayq -------------------------------------------------------------------------------

_LISTENING = re.compile(r"^delayq listening on http://(127\.0\.0\.1:[0-9]+)$", re.M)


class Delayq:
    """One delayq instance of the run, in work/NAME (data in work/NAME/data)."""

    def __init__(self, group, binary, name, args):
        self.group = group
        self.binary = binary
        self.name = name
        self.args = args
        self.dir = group.directory(name)
        self.process = None
        self.addr = None

    @property
    def pid(self):
        return self.process.pid

    def start(self):
        """On an ephemeral port: the address is read from its first line."""
        stdout = os.path.join(self.dir, "stdout")
        open(stdout, "w").close()
        self.process = self._spawn("127.0.0.1:0")

        def listening():
            with open(stdout) as f:
                found = _LISTENING.search(f.read())
            if found:
                self.addr = found.group(1)
            return self.addr is not None or not self.process.alive()

        wait_until(listening, 10.0, 0.1)
        if not self.addr:
            raise Failure(f"delayq ({self.name}) did not start:\n{self._stderr_tail()}")
        return self

    def restart(self):
        """Again on the same data and address; returns the ms from the launch to the first
        200 from /readyz, polled every 10 ms."""
        started = time.monotonic()
        self.process = self._spawn(self.addr)
        deadline = started + 300.0
        while time.monotonic() < deadline and self.process.alive():
            try:
                if http_get(self.addr, "/readyz", timeout_s=2.0)[0] == 200:
                    return round((time.monotonic() - started) * 1000)
            except OSError:
                pass
            time.sleep(0.01)
        raise Failure(f"delayq ({self.name}) did not become ready after a restart:\n"
                      f"{self._stderr_tail()}")

    def _spawn(self, listen):
        argv = [self.binary, "serve", "--listen", listen, "--data-dir",
                os.path.join(self.dir, "data"), "--log-level", "warn"] + self.args
        return self.group.spawn(f"delayq ({self.name})", argv, self.dir)

    def stop(self):
        """A clean stop is part of the measurement: a hang or a crash on SIGTERM fails it.
        Returns the warnings and errors it logged (logged, not fatal)."""
        status = self.group.stop(self.process)
        if status is None:
            raise Failure(f"delayq ({self.name}) did not stop within 10 s of SIGTERM")
        if status != 0:
            raise Failure(f"delayq ({self.name}) exited {status}:\n{self._stderr_tail()}")
        with open(os.path.join(self.dir, "stderr"), errors="replace") as f:
            return [line for line in f if re.search(r"level=(warning|error|critical)", line)]

    def kill(self):
        self.group.kill(self.process)

    def metric(self, name):
        """One counter from /metrics; fails when it is missing."""
        status, text = http_get(self.addr, "/metrics")
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == name and parts[1].isdigit():
                return int(parts[1])
        raise Failure(f"/metrics on {self.addr} has no counter {name} (HTTP {status})")

    def gauge(self, series):
        """One sample of /metrics, labels written out in series; None when it is absent."""
        client = HttpClient(self.addr)
        try:
            return client.metric(series)
        finally:
            client.close()

    def rss_kb(self):
        return self.process.rss_kb()

    def threads(self):
        return self.process.threads()

    def _stderr_tail(self):
        return tail(os.path.join(self.dir, "stderr"))


# ---- nginx --------------------------------------------------------------------------------

NGINX_CONF = """daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  # The default (1,000) would make the reference reconnect during the run; delayq does not.
  keepalive_requests 1000000;
  log_format dq '$msec $http_x_delayq_due_at $http_x_delayq_task_id';
  server {{
    listen 127.0.0.1:{port};
    default_type application/json;
    location / {{ return 200 '{{"dm_error":0}}'; }}
    location /cb {{
      access_log {dir}/cb.log dq;
      return 200 'ok';
    }}
  }}
}}
"""


class Nginx:
    """nginx `return 200` on / (the HTTP ceiling) and /cb, the callback receiver, which logs
    every request to DIR/cb.log (unbuffered: a line is there once the request is answered).
    The master may run as root: it then switches its worker to the compiled-in default user,
    which needs no files here; every path points into the work dir."""

    def __init__(self, group, binary, name):
        self.group = group
        self.binary = binary
        self.dir = group.directory(name)
        self.cb_log = os.path.join(self.dir, "cb.log")
        self.addr = None
        self.process = None

    def start(self):
        for attempt in range(1, 6):
            port = free_port()
            with open(os.path.join(self.dir, "nginx.conf"), "w") as f:
                f.write(NGINX_CONF.format(dir=self.dir, port=port))
            open(self.cb_log, "a").close()
            self.process = self.group.spawn(
                "nginx", [self.binary, "-p", self.dir, "-e", os.path.join(self.dir, "error.log"),
                          "-c", os.path.join(self.dir, "nginx.conf")], self.dir)

            def answers():
                try:
                    return http_get(f"127.0.0.1:{port}", "/", 1.0)[0] == 200
                except OSError:
                    return not self.process.alive()

            if wait_until(answers, 5.0, 0.1) and self.process.alive():
                self.addr = f"127.0.0.1:{port}"
                return self
            self.group.stop(self.process)
            logs = tail(os.path.join(self.dir, "error.log")) + tail(os.path.join(self.dir, "stderr"))
            if "Address already in use" not in logs:
                raise Failure(f"nginx did not start:\n{logs}")
        raise Failure("nginx did not start: every port tried was taken")

    def version(self):
        out = subprocess.run([self.binary, "-v"], capture_output=True, text=True)
        return (out.stderr or out.stdout).strip().rsplit("/", 1)[-1]

    def stop(self):
        if self.group.stop(self.process) is None:
            raise Failure("nginx did not stop within 10 s of SIGTERM")


# ---- servers that listen on a port they are given -------------------------------------------

def start_on_free_port(group, name, directory, argv_for_port, attempts=5, bus_offset=None):
    """Starts argv_for_port(port) until it accepts on its port (5 s per attempt); returns
    (process, port)."""
    for _ in range(attempts):
        port = free_port(bus_offset)
        process = group.spawn(name, argv_for_port(port), directory)
        if wait_until(lambda: port_accepts(port) or not process.alive(), 5.0) and process.alive():
            return process, port
        group.stop(process)
    raise Failure(f"{name} did not start:\n{tail(os.path.join(directory, 'stderr'))}")


BEANSTALK_MODES = {
    "mem": ([], "in memory"),
    "binlog": (["-b", "{dir}/binlog"],
               "-b binlog, default fsync policy (at most every 50 ms, after the reply)"),
    "binlog-f0": (["-b", "{dir}/binlog", "-f0"], "-b binlog -f0 (fsync on every write)"),
}


def start_beanstalkd(group, binary, name, mode):
    """mem (no binlog), binlog (-b, its default fsync policy: at most once every 50 ms) or
    binlog-f0 (-b -f0: fsync on every write). Returns (process, addr)."""
    directory = group.directory(name)
    flags = [flag.format(dir=directory) for flag in BEANSTALK_MODES[mode][0]]
    if flags:
        os.makedirs(os.path.join(directory, "binlog"), exist_ok=True)
    process, port = start_on_free_port(
        group, "beanstalkd", directory, lambda port: [binary, "-l", "127.0.0.1", "-p", str(port)] + flags)
    return process, f"127.0.0.1:{port}"


# ---- redis ----------------------------------------------------------------------------------

class RedisError(Exception):
    pass


def redis_command(port, *args, timeout_s=10.0):
    """One command over RESP; returns the reply (str, int, list or None)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
        request = f"*{len(args)}\r\n"
        for arg in args:
            data = str(arg)
            request += f"${len(data.encode())}\r\n{data}\r\n"
        s.sendall(request.encode())
        return _read_reply(s.makefile("rb"))


def _read_reply(f):
    line = f.readline().decode().rstrip("\r\n")
    kind, rest = line[:1], line[1:]
    if kind == "+":
        return rest
    if kind == "-":
        raise RedisError(rest)
    if kind == ":":
        return int(rest)
    if kind == "$":
        if int(rest) < 0:
            return None
        data = f.read(int(rest) + 2)
        return data[:-2].decode(errors="replace")
    if kind == "*":
        return [_read_reply(f) for _ in range(int(rest))] if int(rest) >= 0 else None
    raise RedisError(f"unexpected reply {line!r}")


class Redis:
    """redis-server on loopback in its own directory: persistence "none" (--save '' and no
    AOF: the reference of the suite) or "aof" (appendonly yes, appendfsync everysec: the
    distributed-mode setup); extra args for cluster nodes. One master or a Redis Cluster of
    `masters` masters (created with redis-cli --cluster create, replicas 0)."""

    def __init__(self, group, name, persistence="none", masters=1):
        self.group = group
        self.name = name
        self.persistence = persistence
        self.masters = masters
        self.ports = []
        self.processes = []

    @property
    def port(self):
        return self.ports[0]

    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        binary = find_binary("redis-server")
        cluster = self.masters > 1
        for k in range(self.masters):
            directory = self.group.directory(f"{self.name}-{k}" if cluster else self.name)
            persistence = (["--appendonly", "yes", "--appendfsync", "everysec"]
                           if self.persistence == "aof" else ["--appendonly", "no"])
            extra = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"] if cluster else []

            def argv(port, directory=directory, persistence=persistence, extra=extra):
                return [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                        "--daemonize", "no", "--dir", directory, "--logfile",
                        os.path.join(directory, "redis.log")] + persistence + extra

            # A cluster node also listens on PORT + 10000 (its bus).
            process, port = start_on_free_port(self.group, "redis-server", directory, argv,
                                               bus_offset=10000 if cluster else None)
            self.processes.append(process)
            self.ports.append(port)
        if cluster:
            self._create_cluster()
        return self

    def _create_cluster(self):
        log = os.path.join(self.group.directory(self.name + "-0"), "cluster-create.log")
        with open(log, "w") as f:
            status = subprocess.run(
                ["redis-cli", "--cluster", "create"] + [f"127.0.0.1:{p}" for p in self.ports] +
                ["--cluster-replicas", "0", "--cluster-yes"], stdout=f, stderr=subprocess.STDOUT,
                timeout=60).returncode
        if status != 0:
            raise Failure(f"redis-cli --cluster create failed:\n{tail(log)}")

        def ok():
            return all("cluster_state:ok" in redis_command(p, "CLUSTER", "INFO") for p in self.ports)

        if not wait_until(ok, 10.0, 0.1):
            raise Failure("the Redis Cluster did not reach cluster_state:ok")

    def version(self):
        out = subprocess.run([find_binary("redis-server"), "--version"], capture_output=True,
                             text=True).stdout
        found = re.search(r"v=([^ ]+)", out)
        return found.group(1) if found else "unknown"

    def flush_all(self):
        for port in self.ports:
            redis_command(port, "FLUSHALL")

    def stop(self):
        for process in self.processes:
            self.group.stop(process)


# ---- the Kafka mock ---------------------------------------------------------------------------

class KafkaMock:
    """librdkafka's mock cluster (tests/kafka_mock): 3 brokers on loopback, driven over stdin."""

    def __init__(self, group, binary, name="kafka"):
        directory = group.directory(name)
        self.group = group
        self.process = group.spawn("kafka_mock", [binary, "--brokers", "3"], directory,
                                   stdout=subprocess.PIPE, stdin=subprocess.PIPE)
        line = self.process.popen.stdout.readline().strip()
        if not line.startswith("bootstrap "):
            raise Failure(f"kafka_mock printed {line!r}")
        self.bootstrap = line.split(" ", 1)[1]

    def command(self, line):
        popen = self.process.popen
        popen.stdin.write(line + "\n")
        popen.stdin.flush()
        answer = popen.stdout.readline().strip()
        if answer != "ok":
            raise Failure(f"kafka_mock: {line}: {answer}")

    def stop(self):
        self.group.kill(self.process)
