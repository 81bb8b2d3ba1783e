"""`turbine serve` on the real model, driven by the official `openai` client and plain HTTP:
OpenAI semantics, error paths, streaming, batching invariance, metrics, drain."""
import concurrent.futures as cf
import json
import shutil
import subprocess
import tempfile
import threading
import time

import openai
import pytest
import requests

from e2e_util import run
from server_fixture import Server

KEY = "test-key-123"


@pytest.fixture(scope="module")
def server(turbine, real_model):
    s = Server(turbine, real_model, "--kv-blocks", "512", "--max-running", "16",
               "--max-queue", "64", "--max-prompt-tokens", "1500", "--max-body-bytes", "200000",
               api_key=KEY)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.base + "/v1", api_key=KEY, max_retries=0)


def chat(client, text, **kw):
    kw.setdefault("temperature", 0)
    kw.setdefault("max_tokens", 24)
    return client.chat.completions.create(model="test-model",
                                          messages=[{"role": "user", "content": text}], **kw)


def test_models(client):
    models = client.models.list()
    assert [m.id for m in models.data] == ["test-model"]


def test_chat_completion_and_usage_match_tokenize(client, server):
    r = chat(client, "What is the capital of France?")
    c = r.choices[0]
    assert c.message.role == "assistant"
    assert len(c.message.content) > 0
    assert c.finish_reason in ("stop", "length")
    assert r.object == "chat.completion"
    tok = server.post("/tokenize", {"messages": [{"role": "user", "content": "What is the capital of France?"}]}).json()
    assert r.usage.prompt_tokens == tok["count"]
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    # completion_tokens counts the generated tokens (the text re-tokenizes to at most that many)
    assert r.usage.completion_tokens <= 24
    if c.finish_reason == "length":
        assert r.usage.completion_tokens == 24


def test_completion(client):
    r = client.completions.create(model="test-model", prompt="The sky is", max_tokens=8, temperature=0)
    assert r.object == "text_completion"
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 8
    assert r.choices[0].text


def test_streaming_concatenates_to_non_streamed(client):
    full = chat(client, "Name three colors.", max_tokens=32).choices[0].message.content
    stream = chat(client, "Name three colors.", max_tokens=32, stream=True,
                  stream_options={"include_usage": True})
    parts, finish, usage = [], None, None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for ch in chunk.choices:
            if ch.delta.content:
                parts.append(ch.delta.content)
            if ch.finish_reason:
                finish = ch.finish_reason
    assert "".join(parts) == full
    assert finish in ("stop", "length")
    assert usage is not None and usage.completion_tokens > 0


def test_completion_stream(client):
    full = client.completions.create(model="test-model", prompt="Once upon a time", max_tokens=16,
                                     temperature=0).choices[0].text
    parts = [c.choices[0].text for c in client.completions.create(
        model="test-model", prompt="Once upon a time", max_tokens=16, temperature=0, stream=True)
        if c.choices]
    assert "".join(parts) == full


def test_n_choices_and_seed(client):
    r = chat(client, "Tell me a random word.", n=3, temperature=1.0, seed=5, max_tokens=8)
    assert sorted(c.index for c in r.choices) == [0, 1, 2]
    again = chat(client, "Tell me a random word.", n=3, temperature=1.0, seed=5, max_tokens=8)
    assert [c.message.content for c in r.choices] == [c.message.content for c in again.choices]
    assert 3 <= r.usage.completion_tokens <= 3 * 8


def test_n_choices_count_the_prompt_once(client, server):
    """usage.prompt_tokens counts each prompt once however many choices (n) share it, as
    OpenAI and vLLM do; streamed and not."""
    msgs = [{"role": "user", "content": "Tell me a random word."}]
    count = server.post("/tokenize", {"messages": msgs}).json()["count"]
    r = client.chat.completions.create(model="test-model", messages=msgs, n=3, temperature=1.0,
                                       seed=7, max_tokens=8)
    assert len(r.choices) == 3
    assert r.usage.prompt_tokens == count
    assert r.usage.total_tokens == count + r.usage.completion_tokens
    prompt = "A list of random words:"
    pcount = server.post("/tokenize", {"prompt": prompt}).json()["count"]
    r = client.completions.create(model="test-model", prompt=prompt, n=3, temperature=1.0, seed=7,
                                  max_tokens=6)
    assert r.usage.prompt_tokens == pcount
    assert 3 <= r.usage.completion_tokens <= 18
    # Two prompts x n=2: each prompt once.
    r = client.completions.create(model="test-model", prompt=[prompt, "Two more words:"], n=2,
                                  temperature=1.0, seed=7, max_tokens=4)
    pcount2 = server.post("/tokenize", {"prompt": "Two more words:"}).json()["count"]
    assert len(r.choices) == 4
    assert r.usage.prompt_tokens == pcount + pcount2
    # Streaming, with include_usage: the same count in the usage chunk.
    usage = None
    for chunk in client.chat.completions.create(model="test-model", messages=msgs, n=3,
                                                temperature=1.0, seed=7, max_tokens=8, stream=True,
                                                stream_options={"include_usage": True}):
        if chunk.usage:
            usage = chunk.usage
    assert usage is not None and usage.prompt_tokens == count
    usage = None
    for chunk in client.completions.create(model="test-model", prompt=prompt, n=3, temperature=1.0,
                                           seed=7, max_tokens=6, stream=True,
                                           stream_options={"include_usage": True}):
        if chunk.usage:
            usage = chunk.usage
    assert usage is not None and usage.prompt_tokens == pcount
    assert 3 <= usage.completion_tokens <= 18


def test_stop_strings(client):
    base = chat(client, "Count from 1 to 10, separated by commas.", max_tokens=40).choices[0].message.content
    assert "," in base, base
    stop = base[base.index(","):base.index(",") + 1]
    r = chat(client, "Count from 1 to 10, separated by commas.", max_tokens=40, stop=[stop])
    assert r.choices[0].finish_reason == "stop"
    assert stop not in r.choices[0].message.content
    assert base.startswith(r.choices[0].message.content)


def test_logprobs(client):
    r = chat(client, "Say hello.", max_tokens=6, logprobs=True, top_logprobs=3)
    lp = r.choices[0].logprobs.content
    assert len(lp) == r.usage.completion_tokens
    for e in lp:
        assert e.logprob <= 0
        assert len(e.top_logprobs) == 3
        # greedy: the chosen token is the most likely one
        assert abs(e.logprob - e.top_logprobs[0].logprob) < 1e-4
        assert e.top_logprobs[0].logprob >= e.top_logprobs[1].logprob >= e.top_logprobs[2].logprob


def test_auth_errors(server):
    r = requests.post(server.base + "/v1/chat/completions", json={"model": "test-model", "messages": []})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_api_key"
    bad = openai.OpenAI(base_url=server.base + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        chat(bad, "hi")
    # health and metrics need no key
    assert requests.get(server.base + "/health").status_code == 200
    assert requests.get(server.base + "/metrics").status_code == 200


def test_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="gpt-17", messages=[{"role": "user", "content": "x"}])
    assert "gpt-17" in str(e.value)


@pytest.mark.parametrize("body,param", [
    ('{"model": "test-model", "messages": ', None),
    ('{"model": "test-model", "messages": [{"role": "user", "content": "x"}], "temperature": 9}', "temperature"),
    ('{"model": "test-model", "messages": [{"role": "user", "content": "x"}], "max_tokens": 100000}', "max_tokens"),
])
def test_bad_requests_are_400(server, body, param):
    r = requests.post(server.base + "/v1/chat/completions", data=body,
                      headers={**server.headers(), "Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error" and err["message"]
    if param:
        assert err["param"] == param


def test_too_large_is_413(server, client):
    r = requests.post(server.base + "/v1/completions", data="x" * 300000,
                      headers={**server.headers(), "Content-Type": "application/json"})
    assert r.status_code == 413
    assert "error" in r.json()
    with pytest.raises(openai.APIStatusError) as e:
        client.completions.create(model="test-model", prompt="word " * 3000, max_tokens=4)
    assert e.value.status_code == 413


def sse_events(server, path, body):
    """POSTs a streaming request and returns its SSE data payloads, raw: JSON objects, then
    the final "[DONE]" string."""
    out = []
    with requests.post(server.base + path, json=body, headers=server.headers(), stream=True,
                       timeout=120) as r:
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"].startswith("text/event-stream")
        for line in r.iter_lines(decode_unicode=True):
            if not line:
                continue
            assert line.startswith("data: "), line
            data = line[len("data: "):]
            out.append(data if data == "[DONE]" else json.loads(data))
    assert out and out[-1] == "[DONE]", out[-3:]
    return out


def test_prompt_cap_admits_exactly_n_tokens(server):
    """--max-prompt-tokens 1500: a prompt of 1500 tokens is served, 1501 is a 413."""
    ids = server.post("/tokenize", {"prompt": "The quick brown fox jumps over the lazy dog. " * 200,
                                    "add_special_tokens": False}).json()["tokens"]
    assert len(ids) > 1501
    body = {"model": "test-model", "max_tokens": 1, "temperature": 0}
    r = server.post("/v1/completions", dict(body, prompt=ids[:1500]))
    assert r.status_code == 200, r.text
    assert r.json()["usage"]["prompt_tokens"] == 1500
    r = server.post("/v1/completions", dict(body, prompt=ids[:1501]))
    assert r.status_code == 413, r.text
    assert "at most 1500" in r.json()["error"]["message"]


def test_completion_echo(client, server):
    prompt = "The three primary colors are"
    plain = client.completions.create(model="test-model", prompt=prompt, max_tokens=8,
                                      temperature=0).choices[0].text
    r = client.completions.create(model="test-model", prompt=prompt, max_tokens=8, temperature=0,
                                  echo=True)
    assert r.choices[0].text == prompt + plain
    assert r.usage.completion_tokens == 8
    # A prompt of token ids echoes as their text.
    ids = server.post("/tokenize", {"prompt": prompt, "add_special_tokens": False}).json()["tokens"]
    r = client.completions.create(model="test-model", prompt=ids, max_tokens=8, temperature=0, echo=True)
    assert r.choices[0].text.startswith(prompt)
    # Streaming: the first chunk of each choice carries the prompt, then the generated text.
    events = sse_events(server, "/v1/completions", {"model": "test-model", "prompt": prompt,
                                                    "max_tokens": 8, "temperature": 0,
                                                    "echo": True, "stream": True})
    chunks = [e for e in events[:-1] if e["choices"]]
    assert chunks[0]["choices"][0]["text"] == prompt
    assert chunks[0]["choices"][0]["finish_reason"] is None
    assert "".join(c["choices"][0]["text"] for c in chunks) == prompt + plain
    # Prompt logprobs are not computed: say so.
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model="test-model", prompt=prompt, max_tokens=4, echo=True, logprobs=1)
    assert "echo with logprobs is not supported" in str(e.value)


def test_completion_stream_logprobs_text_offset(client, server):
    """Each streamed chunk's text_offset is where its text starts in the choice's text, the
    same offsets the non-streamed response gives."""
    body = {"model": "test-model", "prompt": "Once upon a time there", "max_tokens": 12,
            "temperature": 0, "logprobs": 2}
    whole = server.post("/v1/completions", body).json()["choices"][0]
    events = sse_events(server, "/v1/completions", dict(body, stream=True))
    offsets, text = [], ""
    for e in events[:-1]:
        for c in e["choices"]:
            if c.get("logprobs"):
                assert c["logprobs"]["text_offset"] == [len(text.encode())], (text, c)
                offsets += c["logprobs"]["text_offset"]
            text += c["text"]
    assert text == whole["text"]
    assert offsets == whole["logprobs"]["text_offset"]
    assert len(offsets) == 12 and offsets[-1] > 0


def test_stream_skips_empty_deltas(server):
    """While a stop string may be starting the text is held back; no chunk with empty text is
    sent for it, but the finish chunk always comes."""
    q = "Count from 1 to 10, separated by commas."
    msgs = [{"role": "user", "content": q}]
    base = server.post("/v1/chat/completions", {"model": "test-model", "messages": msgs,
                                                "max_tokens": 40, "temperature": 0}).json()
    text = base["choices"][0]["message"]["content"]
    assert "," in text, text
    # ", 1-" begins at every comma, so the comma is held back until the next token shows
    # it is not the stop string.
    stop = ", 1-"
    for path, body, piece in [
        ("/v1/chat/completions", {"messages": msgs}, lambda c: c["delta"].get("content")),
        ("/v1/completions", {"prompt": "1, 2, 3, 4, 5,"}, lambda c: c["text"]),
    ]:
        events = sse_events(server, path, {"model": "test-model", "max_tokens": 30, "temperature": 0,
                                           "stop": [stop], "stream": True, **body})
        finishes = 0
        for e in events[:-1]:
            for c in e["choices"]:
                if c["finish_reason"] is not None:
                    finishes += 1
                    continue
                if "role" in c.get("delta", {}):
                    continue
                assert piece(c) not in ("", None), (path, e)
        assert finishes == 1, path


def test_stream_usage_is_null_until_the_usage_chunk(server):
    for path, body in [("/v1/chat/completions", {"messages": [{"role": "user", "content": "Hi!"}]}),
                       ("/v1/completions", {"prompt": "Hello, my name is"})]:
        events = sse_events(server, path, {"model": "test-model", "max_tokens": 6, "temperature": 0,
                                           "n": 2, "stream": True,
                                           "stream_options": {"include_usage": True}, **body})
        *chunks, last = events[:-1]
        assert len(chunks) >= 3
        for c in chunks:
            assert "usage" in c and c["usage"] is None, c
        assert last["choices"] == [] and last["usage"]["completion_tokens"] > 0
        # Without include_usage no chunk has the key.
        events = sse_events(server, path, {"model": "test-model", "max_tokens": 6, "temperature": 0,
                                           "stream": True, **body})
        assert all("usage" not in c for c in events[:-1])


def test_prompt_tokens_metric_counts_each_request_once(server):
    """turbine_prompt_tokens_total grows by each request's prompt, prefix-cache hit or not."""
    prompt = "A long shared preamble that fills a few KV blocks of sixteen tokens each, " * 3
    body = {"model": "test-model", "prompt": prompt, "max_tokens": 2, "temperature": 0}
    before = server.metric("turbine_prompt_tokens_total")
    hits_before = server.metric("turbine_prefix_cache_hits_total")
    usage = [server.post("/v1/completions", body).json()["usage"] for _ in range(2)]
    assert server.metric("turbine_prefix_cache_hits_total") > hits_before  # the 2nd hit the cache
    assert server.metric("turbine_prompt_tokens_total") - before == sum(u["prompt_tokens"] for u in usage)


def test_tokenize_detokenize(server):
    t = server.post("/tokenize", {"prompt": "Hello world 123"}).json()
    assert t["count"] == len(t["tokens"]) > 0
    d = server.post("/detokenize", {"tokens": t["tokens"]}).json()
    assert d["prompt"] == "Hello world 123"
    assert server.post("/detokenize", {"tokens": [10 ** 9]}).status_code == 400


def test_load_endpoint(server):
    j = server.get("/load").json()
    for k in ("waiting", "running", "kv_cache_usage", "free_blocks", "total_blocks"):
        assert k in j
    assert j["total_blocks"] == 512


def test_http_greedy_equals_turbine_run(client, turbine, real_model):
    text = "Explain what a compiler does in one sentence."
    http = chat(client, text, max_tokens=32).choices[0].message.content
    cli = run([turbine, "run", "-m", real_model, "--chat", "-p", text, "-n", "32", "--temp", "0"])
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout == http


def test_batching_invariance(client):
    prompts = [f"Write one sentence about the number {i}." for i in range(16)]
    alone = [chat(client, p, max_tokens=24).choices[0].message.content for p in prompts]
    with cf.ThreadPoolExecutor(16) as ex:
        together = list(ex.map(lambda p: chat(client, p, max_tokens=24).choices[0].message.content, prompts))
    assert together == alone


def test_disconnect_mid_stream_frees_blocks(server):
    body = {"model": "test-model", "messages": [{"role": "user", "content": "Write a long story."}],
            "max_tokens": 400, "temperature": 0, "stream": True}
    with requests.post(server.base + "/v1/chat/completions", json=body, headers=server.headers(),
                       stream=True, timeout=60) as r:
        it = r.iter_lines()
        for _ in range(5):
            next(it)
        assert server.metric("turbine_requests_running") >= 1
    deadline = time.time() + 20
    while time.time() < deadline:
        if server.metric("turbine_requests_running") == 0 and \
                server.metric("turbine_kv_cache_blocks", {"state": "used"}) == 0:
            break
        time.sleep(0.2)
    assert server.metric("turbine_requests_running") == 0
    assert server.metric("turbine_kv_cache_blocks", {"state": "used"}) == 0
    assert server.metric("turbine_requests_total", {"finish_reason": "cancelled"}) >= 1


def test_promtool_accepts_metrics(server):
    promtool = shutil.which("promtool")
    if not promtool:
        pytest.skip("promtool not installed (Debian package prometheus)")
    text = requests.get(server.base + "/metrics").text
    r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    for name in ("turbine_requests_waiting", "turbine_requests_running", "turbine_prefill_tokens_waiting",
                 "turbine_kv_cache_usage_ratio",
                 "turbine_kv_cache_blocks", "turbine_generation_tokens_per_second", "turbine_build_info",
                 "turbine_prompt_tokens_total", "turbine_generation_tokens_total", "turbine_requests_total",
                 "turbine_requests_rejected_total", "turbine_preemptions_total",
                 "turbine_prefix_cache_queries_total", "turbine_prefix_cache_hits_total",
                 "turbine_time_to_first_token_seconds", "turbine_inter_token_latency_seconds",
                 "turbine_request_duration_seconds", "turbine_queue_wait_seconds",
                 "turbine_device_memory_bytes"):
        assert f"# TYPE {name} " in text, name


def test_real_prometheus_scrapes_engine(server, client, tmp_path):
    prom = shutil.which("prometheus")
    if not prom:
        pytest.skip("prometheus not installed (Debian package prometheus)")
    from server_fixture import free_port
    port = free_port()
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text(f"""global:
  scrape_interval: 1s
scrape_configs:
  - job_name: turbine
    static_configs:
      - targets: ['127.0.0.1:{server.port}']
""")
    p = subprocess.Popen([prom, f"--config.file={cfg}", f"--storage.tsdb.path={tmp_path / 'data'}",
                          f"--web.listen-address=127.0.0.1:{port}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(6):
            chat(client, "Give me a fun fact.", max_tokens=16)
            time.sleep(0.5)
        def query(q):
            r = requests.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": q}, timeout=5).json()
            return r["data"]["result"] if r.get("status") == "success" else None
        deadline = time.time() + 30
        kv = rate = None
        while time.time() < deadline:
            kv = query("turbine_kv_cache_usage_ratio")
            rate = query("rate(turbine_generation_tokens_total[10s])")
            if kv and rate and float(rate[0]["value"][1]) > 0:
                break
            chat(client, "Another fact.", max_tokens=8)
            time.sleep(1)
        assert kv, "Prometheus has no turbine_kv_cache_usage_ratio"
        assert 0 <= float(kv[0]["value"][1]) <= 1
        assert rate and float(rate[0]["value"][1]) > 0
    finally:
        p.terminate()
        p.wait(timeout=10)


def test_queue_full_429_and_drain(turbine, real_model):
    """A tiny server: 1 running sequence, queue of 1. Extra requests get 429 with
    Retry-After; SIGTERM turns /ready to 503 at once and in-flight requests complete."""
    s = Server(turbine, real_model, "--kv-blocks", "256", "--max-running", "1", "--max-queue", "1",
               "--drain-timeout", "300")  # the 1500-token request below must finish, even on a busy machine
    try:
        body = {"model": "test-model", "prompt": "The history of the world", "max_tokens": 64,
                "temperature": 0, "ignore_eos": True}
        results = []
        def call():
            results.append(requests.post(s.base + "/v1/completions", json=body, timeout=120))
        threads = [threading.Thread(target=call) for _ in range(6)]
        for t in threads:
            t.start()
            time.sleep(0.05)
        for t in threads:
            t.join()
        codes = sorted(r.status_code for r in results)
        assert 429 in codes and 200 in codes, codes
        for r in results:
            if r.status_code == 429:
                assert r.headers.get("Retry-After")
                assert r.json()["error"]["type"] == "rate_limit_error"
        # drain under load
        inflight = []
        long_body = dict(body, max_tokens=1500)
        def slow():
            inflight.append(requests.post(s.base + "/v1/completions", json=long_body, timeout=300))
        t1 = threading.Thread(target=slow)
        t1.start()
        deadline = time.time() + 30
        while requests.get(s.base + "/load", timeout=5).json()["running"] < 1:
            assert time.time() < deadline, "the long request never started"
            time.sleep(0.02)
        s.terminate()
        deadline = time.time() + 10  # the signal reaches the server within this, however busy
        while requests.get(s.base + "/ready", timeout=5).status_code != 503:
            assert time.time() < deadline, "/ready did not turn 503 after SIGTERM"
            time.sleep(0.02)
        late = requests.post(s.base + "/v1/completions", json=body, timeout=10)
        assert late.status_code == 503
        t1.join()
        assert inflight[0].status_code == 200, inflight[0].text
        assert inflight[0].json()["usage"]["completion_tokens"] == 1500
        assert s.proc.wait(timeout=60) == 0
    finally:
        s.stop()
