"""The `turbine` CLI: bad input gets a clear error (exit 1, message on stderr, nothing on
stdout) and good input does what it says."""
import json
import os

import pytest

from e2e_util import run


def test_version_and_help(turbine):
    r = run([turbine, "--version"])
    assert r.returncode == 0 and r.stdout.startswith("turbine ")
    r = run([turbine, "--help"])
    assert r.returncode == 0
    for sub in ("run", "chat", "bench", "perplexity", "synth", "quantize"):
        assert sub in r.stdout


@pytest.mark.parametrize("args,needle", [
    (["run", "-m", "/nonexistent.gguf", "-p", "hi"], "cannot open model file"),
    (["run", "-p", "hi", "-n", "-3"], "-n"),
    (["run", "-p", "hi", "--temp", "abc"], "--temp"),
    (["run", "-p", "hi", "--no-such-flag"], "no-such-flag"),
    (["synth", "-o", "x.gguf", "--type", "q9_9"], "unknown tensor type"),
    (["synth", "-o", "x.gguf", "--heads", "3", "--hidden", "64"], "multiple"),
    (["perplexity", "-f", "/nonexistent.txt"], "cannot read"),
    (["bench", "-p", "0"], "n-prompt"),
    (["frobnicate"], "frobnicate"),
    (["quantize", "/nonexistent.gguf", "out.gguf", "--type", "q8_0"], "cannot open model file"),
    (["quantize", "in.gguf", "out.gguf", "--type", "int3"], "unknown quantization type"),
    (["quantize", "in.gguf", "out.gguf"], "--type"),
    (["quantize", "in.gguf", "out.gguf", "--type", "w4g128", "--method", "gptq"], "--method"),
])
def test_bad_arguments(turbine, tmp_path, args, needle):
    r = run([turbine, *args], cwd=tmp_path)
    assert r.returncode != 0, r.stdout
    assert needle in r.stderr, r.stderr
    assert r.stdout.strip() == "" or "--help" in r.stdout or needle in r.stdout


def test_truncated_model_is_rejected(turbine, tiny_model, tmp_path):
    data = open(tiny_model, "rb").read()
    for cut in (3, 20, len(data) // 2, len(data) - 1):
        p = tmp_path / f"cut{cut}.gguf"
        p.write_bytes(data[:cut])
        r = run([turbine, "run", "-m", p, "-p", "hello", "-n", "4"])
        assert r.returncode == 1, (cut, r.stderr)
        assert "invalid GGUF file" in r.stderr, r.stderr
        assert r.stdout == ""


def test_quantize_truncated_input_and_missing_calibration(turbine, tiny_model, tmp_path):
    data = open(tiny_model, "rb").read()
    p = tmp_path / "cut.gguf"
    p.write_bytes(data[: len(data) // 2])
    out = tmp_path / "out.gguf"
    r = run([turbine, "quantize", p, out, "--type", "q8_0"])
    assert r.returncode == 1 and "invalid GGUF file" in r.stderr, r.stderr
    r = run([turbine, "quantize", tiny_model, out, "--type", "w4g128", "--method", "awq",
             "--calib", tmp_path / "missing.txt"])
    assert r.returncode == 1 and "cannot read calibration text" in r.stderr, r.stderr
    assert not out.exists()


def test_quantize_awq_then_run(turbine, tiny_model, tmp_path):
    calib = tmp_path / "calib.txt"
    calib.write_text("The quick brown fox jumps over the lazy dog. " * 40)
    out = tmp_path / "awq.gguf"
    r = run([turbine, "quantize", tiny_model, out, "--type", "w4g128", "--method", "awq",
             "--calib", calib, "--calib-tokens", "128", "-t", "2"])
    assert r.returncode == 0, r.stderr
    assert "quantized model written" in r.stderr and "method=awq" in r.stderr
    g = run([turbine, "run", "-m", out, "-p", "hello", "-n", "6", "--temp", "0"])
    assert g.returncode == 0 and g.stdout != "", g.stderr


def test_not_a_gguf(turbine, tmp_path):
    p = tmp_path / "notes.gguf"
    p.write_text("these are not weights\n" * 10)
    r = run([turbine, "run", "-m", p, "-p", "x"])
    assert r.returncode == 1 and "wrong magic" in r.stderr


def test_synth_then_run_is_deterministic(turbine, tiny_model):
    a = run([turbine, "run", "-m", tiny_model, "-p", "hello world", "-n", "12", "--temp", "0"])
    b = run([turbine, "run", "-m", tiny_model, "-p", "hello world", "-n", "12", "--temp", "0"])
    assert a.returncode == 0, a.stderr
    assert a.stdout == b.stdout and a.stdout != ""
    s1 = run([turbine, "run", "-m", tiny_model, "-p", "hi", "-n", "16", "--temp", "1", "--seed", "7"])
    s2 = run([turbine, "run", "-m", tiny_model, "-p", "hi", "-n", "16", "--temp", "1", "--seed", "7"])
    assert s1.returncode == 0 and s1.stdout == s2.stdout


def test_bench_json(turbine, tiny_model):
    r = run([turbine, "bench", "-m", tiny_model, "-p", "32", "-n", "8", "-r", "1", "--json"])
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["pp32_tok_s"] > 0 and j["tg8_tok_s"] > 0
    assert 0 < j["limit_fraction"]
    assert j["bytes_per_token"] > os.path.getsize(tiny_model) * 0.5


def test_bench_profile_says_where_a_token_goes(turbine, tiny_model):
    r = run([turbine, "bench", "-m", tiny_model, "-p", "32", "-n", "8", "-r", "1", "--json",
             "--profile"])
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    for phase, tokens in (("profile_prefill", 32), ("profile_decode", 8)):
        p = j[phase]
        assert p["tokens"] == tokens
        ops = {o["op"]: o for o in p["ops"]}
        assert "attention" in ops and any(k.startswith("matmul ") for k in ops), ops.keys()
        in_ops = sum(o["seconds"] for o in p["ops"])
        assert 0 < in_ops <= p["wall_s"] * 1.01
        assert all(o["bytes"] > 0 for k, o in ops.items() if k.startswith("matmul "))
    # Decode: every layer's attention runs once per token.
    layers = j["profile_decode"]["ops"]
    att = next(o for o in layers if o["op"] == "attention")
    assert att["calls"] % 8 == 0 and att["calls"] > 0
    text = run([turbine, "bench", "-m", tiny_model, "-p", "16", "-n", "4", "-r", "1", "--profile"])
    assert text.returncode == 0, text.stderr
    assert "| op | calls/token | us/token | share | weight GB/s |" in text.stdout
    assert "decode, 4 tokens:" in text.stdout and "(outside ops)" in text.stdout


def _serve_flags(turbine):
    """Long flag names of `turbine serve --help` (the option column only)."""
    import re
    r = run([turbine, "serve", "--help"])
    assert r.returncode == 0, r.stderr
    flags = set()
    for line in r.stdout.splitlines():
        m = re.match(r"^\s+(-\S+)", line)
        if m:
            flags |= set(re.findall(r"--([a-z][a-z0-9-]*)", m.group(1)))
    return flags


def _config_keys(turbine, tmp_path):
    """The keys `turbine serve --config` knows, as its unknown-key error lists them."""
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("no-such-key: 1\n")
    r = run([turbine, "serve", "--config", cfg])
    assert r.returncode != 0
    assert "(known: " in r.stderr, r.stderr
    known = r.stderr.split("(known: ", 1)[1].split(")", 1)[0]
    return {k.strip() for k in known.split(",")}


def test_serve_flags_and_config_keys_mirror_each_other(turbine, tmp_path):
    flags = _serve_flags(turbine)
    keys = _config_keys(turbine, tmp_path)
    assert "log-json" in keys and "log-json" in flags
    # --help and --config are about the command line itself; --no-prefix-caching is the
    # negation of prefix-caching (a boolean key).
    assert flags - {"help", "config", "no-prefix-caching"} == keys, \
        {"flags without a key": flags - keys - {"help", "config", "no-prefix-caching"},
         "keys without a flag": keys - flags}


@pytest.mark.parametrize("how", ["flag", "config"])
def test_serve_log_json(turbine, tiny_model, tmp_path, how):
    """`turbine serve --log-json` (or `log-json: true` in the config file) logs JSON lines.
    A port already taken makes serve exit after loading the model, having logged."""
    import socket
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        args = [turbine, "serve", "-m", tiny_model, "--host", "127.0.0.1", "--port", port,
                "--kv-blocks", "16"]
        if how == "flag":
            args.append("--log-json")
        else:
            cfg = tmp_path / "serve.yaml"
            cfg.write_text("log-json: true\n")
            args += ["--config", cfg]
        r = run(args)
    assert r.returncode != 0
    lines = [l for l in r.stderr.splitlines() if l.strip() and not l.startswith("error:")
             and "loading model" not in l]
    assert lines, r.stderr
    events = [json.loads(l) for l in lines]  # every log line is one JSON object
    assert any(e.get("msg") == "model loaded" or "model loaded" in json.dumps(e) for e in events), events
