"""Starts the real delayq binary (DELAYQ_BINARY) on an ephemeral loopback port."""

import os
import re
import subprocess
import sys
import tempfile
import threading

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


class Server:
    def __init__(self, env=None, args=()):
        binary = os.environ.get("DELAYQ_BINARY")
        if not binary:
            pytest.skip("DELAYQ_BINARY is not set (the path of a built delayq)")
        self.dir = tempfile.TemporaryDirectory()
        full_env = dict(os.environ, **(env or {}))
        self.process = subprocess.Popen(
            [binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", self.dir.name, *args],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=full_env, text=True)
        found = {}
        ready = threading.Event()

        def read():
            for line in self.process.stdout:
                m = re.search(r"listening on (http://\S+)", line)
                if m and not ready.is_set():
                    found["url"] = m.group(1)
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(20):
            self.stop()
            raise RuntimeError("delayq did not start")
        self.url = found["url"]

    def stop(self):
        self.process.kill()
        self.process.wait()
        self.dir.cleanup()


@pytest.fixture
def start_server():
    servers = []

    def start(env=None, args=()):
        server = Server(env, args)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
