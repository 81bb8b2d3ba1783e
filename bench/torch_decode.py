#!/usr/bin/env python3
"""PyTorch peer for turbine's decode benchmark: greedy decode speed of a Llama-shaped
model with random (seeded) weights, no checkpoint and no network needed.

  python3 bench/torch_decode.py                      # Llama-2-7B shape, FP16, batch 1, CUDA
  python3 bench/torch_decode.py --device cpu --dtype fp32 --layers 2 --hidden 64 \\
      --heads 4 --kv-heads 2 --ffn 128 --vocab 512 --prompt-tokens 8 --gen-tokens 8

--impl transformers: Hugging Face `LlamaForCausalLM(LlamaConfig(...))` generating with
  model.generate(do_sample=False, min_new_tokens=max_new_tokens, use_cache=True). Decode
  time is the time of an N-token generate minus that of a 1-token generate (the prefill and
  the first token), over the remaining N-1 steps; median of --reps after a warm-up.
--impl torch: a plain-PyTorch Llama decode loop written here (embedding, RMSNorm, RoPE, GQA
  attention over a preallocated KV cache, SwiGLU, untied LM head, argmax fed back on the
  device): the prompt is prefilled, then N one-token steps are timed.
--impl auto (default): transformers when it can be imported, else torch, saying so on stderr.

Prints one JSON line on stdout:
  {"impl", "tok_s", "ms_per_token", "batch", "params", "weight_bytes", "device", ...}
tok_s counts generated tokens of all sequences per second; ms_per_token is the time of one
decode step (one token for every sequence). Everything else goes to stderr.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time

DTYPES = {"fp16": "float16", "bf16": "bfloat16", "fp32": "float32"}


def log(msg: str) -> None:
    print(f"torch_decode: {msg}", file=sys.stderr, flush=True)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Decode tok/s of a Llama-shaped model with random weights in PyTorch "
        "(HF transformers or a plain-PyTorch loop); one JSON line on stdout.")
    p.add_argument("--layers", type=int, default=32)
    p.add_argument("--hidden", type=int, default=4096)
    p.add_argument("--heads", type=int, default=32)
    p.add_argument("--kv-heads", type=int, default=32)
    p.add_argument("--ffn", type=int, default=11008)
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--ctx", type=int, default=4096, help="context length (max positions)")
    p.add_argument("--rope-theta", type=float, default=10000.0)
    p.add_argument("--norm-eps", type=float, default=1e-5)
    p.add_argument("--prompt-tokens", type=int, default=128)
    p.add_argument("--gen-tokens", type=int, default=128)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--dtype", choices=sorted(DTYPES), default="fp16")
    p.add_argument("--impl", choices=["auto", "transformers", "torch"], default="auto")
    p.add_argument("--device", default="auto", help="cuda, cuda:N, cpu or auto (CUDA when available)")
    p.add_argument("--hf-attn", default="sdpa",
                   help="transformers attention implementation (sdpa, eager, flash_attention_2)")
    p.add_argument("--reps", type=int, default=3, help="timed repetitions (median reported)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    if a.hidden % a.heads:
        p.error("--hidden must be a multiple of --heads")
    if a.heads % a.kv_heads:
        p.error("--heads must be a multiple of --kv-heads")
    if (a.hidden // a.heads) % 2:
        p.error("head size (--hidden / --heads) must be even for RoPE")
    for name in ("layers", "hidden", "heads", "kv_heads", "ffn", "vocab", "prompt_tokens", "batch", "reps"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if a.gen_tokens < 2:
        p.error("--gen-tokens must be >= 2 (decode time is measured over tokens 2..N)")
    if a.prompt_tokens + a.gen_tokens > a.ctx:
        p.error("--prompt-tokens + --gen-tokens must not exceed --ctx")
    return a


def sync(torch, device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_name(torch, device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    import platform
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


# ---------------------------------------------------------------------------------------
# Hugging Face transformers


def run_transformers(a, torch, device, dtype):
    import transformers
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(
        vocab_size=a.vocab, hidden_size=a.hidden, intermediate_size=a.ffn,
        num_hidden_layers=a.layers, num_attention_heads=a.heads, num_key_value_heads=a.kv_heads,
        max_position_embeddings=a.ctx, rms_norm_eps=a.norm_eps, rope_theta=a.rope_theta,
        tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, pad_token_id=0,
        use_cache=True, attn_implementation=a.hf_attn)
    torch.manual_seed(a.seed)
    # Same as LlamaForCausalLM(cfg).half().cuda(), but the random init runs on the device in
    # the target dtype (a 7B model in FP32 on the host would take 27 GB and minutes).
    prev = torch.get_default_dtype()
    try:
        torch.set_default_dtype(dtype)
        with device:
            model = LlamaForCausalLM(cfg)
    except Exception as e:  # older torch without `with device:` or dtype-specific init gaps
        log(f"on-device init failed ({type(e).__name__}: {e}); initialising on the host")
        torch.set_default_dtype(prev)
        model = LlamaForCausalLM(cfg)
    finally:
        torch.set_default_dtype(prev)
    model = model.to(device=device, dtype=dtype).eval()
    attn = getattr(model.config, "_attn_implementation", None) or "eager"
    log(f"transformers {transformers.__version__}, attention {attn}")

    g = torch.Generator(device="cpu").manual_seed(a.seed + 1)
    ids = torch.randint(3, a.vocab, (a.batch, a.prompt_tokens), generator=g).to(device)
    mask = torch.ones_like(ids)

    def gen(n: int) -> float:
        sync(torch, device)
        t0 = time.perf_counter()
        out = model.generate(input_ids=ids, attention_mask=mask, do_sample=False,
                             max_new_tokens=n, min_new_tokens=n, use_cache=True,
                             pad_token_id=0, eos_token_id=2)
        sync(torch, device)
        dt = time.perf_counter() - t0
        got = out.shape[1] - a.prompt_tokens
        if got != n:
            raise RuntimeError(f"generate returned {got} new tokens, asked for {n}")
        return dt

    n = a.gen_tokens
    with torch.inference_mode():
        gen(1)  # warm-up: kernels, allocator, cache classes
        gen(n)
        t1, tn = [], []
        for _ in range(a.reps):
            t1.append(gen(1))
            tn.append(gen(n))
    step = (statistics.median(tn) - statistics.median(t1)) / (n - 1)
    if step <= 0:
        raise RuntimeError("the N-token generate was not slower than the 1-token one; "
                           "raise --gen-tokens")
    return model, step, {"attn_implementation": attn,
                         "transformers": transformers.__version__,
                         "prefill_plus_first_token_s": round(statistics.median(t1), 6),
                         "method": "(t_generate(N) - t_generate(1)) / (N - 1)"}


# ---------------------------------------------------------------------------------------
# Plain PyTorch


class TorchLlama:
    """A Llama decoder written directly in PyTorch: untied embedding/LM head, pre-norm blocks,
    RoPE (half-split, as in HF), grouped-query attention with a preallocated KV cache, SwiGLU."""

    def __init__(self, a, torch, device, dtype):
        self.torch, self.a, self.device, self.dtype = torch, a, device, dtype
        self.hd = a.hidden // a.heads
        g = torch.Generator(device=device).manual_seed(a.seed)

        def w(*shape, std=0.02):
            return (torch.randn(*shape, generator=g, device=device, dtype=torch.float32) * std).to(dtype)

        def ones(n):
            return torch.ones(n, device=device, dtype=dtype)

        self.emb = w(a.vocab, a.hidden)
        self.layers = []
        for _ in range(a.layers):
            self.layers.append({
                "attn_norm": ones(a.hidden),
                "wq": w(a.heads * self.hd, a.hidden),
                "wk": w(a.kv_heads * self.hd, a.hidden),
                "wv": w(a.kv_heads * self.hd, a.hidden),
                "wo": w(a.hidden, a.heads * self.hd),
                "ffn_norm": ones(a.hidden),
                "w_gate": w(a.ffn, a.hidden),
                "w_up": w(a.ffn, a.hidden),
                "w_down": w(a.hidden, a.ffn),
            })
        self.norm = ones(a.hidden)
        self.lm_head = w(a.vocab, a.hidden)
        inv = 1.0 / (a.rope_theta ** (torch.arange(0, self.hd, 2, device=device, dtype=torch.float32) / self.hd))
        ang = torch.outer(torch.arange(a.ctx, device=device, dtype=torch.float32), inv)
        ang = torch.cat([ang, ang], dim=-1)  # [ctx, hd]
        self.cos, self.sin = ang.cos().to(dtype), ang.sin().to(dtype)
        # The cache holds what this run needs (prompt + generated), not --ctx: at large
        # batches a full-context cache would not fit.
        shape = (a.layers, a.batch, a.kv_heads, a.prompt_tokens + a.gen_tokens, self.hd)
        self.k_cache = torch.zeros(shape, device=device, dtype=dtype)
        self.v_cache = torch.zeros(shape, device=device, dtype=dtype)

    def tensors(self):
        yield self.emb
        for L in self.layers:
            yield from L.values()
        yield self.norm
        yield self.lm_head

    def rmsnorm(self, x, wt):
        xf = x.float()
        xf = xf * self.torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.a.norm_eps)
        return xf.to(x.dtype) * wt

    def rotate_half(self, x):
        h = x.shape[-1] // 2
        return self.torch.cat([-x[..., h:], x[..., :h]], dim=-1)

    def forward(self, tokens, pos: int):
        """tokens [B, T] at positions pos..pos+T-1; returns logits of the last position [B, V]."""
        torch, a, hd = self.torch, self.a, self.hd
        F = torch.nn.functional
        B, T = tokens.shape
        x = F.embedding(tokens, self.emb)  # [B, T, H]
        cos = self.cos[pos:pos + T].view(1, 1, T, hd)
        sin = self.sin[pos:pos + T].view(1, 1, T, hd)
        groups = a.heads // a.kv_heads
        for li, L in enumerate(self.layers):
            h = self.rmsnorm(x, L["attn_norm"])
            q = F.linear(h, L["wq"]).view(B, T, a.heads, hd).transpose(1, 2)
            k = F.linear(h, L["wk"]).view(B, T, a.kv_heads, hd).transpose(1, 2)
            v = F.linear(h, L["wv"]).view(B, T, a.kv_heads, hd).transpose(1, 2)
            q = q * cos + self.rotate_half(q) * sin
            k = k * cos + self.rotate_half(k) * sin
            self.k_cache[li, :, :, pos:pos + T] = k
            self.v_cache[li, :, :, pos:pos + T] = v
            ks = self.k_cache[li, :, :, :pos + T]
            vs = self.v_cache[li, :, :, :pos + T]
            if T == 1:
                # Decode: one query per head; GQA by viewing the heads as [kv_heads, groups].
                qg = q.view(B, a.kv_heads, groups, hd)
                s = torch.matmul(qg, ks.transpose(-1, -2)).float() * (1.0 / math.sqrt(hd))
                p = torch.softmax(s, dim=-1).to(vs.dtype)
                o = torch.matmul(p, vs).view(B, a.heads, 1, hd)
            else:
                # Prefill from an empty cache (pos == 0): causal SDPA over the prompt.
                if groups > 1:
                    ks = ks.repeat_interleave(groups, dim=1)
                    vs = vs.repeat_interleave(groups, dim=1)
                o = F.scaled_dot_product_attention(q, ks, vs, is_causal=True)
            o = o.transpose(1, 2).reshape(B, T, a.heads * hd)
            x = x + F.linear(o, L["wo"])
            h = self.rmsnorm(x, L["ffn_norm"])
            x = x + F.linear(F.silu(F.linear(h, L["w_gate"])) * F.linear(h, L["w_up"]), L["w_down"])
        x = self.rmsnorm(x[:, -1], self.norm)
        return F.linear(x, self.lm_head)


def run_torch(a, torch, device, dtype):
    model = TorchLlama(a, torch, device, dtype)
    g = torch.Generator(device="cpu").manual_seed(a.seed + 1)
    prompt = torch.randint(3, a.vocab, (a.batch, a.prompt_tokens), generator=g).to(device)
    n = a.gen_tokens

    def run():
        sync(torch, device)
        t0 = time.perf_counter()
        logits = model.forward(prompt, 0)
        tok = logits.argmax(-1, keepdim=True)
        sync(torch, device)
        t1 = time.perf_counter()
        for i in range(n):
            logits = model.forward(tok, a.prompt_tokens + i)
            tok = logits.argmax(-1, keepdim=True)
        sync(torch, device)
        t2 = time.perf_counter()
        if not bool(torch.isfinite(logits.float()).all()):
            log("warning: non-finite logits (random weights); timing is unaffected")
        return t1 - t0, (t2 - t1) / n

    with torch.inference_mode():
        run()  # warm-up
        res = [run() for _ in range(a.reps)]
    step = statistics.median(r[1] for r in res)
    return model, step, {"prefill_s": round(statistics.median(r[0] for r in res), 6),
                         "method": "prefill, then N one-token steps timed"}


# ---------------------------------------------------------------------------------------


def main(argv=None) -> int:
    a = parse_args(argv)
    try:
        import torch
    except ImportError:
        log("PyTorch is not installed for this Python (" + sys.executable + "); no peer number")
        return 3
    if a.device == "auto":
        a.device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(a.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        log("--device cuda but torch.cuda.is_available() is False")
        return 3
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    dtype = getattr(torch, DTYPES[a.dtype])

    impl, fallback = a.impl, None
    if impl in ("auto", "transformers"):
        try:
            import transformers  # noqa: F401
            from transformers import LlamaConfig, LlamaForCausalLM  # noqa: F401
            impl = "transformers"
        except Exception as e:  # ImportError, or a broken install
            msg = f"HF transformers is NOT available ({type(e).__name__}: {e})"
            if impl == "transformers":
                log(msg + "; --impl transformers was asked for, stopping")
                return 3
            log(msg + "; falling back to the plain-PyTorch Llama decode loop (--impl torch)")
            fallback = msg
            impl = "torch"

    log(f"torch {torch.__version__}, {impl}, {a.dtype}, device {device_name(torch, device)}, "
        f"layers={a.layers} hidden={a.hidden} heads={a.heads}/{a.kv_heads} ffn={a.ffn} "
        f"vocab={a.vocab} prompt={a.prompt_tokens} gen={a.gen_tokens} batch={a.batch}")
    t0 = time.perf_counter()
    if impl == "transformers":
        model, step, extra = run_transformers(a, torch, device, dtype)
        tensors = list(model.parameters())
        emb_bytes = model.get_input_embeddings().weight.numel() * model.get_input_embeddings().weight.element_size()
    else:
        model, step, extra = run_torch(a, torch, device, dtype)
        tensors = list(model.tensors())
        emb_bytes = model.emb.numel() * model.emb.element_size()
    params = sum(t.numel() for t in tensors)
    weight_bytes = sum(t.numel() * t.element_size() for t in tensors)
    # Bytes a decode step must read: every weight but the embedding table (one row per token).
    step_bytes = weight_bytes - emb_bytes
    out = {
        "impl": impl,
        "tok_s": round(a.batch / step, 3),
        "ms_per_token": round(step * 1e3, 4),
        "batch": a.batch,
        "params": params,
        "weight_bytes": weight_bytes,
        "device": device_name(torch, device),
        "dtype": a.dtype,
        "prompt_tokens": a.prompt_tokens,
        "gen_tokens": a.gen_tokens,
        "weight_read_gb_s": round(step_bytes / step / 1e9, 3),
        "torch": torch.__version__,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    if fallback:
        out["fallback_reason"] = fallback
    out.update(extra)
    print(json.dumps(out, separators=(",", ":")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
