"""DeepSeek-R1's prompt side on one 8-GPU node, measured directly: vLLM 0.7.4's time to first token when every request
of a wave arrives at once, against the step model's prefill of the same prompts.

Prints JSON (``python benchmarks/deepseek_prompt_ttft.py``, ~1 s). Used by ``benchmarks/validate_perf.py`` (section
"2025-26 models", the prompt side of rows 20a-e). Nothing here enters the model and nothing is fitted: it measures
how far the modelled prompt processing of the ``vllm-0.7`` kernel set is from a published one, outside the held-out
rows (another run of the same campaign: the online benchmark, not the offline throughput rows 20a-e).

Published (dstack, the online runs of ``deepseek_decode_floor``: github.com/dstackai/benchmarks
``Deepseek-R1/raw_data/online_results.csv``): vLLM 0.7.4.dev181 nightly on 8 H200 (``vllm serve
deepseek-ai/DeepSeek-R1 --trust-remote-code --tensor-parallel-size 8``, ``VLLM_ATTENTION_BACKEND=FLASHMLA``; the V0
engine, TP8 with the experts TP-sharded, DeepSeek's FP8 checkpoint, bf16 KV cache), SGLang's ``bench_serving.py``
with 500 random prompts of exactly 3,200 tokens and exactly 800 output tokens (``--random-range-ratio 1``; 400,000
output tokens published) at ``--max-concurrency`` 4, 8, 16 and 32.

**Why a median TTFT there is one prefill of the whole wave.** Every request has the same lengths, so the requests of
a wave decode in the same steps and finish in the same step; the client then sends the next wave at once. Two
published figures show it: the run's duration is the number of waves times the mean end-to-end latency (within
3 %: at 4, 125 waves x 21.53 s = 2,692 s against the published 2,692.1 s), and at 4 the TTFT's standard deviation
is 10.9 ms against a median of 974.9 ms, so the four prompts got their first token in the same step. With chunked
prefill they could not: vLLM V0's default chunk of 2,048 tokens (the log in vllm-project/vllm PR 12638: "Chunked
prefill is enabled with max_num_batched_tokens=2048") would finish the four 3,200-token prompts at the 2nd, 4th, 5th
and 7th chunk, hundreds of ms apart (vLLM 0.7.x forced chunked prefill off for MLA models,
vllm-project/vllm PR 12642, 2025-02-01; whether the nightly still did is not pinned down here, the spread says it
ran them in one step). So the median TTFT is one prefill step of ``concurrency`` prompts (plus the client's and the
API server's time, a few ms: the published rate is, if anything, a lower bound of the engine's).

Modelled: the step model's prefill-only step of ``concurrency`` whole 3,200-token prompts (``RooflineModel``, 8 H200,
TP8, fp8 weights, bf16 cache, the ``vllm-0.7`` kernel set the section gives rows 20d-e, whose routed experts take the
Triton call's published times: ``sim.perf.fused_moe``, priced from a kernel table, nothing of these waves). Printed per
concurrency: both rates and their ratio; the modelled rate with the routed experts at the GEMMs' rate instead, the time
per prompt token that model leaves out, and what that time would mean if all of it were the routed experts' calls (58 ``fused_experts`` calls per token's pass; their FLOPs as in
:func:`moe_prompt_bound.call_flops`): the rate those calls would run at, beside the Triton rate vLLM PR 13932
publishes for the same call on H100 (:data:`moe_prompt_bound.PR_13932_TP8`).
"""
from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from deepseek_decode_floor import SRC_DSTACK_ONLINE  # noqa: E402
from moe_prompt_bound import PR_13932_TP8, call_flops  # noqa: E402

from sim.perf.base import BatchShape  # noqa: E402
from sim.perf.kernels import KERNEL_SETS  # noqa: E402
from sim.perf.parallel import Layout  # noqa: E402
from sim.perf.roofline import RooflineModel  # noqa: E402
from sim.scenario.catalog import get_gpu, get_model  # noqa: E402

SRC = SRC_DSTACK_ONLINE.replace("median_itl_ms", "median_ttft_ms, std_ttft_ms, duration, mean_e2e_latency_ms")
PROMPT, OUTPUT, REQUESTS, TP = 3200, 800, 500, 8
KERNELS = "vllm-0.7"

VLLM_07_WAVES = ((4, 974.8834405, 10.92518739, 2692.129782, 21533.89988),
                 (8, 1771.826166, 72.68659156, 1683.578366, 26759.18205),
                 (16, 3388.584595, 215.8550323, 1360.237528, 42999.90466),
                 (32, 7686.501789, 874.8809428, 779.9469047, 48935.03013))
"""``(concurrency, median TTFT ms, std TTFT ms, duration s, mean end-to-end ms)`` of vLLM 0.7.4 nightly, TP8, 8 H200,
random 3,200/800 (the rows ``h200,vllm,random`` of dstack's online CSV; module docstring)."""


def waves_check() -> list[dict]:
    """Per concurrency: the run's duration against its waves (``500 / concurrency``) times the mean end-to-end latency,
    and the TTFT's spread (standard deviation / median)."""
    return [{"concurrency": c, "duration_s": dur, "waves_x_mean_e2e_s": round(REQUESTS / c * e2e / 1e3, 1),
             "duration_over_waves": round(dur / (REQUESTS / c * e2e / 1e3), 3),
             "ttft_std_over_median": round(std / ttft, 3)} for c, ttft, std, dur, e2e in VLLM_07_WAVES]


def modelled_prefill_s(prompts: int, kernels: str = KERNELS, fused_moe: bool = True) -> float:
    """The step model's prefill-only step of ``prompts`` whole 3,200-token prompts on 8 H200, TP8 (seconds); with
    ``fused_moe`` off, the set's routed experts at the GEMMs' rate instead of the Triton call's published times."""
    ks = KERNEL_SETS[kernels] if fused_moe else replace(KERNEL_SETS[kernels], triton_fused_moe=False)
    rm = RooflineModel(get_model("deepseek-r1"), get_gpu("h200-sxm"), TP, "fp8", "bf16", layout=Layout(tp=TP),
                       kernels=ks)
    shape = BatchShape(prefill_tokens=prompts * PROMPT, prefill_seqs=prompts,
                       prefill_attn_pairs=prompts * PROMPT * (PROMPT + 1) / 2, prefill_kv_tokens=prompts * PROMPT)
    return rm.step_time(shape)


def expert_calls_tflops(unpriced_s_per_token: float) -> float:
    """The rate of the 58 routed-expert calls if they took, per prompt token, their modelled time (at the catalog's
    fp8 GEMM rate: compute-bound at these sizes) plus all of ``unpriced_s_per_token`` (TFLOPS per GPU)."""
    m, g = get_model("deepseek-r1"), get_gpu("h200-sxm")
    flops = m.moe_layers * call_flops(1)
    return flops / (flops / (g.peak_tflops("fp8") * 1e12 * g.efficiency("fp8").flops_efficiency)
                    + unpriced_s_per_token) / 1e12


def wave_rows(kernels: str = KERNELS) -> list[dict]:
    """Per concurrency: the published and modelled prefill rates of one wave, the modelled one also with the routed
    experts at the GEMMs' rate (``..._experts_at_gemm_rate``), and what that model leaves out."""
    out = []
    for c, ttft_ms, _, _, _ in VLLM_07_WAVES:
        tokens = c * PROMPT
        model_s, bare_s = modelled_prefill_s(c, kernels), modelled_prefill_s(c, kernels, fused_moe=False)
        unpriced = (ttft_ms / 1e3 - bare_s) / tokens
        out.append({"concurrency": c, "tokens_per_step": tokens, "published_ttft_ms": round(ttft_ms, 1),
                    "modelled_prefill_ms": round(model_s * 1e3, 1),
                    "published_tokens_per_s": round(tokens / (ttft_ms / 1e3)),
                    "modelled_tokens_per_s": round(tokens / model_s),
                    "published_over_modelled": round(ttft_ms / 1e3 / model_s, 2),
                    "modelled_tokens_per_s_experts_at_gemm_rate": round(tokens / bare_s),
                    "published_over_modelled_experts_at_gemm_rate": round(ttft_ms / 1e3 / bare_s, 2),
                    "unpriced_us_per_token": round(unpriced * 1e6, 2),
                    "expert_calls_tflops_if_all_theirs": round(expert_calls_tflops(unpriced), 1)})
    return out


def h100_triton_tflops() -> list[float]:
    """vLLM PR 13932's Triton ``fused_experts`` rate on H100 at its two largest published sizes (1,536, 2,048
    tokens)."""
    return [round(call_flops(n) / (t * 1e-6) / 1e12, 1) for n, _, t in PR_13932_TP8 if n >= 1536]


def main() -> None:
    print(json.dumps({"source": SRC, "kernels": KERNELS, "waves": waves_check(), "prefill": wave_rows(),
                      "h100_triton_fused_experts_tflops_1536_2048": h100_triton_tflops()}, indent=2))


if __name__ == "__main__":
    main()
