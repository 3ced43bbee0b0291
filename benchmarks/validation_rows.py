"""The published measurements the validation page (``validate_perf.py``) sets the step-time model against.

One :class:`Row` per published number, with its source and the configuration that produced it: :data:`ROWS` for
the main table, :data:`ROWS_2026` for the section on the 2025-26 models. How each row runs is in
:mod:`validation_runs`.
"""
from __future__ import annotations

from dataclasses import dataclass

import mlperf_deepseek
import mlperf_server
from sim.perf.parallel import Layout

SRC_TRT05_H100 = "TensorRT-LLM release/0.5.0 docs/source/performance.md (github.com/NVIDIA/TensorRT-LLM)"
SRC_TRT_A100 = "TensorRT-LLM performance page, quoted in github.com/hahnyuan/LLM-Viewer issue #4"
SRC_TRT05_H200 = "TensorRT-LLM release/0.5.0 docs/source/blogs/H200launch.md (github.com/NVIDIA/TensorRT-LLM)"
SRC_MLPERF = "MLPerf Inference v4.1 Closed, github.com/mlcommons/inference_results_v4.1 closed/NVIDIA/results/"
SRC_MLPERF40 = "MLPerf Inference v4.0 Closed, github.com/mlcommons/inference_results_v4.0 closed/NVIDIA/results/"
SRC_TRT_OVERVIEW = "TensorRT-LLM docs/source/developer-guide/perf-overview.md (github.com/NVIDIA/TensorRT-LLM)"

OPENORCA_INPUT_TOKENS = 222
"""Mean prompt length of MLPerf's 24,576 Llama-2-70B OpenOrca samples (222.3; the simulator runs the
samples themselves, this mean is for the closed-form estimate and the table)."""

MAX_AUTO_BATCH = 2048
MAX_BATCHED_TOKENS = 8192


@dataclass(frozen=True)
class Row:
    """One published number and the configuration that produced it."""

    id: str
    gpu: str
    model: str
    tp: int
    gpus: int
    weight_dtype: str
    kv_dtype: str
    batch: int | None
    input_tokens: int
    output_tokens: int
    published: float           # output tok/s over all `gpus` (or seconds for ttft rows)
    source: str
    role: str = "holdout"      # "fit:<group>" or "holdout"
    metric: str = "throughput"  # "throughput" (output tok/s) or "ttft" (seconds, batch 1)
    note: str = ""
    ep: int = 1                # expert parallel size (1 or tp)
    dp_attention: bool = False  # data-parallel attention within the tp GPUs
    dataset: str = "fixed"      # "fixed" lengths; "openorca" or "mlperf-dsr1": MLPerf's samples (means shown)
    prompts: int | None = None  # requests of the published offline run, all at t = 0 (None: 2 x batch per replica)
    scheduler: str = "vllm-v0"  # ``batching.scheduler`` of the simulated run (the engine the row was measured on)
    kernels: str = "trtllm"     # ``perf.kernels``: the kernel set of the row's engine where one is traced (vllm)

    @property
    def layout(self) -> Layout:
        return Layout(tp=self.tp, ep=self.ep, dp_attention=self.dp_attention)

    @property
    def software(self) -> str:
        """Serving-software generation of the row (one setting per source, never per row)."""
        return "trtllm-0.5" if self.source in (SRC_TRT05_H100, SRC_TRT05_H200) else "current"

    @property
    def kv_sharing(self) -> str:
        return SOFTWARE_KV_SHARING[self.software]


SOFTWARE_KV_SHARING = {"trtllm-0.5": "per_query_head", "current": "grouped"}
"""``perf.attention_kv_sharing`` per software generation. TensorRT-LLM v0.5's generation-phase
attention kernel ran one thread block per (sequence, query head) (its masked multi-head attention
kernel, cpp/tensorrt_llm/kernels/decoderMaskedMultiheadAttention in github.com/NVIDIA/TensorRT-LLM),
so a grouped-query model's KV cache was read once per query head; NVIDIA later reported its improved
GQA generation kernels "up to 2.4x" faster on Llama-70B "over TensorRT-LLM v0.5"
(docs/source/blogs/Falcon180B-H200.md). Every other source is a later release with grouped reads."""


ROWS: list[Row] = [
    # TensorRT-LLM v0.5.0, 1xH100 FP8 (weights and KV cache in fp8), static batch
    Row("7a", "h100-sxm", "llama-2-7b", 1, 1, "fp8", "fp8", 64, 128, 128, 9193, SRC_TRT05_H100, "fit:h100-fp8"),
    Row("7b", "h100-sxm", "llama-2-7b", 1, 1, "fp8", "fp8", 64, 128, 2048, 5367, SRC_TRT05_H100, "fit:h100-fp8"),
    Row("7c", "h100-sxm", "llama-2-7b", 1, 1, "fp8", "fp8", 64, 2048, 128, 2058, SRC_TRT05_H100, "fit:h100-fp8"),
    Row("7d", "h100-sxm", "llama-2-7b", 1, 1, "fp8", "fp8", 32, 2048, 2048, 2230, SRC_TRT05_H100, "fit:h100-fp8"),
    Row("7e", "h100-sxm", "llama-2-70b", 4, 4, "fp8", "fp8", 64, 128, 128, 3317, SRC_TRT05_H100),
    Row("7f", "h100-sxm", "llama-2-70b", 4, 4, "fp8", "fp8", 64, 2048, 128, 843, SRC_TRT05_H100),
    Row("7g", "h100-sxm", "llama-2-70b", 4, 4, "fp8", "fp8", 64, 2048, 2048, 1583, SRC_TRT05_H100),
    # TensorRT-LLM, 1xA100 fp16, LLaMA-7B TP1
    Row("8a", "a100-80gb", "llama-2-7b", 1, 1, "bf16", "bf16", 256, 128, 128, 5353, SRC_TRT_A100, "fit:a100-bf16"),
    Row("8b", "a100-80gb", "llama-2-7b", 1, 1, "bf16", "bf16", 32, 128, 2048, 1518, SRC_TRT_A100, "fit:a100-bf16"),
    Row("8c", "a100-80gb", "llama-2-7b", 1, 1, "bf16", "bf16", 32, 2048, 128, 547, SRC_TRT_A100, "fit:a100-bf16"),
    Row("8d", "a100-80gb", "llama-2-7b", 1, 1, "bf16", "bf16", 16, 2048, 2048, 613, SRC_TRT_A100, "fit:a100-bf16"),
    Row("8e", "a100-80gb", "llama-2-7b", 1, 1, "bf16", "bf16", 1, 128, 1, 0.0161, SRC_TRT_A100, metric="ttft"),
    Row("8f", "a100-80gb", "llama-2-7b", 1, 1, "bf16", "bf16", 1, 2048, 1, 0.1205, SRC_TRT_A100, metric="ttft"),
    # TensorRT-LLM v0.5.0, H200 FP8
    Row("9a", "h200-sxm", "llama-2-13b", 1, 1, "fp8", "fp8", 1024, 128, 128, 11819, SRC_TRT05_H200),
    Row("9b", "h200-sxm", "llama-2-70b", 1, 1, "fp8", "fp8", 512, 128, 128, 3014, SRC_TRT05_H200),
    Row("9c", "h200-sxm", "llama-2-70b", 4, 4, "fp8", "fp8", 512, 128, 2048, 6616, SRC_TRT05_H200),
    Row("9d", "h200-sxm", "llama-2-70b", 2, 2, "fp8", "fp8", 64, 2048, 128, 682, SRC_TRT05_H200),
    Row("9e", "h200-sxm", "llama-2-70b", 1, 1, "fp8", "fp8", 32, 2048, 128, 303, SRC_TRT05_H200),
    # MLPerf Inference v4.1 Offline, Llama-2-70B, the 24,576 OpenOrca samples; outputs scaled to the tokens
    # per sample each system generated (tokens/s / samples/s: H100 and B200 from their Server runs, H200 its own)
    Row("1", "h100-sxm", "llama-2-70b", 2, 8, "fp8", "fp8", 896, OPENORCA_INPUT_TOKENS, 290, 24524.9,
        SRC_MLPERF + "DGX-H100_H100-SXM-80GBx8_TRT", note="TP2 x 4, batch 896 (NVIDIA's config)",
        dataset="openorca", role="fit:mlperf-v4.1-hopper"),
    Row("2", "h200-sxm", "llama-2-70b", 1, 8, "fp8", "fp8", 806, OPENORCA_INPUT_TOKENS, 291, 31302.7,
        SRC_MLPERF + "H200-SXM-141GBx8_TRT", note="TP1 x 8, batch 806 (NVIDIA's config)", dataset="openorca",
        role="fit:mlperf-v4.1-hopper"),
    Row("5", "b200", "llama-2-70b", 1, 1, "fp4", "fp8", None, OPENORCA_INPUT_TOKENS, 272, 11264.4,
        SRC_MLPERF + "B200-SXM-180GBx1_TRT (preview)", note="batch not published: KV-limited",
        dataset="openorca", role="fit:b200-fp4"),
    # MLPerf Inference v4.0 Offline (the previous TensorRT-LLM generation), the llama2-70b-99.9 runs
    Row("1a", "h100-sxm", "llama-2-70b", 2, 8, "fp8", "fp8", 896, OPENORCA_INPUT_TOKENS, 292, 21805.8,
        SRC_MLPERF40 + "DGX-H100_H100-SXM-80GBx8_TRT", note="v4.0; TP2 x 4, batch 896 (NVIDIA's config)",
        dataset="openorca", role="fit:mlperf-v4.0-hopper"),
    Row("2a", "h200-sxm", "llama-2-70b", 1, 8, "fp8", "fp8", 806, OPENORCA_INPUT_TOKENS, 293, 27738.3,
        SRC_MLPERF40 + "H200-SXM-141GBx8_TRT", note="v4.0; TP1 x 8, batch 806 (NVIDIA's config)", dataset="openorca",
        role="fit:mlperf-v4.0-hopper"),
    # MLPerf Inference v4.1 Offline, AMD's fp8 vLLM engine on 8x MI300X (TP1 x 8), the same systems as the held-out
    # Server rows 13g and 13h: the MI300X fp8 calibration (mlperf_server.AMD_OFFLINE)
    Row("4", "mi300x", "llama-2-70b", 1, 8, "fp8", "fp8", mlperf_server.AMD_HARNESS_ENGINE["max_num_seqs"],
        OPENORCA_INPUT_TOKENS, 293, 23514.8, mlperf_server.SRC_AMD + "8xMI300X_2xEPYC-9374F",
        note="vLLM, TP1 x 8, batch the harness's max_num_seqs (inferred), prompts longest first, KV gate 31 %",
        dataset="openorca", role="fit:mi300x-fp8"),
    Row("4a", "mi300x", "llama-2-70b", 1, 8, "fp8", "fp8", mlperf_server.AMD_HARNESS_ENGINE["max_num_seqs"],
        OPENORCA_INPUT_TOKENS, 293, 24109.8, mlperf_server.SRC_AMD + "8xMI300X_2xEPYC-TURIN (preview)",
        note="the same engine on a newer host CPU", dataset="openorca", role="fit:mi300x-fp8"),
    # TensorRT-LLM perf overview, Llama 3.3 70B, max-throughput offline (published per GPU; x gpus here)
    Row("12a", "h100-sxm", "llama-3.3-70b", 2, 2, "fp8", "fp8", None, 1000, 1000, 2 * 2209, SRC_TRT_OVERVIEW),
    Row("12b", "h200-sxm", "llama-3.3-70b", 2, 2, "fp8", "fp8", None, 1000, 1000, 2 * 2587, SRC_TRT_OVERVIEW),
    Row("12c", "b200", "llama-3.3-70b", 1, 1, "fp4", "fp8", None, 1000, 1000, 6920, SRC_TRT_OVERVIEW, "fit:b200-fp4"),
    Row("12d", "gb200", "llama-3.3-70b", 1, 1, "fp4", "fp8", None, 1000, 1000, 7769, SRC_TRT_OVERVIEW),
    Row("12e", "h100-sxm", "llama-3.3-70b", 2, 2, "fp8", "fp8", None, 8192, 1024, 2 * 398, SRC_TRT_OVERVIEW),
    Row("12f", "h200-sxm", "llama-3.3-70b", 2, 2, "fp8", "fp8", None, 8192, 1024, 2 * 537, SRC_TRT_OVERVIEW),
    Row("12g", "b200", "llama-3.3-70b", 1, 1, "fp4", "fp8", None, 8192, 1024, 1362, SRC_TRT_OVERVIEW, "fit:b200-fp4"),
    Row("12h", "gb200", "llama-3.3-70b", 1, 1, "fp4", "fp8", None, 8192, 1024, 1491, SRC_TRT_OVERVIEW),
]

# ---- 2025-26 models (issue #14): Llama-3.1-405B and Qwen3-235B-A22B ------------------------------
# TensorRT-LLM's perf-overview at v1.0 (PyTorch backend, trtllm-bench offline max throughput, NVIDIA
# ModelOpt FP8/FP4 checkpoints) reports TOTAL output tokens/s of the TP group (the v0.x tables this
# file quotes above were per GPU). MoE models ran with --ep and enable_attention_dp; the table does not
# give the EP size: EP = TP is assumed here.
SRC_TRT_OVERVIEW_V1 = ("TensorRT-LLM docs/source/performance/perf-overview.md at commit 00f3768 "
                       "(github.com/NVIDIA/TensorRT-LLM)")
MOE_NOTE = "EP = TP and attention data-parallel assumed"
SRC_TRT_DSR1 = ("TensorRT-LLM docs/source/blogs/Best_perf_practice_on_DeepSeek-R1_in_TensorRT-LLM.md at commit "
                "01c4ece (github.com/NVIDIA/TensorRT-LLM), max-throughput sections")
DSR1_NOTE = ("TP8 EP8 attention-DP as published; batch = max_batch_size per rank x 8; FP4 checkpoint: MoE experts "
             "in NVFP4, priced as fp4 throughout")
ROWS_2026: list[Row] = [
    Row("15a", "h200-sxm", "llama-3.1-405b", 8, 8, "fp8", "fp8", None, 1000, 1000, 3330, SRC_TRT_OVERVIEW_V1),
    Row("15b", "h100-sxm", "llama-3.1-405b", 8, 8, "fp8", "fp8", None, 1000, 1000, 2919, SRC_TRT_OVERVIEW_V1),
    Row("15c", "h200-sxm", "llama-3.1-405b", 8, 8, "fp8", "fp8", None, 128, 2048, 5348, SRC_TRT_OVERVIEW_V1),
    Row("15d", "h100-sxm", "llama-3.1-405b", 8, 8, "fp8", "fp8", None, 2048, 2048, 2296, SRC_TRT_OVERVIEW_V1),
    Row("15e", "b200", "llama-3.1-405b", 4, 4, "fp4", "fp8", None, 1000, 1000, 5209, SRC_TRT_OVERVIEW_V1),
    Row("15f", "h200-sxm", "llama-3.1-405b", 8, 8, "fp8", "fp8", None, 5000, 500, 650, SRC_TRT_OVERVIEW_V1),
    Row("16a", "h200-sxm", "qwen3-235b-a22b", 8, 8, "fp8", "fp8", None, 1000, 1000, 23789, SRC_TRT_OVERVIEW_V1,
        note=MOE_NOTE, ep=8, dp_attention=True),
    Row("16b", "h100-sxm", "qwen3-235b-a22b", 8, 8, "fp8", "fp8", None, 1000, 1000, 14898, SRC_TRT_OVERVIEW_V1,
        note=MOE_NOTE, ep=8, dp_attention=True),
    Row("16c", "b200", "qwen3-235b-a22b", 8, 8, "fp4", "fp8", None, 1000, 1000, 42391, SRC_TRT_OVERVIEW_V1,
        note=MOE_NOTE, ep=8, dp_attention=True),
    Row("16d", "h200-sxm", "qwen3-235b-a22b", 8, 8, "fp8", "fp8", None, 2048, 2048, 16672, SRC_TRT_OVERVIEW_V1,
        note=MOE_NOTE, ep=8, dp_attention=True),
    Row("16e", "h200-sxm", "qwen3-235b-a22b", 8, 8, "fp8", "fp8", None, 5000, 500, 3623, SRC_TRT_OVERVIEW_V1,
        note=MOE_NOTE, ep=8, dp_attention=True),
    Row("16f", "h100-sxm", "qwen3-235b-a22b", 8, 8, "fp8", "fp8", None, 128, 2048, 19658, SRC_TRT_OVERVIEW_V1,
        note=MOE_NOTE, ep=8, dp_attention=True),
    # DeepSeek-R1 (MLA + 256-expert MoE), 1024/2048 tokens, published batch and layout
    Row("17a", "h200-sxm", "deepseek-r1", 8, 8, "fp8", "bf16", 1024, 1024, 2048, 11489, SRC_TRT_DSR1,
        note=DSR1_NOTE, ep=8, dp_attention=True),
    Row("17b", "b200", "deepseek-r1", 8, 8, "fp4", "bf16", 3072, 1024, 2048, 36384, SRC_TRT_DSR1,
        note=DSR1_NOTE, ep=8, dp_attention=True),
    Row("17c", "b200", "deepseek-r1", 8, 8, "fp4", "fp8", 7168, 1024, 2048, 43146, SRC_TRT_DSR1,
        note=DSR1_NOTE, ep=8, dp_attention=True),
]
# MLPerf Inference v5.1 DeepSeek-R1 Offline (an independent check of the rows above: same model, engine and
# layout, another publisher and workload): the benchmark's 4,388 samples (means shown), NVIDIA's published
# configuration per 8 GPUs (benchmarks/mlperf_deepseek.py, which cites every number)
_DSR1_IN, _DSR1_OUT = (sum(x) / len(x) for x in mlperf_deepseek.lengths())
ROWS_2026 += [Row(r.id, r.gpu, "deepseek-r1", mlperf_deepseek.TP, r.gpus, "fp4", "fp8",
                  mlperf_deepseek.RANK_BATCH * mlperf_deepseek.TP, round(_DSR1_IN), round(_DSR1_OUT), r.published,
                  r.source, note=f"{r.system}; TP8 EP8 attention-DP per 8 GPUs, batch 512 per rank (NVIDIA's config)",
                  ep=mlperf_deepseek.EP, dp_attention=True, dataset="mlperf-dsr1") for r in mlperf_deepseek.ROWS]
MLPERF_DSR1 = {r.id: r for r in mlperf_deepseek.ROWS}
# DeepSeek-R1 on one node with other engines (is the one-node gap TensorRT-LLM's?): dstack's offline throughput
# benchmark, 8x H200 SXM (Lambda), SGLang 0.4.3.post2 and a vLLM 0.7.4 nightly, DeepSeek's own FP8 (block-scaled)
# checkpoint, KV cache in the model's bf16 (dtype auto), fixed lengths (3,200 random-token prompts, ignore_eos
# outputs), the whole query of `prompts` requests submitted at once. The documented command is
# `benchmark_throughput.py --backend sglang|vllm --tensor-parallel-size=8 --max-model-len=32768` (no
# --enable-dp-attention, whose default is off; both engines then shard the experts TP-wise: EP1). Published
# tok/s = total_output_tokens / elapsed_time of the run. Batch: the engine's own (KV-limited), here the largest
# the KV cache holds for whole sequences, as for every row without a published batch.
SRC_DSTACK = ("dstack, \"DeepSeek R1 inference performance: MI300X vs. H200\" (dstack.ai/blog/h200-mi300x-deepskeek-benchmark, "
              "March 2025), raw data github.com/dstackai/benchmarks Deepseek-R1/raw_data/offline_results.csv")
DSTACK_NOTE = "TP8 (experts TP-sharded, no DP attention) as the documented command runs; 1,024 prompts at once"
ROWS_2026 += [
    Row("20a", "h200-sxm", "deepseek-r1", 8, 8, "fp8", "bf16", None, 3200, 800, 819_200 / 708.2590959, SRC_DSTACK,
        note="SGLang 0.4.3.post2; " + DSTACK_NOTE, prompts=1024, scheduler="sglang",
        kernels="sglang-0.4"),
    Row("20b", "h200-sxm", "deepseek-r1", 8, 8, "fp8", "bf16", None, 3200, 1600, 1_638_400 / 1051.181447, SRC_DSTACK,
        note="SGLang 0.4.3.post2; " + DSTACK_NOTE, prompts=1024, scheduler="sglang",
        kernels="sglang-0.4"),
    Row("20c", "h200-sxm", "deepseek-r1", 8, 8, "fp8", "bf16", None, 3200, 3200, 3_276_800 / 1877.895927, SRC_DSTACK,
        note="SGLang 0.4.3.post2; " + DSTACK_NOTE, prompts=1024, scheduler="sglang",
        kernels="sglang-0.4"),
    Row("20d", "h200-sxm", "deepseek-r1", 8, 8, "fp8", "bf16", None, 3200, 800, 819_200 / 837.3510345, SRC_DSTACK,
        note="vLLM 0.7.4.dev181 (FlashMLA); " + DSTACK_NOTE, prompts=1024, kernels="vllm-0.7"),
    Row("20e", "h200-sxm", "deepseek-r1", 8, 8, "fp8", "bf16", None, 3200, 1600, 1_638_400 / 1568.906264, SRC_DSTACK,
        note="vLLM 0.7.4.dev181 (FlashMLA); " + DSTACK_NOTE, prompts=1024, kernels="vllm-0.7"),
]
# The same question with later releases: GPUStack's performance lab, DeepSeek-R1-0528 (DeepSeek-R1's architecture
# and FP8 checkpoint format) on 8x H200, SGLang v0.5.3 (`--tp 8 --enable-dp-attention`) and vLLM v0.11.0
# (`vllm serve -tp 8`), `vllm bench serve` random data sets, every request sent at once (no request rate):
# "Output token throughput" of each run; lengths = the runs' total input / generated tokens per request. Without
# `--dp` SGLang turns attention-DP off (server_args.py: `if self.dp_size == 1: self.enable_dp_attention = False`),
# so both engines ran TP8 with TP-sharded experts. Prompt-dominated: they check the prompt side of rows 20a-e.
SRC_GPUSTACK = ("GPUStack performance lab, \"Optimizing DeepSeek-R1 Throughput on NVIDIA H200 GPUs\" "
                "(docs.gpustack.ai/latest/performance-lab/deepseek-r1/h200; github.com/gpustack/gpustack "
                "docs/performance-lab/deepseek-r1/h200.md), \"Other Benchmark Cases\" results")
GPUSTACK_NOTE = "TP8 (experts TP-sharded; attention-DP off without --dp); all requests at once"
ROWS_2026 += [
    Row(rid, "h200-sxm", "deepseek-r1", 8, 8, "fp8", "bf16", None, isl, osl, tok_s, SRC_GPUSTACK,
        note=f"{engine}; {GPUSTACK_NOTE}", prompts=n, scheduler=scheduler,
        kernels="vllm" if engine.startswith("vLLM") else "trtllm")
    for rid, engine, scheduler, isl, osl, n, tok_s in [
        ("21a", "SGLang v0.5.3", "sglang", 3995, 200, 500, 767.42),     # 1,997,530 input tokens / 500
        ("21b", "SGLang v0.5.3", "sglang", 1997, 100, 500, 907.31),     # 998,393 / 500
        ("21c", "SGLang v0.5.3", "sglang", 31999, 100, 100, 49.89),     # 3,199,900 / 100; 9,952 generated
        ("21d", "vLLM v0.11.0", "vllm-v1", 3995, 200, 500, 753.67),
        ("21e", "vLLM v0.11.0", "vllm-v1", 1997, 100, 500, 843.71),
        ("21f", "vLLM v0.11.0", "vllm-v1", 31999, 100, 100, 48.33)]]
ONE_NODE_SOURCES = (SRC_DSTACK, SRC_GPUSTACK)


PUBLISHED_TOKENS_PER_SAMPLE = {"1": 21605.8 / 74.42, "2": 31302.7 / 107.477, "5": 10755.6 / 39.57,
                               "1a": 21805.8 / 74.699, "2a": 27738.3 / 94.6223, "4": 23514.8 / 80.15,
                               "4a": 24109.8 / 82.1782}
"""Output tokens per sample each MLPerf system generated (tokens/s / samples/s; v4.1 H100 and B200 from their
Server runs, whose Offline samples/s were not in our notes; the others from their Offline runs)."""


def value_text(row: Row, v: float) -> str:
    """A row's number as the tables print it: milliseconds for a ttft row, tokens/s otherwise."""
    return f"{v * 1e3:.1f} ms" if row.metric == "ttft" else f"{v:,.0f}"
