"""What a result says about where it ran: machine, commit, data device, fsync cost, load."""
import datetime
import os
import platform
import subprocess
import time


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _git(repo, *args):
    out = subprocess.run(["git", "-C", repo] + list(args), capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else ""


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _filesystem(path):
    out = subprocess.run(["df", "-PT", path], capture_output=True, text=True).stdout.splitlines()
    fields = out[1].split() if len(out) > 1 else ["unknown", "unknown"]
    return fields[0], fields[1]


def describe(work, bench_dir):
    repo = os.path.dirname(bench_dir)
    device, fs_type = _filesystem(work)
    return {
        "started_utc": utc_now(),
        "commit": _git(repo, "rev-parse", "--short", "HEAD") or "unknown",
        "dirty": bool(_git(repo, "status", "--porcelain", "--untracked-files=no")),
        "machine": {
            "cpus": os.cpu_count(),
            "cpu_model": _cpu_model(),
            "kernel": platform.release(),
            "data_fs": fs_type,
            "data_device": device,
        },
    }


def fsync_probe(work, count):
    """One fsync of a 4 KiB write on the data directory's device (O_DSYNC, as dd
    oflag=dsync), for the adds/fsync figures."""
    path = os.path.join(work, "fsync.probe")
    block = b"\0" * 4096
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_DSYNC, 0o600)
    try:
        started = time.monotonic()
        for _ in range(count):
            os.write(fd, block)
        seconds = time.monotonic() - started
    finally:
        os.close(fd)
        os.unlink(path)
    return {"writes": count, "ms_per_write": round(seconds * 1000 / count, 3),
            "writes_per_s": round(count / seconds)}


def after_run(work, quick):
    return {"fsync_4k_dsync": fsync_probe(work, 100 if quick else 1000),
            "load_average_end": list(os.getloadavg())}
