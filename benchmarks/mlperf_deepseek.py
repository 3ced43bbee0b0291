"""MLPerf Inference v5.1 DeepSeek-R1 Offline runs on the benchmark's own lengths (validation rows 19a-19b).

Used by ``benchmarks/validate_perf.py`` (section "2025-26 models"). An independent check of the large-MoE
step model: the same model (DeepSeek-R1, 671B, MLA + 256-expert MoE), the same engine (TensorRT-LLM) and the
same layout as the TensorRT-LLM DeepSeek-R1 rows 17a-c, but a different publisher, workload and audit.

Published numbers (MLPerf Inference v5.1 Closed, datacenter, Offline, tokens/s of the whole system; the result
table at mlcommons.org, also collected in github.com/openshift-psap/performance-dashboard
``mlperf-data/mlperf-5.1.csv``):

- 5.1-0069 NVIDIA DGX B200 (8x B200-SXM-180GB, TensorRT): 33,379.0 (Server 18,592.2).
- 5.1-0071 NVIDIA GB200 NVL72 (72x GB200-186GB, TensorRT): 289,712 (Server 167,578).
- Same code on partners' 8x B200 (for the spread, not rows): Dell XE9680L 30,493.3 (5.1-0024), Dell XE9685L
  30,766.5 (5.1-0028), GigaComputing G894-SD1 30,873.9 (5.1-0046), Google DGX B200 31,920.3 (5.1-0047).

How NVIDIA ran them (``closed/NVIDIA/configs/{B200-SXM-180GBx8,GB200-NVL72_GB200-186GB_aarch64x72}/Offline/
deepseek-r1.py`` of github.com/mlcommons/inference_results_v5.1, read from a public fork of that repository):
TensorRT-LLM (PyTorch runtime) with ``tensor_parallelism`` 8, ``moe_expert_parallelism`` 8 and
``enable_attention_dp`` (TP8 EP8 attention-DP per 8 GPUs; the GB200 NVL72 run is 9 such replicas), NVFP4
checkpoint (``precision: fp4``) with an FP8 KV cache, ``gpu_batch_size`` 512 (TensorRT-LLM's
``max_batch_size``, per attention-DP rank: 4,096 sequences per replica, under the harness's
``max_concurrency`` 5,120), ``max_num_tokens`` 4,608 per rank, ``enable_chunked_context`` off,
``batch_scheduler_policy: max_util``, ``kvcache_free_gpu_mem_frac`` 0.9, ``max_input_len`` 3,140,
``max_seq_len`` 3,140 + 20,000, ``min_query_count`` 26,328 (B200; x 8 on the NVL72), ``min_duration`` 600 s.

The lengths: the 4,388 samples of the benchmark's data set (``scenarios/traces/mlperf_deepseek_r1.csv``: input
tokens and reference output tokens per sample, from the openshift-psap/performance-dashboard copy
``datasets/summaries/deepseek-r1.csv``). Its reference outputs average 4,043.45 tokens, the reference run's
published "mean-output-tok-len" (github.com/mlcommons/inference ``language/deepseek-r1/README.md``, one version);
capped at the benchmark's 20,000 output tokens they average 3,886.2274, the README's later figure and the
``TOKENS_PER_SAMPLE`` reference of MLCommons' submission checker, whose accuracy gate requires at least 0.9 x
of it per sample (same repository, ``tools/submission/``). Inputs average 803.8 tokens, at most 3,140 (NVIDIA's
``max_input_len``). The tokens per sample these two runs generated are not in the public result table (their
summary logs were not available to us), so the rows run the reference outputs capped at 20,000; the report
shows how little +-10 % of output length moves the result (:func:`simulate`, ``output_scale``).

How the runs are modelled (no per-row factor, nothing fitted on these rows):

- Each replica is one 8-GPU TP8 EP8 attention-DP group (``data_parallel_attention``): the step model's
  busiest attention-DP and expert-parallel ranks, dispatch/combine and MLA as in
  docs/models_and_parallelism.md. The engine is :mod:`mlperf_server`'s TensorRT-LLM in-flight batching
  (``batching.scheduler: trtllm``, ``kv_reservation: prompt`` for ``max_util``, no chunked context) with the
  replica's limits the per-rank ones x 8: ``max_num_seqs`` 4,096 and ``max_batched_tokens`` 36,864 (the
  simulator budgets the replica as a whole; TensorRT-LLM budgets each rank, and its attention-DP balancing
  holds prompts back until every rank has one, which the step model's round-robin placement approximates).
- Weights priced at fp4 throughout (the checkpoint keeps attention in FP8: a few % optimistic, as for 17b/17c).
- The Offline query: ``min_query_count`` samples (:func:`mlperf_server.offline_query`, shuffled passes over the
  4,388 samples) at t = 0, drained; throughput = output tokens / time to the last completion. LoadGen sends at
  least ``min_query_count`` (more only if ``offline_expected_qps`` x ``min_duration`` asks for more; here
  10 x 600 s does not); the runs' logs were not checked. The drain of the longest outputs (up to 20,000 tokens)
  matters: one pass of 4,388 samples instead of six simulates 19a at 39,271 tokens/s instead of 61,843 (measured when
  these rows were added), so a longer query than configured would only raise the simulated throughput.
"""
from __future__ import annotations

import csv
import pathlib
from dataclasses import dataclass

import mlperf_server

ROOT = pathlib.Path(__file__).resolve().parents[1]
LENGTHS = ROOT / "scenarios" / "traces" / "mlperf_deepseek_r1.csv"
SRC = ("MLPerf Inference v5.1 Closed (mlcommons.org results; github.com/openshift-psap/performance-dashboard "
       "mlperf-data/mlperf-5.1.csv); config: github.com/mlcommons/inference_results_v5.1 closed/NVIDIA/configs/")
MAX_OUTPUT = 20_000       # the benchmark's output cap (MLCommons; NVIDIA's max_seq_len = 3,140 + 20,000)
MAX_INPUT = 3_140         # NVIDIA's max_input_len: the longest prompt of the data set
RANK_BATCH = 512          # gpu_batch_size (TensorRT-LLM max_batch_size per attention-DP rank)
RANK_TOKENS = 4_608       # max_num_tokens per rank
KV_FRACTION = 0.90        # kvcache_free_gpu_mem_frac
TP = EP = 8


@dataclass(frozen=True)
class OfflineRow:
    """One MLPerf DeepSeek-R1 Offline result and how it was run."""

    id: str
    system: str
    gpu: str
    gpus: int
    query: int                 # samples in the Offline query (NVIDIA's min_query_count)
    published: float           # output tokens/s of the whole system
    source: str


ROWS = [
    OfflineRow("19a", "NVIDIA DGX B200 (5.1-0069)", "b200", 8, 26_328, 33_379.0, SRC + "B200-SXM-180GBx8"),
    OfflineRow("19b", "NVIDIA GB200 NVL72 (5.1-0071)", "gb200", 72, 26_328 * 8, 289_712.0,
               SRC + "GB200-NVL72_GB200-186GB_aarch64x72"),
]
PARTNER_B200 = {"Dell XE9680L (5.1-0024)": 30_493.3, "Dell XE9685L (5.1-0028)": 30_766.5,
                "GigaComputing G894-SD1 (5.1-0046)": 30_873.9, "Google DGX B200 (5.1-0047)": 31_920.3}
"""Partners' 8x B200 DeepSeek-R1 Offline results with NVIDIA's code (tokens/s): the spread of one configuration."""


def lengths(cap: int | None = MAX_OUTPUT) -> tuple[list[int], list[int]]:
    """Input and reference output tokens of the 4,388 samples, in file order; outputs capped at ``cap``."""
    with LENGTHS.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    outs = [int(r["output_tokens"]) for r in rows]
    return [int(r["prompt_tokens"]) for r in rows], [o if cap is None else min(o, cap) for o in outs]


def write_query(path: pathlib.Path, query: int, output_scale: float = 1.0) -> None:
    """The Offline query (``query`` samples, shuffled passes) at t = 0, outputs capped at :data:`MAX_OUTPUT`
    and then scaled by ``output_scale`` (each rounded, at least 1; a sensitivity knob, 1 = the reference)."""
    prompts, outputs = lengths()
    outputs = [max(1, round(o * output_scale)) for o in outputs]
    order = mlperf_server.offline_query(len(prompts), query)
    path.write_text("timestamp_s,prompt_tokens,output_tokens\n"
                    + "".join(f"0,{prompts[i]},{outputs[i]}\n" for i in order), encoding="utf-8")


def decode_context() -> float:
    """Mean context of a decoding sequence (tokens) over the capped samples: a batch holds each sample for as many
    iterations as it generates, on average halfway through its output, ``sum(o * (p + o / 2)) / sum(o)``."""
    prompts, outputs = lengths()
    return sum(o * (p + o / 2) for p, o in zip(prompts, outputs)) / sum(outputs)


def scenario(row: OfflineRow, trace: pathlib.Path, output_scale: float = 1.0) -> dict:
    """Scenario (dict) of ``row``'s Offline run for ``sim.api.run`` (writes the query to ``trace``)."""
    write_query(trace, row.query, output_scale)
    return {
        "name": f"mlperf-dsr1-{row.id}", "seed": 1, "duration": 1.0, "drain": True, "model": "deepseek-r1",
        "workload": {"arrival": {"process": "trace", "path": str(trace)}},
        "fleet": {"router": "round_robin", "pools": [{
            "name": "main", "gpu": row.gpu, "replicas": row.gpus // TP, "tensor_parallel": TP,
            "expert_parallel": EP, "data_parallel_attention": True, "max_model_len": MAX_INPUT + MAX_OUTPUT,
            "gpu_memory_utilization": KV_FRACTION,
            "batching": {"scheduler": "trtllm", "kv_reservation": "prompt", "max_num_seqs": RANK_BATCH * TP,
                         "max_batched_tokens": RANK_TOKENS * TP}}]},
        "perf": mlperf_server.perf_block(row.gpu, "fp4", False),
        "metrics": {"records": "none"},
    }


def simulate(row: OfflineRow, output_scale: float = 1.0) -> float:
    """Simulated output tokens/s of ``row``'s whole system (``sim.api.run``; ``output_scale``: :func:`write_query`)."""
    import tempfile  # noqa: PLC0415
    import warnings  # noqa: PLC0415

    from sim.api import run  # noqa: PLC0415
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no prices: economics warns that GPUs cost 0
        result = run(scenario(row, pathlib.Path(tmp) / "query.csv", output_scale))
    return float(result.summary["throughput"]["output_tokens_per_s"])
