#!/usr/bin/env python3
"""How much llama.cpp agrees with itself when only the batching changes.

The golden logits come from one llama_decode of 64 tokens (prefill kernels); the greedy
outputs from a prompt prefill followed by one-token decodes. Here the same llama.cpp build
evaluates the same tokens one token per llama_decode (decode kernels), and generates greedily
after feeding the prompt one token at a time. The agreement printed is the noise floor any
other implementation can be held to: SmolLM2-135M-Q4_1 with 8-bit activation quantization
amplifies last-bit differences (summation order, exp rounding) into different tokens.

Usage: scripts/llamacpp_self_agreement.py --sdist DIR --bin DIR --model FILE
(scripts/make-golden's set-up; scripts/build-llamacpp prints the bin dir).
"""
import argparse
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_ref as g  # noqa: E402


def kl_top(top_ids, top_lp, lp):
    kl, p_top, q_top = 0.0, 0.0, 0.0
    for t, pl in zip(top_ids, top_lp):
        pp = math.exp(pl)
        kl += pp * (pl - lp[t])
        p_top += pp
        q_top += math.exp(lp[t])
    p_tail, q_tail = max(0.0, 1 - p_top), max(1e-12, 1 - q_top)
    if p_tail > 1e-12:
        kl += p_tail * math.log(p_tail / q_tail)
    return kl


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sdist", required=True)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--golden", default=os.path.join(os.path.dirname(__file__), "..", "tests", "golden"))
    a = ap.parse_args()
    g.load_bindings(a.sdist, a.bin)
    model = g.Model(a.model)
    ctx = g.Context(model, n_ctx=512)

    logits = json.load(open(os.path.join(a.golden, "logits.json")))
    agree = n = 0
    kl_sum = 0.0
    for c in logits["cases"]:
        ctx.clear()
        for p, t in enumerate(c["ids"]):
            ctx.decode([t], p, logits_all=True)
            lp = g.log_softmax(ctx.logits(0))
            ours = max(range(len(lp)), key=lambda i: (lp[i], -i))
            agree += ours == c["top_ids"][p][0]
            kl_sum += kl_top(c["top_ids"][p], c["top_logprobs"][p], lp)
            n += 1
    print(f"logits, llama.cpp one-token decodes vs its 64-token batch: top-1 {agree / n:.4f}, "
          f"mean KL {kl_sum / n:.5f} over {n} positions")

    greedy = json.load(open(os.path.join(a.golden, "greedy.json")))
    same = 0
    for c in greedy["cases"]:
        ctx.clear()
        ids = c["prompt_ids"]
        for p, t in enumerate(ids):
            ctx.decode([t], p, logits_all=False)
        out, pos = [], len(ids)
        for _ in range(len(c["output_ids"])):
            t = g.argmax(ctx.logits(0))
            out.append(t)
            if t in (0, 2, 4) or len(out) == len(c["output_ids"]):
                break
            ctx.decode([t], pos, logits_all=False)
            pos += 1
        same += out == c["output_ids"]
    print(f"greedy, llama.cpp prompt fed one token at a time vs in one batch: "
          f"{same} of {len(greedy['cases'])} identical")


if __name__ == "__main__":
    main()
