"""The validation page's section "Where the model is weak" (report lines, fixed text)."""
from __future__ import annotations

WEAKNESSES = [
    "## Where the model is weak",
    "",
    "- **The v0.5 per-query-head setting** is a per-release switch, not a fit: it has no free parameter "
    "(the KV bytes read by decode attention are multiplied by the query-group size, 8 for Llama-2-70B). "
    "It cannot represent partial L2 reuse (7e), nor intermediate releases (v0.7a check below).",
    "- **Short prompts at batch 1 (8e)** remain optimistic by ~20%. The smooth GEMM roofline (fitted on Vidur's "
    "A100 GEMM times by token count, not on these rows) takes the 128-token prefill from −42% (hard max) to about "
    "−20%; the rest is fixed per-kernel time. Vidur's profiles show element-wise kernels costing ~25 µs per "
    "layer even for one token and a ~0.15 ms per-layer floor for prefill attention (their TP1 GEMM times do "
    "not support a separate per-GEMM latency: a joint fit puts it at 0). Those floors are the `pytorch` kernel "
    "set (`perf.kernels: pytorch`, parity section below); they belong to Vidur's PyTorch stack, not to "
    "TensorRT-LLM's fused kernels, and with them 8e would be about +12% and 8f +25% (slow), so these "
    "TensorRT-LLM rows keep the default `trtllm` set.",
    "- **Llama-2-13B at batch 1024 on H200 (9a, ~+24%)** and **TensorRT-LLM v0.5 Llama-2-70B at TP4 (7e, ~+18%)** "
    "are the largest held-out errors. 9a is a TensorRT-LLM v0.5 row of an MHA model (KV sharing does not matter); at batch 1024 and "
    "~190–260 tokens of context its step is dominated by reading the KV cache, which hints that v0.5's "
    "generation kernel reached less of the HBM bandwidth than the GEMMs.",
    "- **Batch sizes not published** (perf-overview rows, B200 MLPerf) are chosen as the KV-cache limit; the "
    "real runs may have used other batch and chunk sizes. The MLPerf Offline rows run each run's whole query "
    "(100,320–274,560 of the benchmark's 24,576 OpenOrca samples, shuffled passes) with NVIDIA's published TP "
    "layouts and batch sizes; their outputs are scaled to the tokens per sample each run generated.",
    "- **Latency under load** (MLPerf Server, section above) is far more sensitive than throughput: near "
    "saturation ±3% of capacity or a few µs of per-token CPU time move it by tens of per cent. The H200 Server "
    "rows follow in TPOT once their round's Hopper FLOPs level is set from its Offline rows (v4.0 returned the "
    "first token about one iteration later than modelled); the H100 Server rows pay a cost their Offline runs do "
    "not (~15% of an iteration in v4.1, ~4% in v4.0; not modelled), and the B200's curve is pinned at one point "
    "only. The v5.0 Server rows (2025 engines, held out) overload at the v4.1 level: the H200 engine ran ~11% "
    "faster than that level (at the level its own Offline run implies, its Server run is 27–36% fast in TPOT), and "
    "the H100's pipeline-parallel engine, priced with its pipeline kept full, is 15.5% below its Offline "
    "throughput at the v4.1 level (6.6% at the H200 v5.0 engine's). AMD's vLLM Server runs on 8x MI300X (v4.1, "
    "held out, another engine and GPU), at the MI300X fp8 FLOPs efficiency fitted on the same systems' Offline runs "
    "(rows 4 and 4a), are ~10% fast at the published load point: the simulated runs hold about half the sequences "
    "and their TPOT is ~40–55% short, while TTFT, set by AMD's request batcher, is within ~7% (not corrected).",
    "- **\"LLaMA-7B\"** in the TensorRT-LLM tables is mapped to the llama-2-7b architecture (same shapes).",
    "- **Blackwell (B200/GB200)** fp4 factors (FLOPs and bandwidth efficiency) are fitted on three throughput "
    "rows (12c, 12g from TensorRT-LLM's perf overview, 5 from MLPerf Offline) and checked on the others; GB200 "
    "uses B200's factors; B200 bf16/fp8 factors and all non-A100 exponents are H100's "
    "(unvalidated for Blackwell).",
    "- **MI300X and H100 PCIe**: H100 PCIe has no published row here (H100 SXM's factors, unvalidated); MI300X's "
    "fp8 FLOPs efficiency is fitted on AMD's MLPerf Offline rows 4 and 4a, its other factors and exponent are "
    "H100's, unvalidated.",
    "- **Attention** in the default `trtllm` kernel set shares the GEMMs' efficiency factors and keeps the hard "
    "max. Vidur's A100 sample shows decode attention reading the KV cache at 85% of peak HBM bandwidth (up to "
    "~95% at large batch; faster than modelled) but prefill attention only 28.5% of peak FLOPs (slower than "
    "modelled); TensorRT-LLM's fused prefill attention is faster than Vidur's (8f, a 2,048-token prefill, is "
    "already +12% slow), so Vidur's attention efficiencies are the `pytorch` kernel set, not the default.",
    "- **High tensor parallelism**: per-GPU GEMMs of a small model at TP 4–8 are below the efficiency of the "
    "TP1 calibration (operator check below); TP > 2 for a 7–13B model is optimistic.",
]
