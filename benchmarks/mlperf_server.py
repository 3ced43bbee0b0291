"""MLPerf Inference v4.0/v4.1/v5.0 Llama-2-70B runs on the real OpenOrca lengths: Server latency, Offline throughput.

Used by ``benchmarks/validate_perf.py`` (Server rows 13, 13b-13h and 14 of the report, and the
MLPerf Offline rows 1, 2, 5, 1a and 2a). Every number here is NVIDIA's published submission (github.com/mlcommons/
inference_results_v4.1, inference_results_v4.0 and inference_results_v5.0, ``closed/NVIDIA/results/<system>/
llama2-70b-99{,.9}/{Server,Offline}/performance/run_1/mlperf_log_{summary,detail}.txt``) and how it was run (same
repositories, ``closed/NVIDIA/configs/llama2-70b/`` and the TensorRT-LLM harness's default runtime flags,
``closed/NVIDIA/code/``; v5.0's ``measurements/<system>/llama2-70b-99/Server/user.conf`` for the H100's
``target_qps`` and ``min_duration``).

How the runs are modelled (mechanisms; the one fitted number is the Hopper FLOPs calibration below):

- **Lengths**: the 24,576 OpenOrca samples of the benchmark (``scenarios/traces/mlperf_openorca_llama2_70b.csv``:
  input tokens and reference output tokens per sample, from the openshift-psap/performance-dashboard copy
  ``mlperf-data/summaries/llama2-70b-99.csv``). The systems generated more tokens than the reference
  answers (tokens/s / samples/s: ~290 per sample on H100, ~272 on B200, against a reference mean of
  218.9), so every output length is scaled by the run's ratio (rounded, at least 1).
- **Engine**: TensorRT-LLM in-flight batching (``batching.scheduler: trtllm``: prompts ride in the
  decode iterations, never chunked; ``enable_chunked_context`` is off by default in NVIDIA's harness),
  with NVIDIA's ``batch_scheduler_policy: max_util`` (``kv_reservation: prompt``: admit on the prompt's
  KV, pause when out); ``kvcache_free_gpu_mem_frac`` 0.90; ``max_num_tokens`` the TensorRT-LLM build
  default, 8,192.
- **Layout**: H100: TP2 x 4 with ``gpu_batch_size`` 1,024 (Server) and 896 (Offline); H200 TP1 x 8 with
  896 (Server) and 806 (Offline); B200 (preview) TP1, batch size not in the published configs: the KV cache's
  limit.
  Requests go to the TP groups round robin.
- **v5.0** (rows 13e, 13f; NVIDIA's 2025 configs, ``configs/llama2-70b/{Server,Offline}/__init__.py`` of the
  round: the H200's ``server_target_qps`` 14.28 x 8 is its log's ``target_qps`` of 114.24; the H100's PP2 config
  has its log's ``min_duration`` of 3,600 s, unlike the TP2 one, while its ``target_qps`` of 107 comes from the
  submission's ``user.conf``, 103 in the config): fp8 GEMM + SwiGLU fused
  (``gemm_swiglu_plugin``, a kernel change the model sees only through the FLOPs level), a smaller
  ``max_num_tokens`` (H200 TP1 x 8: 1,536 at ``gpu_batch_size`` 2,048; H100 PP2 x 4: 1,024 at 1,024 per
  micro-batch, ``kvcache_free_gpu_mem_frac`` 0.95, ``reduce_fusion``). TensorRT-LLM counts each decoding
  sequence against ``max_num_tokens`` (:func:`pool`), so with ~700-1,100 sequences in flight a whole prompt
  of up to 1,021 tokens would rarely fit: the rows split prompts to the budget left (``chunked_prefill``,
  TensorRT-LLM's ``enable_chunked_context`` with ``first_come_first_served`` chunking, which NVIDIA's v5.0
  Hopper Server configs of Mixtral-8x7B and Llama-3.1-405B set explicitly; the public copy of the Llama-2-70B
  one inherits its runtime flags from a parent file not in it, so this is inferred). They run with the v4.1
  FLOPs level (no v5.0 level has a published batch); :data:`OFFLINE_FIT_SCALE` is what each system's v5.0
  Offline run implies alone, :data:`V50_JOINT_SCALE` what both imply fitted as a v4.x level
  (:func:`v50_level_checks`; diagnostics, not offered levels).
- **Server**: Poisson arrivals at the scheduled rate for MLPerf's minimum duration (2,400 s in NVIDIA's
  configs), every request finished (``drain``). **Offline**: the run's whole query at t = 0
  (``samples_per_query`` of its log, :data:`OFFLINE_QUERY`: 4-11 shuffled passes over the 24,576 samples),
  drained; throughput = tokens / time to the last completion, as MLPerf Offline counts it.
- **Hopper FLOPs level**: the H100/H200 rows scale the catalog's fp8 FLOPs efficiency by
  :data:`MLPERF_FLOPS_SCALE`, fitted on the two Offline throughput rows (whose batch is published) and
  checked on the held-out Server rows; :func:`load_points` shows the step-time curve at every published
  load point.
- **AMD's vLLM rows (13g, 13h; held out, a different engine and GPU)**: :data:`AMD_V41`.
- **Streaming**: a Server run returns tokens as they are generated (the harness reports every first
  token to LoadGen, ``FirstTokenComplete``: ``perf.streaming: true``), an Offline run returns each sample once
  (``streaming: false``; NVIDIA's LLM harness sets the executor's streaming only outside Offline,
  ``mIsStreaming = generation_config.streaming && scenario != Offline``, inference_results_v4.0
  ``closed/NVIDIA/code/harness/harness_llm/main_llm.cc``, which also leaves CUDA graphs off, ``use_graphs``). The per-token CPU cost of streaming (``perf.cpu_per_stream_token_s``) stays
  at its default 0: no public figure exists for TensorRT-LLM's executor (``sim.perf.overhead``); the
  report shows the rows' sensitivity to it (:data:`SENSITIVITY`).
"""
from __future__ import annotations

import csv
import math
import pathlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from sim.perf.base import BatchShape, StepTimeModel
from sim.perf.levels import FP8_LEVELS

ROOT = pathlib.Path(__file__).resolve().parents[1]
OPENORCA = ROOT / "scenarios" / "traces" / "mlperf_openorca_llama2_70b.csv"
SRC = "MLPerf Inference v4.1 Closed, github.com/mlcommons/inference_results_v4.1 closed/NVIDIA/results/"
SRC40 = "MLPerf Inference v4.0 Closed, github.com/mlcommons/inference_results_v4.0 closed/NVIDIA/results/"
SRC50 = "MLPerf Inference v5.0 Closed, github.com/mlcommons/inference_results_v5.0 closed/NVIDIA/results/"
SRC_AMD = ("MLPerf Inference v4.1 Closed, github.com/mlcommons/inference_results_v4.1 (commit a2f5d66) "
           "closed/AMD/results/")
AMD_SERVER_DURATION_S = 600.0  # min_duration of AMD's v4.1 Server runs (600,000 ms in their summary logs)
AMD_HARNESS_ENGINE = {"max_num_seqs": 1024, "max_num_batched_tokens": 49152, "gpu_memory_utilization": 0.97}
"""The vLLM engine settings of AMD's flat-layout MLPerf harness when its command line sets none (its ``main.py``
argparse defaults, which override the ``DefaultEngineInput`` dataclass: :data:`AMD_V41`); the v4.1 Server command
sets none of them."""
AMD_HARNESS_BATCHER = (96, 0.3)
"""``(max_requests, timeout_s)`` of AMD's harness-side request batcher at its defaults (``--gpu-batch-size`` 96, "Maximum batch size on harness
side"; ``--batcher-threshold`` 0.3 s, "Maximum time to wait before sending a batch to vLLM"), which the v4.1 Server
command turns on (``--enable-batcher``) without setting either: ``fleet.router.batcher`` (:data:`AMD_V41`)."""
MLPERF_YEAR = {"v4.0": 2024, "v4.1": 2024, "v5.0": 2025}
"""Publication year of each MLPerf Inference round (v4.0 March 2024, v4.1 August 2024, v5.0 April 2025)."""
MAX_NUM_TOKENS = 8192     # TensorRT-LLM build default max_num_tokens (NVIDIA's harness leaves it unset)
KV_FRACTION = 0.90        # NVIDIA's kvcache_free_gpu_mem_frac for llama2-70b
SERVER_DURATION_S = 2400.0  # NVIDIA's min_duration for llama2-70b (2,400,000 ms)
UNLIMITED_BATCH = 8192    # "batch not published": the KV cache is the only limit
HOPPER = ("h100-sxm", "h200-sxm")
MLPERF_FLOPS_SCALE = {lvl.name.removeprefix("mlperf-"): lvl.scale for lvl in FP8_LEVELS}
"""FLOPs efficiency of NVIDIA's fp8 Llama-2-70B engines on Hopper in each MLPerf round (its TensorRT-LLM
generation; the values live in :data:`sim.perf.levels.FP8_LEVELS`, where a CLI user picks them too) relative
to the catalog's H100/H200 fp8 factor (which comes from TensorRT-LLM v0.5 Llama-2-7B rows at batch <= 64), one value per round for both GPUs (same compute die). Fitted on that round's two Offline
throughput rows only (v4.1: validation rows 1 and 2; v4.0: 1a and 2a; the batch is published, so the step time
at that batch is pinned) by ``validation_fit.fit_mlperf_flops_scale`` (``python benchmarks/validate_perf.py
--fit``); every Server row is held out. The evidence that it is a FLOPs level and not a per-sequence or
streaming cost (:func:`load_points`): at the published batch and arrival rate the catalog's step is short by
the same amount at a GPU's Server and Offline point in a round (v4.1 H200 -15.7 % and -15.9 %; v4.0 H200
-29.0 % and -29.5 %, H100 -30.4 % and -28.5 %; v4.1 H100 Offline -15.4 %) although the Server points hold
30-45 % fewer sequences, and each H200 pair lies on one line (v4.1 ~15.6 ms + 134 µs per token, v4.0 ~17 ms
+ 152 µs) whose intercept is the weights' read time."""


def openorca_lengths() -> tuple[list[int], list[int]]:
    """Input and reference output tokens of the 24,576 OpenOrca samples, in file order."""
    with OPENORCA.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [int(r["prompt_tokens"]) for r in rows], [int(r["output_tokens"]) for r in rows]


def offline_query(n_samples: int, query: int, seed: int = 0) -> list[int]:
    """Sample indices of an Offline query of ``query`` samples drawn from ``n_samples``: shuffled whole passes.

    LoadGen's Offline query holds ``samples_per_query`` samples picked from the loaded set in a seeded random
    order, many more than the 24,576 samples when the run must last ``min_duration``; each pass here is one
    permutation (every sample equally often, the mix stationary over the run).

    >>> offline_query(3, 7, seed=1)
    [1, 2, 0, 2, 0, 1, 0]
    """
    rng = random.Random(seed)
    order: list[int] = []
    while len(order) < query:
        perm = list(range(n_samples))
        rng.shuffle(perm)
        order += perm
    return order[:query]


def amd_offline_order(prompts: Sequence[int], query: Sequence[int], engines: int) -> list[int]:
    """The samples of an Offline ``query`` (indices into ``prompts``) in the order AMD's v4.1 Offline harness
    hands them to ``engines`` vLLM engines with ``--sorting descending``, interleaved for a round robin router:
    entry ``k`` goes to engine ``k % engines``, and each engine receives its share in the harness's order.

    AMD's Offline SUT (``SUTVllmFp8Offline_ntp1``, a public flat-layout copy of the harness; :data:`AMD_OFFLINE`)
    splits the query into ``engines`` contiguous ranges of ``ceil(n / engines)`` samples after
    ``even_out_token_count`` has dealt the samples, in LoadGen's order, each to the bucket with the fewest prompt
    tokens so far (the first such; a bucket that reaches the range size is closed), full buckets first; it sorts
    each range by prompt length, longest first (a stable sort), and gives each engine its whole range in one
    ``LLM.generate`` call, whose V0 scheduler admits in that order. When ``n`` is not a multiple of ``engines``
    the last range is shorter; its missing entries leave the last rounds of the interleave short, so their
    samples (the shortest prompts) reach the engines round robin instead (at most ``engines - 1`` per round).

    Prompts of 5, 1, 4, 2, 3 and 6 tokens on two engines: the buckets fill as [1, 2, 4] (full first) and
    [0, 3, 5]; sorted longest first, [2, 4, 1] and [5, 0, 3]; interleaved:

    >>> amd_offline_order([5, 1, 4, 2, 3, 6], [0, 1, 2, 3, 4, 5], 2)
    [2, 5, 4, 0, 1, 3]
    """
    n = len(query)
    size = -(-n // engines)
    buckets: list[list[int]] = [[] for _ in range(engines)]
    tokens = [0] * engines
    full: list[list[int]] = []
    for i in query:
        b = tokens.index(min(tokens))
        buckets[b].append(i)
        tokens[b] += prompts[i]
        if len(buckets[b]) == size and len(buckets) > 1:
            full.append(buckets.pop(b))
            del tokens[b]
    dealt = [i for bucket in full + buckets for i in bucket]
    ranges = [sorted(dealt[e * size:(e + 1) * size], key=lambda i: -prompts[i]) for e in range(engines)]
    return [r[j] for j in range(size) for r in ranges if j < len(r)]


def write_openorca_trace(path: pathlib.Path, tokens_per_sample: float,
                         query: int | None = None, sorted_for: int | None = None) -> tuple[int, int, float]:
    """All samples at t = 0 with outputs scaled to ``tokens_per_sample`` on average (each rounded, >= 1).

    ``query``: write an Offline query of that many samples (:func:`offline_query`) instead of the 24,576
    samples once in file order; ``sorted_for``: in AMD's harness order for that many engines
    (:func:`amd_offline_order`). Returns ``(longest prompt, longest output, mean input)`` of the samples;
    the file also serves as the length source of the Server runs (``dist: trace`` on both columns keeps
    each sample's input and output together).
    """
    prompts, outputs = openorca_lengths()
    k = tokens_per_sample / (sum(outputs) / len(outputs))
    scaled = [max(1, round(o * k)) for o in outputs]
    order = range(len(prompts)) if query is None else offline_query(len(prompts), query)
    if sorted_for:
        order = amd_offline_order(prompts, list(order), sorted_for)
    path.write_text("timestamp_s,prompt_tokens,output_tokens\n"
                    + "".join(f"0,{prompts[i]},{scaled[i]}\n" for i in order), encoding="utf-8")
    return max(prompts), max(scaled), sum(prompts) / len(prompts)


@dataclass(frozen=True)
class ServerRow:
    """One MLPerf Server run: its configuration and the published latency (seconds) and throughput."""

    id: str
    system: str
    gpu: str
    gpus: int
    tp: int
    weight_dtype: str
    batch: int | None           # gpu_batch_size per TP group (None: not published)
    rate: float                 # scheduled samples/s
    tokens_per_sample: float    # tokens/s / samples/s of the run
    tokens_per_s: float
    ttft: tuple[float, float, float, float]   # mean, p50, p90, p99 (s)
    tpot: tuple[float, float, float, float]
    source: str
    mlperf_round: str = "v4.1"  # MLPerf round (its TensorRT-LLM generation: :data:`MLPERF_FLOPS_SCALE`)
    flops_level: str | None = None  # the round whose Hopper FLOPs level it runs with (None: its own round)
    pp: int = 1                 # pipeline stages per replica (GPUs per replica: tp x pp)
    max_num_tokens: int = MAX_NUM_TOKENS  # TensorRT-LLM max_num_tokens (per micro-batch)
    kv_fraction: float = KV_FRACTION      # kvcache_free_gpu_mem_frac
    chunked_context: bool = False         # TensorRT-LLM enable_chunked_context (prompts split to the token budget)
    duration_s: float = SERVER_DURATION_S  # MLPerf min_duration of the run
    engine: str = "trtllm"                # the pool's batching scheduler (``vllm-v0``: AMD's vLLM rows)
    batcher: tuple[int, float] | None = None  # the harness's request batcher: (max_requests, timeout_s) (AMD's rows)

    @property
    def level_round(self) -> str:
        """The round whose :data:`MLPERF_FLOPS_SCALE` the row's Hopper step model uses."""
        return self.flops_level or self.mlperf_round

    @property
    def replicas(self) -> int:
        """Engines (TP x PP groups) of the system."""
        return self.gpus // (self.tp * self.pp)


SERVER_ROWS = [
    ServerRow("13", "8xH100-SXM-80GB", "h100-sxm", 8, 2, "fp8", 1024, 75.10, 21605.8 / 74.42, 21605.8,
              (0.2759, 0.2730, 0.3729, 0.4613), (0.1550, 0.1564, 0.1658, 0.1754),
              SRC + "DGX-H100_H100-SXM-80GBx8_TRT"),
    ServerRow("13b", "8xH200-SXM-141GB", "h200-sxm", 8, 1, "fp8", 896, 101.25, 29228.22 / 100.35, 29228.22,
              (0.1983, 0.1808, 0.3095, 0.4527), (0.1233, 0.1243, 0.1335, 0.1460),
              SRC + "H200-SXM-141GBx8_TRT (configs: TP1, gpu_batch_size 896)"),
    ServerRow("14", "1xB200-SXM-180GB", "b200", 1, 1, "fp4", None, 39.57, 10755.6 / 39.57, 10755.6,
              (0.2088, 0.2048, 0.2846, 0.3572), (0.1315, 0.1358, 0.1459, 0.1519),
              SRC + "B200-SXM-180GBx1_TRT (preview; completed samples/s not published, scheduled used)"),
    ServerRow("13c", "8xH100-SXM-80GB (v4.0)", "h100-sxm", 8, 2, "fp8", 1024, 70.98, 20556.40 / 70.42, 20556.40,
              (0.3816, 0.3815, 0.4785, 0.5683), (0.1368, 0.1393, 0.1492, 0.1561),
              SRC40 + "DGX-H100_H100-SXM-80GBx8_TRT/llama2-70b-99.9 (configs: TP2, gpu_batch_size 1024)", "v4.0"),
    ServerRow("13d", "8xH200-SXM-141GB (v4.0)", "h200-sxm", 8, 1, "fp8", 896, 91.24, 26485.43 / 90.35, 26485.43,
              (0.4129, 0.3967, 0.5711, 0.7531), (0.1648, 0.1705, 0.1834, 0.1950),
              SRC40 + "H200-SXM-141GBx8_TRT/llama2-70b-99.9 (configs: TP1, gpu_batch_size 896)", "v4.0"),
    ServerRow("13e", "8xH200-SXM-141GB (v5.0)", "h200-sxm", 8, 1, "fp8", 2048, 114.56, 33071.46 / 113.04, 33071.46,
              (0.3978, 0.3586, 0.5753, 0.9376), (0.1700, 0.1733, 0.1777, 0.1819),
              SRC50 + "H200-SXM-141GBx8_TRT/llama2-70b-99.9 (configs: TP1, gpu_batch_size 2048, max_num_tokens 1536, "
              "fp8 GEMM+SwiGLU), run at the v4.1 FLOPs level", "v5.0", flops_level="v4.1", max_num_tokens=1536,
              chunked_context=True),
    ServerRow("13f", "8xH100-SXM-80GB (v5.0)", "h100-sxm", 8, 1, "fp8", 1024, 107.19, 31106.28 / 106.21, 31106.28,
              (0.5171, 0.4432, 0.8805, 1.4507), (0.1393, 0.1400, 0.1409, 0.1414),
              SRC50 + "DGX-H100_H100-SXM-80GBx8_TRT/llama2-70b-99.9 (configs: PP2, gpu_batch_size 1024, max_num_tokens "
              "1024, kvcache_free_gpu_mem_frac 0.95, fp8 GEMM+SwiGLU), run at the v4.1 FLOPs level", "v5.0",
              flops_level="v4.1", pp=2, max_num_tokens=1024, kv_fraction=0.95, chunked_context=True,
              duration_s=3600.0),
    ServerRow("13g", "8xMI300X (AMD, vLLM; 2xEPYC 9374F)", "mi300x", 8, 1, "fp8",
              AMD_HARNESS_ENGINE["max_num_seqs"], 73.66, 21028.23 / 71.74,
              21028.23, (1.0063, 0.9902, 1.3192, 1.6042), (0.1431, 0.1439, 0.1759, 0.1979),
              SRC_AMD + "8xMI300X_2xEPYC-9374F/llama2-70b-99 (vLLM, TP1 x 8, fp8 weights and KV, the harness's "
              "request batcher; engine: AMD_V41)", max_num_tokens=AMD_HARNESS_ENGINE["max_num_batched_tokens"],
              kv_fraction=AMD_HARNESS_ENGINE["gpu_memory_utilization"], duration_s=AMD_SERVER_DURATION_S,
              engine="vllm-v0", batcher=AMD_HARNESS_BATCHER),
    ServerRow("13h", "8xMI300X (AMD, vLLM; 2xEPYC Turin)", "mi300x", 8, 1, "fp8",
              AMD_HARNESS_ENGINE["max_num_seqs"], 76.17, 22020.92 / 74.96,
              22020.92, (1.0384, 1.0271, 1.3462, 1.6604), (0.1431, 0.1469, 0.1824, 0.1987),
              SRC_AMD + "8xMI300X_2xEPYC-TURIN/llama2-70b-99 (preview; the same engine on a newer host CPU)",
              max_num_tokens=AMD_HARNESS_ENGINE["max_num_batched_tokens"],
              kv_fraction=AMD_HARNESS_ENGINE["gpu_memory_utilization"], duration_s=AMD_SERVER_DURATION_S,
              engine="vllm-v0", batcher=AMD_HARNESS_BATCHER),
]

AMD_V41 = """AMD's MLPerf Inference v4.1 Llama-2-70B Server runs on 8x MI300X (rows 13g, 13h; SRC_AMD, commit a2f5d66):
the same vLLM engine on two hosts (2x EPYC 9374F, and 2x EPYC "Turin", preview). How they were run, from the
public copy: ``closed/AMD/code/llama2-70b-99.9/test_VllmFp8/test_VllmFp8_SyncServer_audit.sh`` (the Server command
line: ``mainVllmFp8_SyncServer.py --backend vllm -tp 1 -dp 8 --quantization fp8 --kv-cache-dtype fp8 --dtype float16
--enable-warm-up --enable-batcher``; no engine or batcher setting), ``closed/AMD/code/llama2-70b-99/README.md``
(Quark ``w_fp8_a_fp8_o_fp8`` weights, vLLM's fp8 KV-cache scales) and each run's ``results/<system>/llama2-70b-99/
Server/performance/run_1/mlperf_log_summary.txt`` (``min_duration`` 600,000 ms, ``target_qps`` 73.5 and 76).

The harness's Python is not in that copy; a flat-layout copy of AMD's harness is public elsewhere (``main.py``
importing ``SyncServerSUT`` from ``sync_sut``, with ``SUT.py``, ``sync_server.py``, ``async_server.py``; found by
content in a public source index that does not name its repository). It is taken as the v4.1 harness, which is
inferred, not established: its command line accepts every flag of the v4.1 Server command and all but one of the
Offline command's (``--enable-batcher``, ``--enable-warm-up``, ``--quantized-weights-path``,
``--quantization-param-path``, ``--sorting``, ``--enforce-eager``, ...; not ``--warmup-duration``, which the Offline
entry point takes: :data:`AMD_OFFLINE`), its SUT logs "Init SUTVllmFP8Server", and AMD's v5.0 harness
(mirror github.com/ntuhpc/mlperf_inference_results_v5.0, ``closed/AMD/code/llama2-70b-99.9/``: ``main.py`` and
``harness_llm/``) is a later, Hydra-configured layout. Its ``main.py`` defaults, which apply since the v4.1
command sets none of them (:data:`AMD_HARNESS_ENGINE`, :data:`AMD_HARNESS_BATCHER`): ``--max-num-seqs`` 1024,
``--max-num-batched-tokens`` 49,152, ``--gpu-memory-utilization`` 0.97 (they override its ``DefaultEngineInput``
dataclass), ``--gpu-batch-size`` 96 and ``--batcher-threshold`` 0.3 s. Its request batcher
(``SyncServerSUT.batch_samples_loop``; the same loop in v5.0's ``harness_llm/backends/vllm/sync_sut.py``): LoadGen's
samples join one list; at each arrival, and 0.3 s after it last looked if none comes, the batcher sends the first
96 samples as one group to one engine when the list holds 96 or 0.3 s have passed since the last dispatch. The
engine is the next in turn (``next_device_id``) in the flat copy's ``AsyncServerSUT``, whose batcher loop is the
same (its ``SyncServerSUT``'s dispatch was not readable; v5.0's picks by ``schedule_algo``, whose dataclass
default is ``shortest_queue``): round robin is modelled. At 73.5 samples/s that is a group of ~23
prompts every ~0.31 s, each engine getting one every ~2.5 s, each request waiting ~0.16 s in the batcher.

Modelled as: eight TP1 vLLM engines, fp8 weights and KV, behind ``fleet.router.batcher`` (96, 0.3 s) and a round
robin router; vLLM's V0 scheduler (``vllm-v0``: mid-2024 vLLM, prompts in their own iterations, not chunked:
chunked prefill was off by default in V0), ``max_num_seqs`` 1,024, ``max_num_batched_tokens`` 49,152 (a group's
prompts, ~5,100 tokens, prefill in one iteration), ``gpu_memory_utilization`` 0.97; the GPU catalog's MI300X fp8
factors (its FLOPs efficiency fitted on the same systems' Offline runs, :data:`AMD_OFFLINE`; nothing is fitted
to these rows). Before the batcher was modelled (vLLM's defaults: a 4,096-token budget, 0.90 of HBM; each
request routed on arrival) the simulated TTFT was ~90 % short: a first token ~1.5 iterations after arrival, where
the runs took ~1 s."""

METRICS = [("ttft", q) for q in ("mean", "p50", "p90", "p99")] + [("tpot", q) for q in ("mean", "p50", "p90", "p99")]


def pool(gpu: str, gpus: int, tp: int, batch: int | None, max_model_len: int, pp: int = 1,
         max_num_tokens: int = MAX_NUM_TOKENS, kv_fraction: float = KV_FRACTION, chunked: bool = False,
         engine: str = "trtllm") -> dict:
    """The TensorRT-LLM pool of one MLPerf system (see the module docstring); ``engine="vllm-v0"``: the vLLM pool
    of AMD's rows (:func:`vllm_pool`).

    TensorRT-LLM counts a decoding sequence as one token of ``max_num_tokens`` (NVIDIA's tuning guide, "Tuning
    Max Batch Size and Max Num Tokens", nvidia.github.io/TensorRT-LLM), so no more than ``max_num_tokens``
    sequences step in one iteration however large ``batch`` is. With ``pp`` pipeline stages it keeps ``pp``
    micro-batches in flight, each within ``batch`` sequences and ``max_num_tokens`` tokens, so an iteration of
    the pool (its ``pp`` micro-batches) holds up to ``pp`` times both."""
    if engine != "trtllm":
        return vllm_pool(gpu, gpus, tp, batch, max_model_len, max_num_tokens, kv_fraction, chunked, engine)
    seqs = min(batch or UNLIMITED_BATCH, max_num_tokens)
    out = {"name": "main", "gpu": gpu, "replicas": gpus // (tp * pp), "tensor_parallel": tp,
           "max_model_len": max_model_len, "gpu_memory_utilization": kv_fraction,
           "batching": {"scheduler": "trtllm", "kv_reservation": "prompt",
                        "max_num_seqs": seqs * pp, "max_batched_tokens": max_num_tokens * pp}}
    if chunked:
        out["batching"]["chunked_prefill"] = True
    if pp > 1:
        out["pipeline_parallel"] = pp
    return out


def vllm_pool(gpu: str, gpus: int, tp: int, max_num_seqs: int | None, max_model_len: int,
              max_num_batched_tokens: int, gpu_memory_utilization: float, chunked: bool = False,
              engine: str = "vllm-v0") -> dict:
    """The vLLM pool of one MLPerf system (AMD's rows, :data:`AMD_V41`): one engine per TP group, vLLM's
    scheduler (``engine``). ``max_num_seqs`` None (not published): the most vLLM accepts at that token budget
    (its ``SchedulerConfig`` rejects ``max_num_batched_tokens < max_num_seqs``), so the KV cache is the limit."""
    return {"name": "main", "gpu": gpu, "replicas": gpus // tp, "tensor_parallel": tp,
            "max_model_len": max_model_len, "gpu_memory_utilization": gpu_memory_utilization,
            "batching": {"scheduler": engine, "chunked_prefill": chunked,
                         "max_num_seqs": max_num_seqs or max_num_batched_tokens,
                         "max_batched_tokens": max_num_batched_tokens}}


def perf_block(gpu: str, weight_dtype: str, streaming: bool, stream_token_s: float = 0.0, capacity: float = 1.0,
               flops_scale: float | None = None, mlperf_round: str = "v4.1") -> dict:
    """The ``perf:`` block of an MLPerf run on ``gpu``: the roofline with fp8 KV, the catalog's factors, the FLOPs
    efficiency scaled by ``flops_scale`` (default: the round's Hopper calibration, :data:`MLPERF_FLOPS_SCALE`, on
    H100/H200 and 1 elsewhere) and both efficiencies by ``capacity`` (a sensitivity knob; 1 = none)."""
    from sim.scenario.catalog import get_gpu  # noqa: PLC0415
    perf = {"model": "roofline", "weight_dtype": weight_dtype, "kv_dtype": "fp8", "streaming": streaming}
    if streaming:
        perf["cpu_per_stream_token_s"] = stream_token_s
    if flops_scale is None:
        flops_scale = MLPERF_FLOPS_SCALE[mlperf_round] if gpu in HOPPER else 1.0
    flops = flops_scale * capacity
    if flops != 1.0 or capacity != 1.0:
        eff = get_gpu(gpu).efficiency(weight_dtype)
        perf.update(flops_efficiency=min(1.0, eff.flops_efficiency * flops),
                    bw_efficiency=min(1.0, eff.bw_efficiency * capacity))
    return perf


def server_scenario(row: ServerRow, trace: pathlib.Path, duration_s: float | None = None,
                    stream_token_s: float = 0.0, capacity: float = 1.0, flops_scale: float | None = None) -> dict:
    """Scenario of one Server run for ``sim.api.run`` (writes the scaled length file to ``trace``).

    The Server harness streams (every first token goes to LoadGen as it is generated), so the run is
    ``streaming`` with ``stream_token_s`` per streamed token (default 0: no published figure for
    TensorRT-LLM's executor; see ``sim.perf.overhead``). ``capacity`` and ``flops_scale``: :func:`perf_block`.
    """
    p_max, o_max, _ = write_openorca_trace(trace, row.tokens_per_sample)
    lengths = {"dist": "trace", "path": str(trace)}
    perf = perf_block(row.gpu, row.weight_dtype, True, stream_token_s, capacity, flops_scale, row.level_round)
    router: str | dict = "round_robin"
    if row.batcher is not None:
        router = {"policy": "round_robin", "batcher": dict(zip(("max_requests", "timeout_s"), row.batcher))}
    return {
        "name": f"mlperf-server-{row.id}", "seed": 1, "duration": duration_s or row.duration_s, "drain": True,
        "model": "llama-2-70b",
        "workload": {"arrival": {"process": "poisson", "rate": row.rate},
                     "prompt_tokens": lengths, "output_tokens": dict(lengths)},
        "fleet": {"router": router,
                  "pools": [pool(row.gpu, row.gpus, row.tp, row.batch, p_max + o_max, row.pp, row.max_num_tokens,
                                 row.kv_fraction, row.chunked_context, row.engine)]},
        "perf": perf,
        "metrics": {"records": "all"},
    }


def simulate_server(row: ServerRow, duration_s: float | None = None, stream_token_s: float = 0.0,
                    capacity: float = 1.0, flops_scale: float | None = None) -> dict[str, float]:
    """Simulated ``{ttft_mean, ..., tpot_p99, tokens_per_s}`` (seconds, tokens/s) of one Server run (settings:
    :func:`server_scenario`)."""
    import tempfile  # noqa: PLC0415
    import warnings  # noqa: PLC0415

    from sim.api import run  # noqa: PLC0415
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no prices: economics warns that GPUs cost 0
        sc = server_scenario(row, pathlib.Path(tmp) / "openorca.csv", duration_s, stream_token_s, capacity,
                             flops_scale)
        s = run(sc).summary
    out = {f"{k}_{q}": float(s["latency"][k][q]) for k, q in METRICS}
    out["tokens_per_s"] = float(s["throughput"]["output_tokens_per_s"])
    return out


def published(row: ServerRow) -> dict[str, float]:
    out = {f"ttft_{q}": v for q, v in zip(("mean", "p50", "p90", "p99"), row.ttft)}
    out.update({f"tpot_{q}": v for q, v in zip(("mean", "p50", "p90", "p99"), row.tpot)})
    out["tokens_per_s"] = row.tokens_per_s
    return out


def offline_scenario(gpu: str, gpus: int, tp: int, weight_dtype: str, batch: int | None,
                     tokens_per_sample: float, trace: pathlib.Path, query: int | None = None,
                     flops_scale: float | None = None, mlperf_round: str = "v4.1", sorting: str | None = None,
                     prefill_min_free_kv_pct: float = 0.0, **engine) -> dict:
    """Scenario of an MLPerf Offline run: the query's samples (default: every OpenOrca sample once) at t = 0,
    drained; ``flops_scale``: :func:`perf_block`; ``engine``: :func:`pool`'s engine settings (``pp``,
    ``max_num_tokens``, ``kv_fraction``, ``chunked``, ``engine``). AMD's harness (:data:`AMD_OFFLINE`):
    ``sorting="descending"`` orders the query as it does (:func:`amd_offline_order`, one share per engine),
    ``prefill_min_free_kv_pct`` sets ROCm vLLM's ``VLLM_SCHED_PREFILL_KVC_FREEPCT``
    (``batching.prefill_min_free_kv_pct``)."""
    if sorting not in (None, "descending"):
        raise ValueError(f"sorting: {sorting!r} is not modelled (None or 'descending')")
    sorted_for = gpus // (tp * engine.get("pp", 1)) if sorting else None
    p_max, o_max, _ = write_openorca_trace(trace, tokens_per_sample, query, sorted_for)
    engine_pool = pool(gpu, gpus, tp, batch, p_max + o_max, **engine)
    if prefill_min_free_kv_pct:
        engine_pool["batching"]["prefill_min_free_kv_pct"] = prefill_min_free_kv_pct
    return {
        "name": "mlperf-offline", "seed": 1, "duration": 1.0, "drain": True, "model": "llama-2-70b",
        "workload": {"arrival": {"process": "trace", "path": str(trace)}},
        "fleet": {"router": "round_robin", "pools": [engine_pool]},
        "perf": perf_block(gpu, weight_dtype, False, flops_scale=flops_scale, mlperf_round=mlperf_round),
        "metrics": {"records": "none"},
    }


OFFLINE_RUN = {"13e": (304_128, 34988.2, 120.008), "13f": (290_400, 31306.8, 107.256)}
"""The v5.0 Server rows' systems in the same round's Offline scenario, same engine config (NVIDIA's v5.0
``configs/llama2-70b/Offline``: the Server's layout, batch, ``max_num_tokens`` and KV fraction):
``(samples_per_query, tokens/s, samples/s)`` of its llama2-70b-99 ``mlperf_log_summary.txt`` (SRC50). Not
validation rows: :func:`fit_offline_scale` reads the FLOPs level they imply (a diagnostic)."""
OFFLINE_TOKENS_PER_S = {"13": 24524.9, "13b": 31302.7, "14": 11264.4, "13c": 21805.8, "13d": 27738.3,
                        **{k: v[1] for k, v in OFFLINE_RUN.items()}, "13g": 23514.8, "13h": 24109.8}
"""The same systems' Offline throughput in the same round (validation rows 1, 2, 5, 1a and 2a; v5.0: the
llama2-70b-99 Offline ``mlperf_log_summary.txt`` of the same systems, not validation rows; AMD's: the same, SRC_AMD,
not validation rows either)."""
OFFLINE_BATCH = {"13": 896, "13b": 806, "14": None, "13c": 896, "13d": 806, "13e": None, "13f": None,
                 "13g": None, "13h": None}
"""The same systems' Offline ``gpu_batch_size`` per TP group (NVIDIA's Offline configs). None: not pinned -- the
B200's is not published; v5.0's (2,048 per H200, 1,024 per H100 micro-batch) is more than the KV cache holds at
OpenOrca's lengths, so the sequences the run held are not known."""
OFFLINE_QUERY = {"1": 200_640, "2": 274_560, "5": 100_320, "1a": 200_640, "2a": 253_440, "4": 52_800, "4a": 54_780}
"""``samples_per_query`` of the MLPerf Offline runs of validation rows 1 and 1a (8xH100), 2 and 2a (8xH200) and 5
(B200), 4 and 4a (AMD's 8x MI300X, whose ``min_duration`` is 600 s) (their ``mlperf_log_summary.txt``, "Test
Parameters Used"): LoadGen sizes the one Offline query to last
``min_duration`` (2,400 s), 4-11 passes over the 24,576 samples, so the last batch's drain is ~1-2 % of the
run. One pass alone (~300 s) would spend ~15 % of its time draining a shrinking batch (the longest outputs run
for ~200 s), and its throughput would understate the step model's steady-state capacity by as much."""
OFFLINE_ROUND = {"1": "v4.1", "2": "v4.1", "5": "v4.1", "1a": "v4.0", "2a": "v4.0", "4": "v4.1", "4a": "v4.1"}
"""The MLPerf round of each Offline validation row (:data:`MLPERF_FLOPS_SCALE`)."""
AMD_OFFLINE_MEMORY_UTILIZATION = 0.99
"""``--gpu-memory-utilization`` of AMD's v4.1 Offline command (``test_VllmFp8_Offline*.sh``: 0.99; the Server command
sets none, so vLLM's 0.90)."""
AMD_PREFILL_MIN_FREE_KV_PCT = 31.0
"""``VLLM_SCHED_PREFILL_KVC_FREEPCT`` of AMD's v4.1 Offline command (``test_VllmFp8_Offline*.sh``: 31.0; the Server
command does not set it): ROCm vLLM admits prompts only while more than 31 % of the KV blocks are free
(``batching.prefill_min_free_kv_pct``, :func:`sim.serving.batching.prefill_gate_open`)."""
OFFLINE_ENGINE = {rid: {"max_num_tokens": AMD_HARNESS_ENGINE["max_num_batched_tokens"],
                        "kv_fraction": AMD_OFFLINE_MEMORY_UTILIZATION, "engine": "vllm-v0", "sorting": "descending",
                        "prefill_min_free_kv_pct": AMD_PREFILL_MIN_FREE_KV_PCT} for rid in ("4", "4a")}
"""Engine settings of the Offline validation rows that did not run TensorRT-LLM (:func:`pool`): AMD's, :data:`AMD_OFFLINE`."""
AMD_OFFLINE = """AMD's MLPerf Inference v4.1 Llama-2-70B Offline runs on the same two 8x MI300X systems as Server rows 13g and
13h (validation rows 4 and 4a; SRC_AMD, ``results/<system>/llama2-70b-99/Offline/performance/run_1/
mlperf_log_summary.txt``: 23,514.8 and 24,109.8 tokens/s, 80.15 and 82.18 samples/s, so 293.4 tokens per sample;
``samples_per_query`` 52,800 and 54,780, ``min_duration`` 600 s). AMD's Offline command (the public copy's
``test_VllmFp8/test_VllmFp8_Offline*.sh``: ``mainVllmFp8_Offline.py -tp 1 -dp 8 --quantization fp8 --kv-cache-dtype
fp8 --enforce-eager True --gpu-memory-utilization 0.99 --sorting descending``, ``VLLM_SCHED_PREFILL_KVC_FREEPCT=31``).

What is established (public code): the Offline SUT of the flat-layout harness copy (:data:`AMD_V41`;
``SUTVllmFp8Offline_ntp1``, which takes the command's ``--sorting`` and ``--warmup-duration``) gives each of the
``-dp`` engines one contiguous share of LoadGen's query, dealt so that the shares' prompt tokens are even, sorted
longest prompt first with ``descending``, in a single ``LLM.generate`` call per engine (:func:`amd_offline_order`);
and ROCm's vLLM fork skips every prefill of a scheduler step unless more than ``VLLM_SCHED_PREFILL_KVC_FREEPCT`` per
cent of the KV blocks are free (github.com/ROCm/vllm pull request 89, "schedule prefill only when percentage of kv
cache is free ... decode gets priority"; ``Scheduler._schedule_prefills``): ``batching.prefill_min_free_kv_pct``,
:func:`sim.serving.batching.prefill_gate_open`.

What is inferred: the engine's size. ``mainVllmFp8_Offline.py`` itself is not public; the copy's ``main.py`` is the
Server entry point (it builds ``SyncServerSUT`` and has no ``--warmup-duration``, which the Offline command passes),
so the Offline entry point is a sibling. It is taken to parse the same tunable arguments with the same defaults, as
the Server rows do (:data:`AMD_HARNESS_ENGINE`: ``--max-num-seqs`` 1,024, ``--max-num-batched-tokens`` 49,152;
the command sets ``--gpu-memory-utilization`` 0.99). Were it to pass the ``DefaultEngineInput`` dataclass instead
(768 sequences, 65,536 tokens), the simulated throughput would be 2.7 % lower (rows 4 and 4a alike) and the fitted
factor ~3 % higher.

Modelled so: eight TP1 vLLM V0 engines (as the Server rows, without the batcher), 1,024 sequences, 49,152 batched
tokens (the whole prompts of ~200 samples in one prefill iteration), 0.99 of HBM, prompts only while more than 31 %
of the KV blocks are free, the query at t = 0 in shuffled passes (:func:`offline_query`) in the harness's order
(round robin hands engine ``k % 8`` its share), drained. The batch is the harness's 1,024, not the KV cache's
(~1,580 whole sequences per GPU at 0.99 of HBM): the cache runs about half full on average, and the gate binds
only while the sorted shares' longer prompts fill it (in row 4, from ~90 s to ~260 s of the ~660 s run). Against the previous model (vLLM V0's 4,096-token
budget, the KV cache's batch, no sort, no gate) the simulated throughput at the same factor is 1.2 % lower (the
smaller batch -1.3 %; sort and gate together +0.4 %; the gate alone never binds in shuffled order), and the fit
moved from 0.332 to 0.336. The step at that batch is compute-bound (d ln(tokens/s) / d ln(factor): FLOPs ~0.81,
bandwidth ~0.18, ``validation_runs.throughput_shares``), so the two rows (one engine, one workload: one number) pin
the MI300X fp8 FLOPs efficiency (``validation_fit.fit_mi300x_fp8``: 0.486 x H100's 0.691, the catalog's 0.336) and not
the bandwidth efficiency; the KV cache hardly moves them: with 0.90 of HBM (the default of another copy of AMD's
Offline script) the throughput moves by +0.08 %."""
SENSITIVITY = [("stream 3 µs", 3e-6, 1.0), ("stream 5 µs", 5e-6, 1.0), ("stream 7 µs (vLLM's)", 7e-6, 1.0),
               ("stream 10 µs", 10e-6, 1.0), ("stream 35 µs", 35e-6, 1.0),
               ("capacity −3 %", 0.0, 0.97), ("capacity +3 %", 0.0, 1.03)]
"""Sensitivity runs of the Server rows: (label, ``perf.cpu_per_stream_token_s``, capacity factor). 7 µs is
vLLM's measured cost of streaming a token (``sim.perf.overhead``); 3 µs and 35 µs were roughly what rows 14
and 13 each needed with the catalog's factors and one-pass Offline rows (found by trying values on them:
diagnostics, never a default)."""


OFFLINE_FIT_SCALE = {"13e": 1.002, "13f": 1.115}
"""FLOPs scale (x the catalog's fp8 efficiency) at which the simulated v5.0 Offline run of a Server row's system
reproduces its published throughput (:data:`OFFLINE_RUN`; :func:`fit_offline_scale` of that row alone, printed by
``python benchmarks/validate_perf.py --fit``); the Server row stays held out. A diagnostic, not the level the row
runs with: the batch of those Offline runs is not published (their ``gpu_batch_size`` is more than the KV cache
holds), so the value rests on the modelled KV capacity (and 13f's on the pipeline schedule's pricing too), unlike
the levels of :data:`MLPERF_FLOPS_SCALE`."""

V50_JOINT_SCALE = 1.052
"""The v5.0 level fitted as each v4.x level is: one scale for both Hopper systems of the round, at which their two
Offline runs (:data:`OFFLINE_RUN`) have a mean log error of 0 (:func:`fit_offline_scale` of both, printed by
``--fit``). A diagnostic, not one of :data:`sim.perf.levels.FP8_LEVELS`: why it is not as defensible as the v4.x
levels is in the docs' Server section (:func:`v50_level_checks` measures it)."""


AMD_POINT_CAPACITY = 0.90
"""Capacity (both efficiencies) at which the modelled iteration at AMD's published Server points would be about the
published one (it is 7-12 % short there: :func:`load_points`): a diagnostic run of rows 13g and 13h, not a fit."""


def simulate_sensitivity() -> list[tuple[ServerRow, str, dict[str, float]]]:
    """Every Server row under every :data:`SENSITIVITY` setting, AMD's rows at :data:`AMD_POINT_CAPACITY` and
    without the harness's batcher, and the v5.0 rows at their own Offline level (:data:`OFFLINE_FIT_SCALE`) and at
    the round's joint one (:data:`V50_JOINT_SCALE`)."""
    out = [(row, label, simulate_server(row, stream_token_s=c, capacity=k))
           for label, c, k in SENSITIVITY for row in SERVER_ROWS]
    amd = [row for row in SERVER_ROWS if row.batcher is not None]
    out += [(row, "capacity −10 % (the Server point's gap)", simulate_server(row, capacity=AMD_POINT_CAPACITY))
            for row in amd]
    out += [(row, "no batcher (each request routed on arrival)", simulate_server(replace(row, batcher=None)))
            for row in amd]
    levels = [(row, f"own Offline level ({OFFLINE_FIT_SCALE[row.id]:.3f})", OFFLINE_FIT_SCALE[row.id])
              for row in SERVER_ROWS if row.id in OFFLINE_FIT_SCALE]
    levels += [(row, f"v5.0 joint Offline level ({V50_JOINT_SCALE:.3f})", V50_JOINT_SCALE)
               for row in SERVER_ROWS if row.id in OFFLINE_RUN]
    return out + [(row, label, simulate_server(row, flops_scale=scale)) for row, label, scale in levels]


@dataclass(frozen=True)
class LevelCheck:
    """One candidate FLOPs scale for the v5.0 engines, against what the v5.0 runs pin."""

    label: str
    scale: float                         # x the catalog's fp8 FLOPs efficiency
    offline: dict[str, float]        # row id -> simulated / published Offline tokens/s - 1
    server_point: dict[str, float]   # row id -> modelled / published iteration at the Server point - 1


def v50_level_checks() -> list[LevelCheck]:
    """The v4.1 level, each v5.0 system's own Offline level and the round's joint one (:data:`V50_JOINT_SCALE`),
    each checked on both v5.0 Offline runs (what the fit sees) and on both held-out Server points (the one step time
    of each engine that is pinned: Little's-law batch and mean TPOT, :func:`load_points`); and the joint level with
    10 % less modelled KV cache (the Offline batch is the KV cache's, not published)."""
    rows = [r for r in SERVER_ROWS if r.id in OFFLINE_RUN]
    candidates = [("v4.1 level (the rows' default)", MLPERF_FLOPS_SCALE["v4.1"], 1.0)]
    candidates += [(f"{r.id}'s own Offline run", OFFLINE_FIT_SCALE[r.id], 1.0) for r in rows]
    candidates += [("both v5.0 Offline runs (as each v4.x level)", V50_JOINT_SCALE, 1.0),
                   ("the same, with 10 % less KV cache", V50_JOINT_SCALE, 0.9)]
    return [LevelCheck(label, scale,
                       {r.id: simulate_offline_of(replace(r, kv_fraction=r.kv_fraction * kv), scale)
                        / OFFLINE_RUN[r.id][1] - 1 for r in rows},
                       {p.row.id: p.modelled_s / p.iteration_s - 1 for p in load_points(rows, scale)
                        if p.label == "Server"})
            for label, scale, kv in candidates]


def batch_lengths(tokens_per_sample: float) -> tuple[float, float, float]:
    """``(mean prompt, mean causal query-key pairs per prompt, mean context of a decoding sequence)`` in tokens.

    A decode batch holds each sample for as many iterations as it generates tokens, so it holds samples in
    proportion to their output length, each on average halfway through: ``sum(o * (p + o / 2)) / sum(o)``
    over the scaled OpenOrca samples (~435 tokens, against 222 + 290 / 2 for an unweighted mean).
    """
    prompts, outputs = openorca_lengths()
    k = tokens_per_sample / (sum(outputs) / len(outputs))
    scaled = [max(1, round(o * k)) for o in outputs]
    ctx = sum(o * (p + o / 2) for p, o in zip(prompts, scaled)) / sum(scaled)
    return sum(prompts) / len(prompts), sum(p * (p + 1) / 2 for p in prompts) / len(prompts), ctx


def step_model(row: ServerRow, flops_scale: float | None = None) -> StepTimeModel:
    """The step-time model of one engine (TP x PP group) of ``row``, as its Server run builds it (``flops_scale``:
    :func:`perf_block`; default the row's level)."""
    import tempfile  # noqa: PLC0415

    from sim.scenario.load import scenario_from_dict  # noqa: PLC0415
    from sim.scenario.pool_setup import pool_step_model  # noqa: PLC0415
    with tempfile.TemporaryDirectory() as tmp:
        base = pathlib.Path(tmp)
        sc = scenario_from_dict(server_scenario(row, base / "openorca.csv", flops_scale=flops_scale),
                                 base_dir=base).scenario
        return pool_step_model(sc, sc.fleet.pools[0], base)


def iteration_at(model: StepTimeModel, batch: float, prompts_per_s: float,
                 lengths: tuple[float, float, float]) -> float:
    """Seconds per iteration of a TP group holding ``batch`` sequences while ``prompts_per_s`` new prompts join
    whole (in-flight batching): an iteration of ``t`` seconds carries ``prompts_per_s * t`` prompts (fixed point)
    and ``batch`` minus those decodes at the mean decoding context (``lengths``, :func:`batch_lengths`)."""
    p_mean, pairs, ctx = lengths
    t = 0.1
    for _ in range(200):
        k = prompts_per_s * t
        d = max(batch - k, 0.0)
        t_new = model.step_time(BatchShape(k * p_mean, k, k * pairs, k * p_mean, d, d * ctx))
        if abs(t_new - t) <= 1e-12 * t:
            break
        t = t_new
    return t_new


@dataclass(frozen=True)
class LoadPoint:
    """One published operating point of a TP group: its load, the sequences it held and its iteration time."""

    row: ServerRow
    label: str                 # "Server" or "Offline"
    tokens_per_s: float        # output tokens/s per TP group
    batch: float               # sequences per TP group (Server: Little's law; Offline: the configured batch)
    iteration_s: float         # Server: mean TPOT; Offline: batch / tokens/s
    modelled_s: float          # the step model's iteration at that batch and load


def load_points(rows: list[ServerRow] | None = None, flops_scale: float | None = None) -> list[LoadPoint]:
    """Every Server row's published Server point and (where its batch is published) its Offline point, with the
    step model's iteration time at the same batch and arrival rate: a check of the step-time curve itself, not of
    where a simulation settles on it (``flops_scale``: :func:`step_model`)."""
    out = []
    for row in rows if rows is not None else SERVER_ROWS:
        model, groups = step_model(row, flops_scale), row.replicas
        lengths = batch_lengths(row.tokens_per_sample)
        pub = published(row)
        b = in_flight_per_group(row, pub)
        out.append(LoadPoint(row, "Server", row.tokens_per_s / groups, b, pub["tpot_mean"],
                             iteration_at(model, b, row.rate / groups, lengths)))
        off_b = OFFLINE_BATCH[row.id]
        if off_b is not None:
            tps = OFFLINE_TOKENS_PER_S[row.id] / groups
            out.append(LoadPoint(row, "Offline", tps, off_b, off_b / tps,
                                 iteration_at(model, off_b, tps / row.tokens_per_sample, lengths)))
    return out


def in_flight_per_group(row: ServerRow, m: dict[str, float]) -> float:
    """Sequences in flight per engine (TP x PP group) by Little's law: rate x (TTFT + (tokens - 1) x TPOT) / engines."""
    return row.rate * (m["ttft_mean"] + (row.tokens_per_sample - 1) * m["tpot_mean"]) / row.replicas


def server_report(results: list[tuple[ServerRow, dict[str, float]]],
                  sensitivity: list[tuple[ServerRow, str, dict[str, float]]] = (),
                  levels: list[LevelCheck] = ()) -> tuple[list[str], list[float]]:
    """Report lines of the Server section and the signed errors of every metric (``levels``: the candidate v5.0
    levels, :func:`v50_level_checks`)."""
    errs: list[float] = []
    lines = ["## Latency under load: MLPerf Llama-2-70B Server (v4.0, v4.1, v5.0; NVIDIA and AMD)", "",
             "Poisson arrivals at the scheduled rate on the real OpenOrca lengths (outputs scaled to what each "
             "run generated), TensorRT-LLM in-flight batching as NVIDIA ran it (`benchmarks/mlperf_server.py` "
             "describes every setting and its source). Every Server row is held out: nothing is fitted to it. The "
             "Hopper rows use their round's MLPerf FLOPs calibration (× the catalog's fp8 FLOPs efficiency: v4.1 "
             f"{MLPERF_FLOPS_SCALE['v4.1']:.3f}, fitted on the Offline throughput rows 1 and 2 only; v4.0 "
             f"{MLPERF_FLOPS_SCALE['v4.0']:.3f}, on 1a and 2a; see below); the MLPerf v5.0 rows (13e, 13f; NVIDIA's "
             "2025 engines: fused fp8 GEMM + SwiGLU, chunked prompts within a smaller `max_num_tokens`, pipeline "
             "parallelism on H100) the v4.1 level, the newest whose batch is published; the B200 row the catalog's "
             "fp4 factors. Rows 13g and 13h are another engine and GPU, held out: AMD's MLPerf v4.1 runs on 8x "
             "MI300X with vLLM (V0 scheduler, TP1 × 8, fp8 weights and KV, behind the harness's request batcher; "
             "`mlperf_server.AMD_V41`), with the "
             "catalog's MI300X fp8 factors (FLOPs efficiency fitted on the same systems' Offline rows 4 and 4a "
             "only). Latencies in ms; throughput in output tokens/s. Targets: every "
             "percentile within 20 %, throughput within 5 %.", "",
             "| id | system | metric | published | simulated | error |", "|---|---|---|---|---|---|"]
    for row, sim in results:
        pub = published(row)
        for key in [f"{k}_{q}" for k, q in METRICS] + ["tokens_per_s"]:
            e = (sim[key] - pub[key]) / pub[key]
            errs.append(e)
            fmt = (lambda v: f"{v:,.0f}") if key == "tokens_per_s" else (lambda v: f"{v * 1e3:,.1f}")
            lines.append(f"| {row.id} | {row.system} | {key.replace('_', ' ')} | {fmt(pub[key])} | "
                         f"{fmt(sim[key])} | {e:+.1%} |")
    lines += ["", "Sources: " + "; ".join(f"{r.id}: {r.source}" for r, _ in results) + ".", ""]
    lines += load_point_lines(load_points([r for r, _ in results]), dict((r.id, m) for r, m in results))
    if levels:
        lines += level_check_lines(levels)
    if sensitivity:
        lines += sensitivity_lines(results, sensitivity)
    return lines, errs


def load_point_lines(points: list[LoadPoint], simulated: dict[str, dict[str, float]]) -> list[str]:
    """The step-time curve at each published load point, and where each simulated Server run settled."""
    lines = ["### The step-time curve at the published load points", "",
             "Near saturation a server's latency is set by its step-time curve: sequences accumulate (Little's law) "
             "until iterations are slow enough that the batch drains at the arrival rate, so a few per cent of "
             "step time at large batch become tens of per cent of latency. Each published run pins one point of "
             "the real curve: the sequences a TP group held (Server: Little's law, rate × (TTFT + (tokens − 1) × "
             "TPOT); Offline: NVIDIA's configured batch) and its iteration time (Server: mean TPOT; Offline: "
             "batch / tokens/s). `modelled` is the step model's iteration at that batch with prompts joining at "
             "the run's rate (`mlperf_server.load_points`): a check of the curve itself, not of where a "
             "simulation settles on it.", "",
             "| id | system | load point | output tokens/s per TP group | sequences per TP group | iteration: "
             "published | modelled | error | simulated Server run: sequences, TPOT |",
             "|---|---|---|---|---|---|---|---|---|"]
    for lp in points:
        sim = simulated.get(lp.row.id) if lp.label == "Server" else None
        settled = f"{in_flight_per_group(lp.row, sim):,.0f}, {sim['tpot_mean'] * 1e3:.0f} ms" if sim else ""
        lines.append(f"| {lp.row.id} | {lp.row.system} | {lp.label} | {lp.tokens_per_s:,.0f} | {lp.batch:,.0f} | "
                     f"{lp.iteration_s * 1e3:.1f} ms | {lp.modelled_s * 1e3:.1f} ms | "
                     f"{(lp.modelled_s - lp.iteration_s) / lp.iteration_s:+.1%} | {settled} |")
    lines += ["", "What the load points show (`python benchmarks/validate_perf.py`; the numbers before each change "
              "are in the commit history):", "",
              "- **The Offline runs are long.** MLPerf's Offline query holds 100,320–274,560 samples "
              "(`samples_per_query` in each summary log), 4–11 passes over the dataset, so draining the last "
              "batch is 1–2 % of the run. Simulating one pass spent ~15 % of the run draining and understated the "
              "model's capacity by as much: with one pass the H100 and H200 Offline rows looked right (+5.5 %, "
              "+2.0 %) while the model was 11 % fast on both at their published batch.",
              "- **Hopper's FLOPs level, one per round.** With the catalog's fp8 factor (fitted on TensorRT-LLM "
              "v0.5 Llama-2-7B rows at batch ≤ 64) the modelled iteration was short by the same amount at the Server "
              "and the Offline point of a GPU in a round — H200 v4.1 −15.7 % and −15.9 %, H200 v4.0 −29.0 % and "
              "−29.5 %, H100 v4.0 −30.4 % and −28.5 %, H100 v4.1 Offline −15.4 % — although the Server points hold "
              "30–45 % fewer sequences. Each H200 pair lies on one line (v4.1: ~15.6 ms + 134 µs per token; v4.0: "
              "~17 ms + 152 µs) whose intercept is the weights' read time: a level of the FLOPs term per software "
              "generation, not a per-sequence or per-streamed-token cost (which would differ between a system's "
              "Server and Offline points). One FLOPs-efficiency scale per round for both GPUs, fitted on that "
              "round's two Offline throughput rows, puts these points within a few per cent, and the held-out H200 "
              "Server runs follow in TPOT.",
              "- **The H100 Server runs pay something their Offline runs do not.** v4.1: iterations at ~845 "
              "sequences (155 ms) are slower than the Offline ones at 896 (146 ms) with the same prompt load per "
              "iteration, which no batch-shaped step term gives: ~15 % of the iteration (~22 ms, ~26 µs per "
              "sequence) that only the Server run pays; v4.0 shows ~4 %; neither H200 Server run shows any. Not "
              "modelled: it differs between rounds, so no constant would carry, and no published mechanism "
              "applies to every Server row (next point).",
              "- **What NVIDIA's Server runs do that their Offline runs do not (the public configs and harness).** "
              "The v4.1 Llama-2-70B configs (github.com/mlcommons/inference_results_v4.1, commit a2f5d66, "
              "`closed/NVIDIA/configs/llama2-70b/{Server,Offline}/__init__.py`) differ between the scenarios only "
              "in `gpu_batch_size` (H100 TP2: 1,024 against 896; H200 TP1: 896 against 806) and the rate "
              "(`server_target_qps` against `offline_expected_qps`); `tensor_parallelism`, "
              "`kvcache_free_gpu_mem_frac` 0.90, `enable_sort` False, `gpu_copy_streams` and "
              "`gpu_inference_streams` 1, `vboost_slider` 1 and `min_duration` 2,400 s are the same. The LLM "
              "harness (`closed/NVIDIA/code/harness/harness_llm/`; `main_llm.cc` read in "
              "github.com/mlcommons/inference_results_v4.0, commit e81135a) runs TensorRT-LLM's batch manager "
              "with `max_util` (MAX_UTILIZATION) in both scenarios, `max_num_tokens` unset, and streams only "
              "outside Offline (`mIsStreaming = streaming && scenario != Offline`). With two GPUs per engine it "
              "is one MPI process per GPU plus a LoadGen process: every iteration the engine's rank 0 broadcasts "
              "the count and the serialized new requests to the other rank (`LLMCore::getInferenceRequest`), in "
              "Offline as in Server, at the same ~3 new requests per iteration; under tensor parallelism the same "
              "rank is the responder (`isResponder`: rank 0 under TP, the last stage under PP), which in a "
              "streaming run takes a callback per sequence per iteration (`LLMCore::sendResponse` buffers each "
              "token) and sends each first token and each finished sample to the LoadGen process over MPI; with one "
              "GPU per engine (the H200 runs) the harness has a single-process path that drives every GPU and "
              "calls LoadGen directly. So: "
              "the scheduler policy, KV fraction, thread counts and token budget are the same in both "
              "scenarios; the request broadcast is paid in both; the per-token streaming work is paid by every "
              "Server run, TP1 included, where the H200 points bound it to ~5 µs per token (~4 ms of an H100 "
              "iteration at ~845 sequences, not ~22 ms). The batch manager's own per-iteration work (a library "
              "the harness links) is not public. The rounds also disagree on the size: v4.1 H100 TP2 ~15 %, "
              "v4.0 ~4 %, v5.0 H100 PP2 none (its Server point is −1 % at its own Offline level, table below), "
              "v5.0 H200 TP1 ~5 % (at its own Offline level, whose batch is not pinned), v4.x H200 TP1 none. No "
              "mechanism fits every row, so none is modelled.",
              "- **v4.0 returned the first token about one iteration later.** Its TTFT is 2.5–2.8 mean TPOTs "
              "(H200 413 ms at 165 ms, H100 382 ms at 137 ms) against 1.6–1.8 in v4.1 and on the B200; the model "
              "returns a prompt's first token at the end of the iteration that ran it (~1.5 iterations from "
              "arrival at these loads), so the v4.0 TTFT rows are ~40 % short even where TPOT is right. Not "
              "modelled (a software generation's hand-off, not a property of the load).",
              "- **B200 has one pinned point.** Its Offline batch is not published; at its Server batch the "
              "modelled iteration is a few per cent short, and at 95 % of its Offline throughput, on a curve "
              "that is nearly flat there (compute-bound: the model gives 10,951 output tokens/s at 1,280 "
              "sequences and 11,128 at ~1,940), that few per cent halves the batch the simulation settles at.",
              *amd_lines(points, simulated),
              "- **MLPerf v5.0 (2025), held out twice: a newer engine and a layout the model prices differently.** "
              "Both systems ran their Server scenario at 94–99 % of their own Offline throughput (8xH200 33,071 "
              "against 34,988 output tokens/s; 8xH100 31,106 against 31,307), closer to saturation than any "
              "v4.x row.",
              "- **13e (8xH200, TP1): the v4.1 level is a round too slow.** At the published Server point "
              "(~715 sequences per GPU at 170 ms) the v4.1-level iteration is ~14 % long, and the same engine's "
              "v5.0 Offline run (not a validation row: `mlperf_server.OFFLINE_RUN`) simulates 11 % short "
              "(31,113 against 34,988 tokens/s): below the load, so the simulated Server run overloads (the queue grows for the "
              "whole run). The FLOPs scale that run implies, fitted on the Offline throughput alone with the "
              "Server run held out, is 1.002 × the catalog's fp8 efficiency (v4.1: 0.861): NVIDIA's 2025 engine "
              "reaches the catalog's own level at large batch. It is a diagnostic, not a level users are offered "
              "(that Offline batch is not published: `gpu_batch_size` 2,048 is more than the KV cache holds, so "
              "the fit rests on the modelled KV capacity; next points). At it (sensitivity table, `own Offline "
              "level`) capacity is right (tokens/s −1 %) and the curve at the published Server point ~5 % fast (161 against "
              "170 ms), and at 94.5 % load that settles the run at ~460 sequences instead of ~715: TPOT 27–36 % "
              "and TTFT 54–61 % short, the H100 v4.1 pattern (a Server run slower than its Offline run predicts) "
              "now on an H200.",
              "- **13f (8xH100, PP2 × 4): a pipeline that never drains.** By Little's law each two-GPU engine "
              "held ~1,100 sequences, more than one micro-batch's `gpu_batch_size` of 1,024: TensorRT-LLM keeps "
              "a micro-batch per stage in flight, each stage busy, and the model now prices a pipelined "
              "iteration that way (one cycle of micro-batches circulating through the stages; "
              "docs/models_and_parallelism.md). Priced as synchronous fill and drain (3 stage slots for 2 "
              "micro-batches where the engine spends 2), this row's iteration was ~2.9× the published one and "
              "the same engine's v5.0 Offline run simulated 43 % short, beyond any FLOPs level. With the "
              "pipeline kept full, that Offline run simulates 15.5 % short at the v4.1 level (26,450 against "
              "31,307 tokens/s), 6.6 % short at the level 13e's own Offline run implies (1.002 × the catalog), "
              "and its own Offline throughput implies 1.115 × the catalog: the v5.0 H100 engine, like the "
              "H200's, runs above the v4.1 level. At the v4.1 level the Server run still overloads.",
              f"- **A v5.0 level fitted as the v4.x ones: {V50_JOINT_SCALE:.3f}, not offered.** One scale for both "
              "v5.0 systems at which their two Offline runs have a mean log error of 0 (batch: NVIDIA's "
              "`gpu_batch_size`, capped at what the modelled KV cache holds; `python benchmarks/validate_perf.py "
              f"--fit`) is {V50_JOINT_SCALE:.3f} × the catalog's fp8 efficiency (table below). It is not as "
              "defensible as the v4.x levels, so `sim.perf.levels.FP8_LEVELS` does not offer it and the v5.0 rows "
              "keep the v4.1 level: (1) the v4.x levels rest on a published batch, so the step time they fit is "
              "pinned; the v5.0 fit rests on the modelled KV capacity (10 % less KV cache moves its Offline "
              "throughputs by the amounts in the table's last row, worth ~3 % of the level) and, for the H100, on "
              "the pipeline schedule's pricing, which no pinned point checks; (2) the two systems disagree: alone, "
              f"13e's Offline run implies {OFFLINE_FIT_SCALE['13e']:.3f} and 13f's {OFFLINE_FIT_SCALE['13f']:.3f}, "
              "11 % apart, where v4.1's rows 1 and 2 alone imply 0.843 and 0.873 (3.5 %) and v4.0's 1a and 2a "
              "0.701 and 0.748 (6.6 %) (each by the same bisection on that row alone, printed by `--fit`), so at the "
              "joint level each v5.0 Offline run is ~3.6 % off, where v4.1's rows are +1.3 % and −1.1 % and "
              "v4.0's +2.6 % and −2.1 % (table at the top). The held-out Server points do not settle "
              "it: at the joint level the modelled curve passes through one (13f, +3 %) and is ~10 % fast at the "
              "other (13e), the pattern the v4.x levels show too (through the H200 points, fast at the H100 "
              "ones). Run at it (sensitivity table, `v5.0 joint Offline level`), the "
              "H200 Server run settles far below its published batch and the H100 one overloads.",
              ""]
    return lines


def _span(values: Sequence[float]) -> str:
    """``lo–hi %`` of the magnitudes of ``values`` (fractions), rounded to whole per cent."""
    mags = sorted(round(abs(v) * 100) for v in values)
    return f"{mags[0]}–{mags[-1]} %" if mags[0] != mags[-1] else f"{mags[0]} %"


def amd_lines(points: list[LoadPoint], simulated: dict[str, dict[str, float]]) -> list[str]:
    """The AMD rows' paragraph of the load-point notes (:data:`AMD_V41`, :data:`AMD_OFFLINE`), its numbers from
    this run's load points and simulated Server runs (none: no paragraph)."""
    from sim.scenario.catalog import get_gpu  # noqa: PLC0415
    pts = [lp for lp in points if lp.row.batcher is not None and lp.label == "Server" and lp.row.id in simulated]
    if not pts:
        return []
    gap = [lp.modelled_s / lp.iteration_s - 1 for lp in pts]
    err = {k: [simulated[lp.row.id][f"{k}_{q}"] / published(lp.row)[f"{k}_{q}"] - 1 for lp in pts
               for q in ("mean", "p50", "p90", "p99")] for k in ("ttft", "tpot")}
    settled = " and ".join(f"~{in_flight_per_group(lp.row, simulated[lp.row.id]):,.0f}" for lp in pts)
    pub_b = " and ".join(f"~{lp.batch:,.0f}" for lp in pts)
    eff = get_gpu("mi300x").efficiency("fp8").flops_efficiency
    h100 = get_gpu("h100-sxm").efficiency("fp8").flops_efficiency
    ttft = ("above" if min(err["ttft"]) > 0 else "below" if max(err["ttft"]) < 0 else "around")
    return [f"- **AMD's vLLM on MI300X (13g, 13h; MLPerf v4.1, held out): the step curve {_span(gap)} fast at the "
            f"published point, TTFT within {_span(err['ttft'])} with AMD's request batcher, TPOT "
            f"{_span(err['tpot'])} short.** The catalog's MI300X fp8 FLOPs efficiency is fitted on the same systems' "
            f"Offline runs, modelled as AMD's harness ran them (rows 4 and 4a: {eff / h100:.3f} × H100's {h100:.3f} "
            f"= {eff:.3f}; `mlperf_server.AMD_OFFLINE`: the harness's 1,024 sequences and 49,152 batched tokens, "
            "each engine's share of the query longest prompt first, prompts only while more than 31 % of the KV "
            "blocks are free, `VLLM_SCHED_PREFILL_KVC_FREEPCT`; the engine size is the Server entry point's "
            "default, inferred); with H100's factors, never measured on an MI300X, the modelled iteration at the "
            "published Server point (~394 and ~409 sequences per GPU by Little's law, at 143 ms) was 64–67 ms, "
            f"~54 % short. At the calibrated factor it is {_span(gap)} short (table above; the Offline rows' FLOPs "
            "share is ~0.81 and bandwidth share ~0.18, so they pin the FLOPs factor only). AMD's harness holds "
            "LoadGen's samples in a request batcher (`--enable-batcher`; `mlperf_server.AMD_V41`, from a public "
            "flat-layout copy of the harness taken as v4.1's, an inference) that sends up to 96 of them to one "
            "engine, round robin, once 0.3 s have passed since the last dispatch: at 73.5 samples/s a group of ~23 "
            "prompts every ~0.31 s, each engine one every ~2.5 s. Modelled (`fleet.router.batcher`, with that "
            "copy's engine defaults: 1,024 sequences, 49,152 batched tokens, 0.97 of HBM), a request waits "
            "~0.16 s in the batcher and then for its group's one prefill iteration of ~5,100 tokens: every TTFT "
            f"percentile of both rows is {_span(err['ttft'])} {ttft} the published ~1.0–1.7 s, where without the "
            "batcher it is ~90 % short (a first token ~1.5 iterations after arrival; sensitivity table, `no "
            "batcher`). TPOT is short because the simulated runs settle at fewer sequences than the published "
            f"runs held ({settled} per GPU against {pub_b}): a group's prompts share one V0 prefill iteration, so "
            "an engine spends less of its time in prefills than when each prompt ran alone, and at a step curve "
            "a few per cent fast the batch settles far lower. Both runs sat at 89–91 % of their own Offline "
            "throughput (21,028 against 23,515 and 22,021 against 24,110 output tokens/s), where a few per cent "
            "of capacity moves the latency by tens of per cent: the sensitivity table's `capacity −10 %` (the step "
            "curve through the published Server points; a diagnostic, not a fit) shows what the residual curve "
            "gap at ~400 sequences costs. No public measurement of AMD's vLLM per-step CPU or scheduling time at "
            "these batches was found to price it. The factor is AMD's 2024 vLLM fp8 engine's: AMD's engine reached "
            "about the per-GPU speed of NVIDIA's H100 engine of the same round (143 ms at ~400 sequences per GPU, "
            "against 155 ms at ~422 on H100 TP2), on a GPU whose datasheet fp8 FLOPs and bandwidth are 1.3× and "
            "1.6× the H100's; newer software may be faster."]


def level_check_lines(checks: list[LevelCheck]) -> list[str]:
    """The candidate v5.0 FLOPs levels against both v5.0 Offline runs and both held-out Server points."""
    ids = list(checks[0].offline)
    lines = ["Candidate v5.0 levels (`mlperf_server.v50_level_checks`): each scale × the catalog's fp8 FLOPs "
             "efficiency, against the two v5.0 Offline runs (simulated against published tokens/s; what a fit "
             "sees) and the two held-out Server points (modelled against published iteration at the Little's-law "
             "batch; the one step time of each engine that is pinned).", "",
             "| fitted on | scale | " + " | ".join(f"{i} Offline tokens/s" for i in ids) + " | "
             + " | ".join(f"{i} Server iteration" for i in ids) + " |",
             "|---|---|" + "---|" * (2 * len(ids))]
    for c in checks:
        lines.append(f"| {c.label} | {c.scale:.3f} | " + " | ".join(f"{c.offline[i]:+.1%}" for i in ids) + " | "
                     + " | ".join(f"{c.server_point[i]:+.1%}" for i in ids) + " |")
    return lines + [""]


def sensitivity_lines(results: list[tuple[ServerRow, dict[str, float]]],
                      sensitivity: list[tuple[ServerRow, str, dict[str, float]]]) -> list[str]:
    """The Server rows under the :data:`SENSITIVITY` settings."""
    lines = ["Sensitivity (diagnostics, not the default): `perf.cpu_per_stream_token_s` per streamed token, the "
             "FLOPs and bandwidth efficiency scaled by ±3 % (capacity), and (v5.0) the FLOPs scale each "
             "system's own Offline run implies (`own Offline level`) and the round's joint one (see above). Error against the published value; "
             "`overload` where the simulated TTFT p99 is more than 10× the published one (the queue grows over "
             "the run).", "",
             "| id | setting | TTFT p50 | TTFT p99 | TPOT p50 | TPOT p99 | tokens/s |", "|---|---|---|---|---|---|---|"]
    for row, label, sim in [(r, "default", m) for r, m in results] + list(sensitivity):
        pub = published(row)
        rel = {k: (sim[k] - pub[k]) / pub[k] for k in ("ttft_p50", "ttft_p99", "tpot_p50", "tpot_p99",
                                                        "tokens_per_s")}
        over = sim["ttft_p99"] > 10 * pub["ttft_p99"]
        cells = ["overload" if over and k.startswith("ttft") else f"{v:+.0%}" for k, v in rel.items()]
        lines.append(f"| {row.id} | {label} | " + " | ".join(cells) + " |")
    lines += ["", "Near saturation the latency is fragile: ±3 % of modelled capacity moves the Server latencies by "
              "tens of per cent, and a few µs of per-token CPU time separates far-too-fast from overload; no "
              "single per-token streaming cost fits all three rows. Treat simulated latency of a pool run above "
              "~85 % of its capacity as a range, not a point: the throughput rows validate the capacity to a few "
              "per cent, which is not enough to place a latency at 95 % load. `fleetsim run SCENARIO "
              "--capacity-band` gives that range: the same arrivals at ±3 % of the model's capacity (the "
              "`capacity +3 %` and `capacity −3 %` rows above are such a band), and the run's verdict suggests it "
              "above a load factor of 0.85.", ""]
    return lines


def simulate_offline_of(row: ServerRow, flops_scale: float | None = None) -> float:
    """Simulated output tokens/s of the Offline run of ``row``'s system in its round (:data:`OFFLINE_RUN`): the
    published query of OpenOrca samples at t = 0 on the same engine, drained; ``flops_scale``: :func:`perf_block`
    (default: the row's level)."""
    import tempfile  # noqa: PLC0415
    import warnings  # noqa: PLC0415

    from sim.api import run  # noqa: PLC0415
    query, tokens_per_s, samples_per_s = OFFLINE_RUN[row.id]
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no prices: economics warns that GPUs cost 0
        sc = offline_scenario(row.gpu, row.gpus, row.tp, row.weight_dtype, row.batch, tokens_per_s / samples_per_s,
                              pathlib.Path(tmp) / "offline.csv", query, flops_scale, row.level_round, pp=row.pp,
                              max_num_tokens=row.max_num_tokens, kv_fraction=row.kv_fraction,
                              chunked=row.chunked_context)
        return float(run(sc).summary["throughput"]["output_tokens_per_s"])


def fit_level(simulate: Callable[[float], Sequence[float]], targets: Sequence[float], lo: float = 0.5,
              hi: float = 1.5, tol: float = 0.005) -> float:
    """The FLOPs scale in ``[lo, hi]`` at which ``simulate(scale)`` (one throughput per target, each rising with the
    scale) has a mean log error of 0 against ``targets``, by bisection to ``tol``: how every MLPerf Hopper level is
    fitted (one row: the scale that reproduces it; two: the geometric middle of their own scales).

    >>> round(fit_level(lambda s: [100 * s, 200 * s], [110, 242], tol=1e-6), 4)   # sqrt(1.1 x 1.21)
    1.1537
    """
    def mean_log_error(scale: float) -> float:
        return sum(math.log(v / t) for v, t in zip(simulate(scale), targets, strict=True)) / len(targets)

    while hi - lo > tol:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if mean_log_error(mid) < 0 else (lo, mid)
    return (lo + hi) / 2


def fit_offline_scale(rows: Sequence[ServerRow], lo: float = 0.5, hi: float = 1.5, tol: float = 0.005) -> float:
    """The scale of the catalog's fp8 FLOPs efficiency at which :func:`simulate_offline_of` reproduces the published
    Offline tokens/s of ``rows``' systems (:func:`fit_level`: one row, its own level; several, their joint level,
    fitted as each v4.x level is on its round's two Offline rows). The Server rows stay held out: only the Offline
    throughputs are matched."""
    return fit_level(lambda scale: [simulate_offline_of(r, scale) for r in rows],
                     [OFFLINE_RUN[r.id][1] for r in rows], lo, hi, tol)
