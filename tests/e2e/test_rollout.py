"""A rolling restart under load, the way the Helm chart runs one (maxSurge 1,
maxUnavailable 0): a new engine joins the Service only once /ready answers 200; an old one
leaves the endpoints first, waits out its preStop sleep, then gets SIGTERM and drains.
A small proxy stands in for the Service (round robin over the ready endpoints, endpoints
read from /ready as the readiness probe does). Clients streaming and not streaming through
it see no failed request across two restarts, and every old engine exits 0."""
import http.client
import http.server
import json
import socketserver
import threading
import time

import requests

from server_fixture import Server

PRE_STOP_SECONDS = 1.0  # the chart's preStop sleep, shortened


class Endpoints:
    """The Service's ready endpoints: a pod is added when its readiness probe (/ready)
    passes and removed at once when it starts terminating, as the EndpointSlice controller
    does."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ready = []
        self.next = 0

    def add(self, server):
        with self.lock:
            self.ready.append(server)

    def remove(self, server):
        with self.lock:
            self.ready.remove(server)

    def pick(self):
        with self.lock:
            if not self.ready:
                return None
            self.next += 1
            return self.ready[self.next % len(self.ready)]


def make_proxy(endpoints: Endpoints):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            target = endpoints.pick()
            if target is None:
                self.send_error(503, "no ready endpoints")
                return
            conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=120)
            conn.request("POST", self.path, body, {"Content-Type": "application/json"})
            up = conn.getresponse()
            self.send_response(up.status)
            for k, v in up.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(k, v)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            self.end_headers()
            while True:
                chunk = up.read1(65536)
                if not chunk:
                    break
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            conn.close()

    class Proxy(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True

    return Proxy(("127.0.0.1", 0), Handler)


def start_engine(turbine, model):
    # Readiness gating: the Server helper returns once /ready is 200 (the model is loaded).
    return Server(turbine, model, "--kv-blocks", "512", "--max-running", 8, "--drain-timeout", 60,
                  "-t", 2)


def retire(server, endpoints):
    """The pod is deleted: endpoints drop it, preStop sleeps, then SIGTERM starts the drain."""
    endpoints.remove(server)
    time.sleep(PRE_STOP_SECONDS)
    server.terminate()
    return server.proc.wait(timeout=90)


def test_rolling_restart_under_load_loses_nothing(turbine, real_model):
    endpoints = Endpoints()
    pods = [start_engine(turbine, real_model)]
    endpoints.add(pods[0])
    proxy = make_proxy(endpoints)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{proxy.server_address[1]}"

    stop = threading.Event()
    lock = threading.Lock()
    done, failures = [], []

    def client(i):
        k = 0
        while not stop.is_set():
            k += 1
            stream = (i + k) % 2 == 0
            body = {"model": "test-model", "prompt": f"Client {i}, request {k}: tell me a story.",
                    "max_tokens": 24, "temperature": 0, "ignore_eos": True, "stream": stream}
            try:
                r = requests.post(base + "/v1/completions", json=body, timeout=120, stream=stream)
                if r.status_code != 200:
                    raise AssertionError(f"status {r.status_code}: {r.text[:200]}")
                if stream:
                    events = [line[6:] for line in r.iter_lines(decode_unicode=True)
                              if line.startswith("data: ")]
                    assert events and events[-1] == "[DONE]", events[-3:]
                    chunks = [json.loads(e) for e in events[:-1]]
                    assert not any("error" in c for c in chunks), chunks
                    assert chunks[-1]["choices"][0]["finish_reason"] == "length", chunks[-1]
                else:
                    j = r.json()
                    assert j["usage"]["completion_tokens"] == 24, j
                with lock:
                    done.append(stream)
            except Exception as e:  # noqa: BLE001 - every failure is the test's finding
                with lock:
                    failures.append(f"client {i} request {k}: {e!r}")

    clients = [threading.Thread(target=client, args=(i,)) for i in range(6)]
    for t in clients:
        t.start()
    codes = []
    try:
        for _ in range(2):  # two restarts: old -> new -> newer
            time.sleep(2.0)
            new = start_engine(turbine, real_model)  # surge pod; joins only once ready
            pods.append(new)
            endpoints.add(new)
            old = pods[-2]
            before = len(done)
            codes.append(retire(old, endpoints))
            assert len(done) > before, "no request completed during the restart"
        time.sleep(1.0)
    finally:
        stop.set()
        for t in clients:
            t.join(timeout=180)
        proxy.shutdown()
        for p in pods:
            p.stop()

    assert not failures, failures[:5]
    assert codes == [0, 0], codes
    assert len(done) >= 12 and any(done) and not all(done), (len(done), sum(done))
