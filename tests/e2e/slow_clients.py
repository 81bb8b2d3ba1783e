"""Slow clients (a slowloris) against a server, and a probe that times normal requests while
they are open. Shared by tests/e2e/test_hostile.py and bench/slow_clients."""
from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request


class SlowClients:
    """`n` connections that each send a request line and then one header byte every
    `interval` seconds, never finishing the head; a connection the server closes is opened
    again at once, as an attacker would. Runs on one thread until stop()."""

    def __init__(self, host: str, port: int, n: int, interval: float = 1.0):
        self.host, self.port, self.n, self.interval = host, port, n, interval
        self.socks: list[socket.socket | None] = [None] * n
        self.closed_by_server = 0
        self.answers: dict[str, int] = {}  # first status line bytes -> count
        self.connect_failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _open(self, i: int):
        try:
            s = socket.create_connection((self.host, self.port), timeout=5)
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            s.setblocking(False)
            self.socks[i] = s
        except OSError:
            self.connect_failures += 1
            self.socks[i] = None

    def _drop(self, i: int, data: bytes = b""):
        s = self.socks[i]
        if data:
            line = data.split(b"\r\n", 1)[0].decode(errors="replace")
            self.answers[line] = self.answers.get(line, 0) + 1
        try:
            s.close()
        except OSError:
            pass
        self.socks[i] = None
        self.closed_by_server += 1

    def _run(self):
        for i in range(self.n):
            self._open(i)
        while not self._stop.is_set():
            for i in range(self.n):
                s = self.socks[i]
                if s is None:
                    self._open(i)
                    continue
                try:
                    data = s.recv(4096)  # anything at all: the server answered or closed
                    self._drop(i, data)
                    continue
                except BlockingIOError:
                    pass
                except OSError:
                    self._drop(i)
                    continue
                try:
                    s.send(b"a")
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    self._drop(i)
            self._stop.wait(self.interval)
        for s in self.socks:
            if s is not None:
                s.close()

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join()


def timed(fn, timeout: float):
    """(seconds, status or error text) of one call."""
    t0 = time.monotonic()
    try:
        status = fn(timeout)
    except Exception as e:  # a timeout or a refused connection is a result here
        status = f"{type(e).__name__}"
    return time.monotonic() - t0, status


def get(url: str):
    def call(timeout):
        with urllib.request.urlopen(url, timeout=timeout) as r:
            r.read()
            return r.status
    return call


def chat(base: str, model: str, max_tokens: int = 8, api_key: str | None = None):
    def call(timeout):
        body = json.dumps({"model": model, "messages": [{"role": "user", "content": "Say hi."}],
                           "max_tokens": max_tokens, "temperature": 0}).encode()
        headers = {"Content-Type": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        req = urllib.request.Request(base + "/v1/chat/completions", data=body, headers=headers)
        with urllib.request.urlopen(req, timeout=timeout) as r:
            r.read()
            return r.status
    return call
