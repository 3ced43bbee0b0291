"""Report lines of the 2025-26 section on DeepSeek-R1: the MoE decode level (which candidates, the one kept), the
MLPerf v5.1 DeepSeek-R1 rows as an independent check, and the other engines on one node (SGLang, vLLM).
"""
from __future__ import annotations

from dataclasses import replace
from operator import itemgetter

import deepseek_prompt_ttft
import mlperf_deepseek
import moe_decode_level
import moe_prompt_bound
from sim.perf.fused_moe import published_us
from sim.perf.kernels import (CUTLASS_BLOCK_FP8_FRACTION, CUTLASS_BLOCK_FP8_H100_FEB25, cutlass_block_fp8_tflops,
                              kernel_set)
from sim.perf.roofline import RooflineModel
from sim.scenario.catalog import get_gpu, get_model
from validation_moe_level import MOE_LEVEL, tp8_at_level
from validation_rows import ONE_NODE_SOURCES, Row
from validation_runs import estimate, simulate


def moe_level_lines(results: list[tuple[Row, float]], level: dict[str, float], steps: list[dict]) -> list[str]:
    """Report lines: the MoE decode level (:data:`MOE_LEVEL`): which one-parameter candidates were compared
    (:mod:`moe_decode_level`), the one kept, and how the rows run at it (the section's tables)."""
    rows = {r.id: r for r, _ in results}
    per_seq = {}
    for rid in ("17a", "17b"):
        r = rows[rid]
        rm = RooflineModel(get_model(r.model), get_gpu(r.gpu), r.tp, r.weight_dtype, r.kv_dtype, layout=r.layout,
                           moe_decode_efficiency=MOE_LEVEL.efficiency)
        per_seq[rid] = rm._decode_level_s(r.tp) * 1e6   # one decoding sequence on the busiest rank
    step = {st["id"]: st for st in steps}
    unpriced = {i: (step[i]["published_ms"] - step[i]["model_ms"]) * 1e3 / step[i]["per_gpu"] for i in step
                if i != "18"}
    err = {rid: (lv - rows[rid].published) / rows[rid].published for rid, lv in level.items()}
    fitted = ", ".join(f"{i} {err[i]:+.0%}" for i in MOE_LEVEL.fitted_on)
    _, moved, left = tp8_at_level(list(rows.values()))
    s18 = step["18"]
    return [
        "**The MoE decode level (an opt-in calibration).** What the step model leaves out of the published steps "
        "(table above) grows with the sequences per GPU and shrinks with the GPU's compute: per sequence on the "
        f"busiest rank it is {unpriced['17a']:.0f} µs on H200 (17a) and {min(unpriced[i] for i in ('17b', '17c', '19a')):.0f}"
        f"-{max(unpriced[i] for i in ('17b', '17c', '19a')):.0f} µs on B200 (17b, 17c, 19a; {unpriced['19b']:.0f} on "
        "GB200, 19b), a ratio near the two GPUs' compute rates rather than their HBM bandwidths. Each "
        "one-parameter candidate below is fitted on the TensorRT-LLM blog's rows 17a-c alone (two GPU generations; "
        "the value at which their modelled pure-decode steps have a mean log error of 0 against the steps their "
        "throughputs imply, by brentq: `python benchmarks/moe_decode_level.py`) and checked on held-out rows: "
        "the MLPerf v5.1 rows 19a-b (their decode steps the same way) and Qwen3-235B-A22B 16a-f (another model, "
        "no published batch: their throughput by the closed-form estimate, which gives this section's catalog "
        "numbers for them). Errors are published / modelled step - 1 for 17a-c and 19a-b, modelled / published "
        "throughput - 1 for 16a-f (both > 0 where the model is fast).", "",
        *moe_decode_level.report_lines(), "",
        f"Kept: (f), `perf.moe_decode_efficiency: {MOE_LEVEL.efficiency:g}` (`sim.perf.levels.MOE_DECODE_LEVELS`, "
        f"`{MOE_LEVEL.name}`): every decoding sequence of the busiest rank adds its token's active-parameter FLOPs "
        f"at {MOE_LEVEL.efficiency:.1%} of the GEMM rate (the weights' precision's peak times the catalog's "
        f"flops_efficiency), on top of the roofline step: {per_seq['17a']:.0f} µs per sequence per step for "
        f"DeepSeek-R1 on H200 in fp8, {per_seq['17b']:.0f} µs on B200 in fp4. One value fits both GPU generations "
        f"of 17a-c and carries to another model (Qwen3) through its active parameters; the time per sequence alone "
        "(d) fits the MLPerf rows better but not its own H200 row, the FLOPs scale (a) and the whole-step "
        "multiplier (e) slow the prompts too and miss the prompt-heavy 16e, and one time per GPU generation (d') "
        "spends a parameter per GPU and misses Qwen3. In the simulator (first table) the fitted rows' throughputs "
        f"are off by {fitted} at the level (fitted on their decode steps, not on the throughputs, which include "
        "the prompts), and the held-out rows by the medians and worsts of the error table. What it is not: a kernel measurement. No published per-kernel number names "
        "the work (see above and docs/models_and_parallelism.md); it is a fit of end-to-end steps of TensorRT-LLM "
        "2025 under attention-DP on one NVLink domain, and applies to prompts not at all. It does not cover the "
        "TP8 SGLang and vLLM rows (20a-21f, no attention-DP; their gap is mostly on the prompt side): by the "
        f"closed-form estimate it lowers them by {-moved[-1]:.0%} to {-moved[0]:.0%} of the published throughput, "
        f"leaving them {left[0]:+.0%} to {left[-1]:+.0%}. Nor multi-node large-EP decode: SGLang's EP64 row 18 is "
        f"{(s18['model_ms'] - s18['published_ms']) / s18['published_ms']:+.0%} on the step without it and "
        f"{(s18['level_ms'] - s18['published_ms']) / s18['published_ms']:+.0%} with it (step table), so "
        "`fleetsim validate` suggests it only for a mixture of experts under data-parallel attention within one "
        "node."]


def mlperf_dsr1_lines(results: list[tuple[Row, float]], steps: list[dict], mode: str) -> list[str]:
    """Report lines: the MLPerf v5.1 DeepSeek-R1 rows (19a-b) against the TensorRT-LLM DeepSeek-R1 rows (the
    output-length sensitivity is a simulator run; in ``estimate`` mode it is left out)."""
    err = {r.id: (s - r.published) / r.published for r, s in results}
    blog = sorted(e for i, e in err.items() if i.startswith("17"))
    step = {st["id"]: st for st in steps}
    a, b = (step[i] for i in ("19a", "19b"))
    b200 = next(r for r, _ in results if r.id == "19a")
    partners = sorted(mlperf_deepseek.PARTNER_B200.values())
    sensitivity = ""
    inputs, _ = mlperf_deepseek.lengths()
    offline_19a = next(r for r in mlperf_deepseek.ROWS if r.id == "19a")
    if mode == "simulator":
        s19a = next(s for r, s in results if r.id == "19a")
        lo, hi = (mlperf_deepseek.simulate(offline_19a, k) / s19a - 1 for k in (0.9, 1.1))
        sensitivity = f", and outputs 10 % shorter or longer move 19a by {lo:+.1%} / {hi:+.1%}"
    return ["**An independent check: MLPerf Inference v5.1 DeepSeek-R1 Offline (19a-b).** The same model, engine "
            "(TensorRT-LLM) and layout per 8 GPUs as 17b-c (TP8 EP8 attention-DP, NVFP4 weights, FP8 KV cache; "
            "512 sequences per rank, NVIDIA's published configs), but another publisher, an audited result and "
            f"another workload: the {len(inputs):,} samples of MLPerf's reasoning data set "
            f"(inputs {b200.input_tokens:,} tokens on average; outputs the reference answers capped at the "
            f"benchmark's {mlperf_deepseek.MAX_OUTPUT:,} tokens, mean {b200.output_tokens:,}), the whole Offline "
            f"query at t = 0 ({offline_19a.query:,} samples per 8 GPUs, NVIDIA's min_query_count: "
            "LoadGen sends at least that many, and a longer query only shortens the relative drain of the "
            "longest outputs, raising the simulated throughput). The model is "
            f"{err['19a']:+.0%} on 8 B200 (19a) and {err['19b']:+.0%} on the GB200 NVL72 (19b, nine 8-GPU "
            f"replicas), against {blog[0]:+.0%} to {blog[-1]:+.0%} for 17a-c. It is not run-to-run noise: "
            f"partners' 8x B200 results with NVIDIA's code span {partners[0]:,.0f}-{partners[-1]:,.0f} tokens/s, "
            f"{1 - partners[-1] / b200.published:.0%}-{1 - partners[0] / b200.published:.0%} below NVIDIA's. "
            "It is not the lengths: the tokens per sample "
            "these runs generated are not in the public table (the accuracy gate requires at least 90 % of the "
            f"reference's){sensitivity}. "
            f"With {b200.batch:,} sequences in flight per replica (Little's law) the runs imply "
            f"{a['published_ms']:.0f} ms (B200) and {b['published_ms']:.0f} ms (GB200) per iteration at a mean decode context of "
            f"{a['ctx']:,} tokens; the modelled pure-decode step is {a['model_ms']:.0f} and {b['model_ms']:.0f} ms "
            "(table above). The unpriced half of the one-node decode step therefore belongs to the step model "
            "for TensorRT-LLM attention-DP MoE decode, not to the TensorRT-LLM blog's numbers."]


def other_engines_lines(results: list[tuple[Row, float]], mode: str) -> list[str]:
    """Report lines: DeepSeek-R1 on one node with SGLang and vLLM (rows 20a-e, and the prompt-dominated 21a-f of later
    releases) against the TensorRT-LLM rows, and the decode increment of 20a -> 20b (the same 1,024 prompts, 800
    more output tokens each: decode alone)."""
    err = {r.id: (s - r.published) / r.published for r, s in results}
    sim = {r.id: s for r, s in results}
    row = {r.id: r for r, _ in results}
    a, b = row["20a"], row["20b"]

    def elapsed(r: Row, tok_s: float) -> float:
        return r.prompts * r.output_tokens / tok_s
    extra = a.prompts * (b.output_tokens - a.output_tokens)
    pub_s, sim_s = (elapsed(b, x[b.id]) - elapsed(a, x[a.id]) for x in ({i: r.published for i, r in row.items()}, sim))
    # the published prompt work: the elapsed time extrapolated linearly to zero output tokens
    pub_prompts_s = elapsed(a, a.published) - pub_s * a.output_tokens / (b.output_tokens - a.output_tokens)

    def run(r: Row) -> float:
        return simulate(r) if mode == "simulator" else estimate(r)
    sim_prompts_s = a.prompts / run(replace(a, output_tokens=1))
    sg = sorted(err[i] for i in ("20a", "20b", "20c"))
    dpa = sorted(run(replace(row[i], dp_attention=True)) / row[i].published for i in ("20a", "20b", "20c"))
    vl = sorted(err[i] for i in ("20d", "20e"))
    sg21, vl21 = (sorted(err[i] for i in ids) for ids in (("21a", "21b", "21c"), ("21d", "21e", "21f")))
    tokens = a.prompts * a.input_tokens
    engine_set = [r for r, _ in results if r.source in ONE_NODE_SOURCES and r.kernels != "trtllm"]
    before = {r.id: (run(replace(r, kernels="trtllm")) - r.published) / r.published
              for r in engine_set if r.kernels == "vllm"}
    early = [r for r in engine_set if kernel_set(r.kernels).fp8_gemm_flops_fraction is not None]
    late_vllm = [r for r in engine_set if r.kernels == "vllm"]
    unpriced = {r.id: (run(replace(r, kernels="vllm" if r.kernels == "vllm-0.7" else "trtllm")) - r.published)
                / r.published for r in early}
    unpriced_prompts_s = a.prompts / run(replace(a, output_tokens=1, kernels="trtllm"))
    fm_dec = moe_prompt_bound.decode_check()
    fm_flat = published_us(1536) / published_us(128) - 1
    # the waves by their concurrency, lowest first (the sentence below names the lowest and highest), each row's
    # published spread matched by its concurrency, never by its place in the table
    std_ms = {c: std for c, _, std, _, _ in deepseek_prompt_ttft.VLLM_07_WAVES}
    tt = sorted(({**r, "std_ms": std_ms[r["concurrency"]]} for r in deepseek_prompt_ttft.wave_rows()),
                key=itemgetter("concurrency"))
    waves = sorted(deepseek_prompt_ttft.waves_check(), key=itemgetter("concurrency"))
    max_wave = max(abs(w["duration_over_waves"] - 1) for w in waves)
    h100 = deepseek_prompt_ttft.h100_triton_tflops()
    feb = sorted(2.0 * m * n * k / (us * 1e-6) / 1e12 for m, n, k, us in CUTLASS_BLOCK_FP8_H100_FEB25)
    kernel_lines = [
        "**Kernel sets of these rows.** The vLLM rows (" + ", ".join(r.id for r in engine_set if "vllm" in r.kernels)
        + ") run vLLM's MoE routing kernels, "
        f"{kernel_set('vllm').moe_routing_s * 1e6:.1f} µs per MoE layer in "
        f"every iteration, and the quantization and spacing around its second expert GEMM, "
        f"{kernel_set('vllm').moe_finalize_s * 1e6:.1f} µs more, "
        "summed from a vLLM contributor's published trace of vLLM's DeepSeek decode step on H200 "
        "(the kernel-trace table below), and a per-call floor of its block-fp8 linear ops (MLA projections, dense "
        f"and shared-expert MLPs), {kernel_set('vllm').fp8_linear_floor_s * 1e6:.1f} µs each, from published "
        "kernel timings (small-GEMM tables below); nothing fitted to these rows. The SGLang rows keep TensorRT-LLM's "
        "routing term: no published SGLang trace on H200 gives its routing kernels' times (the SGLang table below is "
        "on B200 and lists only the finalize kernel of the routing). With `trtllm` the late-2025 vLLM rows were "
        + ", ".join(f"{r.id} {before[r.id]:+.0%}" for r in late_vllm) + "; with `vllm` they are "
        + ", ".join(f"{r.id} {err[r.id]:+.0%}" for r in late_vllm) + ": the routing kernels are real and "
        "priced from measurement, but they and the block-fp8 floor are a small part of what separates these rows from "
        "the model.", "",
        "**The prompt side of the early-2025 releases (20a-e).** SGLang 0.4.3 and vLLM 0.7.4 ran DeepSeek's "
        "block-fp8 linear layers before DeepGEMM (released 2025-02-26) was in them: `apply_w8a8_block_fp8_linear` "
        "ran vLLM's CUTLASS block-fp8 GEMM (vLLM PR 11868; SGLang's copy in sgl-kernel, on by default until SGLang "
        "PR 4640, 2025-03-21) where N and K are multiples of 128, Triton's `w8a8_block_fp8_matmul` otherwise (at "
        "TP8 only the 576-wide kv_a projection; when SGLang's code switched from Triton to the CUTLASS kernel, "
        "before or after 0.4.3.post2, is not pinned down here: before it, Triton ran 268-355 TFLOPS at 4,096 tokens "
        "on H200, sgl-project/sglang PR 3893, 2025-02-26, and 20a-c's GEMMs were slower still). That GEMM's published rate at a prompt's token count is below the "
        "catalog's fp8 GEMM rate (calibrated on per-tensor fp8 GEMMs): SGLang's benchmark of DeepSeek-V3's shapes "
        "(github.com/sgl-project/sglang/pull/5820, 2025-04-28, the `vllm` column) runs it at "
        f"{cutlass_block_fp8_tflops():.0f} TFLOPS at 4,096 tokens (median of its three shapes at that size), "
        f"{CUTLASS_BLOCK_FP8_FRACTION:.1%} of a Hopper's fp8 peak, where the catalog prices fp8 GEMMs at "
        f"{get_gpu('h200-sxm').efficiency('fp8').flops_efficiency:.1%}; vLLM's own table of the kernel from the "
        f"releases' month (github.com/vllm-project/vllm/pull/13917, 2025-02-26, H100) runs it at {feb[0]:.0f}-"
        f"{feb[-1]:.0f} TFLOPS at 1,024-4,096 tokens, a range with that rate inside it. The kernel sets "
        "`sglang-0.4` (rows "
        + ", ".join(r.id for r in early if r.kernels == "sglang-0.4") + ") and `vllm-0.7` (rows "
        + ", ".join(r.id for r in early if r.kernels == "vllm-0.7") + ") price those GEMMs (the MLA projections, "
        "the dense and shared-expert MLPs: `sim.perf.kernels.block_fp8_linears`) at that rate. `sglang-0.4` also "
        "prices SGLang 0.4.3's MLA path for prompt chunks: `DeepseekV2AttentionMLA.forward` ran the decompressed "
        "attention (192/128 head dimensions) only when `forward_batch.extend_prefix_lens.sum() == 0`, so a batch "
        "holding the continuation of a chunked prompt (with 3,200-token prompts and 8,192-token chunks, nearly every "
        "prompt batch) ran the weight-absorbed attention over the 576/512 latent for all its prompts, 3.4x the "
        "FLOPs per token pair, with Triton's extend kernel, priced at the catalog's prompt attention rate (no "
        "published rate of that kernel: a lower bound of its time); SGLang PR 5113 (2025-04) later ran such "
        "batches decompressed. Both sets also price the routed experts' Triton `fused_moe` (`sim.perf.fused_moe`): "
        "these releases ran it for DeepSeek's block-fp8 experts at TP8 (DeepGEMM's grouped GEMM came to vLLM after "
        "0.7, opt-in, with vLLM PR 13932, 2025-02-26), and that PR times the whole `fused_experts` call for "
        "DeepSeek-V3 at TP8 on H100 at 128-2,048 tokens with the tile vLLM's tuned H200 file also runs there (64 x "
        "128 x 128, 4 warps, 3 stages: no H100 file existed, and vLLM's block-fp8 default is that tile). The call is "
        f"on the memory side at every published size (its time grows {fm_flat:.0%} from 128 to 1,536 tokens, its FLOPs "
        "12-fold), so on the H200 it takes the H100's time x 3.35 / 4.8, the HBM bandwidths; interpolated in tokens, "
        "held at 128's time per expert read below and at 2,048's time per token above, and the step model adds its "
        "excess over the routed experts' own roofline. Nothing is fitted to these rows. Without the three they were "
        + ", ".join(f"{rid} {e:+.0%}" for rid, e in unpriced.items())
        + "; with them " + ", ".join(f"{r.id} {err[r.id]:+.0%}" for r in early)
        + f". The prompt rate of 20a (extrapolated to zero output tokens, below) moves from "
        f"{tokens / unpriced_prompts_s:,.0f} to {tokens / sim_prompts_s:,.0f} tokens/s against the published "
        f"{tokens / pub_prompts_s:,.0f}. A known limit of the Triton term: at decode sizes the table is slower than "
        f"the served kernel was: at 128 tokens, where every expert is hit, 58 calls scaled to the H200 take "
        f"{fm_dec['moe_calls_ms_h200_scaled']:.1f} ms, more than vLLM 0.7.4's whole "
        f"{fm_dec['published_step_ms']:.1f} ms decode step at 128 sequences on H200 (`benchmarks/moe_prompt_bound.py`), "
        "so these sets price decode steps of a few dozen sequences and more too slow. Not priced: Triton's MLA extend "
        "kernel's own rate. The same vLLM 0.7.4 nightly's prompt side is also measured "
        "directly, outside these rows, by dstack's online runs (the decode points below; "
        "`benchmarks/deepseek_prompt_ttft.py`): identical 3,200/800-token requests at a fixed concurrency of "
        f"{waves[0]['concurrency']}-{waves[-1]['concurrency']} run in waves that start and finish in the same steps "
        f"(each run's duration is its waves times the mean end-to-end latency within {max_wave:.0%}; at "
        f"{waves[0]['concurrency']} the time to first token's standard deviation is {tt[0]['std_ms']:.1f} ms of a "
        f"{tt[0]['published_ttft_ms']:.0f} ms median), so the median time to first token is one prefill of the whole "
        f"wave: {min(r['published_tokens_per_s'] for r in tt):,}-{max(r['published_tokens_per_s'] for r in tt):,} "
        f"tokens/s at {tt[0]['tokens_per_step']:,}-{tt[-1]['tokens_per_step']:,} tokens per step against "
        f"{min(r['modelled_tokens_per_s'] for r in tt):,}-{max(r['modelled_tokens_per_s'] for r in tt):,} modelled "
        f"(`vllm-0.7`), published / modelled {min(r['published_over_modelled'] for r in tt):.2f}-"
        f"{max(r['published_over_modelled'] for r in tt):.2f} at every size. With the routed experts at the GEMMs' "
        f"rate the model ran them at {min(r['modelled_tokens_per_s_experts_at_gemm_rate'] for r in tt):,}-"
        f"{max(r['modelled_tokens_per_s_experts_at_gemm_rate'] for r in tt):,} tokens/s "
        f"({min(r['published_over_modelled_experts_at_gemm_rate'] for r in tt):.1f}-"
        f"{max(r['published_over_modelled_experts_at_gemm_rate'] for r in tt):.1f}x): a time per prompt token "
        f"({min(r['unpriced_us_per_token'] for r in tt):.0f}-{max(r['unpriced_us_per_token'] for r in tt):.0f} µs), "
        "not a floor per step or per request, and not the scheduler's or the KV cache's doing (one prefill step "
        "involves neither); all of it in the routed experts' 58 calls would have them run at "
        f"{min(r['expert_calls_tflops_if_all_theirs'] for r in tt):.0f}-"
        f"{max(r['expert_calls_tflops_if_all_theirs'] for r in tt):.0f} TFLOPS on H200, against "
        f"{min(h100):.0f}-{max(h100):.0f} for vLLM PR 13932's Triton call on H100 at 1,536-2,048 tokens. Nothing of "
        "these waves is fitted: they check the priced call from outside the kernel table."]
    return kernel_lines + ["", "**Other engines on one node: SGLang and vLLM (20a-21f).** Is the one-node gap TensorRT-LLM's? dstack's "
            "offline benchmark (March 2025, source above) ran DeepSeek-R1 on 8 H200 with SGLang 0.4.3 and a vLLM "
            f"0.7.4 nightly: DeepSeek's FP8 checkpoint, bf16 KV cache, {a.prompts:,} requests of {a.input_tokens:,} "
            "prompt tokens at once, fixed output lengths, TP8 as the documented command runs (experts TP-sharded, no "
            f"attention-DP: with attention-DP the model would be {dpa[0]:.1f}-{dpa[-1]:.1f}x the published SGLang "
            "numbers, so the runs can hardly have used it), the batch the KV cache holds. The model is "
            f"{sg[0]:+.0%} to {sg[-1]:+.0%} on SGLang and {vl[0]:+.0%} to {vl[-1]:+.0%} on vLLM: these engines, "
            f"too, ran DeepSeek-R1 on one node at {100 / (1 + vl[-1]):.0f}-{100 / (1 + sg[0]):.0f} % of the modelled "
            "throughput, so the gap is not TensorRT-LLM's alone. The error falls as outputs lengthen "
            f"({err['20a']:+.0%}, {err['20b']:+.0%}, {err['20c']:+.0%} at {a.output_tokens:,}, "
            f"{b.output_tokens:,} and {row['20c'].output_tokens:,} output tokens). The {b.output_tokens - a.output_tokens:,} "
            f"extra output tokens per request of 20b over 20a (the same prompts: to first order decode alone) took {pub_s:.0f} s "
            f"({extra / pub_s:,.0f} output tokens/s) against {sim_s:.0f} s modelled ({extra / sim_s:,.0f} tokens/s, "
            f"the model {pub_s / sim_s - 1:+.0%}). "
            f"Extrapolated to zero output tokens, the published times leave {pub_prompts_s:.0f} s for the "
            f"{tokens / 1e6:.1f} M prompt tokens ({tokens / pub_prompts_s:,.0f} tokens/s); the model runs them in "
            f"{sim_prompts_s:.0f} s ({tokens / sim_prompts_s:,.0f} tokens/s). So for SGLang 0.4.3 at TP8 the model "
            f"is {pub_prompts_s / sim_prompts_s - 1:+.0%} on the prompt side, which no TensorRT-LLM row exercises, and "
            f"{pub_s / sim_s - 1:+.0%} on the decode increment (with the routed experts' Triton call priced, the decode "
            "steps of hundreds of sequences take the table's too-slow decode sizes: the known limit above). "
            "Later releases keep a prompt-side gap: "
            "GPUStack's prompt-dominated runs (rows 21a-f, source above: SGLang v0.5.3 and vLLM v0.11.0, late 2025, "
            "every request at once, TP8 with TP-sharded experts, since SGLang turns attention-DP off without `--dp`) "
            f"put the model {sg21[0]:+.0%} to {sg21[-1]:+.0%} (SGLang) and {vl21[0]:+.0%} to {vl21[-1]:+.0%} (vLLM) "
            "off: at TP8 the modelled prompt processing of DeepSeek-R1 is optimistic for current software too. "
            "dstack's offline runs are early-2025 releases with their defaults (DeepGEMM and DeepEP, released in "
            "late February 2025, not yet in them), and their one decode increment (SGLang 0.4.3, TP8, "
            f"{pub_s / sim_s - 1:+.0%}) compares batches the KV cache limits differently; the published decode "
            "steps at fixed small batches below measure the decode directly."]
