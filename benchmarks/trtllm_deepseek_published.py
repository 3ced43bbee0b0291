"""What TensorRT-LLM publishes about its DeepSeek-R1 max-throughput steps, beside the step model.

Prints JSON (``python benchmarks/trtllm_deepseek_published.py``); :func:`report_lines` writes the same as tables for
docs/validation.md (section "2025-26 models"). No per-kernel trace of a TensorRT-LLM attention-DP decode step at the
batches of rows 17a-c is published; what is, and what each number says about the gap between those rows and the
step model (every number as published; sources below):

1. **The rows' own benchmark reports** (``Best_perf_practice_on_DeepSeek-R1_in_TensorRT-LLM.md`` at commit 01c4ece,
   the source of rows 17a-c): besides the output tokens/s, ``trtllm-bench`` prints the request throughput, the total
   latency and the average request latency, and the configurations give the number of requests, the concurrency, the
   per-rank ``max_batch_size`` and the CUDA-graph batch sizes. They settle three questions: whether the
   throughput includes a ramp-up or tail (the requests run in ``num_requests / concurrency`` waves of the average
   request latency; what the total latency holds beyond them is ramp and drain), whether the per-iteration time
   the throughput implies is what each request sees (the average request latency over the 2,048 output tokens,
   its own prompt included: equal by Little's law when the concurrency stays full), and whether CUDA-graph padding wastes batch slots in steady state (the per-rank
   ``max_batch_size`` is one of the captured sizes). The blog also says the max-throughput runs do not use MTP
   ("synthetic dataset is enough to be representative, since it does not use MTP"): one token per sequence
   per iteration.
2. **The fused top-k** (blog 3, "Optimizing DeepSeek R1 Throughput on NVIDIA Blackwell GPUs", section "Top-K Kernels
   Fusions", commit 02643c1): DeepSeek's grouped top-k took 252 µs as 18 PyTorch ops and 15 µs fused, on B200 in
   the target (max-throughput) setting, a 7.4 % end-to-end speedup. The ``trtllm`` kernel set prices it, 15 µs
   per MoE layer (:data:`sim.perf.kernels.TRTLLM_FUSED_TOPK_S`); the table checks that per-layer reading against the
   published speedup.
3. **Expert-parallel load imbalance** (blog 4, "Scaling Expert Parallelism in TensorRT-LLM (Part 1)", Table 1,
   commit 1d263f1): DeepSeek-R1 on 32 GB200 at EP32 without load balancing, a machine-translation data set, 1,024
   routed token-expert rows per rank on average: the busiest rank receives 1.564 times more than the mean
   (imbalance ratio ``(max - mean) / mean``, averaged over layers and iterations), the busiest expert 10.948;
   standard deviations 491.6 per rank and 164.1 per expert (mean 128). The step model routes uniformly (the
   best case); the table sets its imbalance at the same EP and load beside the published one, checks that the
   per-rank spread follows from the per-expert one with experts placed on ranks regardless of their load, and
   carries that spread to EP8 (what it would add to rows 17a-c is a sensitivity, not priced: the statistic is of
   another data set, EP size and GPU, and rows 17a-c ran random-token prompts).
4. **Dispatch and combine at EP8** (blog 18, "Optimizing MoE Communication with One-Sided AlltoAll Over NVLink",
   commit 22de8b3): TensorRT-LLM's NVLinkOneSided all-to-all kernels on GB200 NVL72 with the DeepSeek-V3 profile
   (hidden 7,168, top-8 of 256), BF16, by tokens per rank: dispatch 18.9 µs and combine 31.0 µs at one token,
   89.5 and 91.7 µs at 512, 311.8 and 322.6 µs at 2,048. The table sets the step model's dispatch and combine of
   one MoE layer at the same EP, GPU and tokens beside them (its two all-to-all calls, each the collective latency
   plus the bytes over NVLink at the link efficiency). Not repriced: TensorRT-LLM ran rows 17a-c with AllGather
   and ReduceScatter at EP8 (blog 4: "for EP4/EP8 Reduce/Scatter is used, while for EP>8 All2All is used"), and
   this kernel is the 2026 default, later than the MLPerf v5.1 runs.
"""
from __future__ import annotations

import dataclasses
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim.perf.base import BatchShape  # noqa: E402
from sim.perf.kernels import KERNEL_SETS  # noqa: E402
from sim.perf.moe import expected_max_of_sums, tile_count_pmf  # noqa: E402
from sim.perf.parallel import Layout  # noqa: E402
from sim.perf.roofline import RooflineModel  # noqa: E402
from sim.scenario.catalog import get_gpu, get_model  # noqa: E402

SRC_PRACTICE = ("TensorRT-LLM docs/source/blogs/Best_perf_practice_on_DeepSeek-R1_in_TensorRT-LLM.md at commit 01c4ece "
                "(github.com/NVIDIA/TensorRT-LLM), max-throughput sections, \"Expected Result Format\"")
SRC_BLOG3 = ("TensorRT-LLM docs/source/blogs/tech_blog/blog3_Optimizing_DeepSeek_R1_Throughput_on_NVIDIA_Blackwell_GPUs.md "
             "at commit 02643c1 (github.com/NVIDIA/TensorRT-LLM), \"Top-K Kernels Fusions\"")
SRC_BLOG4 = ("TensorRT-LLM docs/source/blogs/tech_blog/blog4_Scaling_Expert_Parallelism_in_TensorRT-LLM.md at commit "
             "1d263f1 (github.com/NVIDIA/TensorRT-LLM), Table 1")


@dataclass(frozen=True)
class Run:
    """One max-throughput run of the DeepSeek-R1 blog as its configuration and report give it."""

    id: str
    gpu: str
    weight_dtype: str
    kv_dtype: str
    concurrency: int
    num_requests: int
    max_batch_size: int           # per attention-DP rank
    cuda_graph_sizes: tuple[int, ...]
    padding: bool                 # cuda_graph_config.enable_padding
    request_per_s: float
    output_tok_s: float
    total_latency_ms: float
    avg_request_latency_ms: float
    input_tokens: int = 1024
    output_tokens: int = 2048


RUNS: tuple[Run, ...] = (
    Run("17a", "h200-sxm", "fp8", "bf16", 1024, 5120, 128, (128,), False,
        5.6100, 11489.2671, 912656.9938, 181540.5739),
    Run("17b", "b200", "fp4", "bf16", 3072, 49152, 384, (1, 2, 4, 8, 16, 32, 64, 128, 256, 384), True,
        17.7657, 36384.0838, 2766684.9197, 172321.7206),
    Run("17c", "b200", "fp4", "fp8", 7168, 114688, 896, (896, 512, 256, 128, 64, 32, 16, 8, 4, 2, 1), True,
        21.0675, 43146.2042, 5443839.8140, 332826.9898),
)
"""Rows 17a-c: the H200 and the two B200 max-throughput runs (TP8 EP8 attention-DP, 8 GPUs), as published."""

MLPERF_CUDA_GRAPH_SIZES, MLPERF_RANK_BATCH = (128, 256, 384, 512), 512
"""Rows 19a-b (MLPerf v5.1): NVIDIA's ``cuda_graph_batch_sizes`` (``cuda_graph_padding_enabled``) and per-rank
``gpu_batch_size``; the configuration sets no speculative decoding (github.com/mlcommons/inference_results_v5.1
``closed/NVIDIA/configs/B200-SXM-180GBx8/Offline/deepseek-r1.py``)."""

TOPK_UNFUSED_US, TOPK_FUSED_US, TOPK_OPS, TOPK_E2E_SPEEDUP = 252.0, 15.0, 18, 0.074
"""Blog 3: DeepSeek's top-k as 18 PyTorch ops, 252 µs; fused, 15 µs; a 7.4 % end-to-end speedup (B200)."""
BLOG3_FEB_TPS_PER_GPU = 2000.0
"""Blog 3: "from approximately 2000 TPS/GPU in February to 4600 TPS/GPU on ISL/OSL 1K/2K"."""

EPLB_TABLE = {"ep": 32, "rank_mean": 1024.0, "rank_std": 491.6, "rank_imbalance": 1.564,
              "expert_mean": 128.0, "expert_std": 164.1, "expert_imbalance": 10.948}
"""Blog 4, Table 1, "No EPLB (8 per-rank slots and EP 32)": routed token-expert rows by rank and by expert."""


SRC_BLOG18 = ("TensorRT-LLM docs/source/blogs/tech_blog/blog18_Optimizing_MoE_Communication_with_One_Sided_AlltoAll_"
              "Over_NVLink.md at commit 22de8b3 (github.com/NVIDIA/TensorRT-LLM), \"ep_size=8\" table")
ALLTOALL_EP8_GB200_US: dict[int, tuple[float, float]] = {
    1: (18.9, 31.0), 2: (18.4, 31.1), 4: (18.1, 31.4), 8: (17.6, 31.4), 16: (18.5, 32.6), 32: (18.2, 32.7),
    64: (22.3, 34.1), 128: (31.7, 38.1), 256: (50.8, 53.0), 512: (89.5, 91.7), 1024: (166.3, 175.6),
    2048: (311.8, 322.6)}
"""Blog 18: (dispatch, combine) µs of one MoE layer's all-to-all at EP8 on GB200 NVL72, BF16, DeepSeek-V3 profile,
by tokens per rank."""


def _dsr1(gpu: str, wd: str, kd: str, kernels=None) -> RooflineModel:
    return RooflineModel(get_model("deepseek-r1"), get_gpu(gpu), 8, wd, kd,
                         layout=Layout(tp=8, ep=8, dp_attention=True), kernels=kernels)


def run_rows() -> list[dict]:
    """Per run: the iteration its throughput implies (Little's law), what each request saw per output token, the
    waves, the ramp and drain, the CUDA-graph padding in steady state, and the modelled pure-decode step."""
    out = []
    for r in RUNS:
        waves = r.num_requests / r.concurrency
        shape = BatchShape(decode_seqs=r.concurrency, decode_context_tokens=r.concurrency
                           * (r.input_tokens + r.output_tokens // 2))
        model = _dsr1(r.gpu, r.weight_dtype, r.kv_dtype)
        bare = _dsr1(r.gpu, r.weight_dtype, r.kv_dtype, dataclasses.replace(KERNEL_SETS["trtllm"], moe_routing_s=0.0))
        padded = min(s for s in r.cuda_graph_sizes if s >= r.max_batch_size)
        out.append({
            "id": r.id, "gpu": r.gpu, "concurrency": r.concurrency, "num_requests": r.num_requests,
            "little_step_ms": r.concurrency / r.output_tok_s * 1e3,
            "request_ms_per_token": r.avg_request_latency_ms / r.output_tokens,
            "output_check": r.request_per_s * r.output_tokens / r.output_tok_s,   # 1: the report is self-consistent
            "waves": waves,
            "ramp_and_drain_share": 1.0 - waves * r.avg_request_latency_ms / r.total_latency_ms,
            "steady_padding_slots": padded - r.max_batch_size,
            "modelled_step_ms": model.breakdown(shape).total_s * 1e3,
            "modelled_step_without_topk_ms": bare.breakdown(shape).total_s * 1e3,
        })
    return out


def topk_check() -> dict:
    """The fused top-k per MoE layer, and the per-layer reading checked against the published 7.4 % speedup: saving
    ``(252 - 15) µs`` in each of 58 MoE layers is 7.4 % of a step of ``saving / (1 - 1/1.074)``; per step (not per
    layer) it would be 0.2 ms, 0.1 % of any step of this size."""
    moe_layers = get_model("deepseek-r1").moe_layers
    saving_ms = (TOPK_UNFUSED_US - TOPK_FUSED_US) * moe_layers / 1e3
    step_ms = saving_ms / (1.0 - 1.0 / (1.0 + TOPK_E2E_SPEEDUP))
    b = next(r for r in RUNS if r.id == "17b")
    return {"unfused_us": TOPK_UNFUSED_US, "fused_us": TOPK_FUSED_US, "ops": TOPK_OPS,
            "unfused_us_per_op": TOPK_UNFUSED_US / TOPK_OPS, "moe_layers": moe_layers,
            "saving_per_step_ms": saving_ms, "implied_step_before_fusion_ms": step_ms,
            "feb_step_at_17b_concurrency_ms": b.concurrency / (BLOG3_FEB_TPS_PER_GPU * 8) * 1e3,
            "priced_us_per_moe_layer": KERNEL_SETS["trtllm"].moe_routing_s * 1e6,
            "priced_ms_per_step": KERNEL_SETS["trtllm"].moe_routing_s * moe_layers * 1e3}


def uniform_imbalance(ep: int, rows_per_rank: float) -> tuple[float, float]:
    """``(rank, expert)`` imbalance ratios ``(E[max] - mean) / mean`` of uniform routing (the step model's) for DeepSeek
    (256 experts, 8 per token) at ``ep`` ranks and ``rows_per_rank`` token-expert rows per rank on average."""
    m = get_model("deepseek-r1")
    e, k = m.n_experts, m.experts_per_token
    tokens = round(rows_per_rank * ep / k)
    lo, pmf = tile_count_pmf(tokens, k / e, 1)           # rows of one expert: Binomial(tokens, k/E)
    rank = expected_max_of_sums(lo, pmf, e // ep, ep) / rows_per_rank - 1.0
    expert = expected_max_of_sums(lo, pmf, 1, e) / (tokens * k / e) - 1.0
    return rank, expert


def placed_rank_cv(expert_cv: float, ep: int, n_experts: int = 256) -> float:
    """Coefficient of variation of a rank's rows when each holds ``n_experts/ep`` experts placed regardless of their
    load (a sample without replacement from experts whose rows vary with ``expert_cv``)."""
    n = n_experts // ep
    return expert_cv * math.sqrt((n_experts - n) / (n_experts - 1) / n)


def expected_max_std_normal(n: int) -> float:
    """``E[max]`` of ``n`` independent standard normals (numerically: the midpoint rule on a 0.001 grid over +-8)."""
    xs = [(i + 0.5) / 1000.0 for i in range(-8000, 8000)]
    cdf = [0.5 * (1.0 + math.erf(x / math.sqrt(2.0))) for x in xs]
    # E[max] = integral of (1 - F^n) over x > 0 minus integral of F^n over x < 0
    return sum((1.0 - c ** n) if x > 0 else -(c ** n) for x, c in zip(xs, cdf)) / 1000.0


def imbalance_rows() -> dict:
    """Blog 4's EP32 imbalance beside uniform routing's, the per-rank spread it implies from the per-expert one, that
    spread carried to EP8 (normal approximation of the busiest of 8 ranks), and what the busiest EP8 rank receiving
    that many more rows would add to the routed-expert GEMMs of rows 17a-c (a sensitivity, not priced)."""
    t = EPLB_TABLE
    rank_u, expert_u = uniform_imbalance(t["ep"], t["rank_mean"])
    expert_cv = t["expert_std"] / t["expert_mean"]
    cv32, cv8 = placed_rank_cv(expert_cv, 32), placed_rank_cv(expert_cv, 8)
    ep8 = cv8 * expected_max_std_normal(8)
    sens = []
    for r in RUNS:
        model = _dsr1(r.gpu, r.weight_dtype, r.kv_dtype)
        base = model.routed_expert_s(r.concurrency)
        skewed = model.routed_expert_s(round(r.concurrency * (1.0 + ep8)))
        sens.append({"id": r.id, "routed_ms": base * 1e3, "routed_skewed_ms": skewed * 1e3,
                     "added_ms": (skewed - base) * 1e3})
    return {"published": t, "uniform_rank_imbalance": rank_u, "uniform_expert_imbalance": expert_u,
            "published_rank_cv": t["rank_std"] / t["rank_mean"], "expert_cv": expert_cv,
            "placed_rank_cv_ep32": cv32, "placed_rank_cv_ep8": cv8,
            "normal_rank_imbalance_ep32": cv32 * expected_max_std_normal(32), "ep8_rank_imbalance": ep8,
            "sensitivity": sens}


def alltoall_rows() -> list[dict]:
    """Blog 18's dispatch and combine at EP8 on GB200 beside the step model's two all-to-all calls of one MoE layer
    (DeepSeek-V3, bf16 tokens, TP8 EP8 attention-DP: the collectives of a step over its 58 MoE layers)."""
    m = get_model("deepseek-v3")
    model = RooflineModel(m, get_gpu("gb200"), 8, "bf16", "bf16", layout=Layout(tp=8, ep=8, dp_attention=True))
    rows = []
    for tokens, (dispatch, combine) in ALLTOALL_EP8_GB200_US.items():
        bd = model.breakdown(BatchShape(decode_seqs=8 * tokens, decode_context_tokens=8 * tokens * 1024))
        rows.append({"tokens_per_rank": tokens, "dispatch_us": dispatch, "combine_us": combine,
                     "published_us": dispatch + combine, "modelled_us": bd.comm_s / m.moe_layers * 1e6})
    return rows


def report_lines() -> list[str]:
    """The tables and paragraphs for validation.md."""
    runs, topk, imb = run_rows(), topk_check(), imbalance_rows()
    lines = ["**What TensorRT-LLM publishes about these steps** (`python benchmarks/trtllm_deepseek_published.py` "
             f"prints it as JSON). The rows' own benchmark reports ({SRC_PRACTICE}): the iteration the output "
             "throughput implies (concurrency / output tokens/s), what each request saw per output token (average "
             "request latency / 2,048, its own prompt included), the requests' waves (requests / concurrency), the "
             "share of the total latency outside those waves (ramp-up and drain), and the padding CUDA graphs add "
             "to a full rank (the per-rank `max_batch_size` against the next captured size); beside them the "
             "modelled pure-decode step (mean context 2,048) with the `trtllm` set's fused top-k and without it.", "",
             "| row | GPU | concurrency | requests | implied step (ms) | request latency per token (ms) | waves | "
             "ramp and drain | padding, full rank | modelled (ms) | modelled without top-k (ms) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        lines.append(f"| {r['id']} | {r['gpu']} | {r['concurrency']:,} | {r['num_requests']:,} | "
                     f"{r['little_step_ms']:.1f} | {r['request_ms_per_token']:.1f} | {r['waves']:.0f} | "
                     f"{r['ramp_and_drain_share']:.1%} | {r['steady_padding_slots']} | {r['modelled_step_ms']:.1f} | "
                     f"{r['modelled_step_without_topk_ms']:.1f} |")
    ramp = [r["ramp_and_drain_share"] for r in runs]
    share = [topk["priced_ms_per_step"] / r["modelled_step_ms"] for r in runs]
    gap = [r["little_step_ms"] / r["request_ms_per_token"] - 1 for r in runs]
    lines += ["", "The published throughput is the steady state: the waves of average request latency fill "
              f"{1 - max(ramp):.0%}-{1 - min(ramp):.0%} of the total latency (ramp-up and drain "
              f"{min(ramp):.1%}-{max(ramp):.1%}), and each request saw the implied iteration per output token "
              f"(within {max(abs(g) for g in gap):.1%}: Little's law over the requests, which holds when the "
              "concurrency stays at its setting, so the runs kept every sequence slot busy). No MTP (the blog: the "
              "max-throughput runs do not use it), so an iteration emits one token per sequence; and a full rank "
              "runs a captured CUDA graph without padding (each `max_batch_size` is a captured size). None of "
              "the three explains the gap to the modelled step. The same holds for the MLPerf rows 19a-b: NVIDIA's "
              "configuration sets no speculative decoding and captures CUDA graphs at "
              f"{', '.join(map(str, MLPERF_CUDA_GRAPH_SIZES))} sequences with padding, its per-rank batch "
              f"{MLPERF_RANK_BATCH} among them (github.com/mlcommons/inference_results_v5.1, "
              "closed/NVIDIA/configs/B200-SXM-180GBx8/Offline/deepseek-r1.py).", "",
              f"**TensorRT-LLM's fused top-k** ({SRC_BLOG3}): DeepSeek's grouped top-k took "
              f"{topk['unfused_us']:.0f} µs as {topk['ops']} PyTorch ops ({topk['unfused_us_per_op']:.0f} µs each) and "
              f"{topk['fused_us']:.0f} µs fused, on B200 at max throughput, for a {TOPK_E2E_SPEEDUP:.1%} "
              f"end-to-end speedup. Per MoE layer, fusing saves {topk['saving_per_step_ms']:.1f} ms over "
              f"{topk['moe_layers']} layers: a {TOPK_E2E_SPEEDUP:.1%} speedup of a "
              f"{topk['implied_step_before_fusion_ms']:.0f} ms step; the blog's February baseline (about 2,000 tokens/s per GPU) at the 3,072 sequences of 17b ran "
              f"{topk['feb_step_at_17b_concurrency_ms']:.0f} ms steps (its concurrency then is not published). Read "
              "per step instead, fusing would save 0.2 ms, 0.1 % of any such step. So the 15 µs is per MoE layer; "
              f"the `trtllm` kernel set prices it ({topk['priced_us_per_moe_layer']:.0f} µs per MoE layer, "
              f"{topk['priced_ms_per_step']:.2f} ms per DeepSeek step: `moe_routing_s`, "
              f"docs/performance_model.md \"Kernel sets\"), {min(share):.1%}-{max(share):.1%} of the modelled steps "
              "above.", "",
              f"**Expert-parallel load imbalance** ({SRC_BLOG4}: DeepSeek-R1, 32 GB200, EP32 without load balancing, "
              "a machine-translation data set; imbalance ratio (max - mean) / mean of the routed token-expert rows, "
              "averaged over layers and iterations) against the step model's uniform routing at the same EP and "
              "load:", "",
              "| | rows per rank (mean) | std per rank | imbalance, by rank | std per expert | imbalance, by expert |",
              "|---|---:|---:|---:|---:|---:|",
              f"| published (EP32, no EPLB) | {imb['published']['rank_mean']:,.0f} | {imb['published']['rank_std']:.1f} | "
              f"{imb['published']['rank_imbalance']:.3f} | {imb['published']['expert_std']:.1f} | "
              f"{imb['published']['expert_imbalance']:.3f} |",
              f"| uniform routing (the step model) | {imb['published']['rank_mean']:,.0f} | "
              f"{math.sqrt(imb['published']['rank_mean']):.1f} (Poisson) | {imb['uniform_rank_imbalance']:.3f} | "
              f"{math.sqrt(imb['published']['expert_mean']):.1f} (Poisson) | {imb['uniform_expert_imbalance']:.3f} |",
              "", "Real routing is far from uniform: the busiest EP32 rank's excess over the mean is "
              f"{imb['published']['rank_imbalance']:.2f} times the mean, where uniform routing gives "
              f"{imb['uniform_rank_imbalance']:.2f}. The per-rank "
              f"spread follows from the per-expert one (coefficient of variation {imb['expert_cv']:.2f}) if experts "
              f"sit on ranks regardless of their load: {imb['placed_rank_cv_ep32']:.2f} predicted against "
              f"{imb['published_rank_cv']:.2f} published at EP32 (8 experts per rank); its tail is heavier than a "
              f"normal's (the busiest of 32 normal ranks: {imb['normal_rank_imbalance_ep32']:.2f}, published "
              f"{imb['published']['rank_imbalance']:.2f}). At EP8 (32 experts per rank) the same spread gives a "
              f"coefficient of variation of {imb['placed_rank_cv_ep8']:.2f} and the busiest of 8 ranks "
              f"{imb['ep8_rank_imbalance']:.2f} over the mean (normal approximation; more with the heavier tail). "
              "Were that the routing of rows 17a-c, the busiest rank's routed-expert GEMMs would take "
              + ", ".join(f"{s['added_ms']:.1f} ms ({s['id']})" for s in imb["sensitivity"])
              + " more per step: at these batches the rank reads all its experts' weights whatever its rows, so "
              "the rows move only the FLOP side. Not priced: the statistic is of another data set, EP size and GPU "
              "(the blog: imbalance is data-set sensitive), and rows 17a-c ran random-token prompts, whose routing "
              "no published number gives. What would settle it: the same statistic "
              "(TensorRT-LLM's `report_load_statistics.py`, in its EP load balancer example) for DeepSeek-R1 at EP8 on the rows' synthetic "
              "data set, or on MLPerf's data set for 19a-b."]
    a2a = alltoall_rows()
    lines += ["", f"**Dispatch and combine at EP8** ({SRC_BLOG18}: TensorRT-LLM's one-sided NVLink all-to-all on GB200 "
              "NVL72, DeepSeek-V3 profile, BF16) against the step model's two all-to-all calls of one MoE layer at "
              "the same EP, GPU and tokens per rank (µs):", "",
              "| tokens per rank | dispatch | combine | published, both | modelled, both | published / modelled |",
              "|---:|---:|---:|---:|---:|---:|"]
    for r in a2a:
        lines.append(f"| {r['tokens_per_rank']:,} | {r['dispatch_us']:.1f} | {r['combine_us']:.1f} | "
                     f"{r['published_us']:.1f} | {r['modelled_us']:.1f} | {r['published_us'] / r['modelled_us']:.2f}x |")
    small, big = a2a[0], a2a[-1]
    at512 = next(r for r in a2a if r["tokens_per_rank"] == 512)
    moe_layers = get_model("deepseek-v3").moe_layers
    under = [1 - r["modelled_us"] / r["published_us"] for r in a2a if r["tokens_per_rank"] >= 256]
    lines += ["", f"From 256 tokens per rank the bytes dominate and the model is {min(under):.0%}-{max(under):.0%} "
              f"below the kernels; below that, their fixed cost does: {small['published_us']:.1f} µs at one token (dispatch "
              f"{small['dispatch_us']:.1f}, combine {small['combine_us']:.1f}) where the model prices two collective "
              f"latencies, {small['modelled_us']:.1f} µs. Priced at the published times, a DeepSeek step over "
              f"{moe_layers} MoE layers would take {(small['published_us'] - small['modelled_us']) * moe_layers / 1e3:.1f} "
              f"ms more at a few tokens per rank, {(at512['published_us'] - at512['modelled_us']) * moe_layers / 1e3:.1f} "
              "ms more at the 512 of the MLPerf rows 19a-b (bf16; NVFP4 dispatch is 3.06x faster at 2,048 tokens, the "
              "blog's post-quant table), "
              f"{(big['published_us'] - big['modelled_us']) * moe_layers / 1e3:.1f} ms at 2,048. Not repriced: rows "
              "17a-c ran AllGather and ReduceScatter at EP8 (blog 4), and this kernel, TensorRT-LLM's default since, "
              "is later than the MLPerf v5.1 runs; a per-call floor for the all-to-all would be a kernel-set term of "
              "its own (the collective latency is shared with the all-reduce, and SGLang's row 18 runs DeepEP). "
              "Either way it is 1-2.5 ms of the 40-100 ms gap."]
    return lines


def main() -> int:
    print(json.dumps({"runs": {"source": SRC_PRACTICE, "rows": run_rows()},
                      "fused_topk": {"source": SRC_BLOG3, **topk_check()},
                      "ep_imbalance": {"source": SRC_BLOG4, **imbalance_rows()},
                      "alltoall_ep8_gb200": {"source": SRC_BLOG18, "rows": alltoall_rows()}}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
