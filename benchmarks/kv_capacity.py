"""KV-cache capacity (the memory plan) against what serving engines report at start-up.

Each row is one published start-up log: the engine's own count of the tokens its KV cache holds (vLLM V1
``GPU KV cache size: N tokens``; vLLM V0 ``# GPU blocks: N``, 16 tokens a block; SGLang ``KV Cache is allocated.
#tokens: N``; TensorRT-LLM ``Using N tokens in paged KV cache``) with the set-up the thread states: model, GPU,
tensor-parallel size, weight and KV precision, the engine's memory knob (vLLM ``gpu_memory_utilization``,
SGLang ``mem_fraction_static``, TensorRT-LLM ``kv_cache_free_gpu_mem_fraction``) and the scheduler limits that
size its profiling run (``max_num_batched_tokens``, ``max_num_seqs``). Beside it, fleetsim's KV tokens for the
same set-up (:func:`sim.perf.memory.memory_plan`, the engine's rule as fleetsim models it, ``engine=``) and
the error ``fleetsim / published - 1``. vLLM V1's and SGLang's rules share out the memory the GPU reports (the
catalog's ``reported_memory_gib``, 79.19 GiB on an H100), vLLM V0's and TensorRT-LLM's the datasheet's.

``python benchmarks/kv_capacity.py`` prints one JSON object per row, then the median and worst absolute error
(``--engine E`` keeps one engine's rows; ``--rule R`` sizes every row by one rule of
:data:`~sim.perf.memory_rules.ENGINES`: ``--rule legacy`` as fleetsim sized every pool before the engines'
rules were told apart, the table's "before" column; ``--rule vllm`` by vLLM V1's). ``tests/test_kv_capacity.py``
holds a few rows to the tolerance measured here; docs/performance_model.md ("Memory plan") has the table.

Rows marked ``derived`` were not logged as a token count: the thread publishes the memory terms of vLLM's
own rule (``Available KV cache memory`` or the weights, torch peak and non-torch terms), and the tokens are
that memory over the model's KV bytes per token, in whole 16-token blocks (``note`` says which).
"""
from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import sys
from dataclasses import dataclass
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sim.perf.memory import memory_plan  # noqa: E402
from sim.perf.memory_rules import ENGINES, engine_of  # noqa: E402
from sim.scenario.catalog import get_gpu, get_model  # noqa: E402

LLMD = ("github.com/llm-d-incubation/llm-d-planner accuracy/accuracy_report.md (commit 875a4fd), "
        "vLLM v0.19.0 on H100-80GB, 2026-04")
LLMD_LOG = "github.com/llm-d-incubation/llm-d-planner accuracy/results/v0.19.0/logs/{} (commit d3121e0), 2026-04-22"

#: Qwen2.5-7B-Instruct (huggingface.co/Qwen/Qwen2.5-7B-Instruct config.json), not in the catalog.
QWEN25_7B = {"name": "qwen2.5-7b", "n_layers": 28, "hidden": 3584, "n_heads": 28, "n_kv_heads": 4, "head_dim": 128,
             "ffn_hidden": 18944, "vocab": 152064, "n_params": 7.62e9, "max_context": 32768}
#: Qwen3-14B (huggingface.co/Qwen/Qwen3-14B config.json), not in the catalog.
QWEN3_14B = {"name": "qwen3-14b", "n_layers": 40, "hidden": 5120, "n_heads": 40, "n_kv_heads": 8, "head_dim": 128,
             "ffn_hidden": 17408, "vocab": 151936, "n_params": 14.77e9, "max_context": 40960}
#: GeForce RTX 3090 (24 GB GDDR6X); the log's ``total_gpu_memory=23.58GiB`` is the part's own count (its row is
#: vLLM V0's, whose ``legacy`` rule sizes from ``hbm_gb``: the reported total does not move it).
RTX3090 = {"name": "rtx-3090", "like": "l40s", "hbm_gb": 24, "hbm_tbps": 0.936, "reported_memory_gib": 23.58}
#: NVIDIA A10 (24 GB GDDR6).
A10 = {"name": "a10", "like": "l40s", "hbm_gb": 24, "hbm_tbps": 0.6}


@dataclass(frozen=True)
class Published:
    """One engine start-up as published, with the set-up its thread states."""

    id: str
    engine: str                 # vllm-v1 | vllm-v0 | sglang | trtllm
    model: Any                  # catalog name or inline architecture
    gpu: Any                    # catalog name or inline datasheet
    tp: int
    fraction: float             # gpu_memory_utilization | mem_fraction_static | kv_cache_free_gpu_mem_fraction
    tokens: int                 # the engine's KV-cache tokens (whole replica)
    source: str
    weight_dtype: str = "bf16"
    kv_dtype: str = "bf16"
    max_batched_tokens: int = 8192
    max_num_seqs: int = 1024
    block_size: int = 16
    derived: bool = False
    note: str = ""


def _derived(gib_per_gpu: float, model, tp: int, kv_dtype: str = "bf16", block: int = 16) -> int:
    """Tokens a vLLM KV cache of ``gib_per_gpu`` GiB on each GPU holds: whole blocks of ``block`` tokens."""
    from sim.perf.memory import kv_bytes_per_token
    per_gpu = kv_bytes_per_token(get_model(model), tp, kv_dtype) / tp
    return int(gib_per_gpu * 2**30 // (per_gpu * block)) * block


ROWS: tuple[Published, ...] = (
    Published("v1-llama8b-tp1", "vllm-v1", "llama-3.1-8b", "h100-sxm", 1, 0.95, 476_016, LLMD,
              note="GPU KV cache size: 476,016 tokens; 58.11 GiB; weights 14.99, torch peak 1.89, non-torch 0.25 GiB"),
    Published("v1-llama8b-tp1-fp8kv", "vllm-v1", "llama-3.1-8b", "h100-sxm", 1, 0.95, 952_032, LLMD,
              kv_dtype="fp8", note="--kv-cache-dtype fp8: 952,032 tokens in the same 58.11 GiB"),
    Published("v1-llama8b-tp2", "vllm-v1", "llama-3.1-8b", "h100-sxm", 2, 0.95,
              _derived(0.95 * 79.19 - 7.51 - 1.89 - 2.07, "llama-3.1-8b", 2), LLMD, derived=True,
              note="0.95 x 79.19 GiB - weights 7.51 - torch peak 1.89 - non-torch 2.07 GiB per GPU"),
    Published("v1-llama8b-tp4", "vllm-v1", "llama-3.1-8b", "h100-sxm", 4, 0.95,
              _derived(0.95 * 79.19 - 3.77 - 1.89 - 2.13, "llama-3.1-8b", 4), LLMD, derived=True,
              note="0.95 x 79.19 GiB - weights 3.77 - torch peak 1.89 - non-torch 2.13 GiB per GPU"),
    Published("v1-qwen25-7b-tp1", "vllm-v1", QWEN25_7B, "h100-sxm", 1, 0.95, 1_096_000, LLMD,
              note="GPU KV cache size: 1,096,000 tokens; 58.53 GiB; torch peak 2.21, non-torch 0.24 GiB"),
    Published("v1-qwen3-14b-tp1", "vllm-v1", QWEN3_14B, "h100-sxm", 1, 0.95,
              _derived(45.23, QWEN3_14B, 1), LLMD + " (part 2: vLLM v0.18.0)", derived=True,
              note="Available KV cache memory 45.23 GiB (v0.18.0; weights 27.52, activation 2.23, non-torch 0.25)"),
    Published("v1-llama70b-fp8-tp2", "vllm-v1", "llama-3.3-70b", "h100-sxm", 2, 0.95, 244_304,
              LLMD_LOG.format("fp8dyn-llama-3-3-70b--h100-80gb--tp2pp1dp1--8192.log"), weight_dtype="fp8",
              note="RedHatAI/Llama-3.3-70B-Instruct-fp8-dynamic; 37.28 GiB; weights 33.88, torch peak 1.96, "
                   "non-torch 2.1 GiB"),
    Published("v1-llama70b-fp8-tp4", "vllm-v1", "llama-3.3-70b", "h100-sxm", 4, 0.95, 708_992,
              LLMD_LOG.format("fp8dyn-llama-3-3-70b--h100-80gb--tp4pp1dp1--8192.log"), weight_dtype="fp8",
              note="non-KV 21.14 GiB per GPU: weights 16.96, torch peak 1.97, non-torch 2.21 GiB"),
    Published("v1-qwen3-235b-fp8-tp4", "vllm-v1", "qwen3-235b-a22b", "h100-sxm", 4, 0.90, 178_880,
              "github.com/vllm-project/vllm issue 21348, 2025-07-22", weight_dtype="fp8",
              note="Qwen3-235B-A22B-FP8, vllm serve --tensor-parallel-size 4 (defaults); Available KV cache "
                   "memory: 8.11 GiB; LMCache connector configured"),
    Published("sglang-qwen3-235b-fp8-tp4", "sglang", "qwen3-235b-a22b", "h100-sxm", 4, 0.93, 367_404,
              "github.com/vllm-project/vllm issue 21348, 2025-07-22", weight_dtype="fp8", block_size=1,
              note="sglang.launch_server --tp 4 --mem-fraction-static 0.93; K size 8.23 GB, V size 8.23 GB"),
    Published("v0-llama8b-3090", "vllm-v0", "llama-3.1-8b", RTX3090, 1, 0.90, 1952 * 16,
              "github.com/vllm-project/vllm issue 10517 (comment 2024-12-02)", max_batched_tokens=20_000,
              max_num_seqs=256,
              note="--max-model-len 20000 (V0 profiles max_model_len tokens); # GPU blocks: 1952; "
                   "total_gpu_memory=23.58GiB, peak_torch 17.06, non_torch 0.35, kv_cache_size=3.81GiB"),
    Published("v0-llama3-8b-tp1", "vllm-v0", "llama-3-8b", "h100-sxm", 1, 0.90,
              _derived(53.29, "llama-3-8b", 1), "github.com/vllm-project/vllm pull 10511 (comment 2024-12-14)",
              max_num_seqs=256, derived=True,
              note="vllm serve meta-llama/Meta-Llama-3-8B (V0, defaults); total_gpu_memory 79.22 GiB, weights 14.96, "
                   "non_torch 1.79, activation peak 1.26, available_kv_cache_memory 53.29 GiB"),
    Published("v0-llama3-8b-tp2", "vllm-v0", "llama-3-8b", "h100-sxm", 2, 0.90,
              _derived(0.90 * 79.22 - 7.48 - 3.58 - 1.26, "llama-3-8b", 2),
              "github.com/vllm-project/vllm pull 10511 (comment 2024-12-14)", max_num_seqs=256, derived=True,
              note="-tp 2: weights 7.48, non_torch 3.58, activation peak 1.26 GiB of 0.9 x 79.22 GiB"),
    Published("v0-llama2-7b-a100", "vllm-v0", "llama-2-7b", "a100-80gb", 1, 0.90, 7351 * 16,
              "github.com/vllm-project/vllm pull 2031 (2023-12-12)", weight_dtype="fp16", kv_dtype="fp16",
              max_batched_tokens=4096, max_num_seqs=256,
              note="benchmark_throughput.py, Llama2-7B TP1 on A100-80GB: # GPU blocks: 7351 (with the PR's "
                   "profiling of memory outside PyTorch)"),
    Published("v0-llama2-70b-a100-tp4", "vllm-v0", "llama-2-70b", "a100-80gb", 4, 0.90, 20865 * 16,
              "github.com/vllm-project/vllm pull 2031 (2023-12-12)", weight_dtype="fp16", kv_dtype="fp16",
              max_batched_tokens=4096, max_num_seqs=256,
              note="Llama2-70B TP4 on 4x A100-80GB: # GPU blocks: 20865 (31,615 before the PR, which "
                   "over-committed memory)"),
    Published("trtllm-llama2-7b-a10", "trtllm", "llama-2-7b", A10, 1, 0.95, 10_718,
              "github.com/NVIDIA/TensorRT-LLM issue 224, 2023-10-31", weight_dtype="fp16", kv_dtype="fp16",
              max_batched_tokens=25 * 2048, max_num_seqs=25,
              note="engine --max_batch_size 25 --max_output_len 4096 --remove_input_padding --tokens_per_block 16, "
                   "fp16, max_input_len at build.py's default 2,048 (activations sized for 25 x 2,048 tokens); "
                   "kv_cache_free_gpu_mem_fraction 0.95; 'Using 10718 tokens in paged KV cache'"),
)
"""Every row found whose set-up the thread states (see the module docstring and docs/performance_model.md)."""


def fleetsim_tokens(row: Published, rule: str | None = None) -> int:
    """fleetsim's KV tokens for the row's set-up, by its engine's memory rule (or ``rule``, one of
    :data:`~sim.perf.memory_rules.ENGINES`)."""
    plan = memory_plan(get_model(row.model), get_gpu(row.gpu), row.tp, row.fraction, row.weight_dtype,
                       row.kv_dtype, row.block_size, row.max_batched_tokens, row.max_num_seqs,
                       engine=rule or engine_of(row.engine))
    return plan.kv_tokens


def compare(rows=ROWS, rule: str | None = None) -> list[dict]:
    """One record per row: set-up, published tokens, fleetsim tokens, error."""
    out = []
    for r in rows:
        sim = fleetsim_tokens(r, rule)
        out.append({"row": r.id, "engine": r.engine, "model": r.model if isinstance(r.model, str) else r.model["name"],
                    "gpu": r.gpu if isinstance(r.gpu, str) else r.gpu["name"], "tp": r.tp, "fraction": r.fraction,
                    "weight_dtype": r.weight_dtype, "kv_dtype": r.kv_dtype, "published_tokens": r.tokens,
                    "fleetsim_tokens": sim, "error": round(sim / r.tokens - 1, 4), "derived": r.derived,
                    "note": r.note, "source": r.source})
    return out


def summary(records: list[dict]) -> dict:
    """Median and worst absolute error, over all rows and by engine."""
    def stats(recs):
        errs = [abs(r["error"]) for r in recs]
        worst = max(recs, key=lambda r: abs(r["error"]))
        return {"rows": len(recs), "median_abs_error": round(statistics.median(errs), 4),
                "worst_abs_error": round(abs(worst["error"]), 4), "worst_row": worst["row"]}
    out = stats(records)
    engines = sorted({r["engine"] for r in records})
    if len(engines) > 1:
        out["by_engine"] = {e: stats([r for r in records if r["engine"] == e]) for e in engines}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", choices=sorted({r.engine for r in ROWS}), help="only this engine's rows")
    ap.add_argument("--rule", choices=ENGINES, help="size every row by this engine's memory rule instead of its own")
    args = ap.parse_args(argv)
    rows = [r for r in ROWS if args.engine is None or r.engine == args.engine]
    records = compare(rows, args.rule)
    for rec in records:
        print(json.dumps(rec))
    print(json.dumps(summary(records)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
