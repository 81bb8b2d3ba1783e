"""Starts a real `turbine serve` process on a free loopback port and waits for /ready."""
import os
import signal
import socket
import tempfile
import subprocess
import time

import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, turbine, model, *extra, env=None, name="test-model", api_key=None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.name = name
        self.api_key = api_key
        args = [str(turbine), "serve", "-m", model, "--host", "127.0.0.1", "--port",
                str(self.port), "--served-model-name", name, *map(str, extra)]
        if api_key:
            args += ["--api-key", api_key]
        e = dict(os.environ)
        e.update(env or {})
        self.log = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=e)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"turbine serve exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if requests.get(self.base + "/ready", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("turbine serve did not become ready:\n" + self.output())

    def headers(self):
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def get(self, path, **kw):
        return requests.get(self.base + path, headers=self.headers(), timeout=60, **kw)

    def post(self, path, body, **kw):
        return requests.post(self.base + path, json=body, headers=self.headers(), timeout=120, **kw)

    def metric(self, name, labels=None):
        """Value of one sample from /metrics (labels: dict that must match)."""
        text = requests.get(self.base + "/metrics", timeout=10).text
        for line in text.splitlines():
            if not line.startswith(name) or line.startswith("#"):
                continue
            head, _, value = line.rpartition(" ")
            metric, _, lbl = head.partition("{")
            if metric != name:
                continue
            if labels and not all(f'{k}="{v}"' in lbl for k, v in labels.items()):
                continue
            return float(value)
        return None

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-5000:]

    def terminate(self):
        self.proc.send_signal(signal.SIGTERM)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
