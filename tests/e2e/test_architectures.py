"""Every supported architecture end to end: `turbine synth --arch` writes a model, `turbine
run` generates from it, `turbine serve` names the architecture in /v1/models and in
turbine_build_info, and a model of an architecture turbine lacks fails at load naming it."""
import struct

import pytest
import requests

from e2e_util import run
from server_fixture import Server


def synth(turbine, path, arch, *extra):
    layers = [] if "--layers" in extra else ["--layers", "2"]
    r = run([turbine, "synth", "-o", str(path), "--arch", arch, *layers, "--hidden", "64",
             "--ffn", "128", "--heads", "4", "--kv-heads", "2", "--vocab", "512", *extra])
    assert r.returncode == 0, r.stderr
    return str(path)


@pytest.mark.parametrize("arch,extra", [
    ("llama", []), ("qwen2", []), ("qwen3", ["--head-dim", "32"]),
    ("llama", ["--rope-scaling", "llama3", "--ctx", "64"]),
    ("qwen2", ["--rope-scaling", "linear", "--rope-factor", "4"]),
    ("gemma3", ["--head-dim", "32", "--layers", "6", "--sliding-window", "4"])])
def test_run_and_serve_name_the_architecture(turbine, tmp_path, arch, extra):
    model = synth(turbine, tmp_path / f"{arch}.gguf", arch, *extra)
    if "--rope-scaling" in extra:  # the load log line says how RoPE is scaled
        log = run([turbine, "run", "-m", model, "-p", "x", "-n", "1"]).stderr
        assert ("rope_freqs" if "llama3" in extra else "rope_scale=4") in log, log
    a = run([turbine, "run", "-m", model, "-p", "hello 123", "-n", "8", "--temp", "0"])
    b = run([turbine, "run", "-m", model, "-p", "hello 123", "-n", "8", "--temp", "0"])
    assert a.returncode == 0, a.stderr
    assert a.stdout == b.stdout
    s = Server(turbine, model, "--kv-blocks", "64")
    try:
        models = requests.get(s.base + "/v1/models", timeout=10).json()["data"]
        assert [m["architecture"] for m in models] == [arch]
        metrics = requests.get(s.base + "/metrics", timeout=10).text
        info = [l for l in metrics.splitlines() if l.startswith("turbine_build_info{")]
        assert len(info) == 1 and f'arch="{arch}"' in info[0], info
        r = requests.post(s.base + "/v1/completions", timeout=60,
                          json={"model": "test-model", "prompt": "hello", "max_tokens": 4,
                                "temperature": 0})
        assert r.status_code == 200, r.text
        assert r.json()["usage"]["completion_tokens"] >= 1
    finally:
        s.stop()


def test_synth_rejects_an_unknown_architecture(turbine, tmp_path):
    r = run([turbine, "synth", "-o", str(tmp_path / "x.gguf"), "--arch", "mamba"])
    assert r.returncode != 0
    assert "mamba" in r.stderr


def test_unsupported_architecture_fails_at_load_naming_it(turbine, tmp_path):
    """A valid GGUF whose general.architecture turbine lacks: the load error names it and
    lists what is supported."""
    model = synth(turbine, tmp_path / "m.gguf", "llama")
    data = bytearray(open(model, "rb").read())
    # general.architecture is the first metadata string: "llama" -> "lamma" keeps every
    # length and offset, so the file stays a valid GGUF with an unknown architecture.
    key = b"general.architecture"
    at = data.index(key) + len(key) + 4  # the value type (u32), then its length (u64)
    (n,) = struct.unpack_from("<Q", data, at)
    assert data[at + 8:at + 8 + n] == b"llama"
    data[at + 8:at + 8 + n] = b"lamma"
    bad = tmp_path / "lamma.gguf"
    bad.write_bytes(bytes(data))
    r = run([turbine, "run", "-m", str(bad), "-p", "hi", "-n", "2"])
    assert r.returncode != 0
    assert "architecture 'lamma'" in r.stderr, r.stderr
    assert "supported: llama, qwen2, qwen3, gemma3" in r.stderr, r.stderr
