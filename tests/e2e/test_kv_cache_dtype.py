"""--kv-cache-dtype: int8/int4 KV caches keep quality (perplexity of the real model against
its own f16-cache figure), hold more tokens in the same bytes, and bad values are refused."""
import json

import pytest

from e2e_util import run

GPL3 = "/usr/share/common-licenses/GPL-3"


def ppl(turbine, model, kv, tmp_path):
    text = tmp_path / "text.txt"
    text.write_text(open(GPL3).read()[:12000])
    r = run([turbine, "perplexity", "-m", model, "-f", text, "-c", "256", "-t", "2",
             "--kv-cache-dtype", kv, "--json"])
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["kv_cache_dtype"] == kv
    return out["ppl"]


def test_quantized_cache_perplexity(turbine, real_model, tmp_path):
    base = ppl(turbine, real_model, "f16", tmp_path)
    int8 = ppl(turbine, real_model, "int8", tmp_path)
    int4 = ppl(turbine, real_model, "int4", tmp_path)
    assert abs(int8 / base - 1) < 0.01, (base, int8)
    # int4 per (token, head) rows lose more on this 64-wide head (README table: +8% with the
    # rotation, +16% without it); the bound fails if the rotation is lost, and a broken
    # cache gives perplexities in the hundreds.
    assert int4 / base - 1 < 0.13, (base, int4)
    assert int4 > int8 * 0.99, (int8, int4)


def kv_tokens(turbine, model, kv):
    # bench sizes its pool from the same bytes per token the server uses; run's log says it.
    r = run([turbine, "bench", "-m", model, "-p", "8", "-n", "4", "-r", "1", "-t", "2",
             "--kv-cache-dtype", kv, "--json"])
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["kv_bytes_per_ctx_token"]


def test_quantized_cache_holds_more_tokens(turbine, real_model):
    f16, int8, int4 = (kv_tokens(turbine, real_model, kv) for kv in ("f16", "int8", "int4"))
    # SmolLM2: 30 layers x 3 KV heads x 64: f16 128 B per row, int8 64 + 4, int4 32 + 4.
    assert f16 == 2 * 30 * 3 * 128
    assert f16 / int8 >= 1.8 and f16 / int4 >= 3.5, (f16, int8, int4)


def test_generation_with_each_cache(turbine, tiny_model):
    for kv in ("f16", "int8", "int4"):
        r = run([turbine, "run", "-m", tiny_model, "-p", "hello", "-n", "8", "--temp", "0",
                 "--kv-cache-dtype", kv])
        assert r.returncode == 0 and r.stdout != "", (kv, r.stderr)
        assert f"kv_cache_dtype={kv}" in r.stderr, r.stderr


@pytest.mark.parametrize("args,needle", [
    (["run", "-p", "hi", "--kv-cache-dtype", "fp8"], "--kv-cache-dtype must be f16, int8 or int4 (got 'fp8')"),
    (["bench", "--kv-cache-dtype", "f32"], "--kv-cache-dtype must be f16, int8 or int4"),
    (["perplexity", "-f", GPL3, "--kv-cache-dtype", "INT8"], "--kv-cache-dtype must be"),
    (["serve", "--kv-cache-dtype", "int2"], "kv-cache-dtype must be f16, int8 or int4 (got 'int2')"),
])
def test_bad_kv_cache_dtype(turbine, tmp_path, args, needle):
    r = run([turbine, *args], cwd=tmp_path)
    assert r.returncode != 0
    assert needle in r.stderr, r.stderr
