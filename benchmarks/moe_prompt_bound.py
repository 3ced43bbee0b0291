"""The routed experts' Triton ``fused_moe`` at prompt sizes: the one published timing of DeepSeek-V3's TP8 shapes
beside the step model, and what it would mean for the TP8 prompt side of rows 20a-e if it held on H200.

Prints JSON (``python benchmarks/moe_prompt_bound.py``). The ``sglang-0.4`` and ``vllm-0.7`` kernel sets now price
the routed experts of a TP8 DeepSeek layer at this very timing (``sim.perf.fused_moe``); the checks below set the
table beside the step model *without* it (the sets with ``triton_fused_moe`` off: the routed experts at the GEMMs'
calibrated rate), and ``prompt_bound`` adds the prompt rate the priced set gives (``priced_tokens_per_s``).

Source (every number as published): vLLM PR 13932, "Add option to use DeepGemm contiguous grouped gemm kernel for
fused MoE operations" (github.com/vllm-project/vllm/pull/13932, 2025-02-26, the month of rows 20a-e's releases),
``benchmarks/kernels/benchmark_moe.py --dtype=fp8_w8a8 -tp 8 --model deepseek-ai/DeepSeek-V3``, "H100 results", the
columns ``DeepGemm TP=8`` and ``Triton TP=8``: the whole ``fused_experts`` call (both expert GEMMs of one MoE layer
with their routing, sort, activation and quantization kernels) for E = 256 experts, top-8, K = 7,168 and the
experts' intermediate size 2,048 / 8 = 256 per GPU, block-fp8 weights, at 128 to 2,048 tokens (the excerpt of the
table available here stops at 2,048). No tuned Triton config for that shape on the H100 is found in vLLM's config folder
(``E=256,N=256,device_name=NVIDIA_H100_80GB_HBM3,...``; the H200's is there), so the H100 column most likely ran
vLLM's default config; rows 20d-e ran vLLM 0.7.4 on H200 with the tuned one.

Three checks, each printed:

- **the call against the roofline**: FLOPs ``2 x 8 x 3 x 7,168 x 256`` per token; bytes the fp8 weights of the
  experts the tokens hit (``256 x (1 - (1 - 8/256)**n)`` of them, 5.5 MB each on one GPU); the smooth roofline of
  the H100's calibrated fp8 rate and bandwidth (the GPU catalog's). The published call is 3.2-4.7x the roofline at
  every published size, and 64-68 TFLOPS at 1,536-2,048 tokens, about 3 % of the fp8 peak.
- **decode consistency**: at 128 tokens every expert is hit and the call reads all 1.41 GB of a layer's expert
  weights, so it is memory-bound; scaled to the H200's HBM bandwidth, 58 such calls take longer than the whole
  decode step vLLM 0.7.4 ran at 128 sequences on the same H200 (dstack's online run, 65.2 ms median inter-token
  latency; ``deepseek_decode_floor.POINTS``); the step less the step model's other terms leaves at most ~0.81 ms
  per call, 1.5x faster than the scaled table. So the served H200 kernel was faster than this table, at least at
  decode sizes, and the table does not price the served kernel.
- **the prompt-side bound**: the published prompt rate of 20a (its elapsed time extrapolated linearly to zero
  output tokens through 20b, as ``validation_deepseek`` does), and the step model's prompt rate at one 8,192-token
  chunk (SGLang 0.4's default on an H200) of 3,200-token prompts, ``sglang-0.4`` kernels, with and without 58 calls
  at the published per-token time of the largest size (2,048 tokens: a call's time per token falls or stays flat as
  the tokens grow, so at 8,192 tokens this is an upper bound on the call, a lower bound on the rate, if the H100's
  untuned kernel had run on the H200), and with those calls 1.5x faster, as the decode check demands of the served
  kernel at 128 tokens (whether it holds at prompt sizes is not published).
"""
from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from deepseek_decode_floor import POINTS, VLLM_07  # noqa: E402
from validation_rows import ROWS_2026  # noqa: E402

from sim.perf.base import BatchShape  # noqa: E402
from sim.perf.fused_moe import PR_13932_TRITON_TP8_H100, by_tokens  # noqa: E402
from sim.perf.kernels import KERNEL_SETS, KernelSet  # noqa: E402
from sim.perf.parallel import Layout  # noqa: E402
from sim.perf.roofline import RooflineModel, smooth_roofline  # noqa: E402
from sim.scenario.catalog import get_gpu, get_model  # noqa: E402

SRC_VLLM_13932 = ("github.com/vllm-project/vllm/pull/13932 (\"Add option to use DeepGemm contiguous grouped gemm kernel "
                  "for fused MoE operations\", 2025-02-26), H100 results, TP=8 columns")

TP = 8
PR_13932_DEEPGEMM_TP8 = {128: 1936.17, 256: 2051.67, 512: 2331.06, 1024: 2886.08, 1536: 3423.49, 2048: 3974.65}
"""DeepGEMM µs by token count, the same call at the Triton table's token counts
(:data:`sim.perf.fused_moe.PR_13932_TRITON_TP8_H100`)."""
PR_13932_TP8 = tuple((n, PR_13932_DEEPGEMM_TP8[n], t) for n, t in by_tokens(PR_13932_TRITON_TP8_H100))
"""``(tokens, DeepGEMM µs, Triton µs)`` in order of token count: the whole ``fused_experts`` call of one DeepSeek-V3
MoE layer at TP8 on H100 (vLLM PR 13932; module docstring), the two columns matched by token count; the Triton
column is the one the kernel sets price."""

CHUNK_TOKENS = 8192
"""SGLang 0.4's default prompt chunk on an H200 (``server_args.py``; the ``sglang-0.4`` kernel set's docstring)."""


def call_flops(tokens: int) -> float:
    """FLOPs of one TP8 ``fused_experts`` call on one GPU: each token's 8 experts, gate+up and down, ``K = hidden``."""
    m = get_model("deepseek-r1")
    return 2.0 * m.experts_per_token * 3 * m.hidden * (m.ffn_hidden // TP) * tokens


def experts_hit(tokens: int) -> float:
    """Expected experts routed at least one of ``tokens`` tokens (each token picks ``k`` distinct of ``E``)."""
    m = get_model("deepseek-r1")
    return m.n_experts * (1.0 - (1.0 - m.experts_per_token / m.n_experts) ** tokens)


def call_weight_bytes(tokens: int) -> float:
    """fp8 weight bytes the call reads on one GPU: the experts hit, gate, up and down slices of ``1/TP`` each."""
    m = get_model("deepseek-r1")
    return experts_hit(tokens) * 3 * m.hidden * (m.ffn_hidden // TP)


def modelled_call_us(tokens: int, gpu: str = "h100-sxm") -> float:
    """The smooth roofline of the call at the catalog's calibrated fp8 rate and bandwidth (µs; activations left out)."""
    g = get_gpu(gpu)
    eff = g.efficiency("fp8")
    return smooth_roofline(call_flops(tokens) / (g.peak_tflops("fp8") * 1e12 * eff.flops_efficiency),
                           call_weight_bytes(tokens) / (g.hbm_tbps * 1e12 * eff.bw_efficiency),
                           g.overlap_exponent) * 1e6


def call_rows() -> list[dict]:
    """The published calls beside the roofline, per token count."""
    out = []
    for n, deepgemm_us, triton_us in PR_13932_TP8:
        model_us = modelled_call_us(n)
        out.append({"tokens": n, "triton_us": triton_us, "deepgemm_us": deepgemm_us,
                    "triton_tflops": round(call_flops(n) / (triton_us * 1e-6) / 1e12, 1),
                    "modelled_us": round(model_us, 1), "triton_over_modelled": round(triton_us / model_us, 2),
                    "triton_us_per_token_per_step": round(triton_us / n * get_model("deepseek-r1").moe_layers, 1)})
    return out


def decode_check() -> dict:
    """58 calls at 128 tokens, scaled from the H100's HBM bandwidth to the H200's, against the whole published decode
    step of vLLM 0.7.4 at 128 sequences on 8 H200; and the longest the served call can have taken: the published step
    less the step model's other terms (its step at that batch, ``vllm-0.7`` kernels, less 58 modelled calls)."""
    m = get_model("deepseek-r1")
    triton_128 = next(t for n, _, t in PR_13932_TP8 if n == 128)
    scale = get_gpu("h100-sxm").hbm_tbps / get_gpu("h200-sxm").hbm_tbps
    step = next(p for p in POINTS if p.engine == VLLM_07 and p.concurrency == 128)
    moe_ms = m.moe_layers * triton_128 * scale / 1e3
    rm = RooflineModel(m, get_gpu("h200-sxm"), TP, "fp8", "bf16", layout=Layout(tp=TP), kernels=unpriced("vllm-0.7"))
    step_ms = rm.step_time(BatchShape(decode_seqs=128, decode_context_tokens=128 * step.context)) * 1e3
    other_ms = step_ms - m.moe_layers * modelled_call_us(128, "h200-sxm") / 1e3
    served_max_us = (step.median_itl_ms - other_ms) / m.moe_layers * 1e3
    return {"experts_hit_at_128": round(experts_hit(128), 1), "moe_calls_ms_h200_scaled": round(moe_ms, 1),
            "published_step_ms": round(step.median_itl_ms, 1), "source": step.source,
            "calls_exceed_published_step": moe_ms > step.median_itl_ms,
            "modelled_step_ms": round(step_ms, 1), "modelled_other_terms_ms": round(other_ms, 1),
            "served_call_at_most_us": round(served_max_us, 1),
            "table_over_served_at_least": round(triton_128 * scale / served_max_us, 2)}


def published_prompt_rate() -> float:
    """20a's 1,024 x 3,200 prompt tokens over its elapsed time extrapolated to zero output tokens through 20b."""
    a, b = (next(r for r in ROWS_2026 if r.id == i) for i in ("20a", "20b"))
    elapsed_a, elapsed_b = (r.prompts * r.output_tokens / r.published for r in (a, b))
    prompts_s = elapsed_a - (elapsed_b - elapsed_a) * a.output_tokens / (b.output_tokens - a.output_tokens)
    return a.prompts * a.input_tokens / prompts_s


def unpriced(kernels: str) -> KernelSet:
    """The kernel set ``kernels`` with the routed experts at the GEMMs' rate (its Triton ``fused_moe`` pricing off)."""
    return replace(KERNEL_SETS[kernels], triton_fused_moe=False)


def modelled_prompt_s_per_token(kernels: str = "sglang-0.4", priced: bool = False) -> float:
    """The step model's time per prompt token of one ``CHUNK_TOKENS`` chunk of fresh 3,200-token prompts, 8 H200, TP8,
    with the routed experts at the GEMMs' rate (``priced``: at the set's Triton ``fused_moe`` times)."""
    rm = RooflineModel(get_model("deepseek-r1"), get_gpu("h200-sxm"), TP, "fp8", "bf16", layout=Layout(tp=TP),
                       kernels=KERNEL_SETS[kernels] if priced else unpriced(kernels))
    prompt = 3200
    pairs = CHUNK_TOKENS * (prompt + 1) / 2   # whole prompts' causal pairs, on average over the chunk
    shape = BatchShape(prefill_tokens=CHUNK_TOKENS, prefill_seqs=-(-CHUNK_TOKENS // prompt), prefill_attn_pairs=pairs,
                       prefill_kv_tokens=CHUNK_TOKENS)
    return rm.step_time(shape) / CHUNK_TOKENS


def prompt_bound() -> dict:
    """The prompt rates: published (20a), the step model's, and the step model's with 58 calls at the published
    per-token time of the largest published size added (module docstring)."""
    m = get_model("deepseek-r1")
    n, _, triton_us = max(PR_13932_TP8)     # the largest published size
    per_token_s = modelled_prompt_s_per_token()
    call_s = m.moe_layers * triton_us * 1e-6 / n
    published = published_prompt_rate()
    faster = decode_check()["table_over_served_at_least"]
    return {"published_tokens_per_s": round(published), "modelled_tokens_per_s": round(1 / per_token_s),
            "modelled_us_per_token": round(per_token_s * 1e6, 2),
            "published_calls_us_per_token": round(call_s * 1e6, 2), "at_tokens": n,
            "with_published_calls_tokens_per_s": round(1 / (per_token_s + call_s)),
            "with_calls_as_much_faster_as_decode_demands_tokens_per_s": round(1 / (per_token_s + call_s / faster)),
            "gap_us_per_token": round((1 / published - per_token_s) * 1e6, 2),
            "priced_tokens_per_s": round(1 / modelled_prompt_s_per_token(priced=True))}


def main() -> None:
    print(json.dumps({"source": SRC_VLLM_13932, "calls": call_rows(), "decode_check": decode_check(),
                      "prompt_bound": prompt_bound()}, indent=2))


if __name__ == "__main__":
    main()
