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
    for sub in ("run", "chat", "bench", "perplexity", "synth"):
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
