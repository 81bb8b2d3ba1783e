"""Hostile clients against a real `turbine serve`, on loopback and bounded in time.

Slow connections (a slowloris) must not starve the API or the probes; a connection flood
gets 503 while the admin port keeps answering; clients that leave mid-stream or mid-prefill
release their KV blocks; broken model files are clear errors; the request edges (media type,
unknown fields, echoed input, impossible stop strings, metrics auth) answer as documented.
Assertions are on completion and on status codes, never on a wall-clock budget."""
import json
import os
import random
import select
import socket
import threading
import time

import pytest
import requests

from e2e_util import run
from server_fixture import Server, free_port
from slow_clients import SlowClients, chat, get, timed

KEY = "hostile-key"


def wait_until(pred, timeout=60.0, step=0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


@pytest.fixture(scope="module")
def server(turbine, real_model):
    admin = free_port()
    s = Server(turbine, real_model, "--max-queue", 8, "--max-running", 4, "--admin-port", admin,
               "--kv-blocks", 2048, "-t", 2, api_key=KEY)
    s.admin = f"http://127.0.0.1:{admin}"
    yield s
    s.stop()


def test_slow_connections_starve_neither_the_api_nor_the_probes(server):
    """200 connections that send one header byte a second: a normal chat request and /health
    on both ports still complete, and the server cuts the slow ones off (408)."""
    slow = SlowClients("127.0.0.1", server.port, 200, interval=1.0).start()
    try:
        time.sleep(1.0)  # every slow connection is open and trickling
        lat = {"chat": [], "health": [], "admin": []}
        end = time.monotonic() + 12  # past the 10 s head deadline: reconnects happen too
        while time.monotonic() < end:
            for name, fn in (("chat", chat(server.base, server.name, api_key=KEY)),
                             ("health", get(server.base + "/health")),
                             ("admin", get(server.admin + "/health"))):
                t, status = timed(fn, timeout=60)
                assert status == 200, f"{name} answered {status} after {t:.1f}s with slow clients open"
                lat[name].append(t)
            time.sleep(0.5)
    finally:
        slow.stop()
    assert all(lat.values())
    print("latency with 200 slow connections (max s):", {k: round(max(v), 3) for k, v in lat.items()})
    # The server ended the slow connections itself, saying why.
    assert slow.closed_by_server >= 200, (slow.closed_by_server, slow.answers)
    assert set(slow.answers) == {"HTTP/1.1 408 Request Timeout"}, slow.answers


def test_a_connection_flood_gets_503_and_the_admin_port_answers(turbine, tiny_model):
    admin = free_port()
    s = Server(turbine, tiny_model, "--max-connections", 8, "--admin-port", admin,
               "--keep-alive-timeout", 30)
    held = []
    try:
        # Nine connections against a cap of eight: one is answered 503 and closed at once.
        # Which one depends on when the server saw the fixture's own /ready connection go
        # (it counts while open), so every socket is watched.
        for _ in range(9):
            held.append(socket.create_connection(("127.0.0.1", s.port)))
            time.sleep(0.05)
        answered = {}
        deadline = time.time() + 10
        while time.time() < deadline and not answered:
            readable, _, _ = select.select(held, [], [], 0.5)
            for c in readable:
                data = b""
                c.settimeout(10)
                while True:
                    chunk = c.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                answered[c] = data
        assert 1 <= len(answered) <= 2, answered  # two if /ready's connection was still open for both
        for data in answered.values():
            head, _, body = data.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 503"), data
            assert b"Retry-After: 1" in head
            assert json.loads(body)["error"]["type"] == "service_unavailable"
        # Probes and scrapes have their own listener, threads and connection budget.
        r = requests.get(f"http://127.0.0.1:{admin}/health", timeout=30)
        assert r.status_code == 200 and r.json()["status"] == "ok"
        assert requests.get(f"http://127.0.0.1:{admin}/metrics", timeout=30).status_code == 200
        # Once the flood is gone, the API port serves again.
        for c in held:
            c.close()
        held = []
        deadline = time.time() + 10
        while True:
            r = requests.get(s.base + "/health", timeout=10)
            if r.status_code == 200 or time.time() > deadline:
                break
            time.sleep(0.1)  # the server may not have seen every close yet: 503 meanwhile
        assert r.status_code == 200, r.text
    finally:
        for c in held:
            c.close()
        s.stop()


def load(server):
    return requests.get(server.admin + "/load", timeout=30).json()


def cancelled(server):
    return server.metric("turbine_requests_total", {"finish_reason": "cancelled"}) or 0.0


def test_clients_that_leave_mid_stream_or_mid_prefill_free_their_kv(server):
    before = cancelled(server)
    prompt_long = " ".join(f"word{i}" for i in range(900))  # ~1800 tokens: a long prefill
    errors = []

    def streamer(i):
        body = {"model": server.name, "prompt": f"Story {i}:", "max_tokens": 400, "stream": True,
                "ignore_eos": True, "temperature": 0.8}
        try:
            with requests.post(server.base + "/v1/completions", json=body, headers=server.headers(),
                               stream=True, timeout=120) as r:
                if r.status_code != 200:
                    return  # 429 when the queue is full: nothing held
                for n, _ in enumerate(r.iter_lines()):
                    if n >= 2 + i % 5:
                        break  # leave mid-stream
        except requests.RequestException as e:
            errors.append(repr(e))

    def prefiller(i):
        body = json.dumps({"model": server.name, "prompt": f"{i} " + prompt_long, "max_tokens": 64}).encode()
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Authorization: Bearer " + KEY.encode() + b"\r\n"
                  b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        time.sleep(0.05 + (i % 5) * 0.1)
        s.close()  # leave before the answer: mid-queue or mid-prefill

    threads = [threading.Thread(target=streamer if i % 2 else prefiller, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    # Every sequence is gone and every KV block free (prefix-cache content is not "used").
    assert wait_until(lambda: (lambda l: l["running"] == 0 and l["waiting"] == 0
                               and l["kv_cache_usage"] == 0)(load(server)), timeout=120), load(server)
    assert server.metric("turbine_kv_cache_usage_ratio") == 0
    assert cancelled(server) - before >= 10, cancelled(server) - before


def test_a_non_streaming_client_that_leaves_is_cancelled(server):
    before = cancelled(server)
    body = json.dumps({"model": server.name, "messages": [{"role": "user", "content": "Count to a million."}],
                       "max_tokens": 3000, "ignore_eos": True}).encode()
    s = socket.create_connection(("127.0.0.1", server.port))
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Authorization: Bearer " + KEY.encode() + b"\r\nContent-Length: " + str(len(body)).encode() +
              b"\r\n\r\n" + body)
    assert wait_until(lambda: load(server)["running"] == 1, timeout=30)
    s.close()
    assert wait_until(lambda: cancelled(server) == before + 1, timeout=30), cancelled(server)
    assert wait_until(lambda: load(server)["kv_cache_usage"] == 0, timeout=30)
    # It stopped generating: the token counter no longer moves.
    n = server.metric("turbine_generation_tokens_total")
    time.sleep(0.5)
    assert server.metric("turbine_generation_tokens_total") == n


def test_broken_model_files_are_clear_errors(turbine, tiny_model, tmp_path):
    """Truncations and byte flips of a model file through `turbine run`: it either runs or
    exits 1 with an error line; never a signal."""
    data = open(tiny_model, "rb").read()
    rng = random.Random(1234)
    variants = {}
    for n in [0, 3, 4, 8, 16, 24, 100, 1000, len(data) // 2, len(data) - 1]:
        variants[f"truncated at {n}"] = data[:n]
    head = min(len(data), 4096)  # the header, metadata and tensor table live up front
    for k in range(24):
        b = bytearray(data)
        at = rng.randrange(head) if k < 20 else rng.randrange(len(data))
        b[at] ^= 1 << rng.randrange(8)
        variants[f"bit flip at {at}"] = bytes(b)
    errors = 0
    for name, blob in variants.items():
        path = tmp_path / "broken.gguf"
        path.write_bytes(blob)
        r = run([turbine, "run", "-m", path, "-p", "hi", "-n", "2", "--temp", "0"])
        assert r.returncode in (0, 1), f"{name}: exit {r.returncode}\n{r.stderr[-2000:]}"
        if r.returncode == 1:
            errors += 1
            assert "error:" in r.stderr, f"{name}: no error line\n{r.stderr[-2000:]}"
            assert "internal error" not in r.stderr, f"{name}: an invariant broke\n{r.stderr[-2000:]}"
    assert errors >= len(variants) // 2, errors  # most of these damage what the reader checks


# ---- request edges -----------------------------------------------------------------------------

def post_raw(server, path, body: bytes, content_type):
    headers = dict(server.headers())
    if content_type is not None:
        headers["Content-Type"] = content_type
    return requests.post(server.base + path, data=body, headers=headers, timeout=60)


@pytest.mark.parametrize("content_type,status", [
    ("application/json", 200), ("application/json; charset=utf-8", 200), ("Application/JSON", 200),
    ("text/plain", 415), ("application/x-www-form-urlencoded", 415), (None, 415)])
def test_only_json_bodies_are_accepted(server, content_type, status):
    body = json.dumps({"model": server.name, "prompt": "Hi", "max_tokens": 1}).encode()
    r = post_raw(server, "/v1/completions", body, content_type)
    assert r.status_code == status, r.text
    if status == 415:
        e = r.json()["error"]
        assert e["code"] == "unsupported_media_type" and "application/json" in e["message"]


@pytest.mark.parametrize("field,value", [
    ("response_format", {"type": "json_schema", "json_schema": {"schema": {"type": "string", "not": {}}}}),
    ("grammar", "root ::= undefined-rule"),
    ("tools", [{"type": "function", "function": {"name": "f", "parameters": {"type": "integer", "not": {}}}}]),
    ("tool_choice", "required"),
    ("functions", [{"name": "f"}]),
    ("reasoning_effort", "high"),
    ("audio", {"voice": "x"})])
def test_unsupported_fields_are_named_not_ignored(server, field, value):
    r = server.post("/v1/chat/completions", {"model": server.name, "max_tokens": 1,
                                             "messages": [{"role": "user", "content": "x"}], field: value})
    assert r.status_code == 400, r.text
    e = r.json()["error"]
    assert e["param"] == field and field in e["message"], e


def test_fields_that_ask_for_nothing_are_accepted(server):
    r = server.post("/v1/chat/completions", {"model": server.name, "max_tokens": 1,
                                             "messages": [{"role": "user", "content": "x"}],
                                             "response_format": {"type": "text"}, "tools": [],
                                             "tool_choice": "none", "store": False})
    assert r.status_code == 200, r.text


def test_echoed_input_is_cut_short(server):
    long = "m" * 5000
    r = server.post("/v1/chat/completions", {"model": long, "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 404
    msg = r.json()["error"]["message"]
    assert len(msg) < 400 and "more bytes" in msg, msg
    r = server.post("/v1/chat/completions", {"model": server.name, "messages": [{"role": "r" * 5000, "content": "x"}]})
    assert r.status_code == 400 and len(r.json()["error"]["message"]) < 400


def test_a_stop_string_longer_than_the_context_is_refused(server):
    ctx = server.get("/v1/models").json()["data"][0]["max_model_len"]
    stop = " word" * (ctx + 10)
    r = server.post("/v1/completions", {"model": server.name, "prompt": "x", "max_tokens": 1, "stop": stop})
    assert r.status_code == 400, r.text
    e = r.json()["error"]
    assert e["param"] == "stop" and "longer than the context" in e["message"]
    assert len(e["message"]) < 400


def test_metrics_auth_keeps_metrics_and_load_behind_the_key_on_the_api_port(turbine, tiny_model):
    admin = free_port()
    s = Server(turbine, tiny_model, "--metrics-auth", "--admin-port", admin, api_key=KEY)
    try:
        for path in ("/metrics", "/load"):
            assert requests.get(s.base + path, timeout=30).status_code == 401, path
            assert s.get(path).status_code == 200, path
            # The admin port is for probes and scrapes inside the cluster: no key there.
            assert requests.get(f"http://127.0.0.1:{admin}{path}", timeout=30).status_code == 200, path
        for path in ("/health", "/ready"):
            assert requests.get(s.base + path, timeout=30).status_code == 200, path
    finally:
        s.stop()


def test_metrics_auth_without_a_key_is_a_startup_error(turbine, tiny_model):
    r = run([turbine, "serve", "-m", tiny_model, "--metrics-auth", "--port", free_port()],
            env={k: v for k, v in os.environ.items() if k != "TURBINE_API_KEYS"})
    assert r.returncode == 1 and "--metrics-auth needs an API key" in r.stderr, r.stderr
