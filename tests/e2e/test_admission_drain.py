"""Admission capacity under a burst, and SIGTERM drains: under mixed streaming and
non-streaming load every in-flight request completes; --drain-timeout is honoured to the
millisecond and ends what is still running when it expires."""
import json
import threading
import time

import requests

from server_fixture import Server


def wait_running(s, n, timeout=60):
    deadline = time.time() + timeout
    while requests.get(s.base + "/load", timeout=5).json()["running"] < n:
        assert time.time() < deadline, f"fewer than {n} requests ever ran"
        time.sleep(0.02)


def test_burst_fills_running_slots_and_queue(turbine, real_model):
    """--max-running 2 --max-queue 2: of 8 simultaneous requests 4 are served (2 running, 2
    queued) and 4 get 429, even though none had reached a running slot when they arrived."""
    s = Server(turbine, real_model, "--kv-blocks", "256", "--max-running", 2, "--max-queue", 2)
    try:
        body = {"model": "test-model", "prompt": "Tell me about the sea.", "max_tokens": 48,
                "temperature": 0, "ignore_eos": True}
        start = threading.Barrier(8)
        results = []
        lock = threading.Lock()

        def call():
            start.wait()
            r = requests.post(s.base + "/v1/completions", json=body, timeout=120)
            with lock:
                results.append(r)

        threads = [threading.Thread(target=call) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        codes = sorted(r.status_code for r in results)
        assert codes == [200] * 4 + [429] * 4, codes
        for r in results:
            if r.status_code == 200:
                assert r.json()["usage"]["completion_tokens"] == 48
            else:
                assert r.headers.get("Retry-After")
        assert s.metric("turbine_requests_rejected_total", {"reason": "queue_full"}) == 4
        assert s.metric("turbine_requests_total", {"finish_reason": "error"}) == 0
    finally:
        s.stop()


def test_sigterm_drains_mixed_load(turbine, real_model):
    """8 requests in flight (half streaming with include_usage, half not), SIGTERM: /ready
    turns 503 at once, new requests 503, and every in-flight one finishes complete; exit 0."""
    s = Server(turbine, real_model, "--kv-blocks", "512", "--max-running", 8, "--max-queue", 8,
               "--drain-timeout", 120)
    max_tokens = 96
    results = {}
    lock = threading.Lock()

    def plain(i):
        body = {"model": "test-model", "prompt": f"Story number {i}:", "max_tokens": max_tokens,
                "temperature": 0, "ignore_eos": True}
        if i % 4 == 1:  # and some chat
            body = {"model": "test-model", "messages": [{"role": "user", "content": f"Story {i}"}],
                    "max_tokens": max_tokens, "temperature": 0, "ignore_eos": True}
        path = "/v1/chat/completions" if "messages" in body else "/v1/completions"
        try:
            r = requests.post(s.base + path, json=body, timeout=300)
            out = (r.status_code, r.json() if r.status_code == 200 else r.text)
        except requests.RequestException as e:
            out = (None, repr(e))
        with lock:
            results[i] = ("plain", out)

    def streamed(i):
        chat = i % 4 == 2
        body = {"model": "test-model", "max_tokens": max_tokens, "temperature": 0, "ignore_eos": True,
                "stream": True, "stream_options": {"include_usage": True}}
        if chat:
            body["messages"] = [{"role": "user", "content": f"Poem {i}"}]
        else:
            body["prompt"] = f"Poem number {i}:"
        path = "/v1/chat/completions" if chat else "/v1/completions"
        events = []
        try:
            with requests.post(s.base + path, json=body, stream=True, timeout=300) as r:
                status = r.status_code
                for line in r.iter_lines(decode_unicode=True):
                    if line:
                        events.append(line)
            out = (status, events)
        except requests.RequestException as e:
            out = (None, repr(e) + f" after {len(events)} events")
        with lock:
            results[i] = ("stream", out)

    try:
        threads = [threading.Thread(target=streamed if i % 2 == 0 else plain, args=(i,))
                   for i in range(8)]
        for t in threads:
            t.start()
        wait_running(s, 8)
        s.terminate()
        time.sleep(0.2)
        assert requests.get(s.base + "/ready", timeout=5).status_code == 503
        late = requests.post(s.base + "/v1/completions", json={"model": "test-model", "prompt": "x",
                                                               "max_tokens": 2}, timeout=10)
        assert late.status_code == 503
        for t in threads:
            t.join(timeout=300)
        assert s.proc.wait(timeout=120) == 0, s.output()
        assert sorted(results) == list(range(8)), results.keys()
        for i, (kind, (status, payload)) in sorted(results.items()):
            assert status == 200, (i, kind, payload)
            if kind == "plain":
                assert payload["usage"]["completion_tokens"] == max_tokens, (i, payload)
                assert payload["choices"][0]["finish_reason"] == "length"
            else:
                assert payload[-1] == "data: [DONE]", (i, payload[-3:])
                usage = json.loads(payload[-2][len("data: "):])["usage"]
                assert usage["completion_tokens"] == max_tokens, (i, usage)
    finally:
        s.stop()


def test_drain_timeout_is_not_truncated_to_seconds(turbine, real_model):
    """--drain-timeout 1.5 gives in-flight requests 1.5 s (not 1 s), then ends them so the
    server exits 0 promptly instead of waiting for their own deadlines."""
    s = Server(turbine, real_model, "--kv-blocks", "256", "--drain-timeout", "1.5", "-t", "1")
    got = []
    try:
        body = {"model": "test-model", "prompt": "An endless story:", "max_tokens": 3000,
                "temperature": 0, "ignore_eos": True}

        def slow():
            try:
                got.append(requests.post(s.base + "/v1/completions", json=body, timeout=120).status_code)
            except requests.RequestException as e:
                got.append(repr(e))

        t = threading.Thread(target=slow)
        t.start()
        wait_running(s, 1)
        t0 = time.time()
        s.terminate()
        assert s.proc.wait(timeout=30) == 0, s.output()
        elapsed = time.time() - t0
        assert 1.45 <= elapsed < 10, elapsed
        t.join(timeout=30)
        assert not t.is_alive(), "the cut-off request never got an answer"
        assert got and got[0] != 200, got  # cut off at the deadline, not completed
    finally:
        s.stop()
