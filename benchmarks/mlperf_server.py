"""MLPerf Inference v4.1 Llama-2-70B runs on the real OpenOrca lengths: Server latency and Offline throughput.

Used by ``benchmarks/validate_perf.py`` (rows 13-14 of the report, and the OpenOrca lengths of the
MLPerf Offline rows). Every number here is NVIDIA's published submission (github.com/mlcommons/
inference_results_v4.1, ``closed/NVIDIA/results/<system>/llama2-70b-99/{Server,Offline}/performance/
run_1/mlperf_log_detail.txt``) and how it was run (same repository, ``closed/NVIDIA/configs/llama2-70b/``
and the TensorRT-LLM harness's default runtime flags, ``closed/NVIDIA/code/``).

How the runs are modelled (mechanisms, not fitted factors):

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
  806 (Offline); B200 (preview) TP1, batch size not in the published configs: the KV cache's limit.
  Requests go to the TP groups round robin.
- **Server**: Poisson arrivals at the scheduled rate for MLPerf's minimum duration (2,400 s in NVIDIA's
  configs), every request finished (``drain``). **Offline**: all 24,576 samples at t = 0, drained;
  throughput = tokens / time to the last completion, as MLPerf Offline counts it.
"""
from __future__ import annotations

import csv
import pathlib
from dataclasses import dataclass

ROOT = pathlib.Path(__file__).resolve().parents[1]
OPENORCA = ROOT / "scenarios" / "traces" / "mlperf_openorca_llama2_70b.csv"
SRC = "MLPerf Inference v4.1 Closed, github.com/mlcommons/inference_results_v4.1 closed/NVIDIA/results/"
MAX_NUM_TOKENS = 8192     # TensorRT-LLM build default max_num_tokens (NVIDIA's harness leaves it unset)
KV_FRACTION = 0.90        # NVIDIA's kvcache_free_gpu_mem_frac for llama2-70b
SERVER_DURATION_S = 2400.0  # NVIDIA's min_duration for llama2-70b (2,400,000 ms)
UNLIMITED_BATCH = 8192    # "batch not published": the KV cache is the only limit


def openorca_lengths() -> tuple[list[int], list[int]]:
    """Input and reference output tokens of the 24,576 OpenOrca samples, in file order."""
    with OPENORCA.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [int(r["prompt_tokens"]) for r in rows], [int(r["output_tokens"]) for r in rows]


def write_openorca_trace(path: pathlib.Path, tokens_per_sample: float) -> tuple[int, int, float]:
    """All samples at t = 0 with outputs scaled to ``tokens_per_sample`` on average (each rounded, >= 1).

    Returns ``(longest prompt, longest output, mean input)``; the file also serves as the length source
    of the Server runs (``dist: trace`` on both columns keeps each sample's input and output together).
    """
    prompts, outputs = openorca_lengths()
    k = tokens_per_sample / (sum(outputs) / len(outputs))
    scaled = [max(1, round(o * k)) for o in outputs]
    path.write_text("timestamp_s,prompt_tokens,output_tokens\n"
                    + "".join(f"0,{p},{o}\n" for p, o in zip(prompts, scaled)), encoding="utf-8")
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


SERVER_ROWS = [
    ServerRow("13", "8xH100-SXM-80GB", "h100-sxm", 8, 2, "fp8", 1024, 75.10, 21605.8 / 74.42, 21605.8,
              (0.2759, 0.2730, 0.3729, 0.4613), (0.1550, 0.1564, 0.1658, 0.1754),
              SRC + "DGX-H100_H100-SXM-80GBx8_TRT"),
    ServerRow("14", "1xB200-SXM-180GB", "b200", 1, 1, "fp4", None, 39.57, 10755.6 / 39.57, 10755.6,
              (0.2088, 0.2048, 0.2846, 0.3572), (0.1315, 0.1358, 0.1459, 0.1519),
              SRC + "B200-SXM-180GBx1_TRT (preview; completed samples/s not published, scheduled used)"),
]

METRICS = [("ttft", q) for q in ("mean", "p50", "p90", "p99")] + [("tpot", q) for q in ("mean", "p50", "p90", "p99")]


def pool(gpu: str, gpus: int, tp: int, batch: int | None, max_model_len: int) -> dict:
    """The TensorRT-LLM pool of one MLPerf system (see the module docstring)."""
    return {"name": "main", "gpu": gpu, "replicas": gpus // tp, "tensor_parallel": tp,
            "max_model_len": max_model_len, "gpu_memory_utilization": KV_FRACTION,
            "batching": {"scheduler": "trtllm", "kv_reservation": "prompt",
                         "max_num_seqs": batch or UNLIMITED_BATCH, "max_batched_tokens": MAX_NUM_TOKENS}}


def server_scenario(row: ServerRow, trace: pathlib.Path, duration_s: float = SERVER_DURATION_S,
                    cpu_per_seq_s: float = 0.0) -> dict:
    """Scenario of one Server run for ``sim.api.run`` (writes the scaled length file to ``trace``)."""
    p_max, o_max, _ = write_openorca_trace(trace, row.tokens_per_sample)
    lengths = {"dist": "trace", "path": str(trace)}
    return {
        "name": f"mlperf-server-{row.id}", "seed": 1, "duration": duration_s, "drain": True,
        "model": "llama-2-70b",
        "workload": {"arrival": {"process": "poisson", "rate": row.rate},
                     "prompt_tokens": lengths, "output_tokens": dict(lengths)},
        "fleet": {"router": "round_robin", "pools": [pool(row.gpu, row.gpus, row.tp, row.batch, p_max + o_max)]},
        "perf": {"model": "roofline", "weight_dtype": row.weight_dtype, "kv_dtype": "fp8",
                 "cpu_per_seq_s": cpu_per_seq_s},
        "metrics": {"records": "all"},
    }


def simulate_server(row: ServerRow, duration_s: float = SERVER_DURATION_S, cpu_per_seq_s: float = 0.0) -> dict[str, float]:
    """Simulated ``{ttft_mean, ..., tpot_p99, tokens_per_s}`` (seconds, tokens/s) of one Server run."""
    import tempfile  # noqa: PLC0415
    import warnings  # noqa: PLC0415

    from sim.api import run  # noqa: PLC0415
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no prices: economics warns that GPUs cost 0
        s = run(server_scenario(row, pathlib.Path(tmp) / "openorca.csv", duration_s, cpu_per_seq_s)).summary
    out = {f"{k}_{q}": float(s["latency"][k][q]) for k, q in METRICS}
    out["tokens_per_s"] = float(s["throughput"]["output_tokens_per_s"])
    return out


def published(row: ServerRow) -> dict[str, float]:
    out = {f"ttft_{q}": v for q, v in zip(("mean", "p50", "p90", "p99"), row.ttft)}
    out.update({f"tpot_{q}": v for q, v in zip(("mean", "p50", "p90", "p99"), row.tpot)})
    out["tokens_per_s"] = row.tokens_per_s
    return out


def offline_scenario(gpu: str, gpus: int, tp: int, weight_dtype: str, batch: int | None,
                     tokens_per_sample: float, trace: pathlib.Path) -> dict:
    """Scenario of an MLPerf Offline run: every OpenOrca sample at t = 0, drained."""
    p_max, o_max, _ = write_openorca_trace(trace, tokens_per_sample)
    return {
        "name": "mlperf-offline", "seed": 1, "duration": 1.0, "drain": True, "model": "llama-2-70b",
        "workload": {"arrival": {"process": "trace", "path": str(trace)}},
        "fleet": {"router": "round_robin", "pools": [pool(gpu, gpus, tp, batch, p_max + o_max)]},
        "perf": {"model": "roofline", "weight_dtype": weight_dtype, "kv_dtype": "fp8"},
        "metrics": {"records": "none"},
    }


OFFLINE_TOKENS_PER_S = {"13": 24524.9, "14": 11264.4}
"""The same systems' MLPerf v4.1 Offline throughput (validation rows 1 and 5)."""
SENSITIVITY_CPU_PER_SEQ_S = 40e-6
"""A per-sequence CPU cost that brings row 13's median latencies near the published ones (found by trying
values on row 13: a fit, shown only as a sensitivity, never a default)."""


def in_flight_per_group(row: ServerRow, m: dict[str, float]) -> float:
    """Sequences in flight per TP group by Little's law: rate x (TTFT + (tokens - 1) x TPOT) / groups."""
    return row.rate * (m["ttft_mean"] + (row.tokens_per_sample - 1) * m["tpot_mean"]) / (row.gpus // row.tp)


def server_report(results: list[tuple[ServerRow, dict[str, float]]],
                  sensitivity: list[tuple[ServerRow, dict[str, float]]] = ()) -> tuple[list[str], list[float]]:
    """Report lines of the Server section and the signed errors of every metric."""
    errs: list[float] = []
    lines = ["## Latency under load: MLPerf v4.1 Llama-2-70B Server", "",
             "Poisson arrivals at the scheduled rate on the real OpenOrca lengths (outputs scaled to what each "
             "run generated), TensorRT-LLM in-flight batching as NVIDIA ran it (`benchmarks/mlperf_server.py` "
             "describes every setting and its source). Latencies in ms; throughput in output tokens/s. "
             "Targets: every percentile within 20 %, throughput within 5 %.", "",
             "| id | system | metric | published | simulated | error |", "|---|---|---|---|---|---|"]
    for row, sim in results:
        pub = published(row)
        for key in [f"{k}_{q}" for k, q in METRICS] + ["tokens_per_s"]:
            e = (sim[key] - pub[key]) / pub[key]
            errs.append(e)
            fmt = (lambda v: f"{v:,.0f}") if key == "tokens_per_s" else (lambda v: f"{v * 1e3:.1f}")
            lines.append(f"| {row.id} | {row.system} | {key.replace('_', ' ')} | {fmt(pub[key])} | "
                         f"{fmt(sim[key])} | {e:+.1%} |")
    lines += ["", "Sources: " + "; ".join(f"{r.id}: {r.source}" for r, _ in results) + ".", ""]
    lines += ["**Why row 13 misses.** Near saturation a server's latency is set by its step-time curve: sequences "
              "accumulate (Little's law) until iterations are slow enough that the batch drains at the arrival "
              "rate, so a small step-time gap at large batch becomes a large latency gap.", ""]
    lines += ["| id | server load (tokens/s over the system's Offline tokens/s) | in flight per TP group: published "
              "(Little's law) | simulated | iteration: published TPOT | simulated TPOT |", "|---|---|---|---|---|---|"]
    for row, sim in results:
        pub = published(row)
        lines.append(f"| {row.id} | {row.tokens_per_s / OFFLINE_TOKENS_PER_S[row.id]:.0%} | "
                     f"{in_flight_per_group(row, pub):,.0f} | {in_flight_per_group(row, sim):,.0f} | "
                     f"{pub['tpot_mean'] * 1e3:.0f} ms | {sim['tpot_mean'] * 1e3:.0f} ms |")
    lines += ["", "The H100 system's own Offline run (row 1: 896 sequences per TP2 group, 24,525 tokens/s, i.e. "
              "~146 ms per iteration of about the same shape: ~3 prompts of ~222 tokens joining ~900 decodes) is "
              "faster than its Server iterations (~155 ms at ~840 sequences). fleetsim reproduces the Offline "
              "capacity (row 1, within a few per cent) and therefore settles the Server run at a much smaller batch "
              "with short iterations. Whatever slows the real Server iterations (per-token streaming of results "
              "to LoadGen, first-token responses, the harness's request handling: work an Offline run does "
              "not do) is not in the default model. Row 14 is close for a different reason: B200's modelled "
              "capacity is below its real Offline capacity (row 5), so the simulated Server run sits nearer "
              "saturation, which happens to match the real one's latency.", ""]
    if sensitivity:
        lines += [f"Sensitivity (not the default, a value fitted by trying it on row 13): with "
                  f"`perf.cpu_per_seq_s: {SENSITIVITY_CPU_PER_SEQ_S * 1e6:.0f} µs` per sequence and iteration:", "",
                  "| id | TTFT p50 | TTFT p99 | TPOT p50 | TPOT p99 | tokens/s |", "|---|---|---|---|---|---|"]
        for row, sim in sensitivity:
            pub = published(row)
            cells = [f"{sim[k] * 1e3:.0f} ms ({(sim[k] - pub[k]) / pub[k]:+.0%})"
                     for k in ("ttft_p50", "ttft_p99", "tpot_p50", "tpot_p99")]
            t = sim["tokens_per_s"]
            cells.append(f"{t:,.0f} ({(t - pub['tokens_per_s']) / pub['tokens_per_s']:+.0%})")
            lines.append(f"| {row.id} | " + " | ".join(cells) + " |")
        lines += ["", "It brings row 13's medians within ~10 % but leaves the simulated H100 system at the edge of its "
                  "capacity (its TTFT tail grows over the run), and the same cost overloads the B200 system "
                  "(row 14): it is not a constant of the serving stack that transfers between systems, so it "
                  "stays off by default.", ""]
    return lines, errs
