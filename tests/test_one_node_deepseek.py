"""The DeepSeek-R1 rows of other engines on one node (8 H200: dstack's SGLang and vLLM runs 20a-e, GPUStack's
SGLang and vLLM runs 21a-f) run as published."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sim.perf.memory import memory_plan
from sim.perf.memory_rules import engine_of
from sim.scenario.catalog import get_gpu, get_model
from sim.scenario.load import scenario_from_dict

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import validate_perf  # noqa: E402

ROWS = {r.id: r for r in validate_perf.ROWS_2026 if r.source == validate_perf.SRC_DSTACK}

# dstack's offline_results.csv (GPU h200): backend, output_len, elapsed_time, tokens_per_second (input + output)
CSV = {"20a": ("sglang", 800, 708.2590959, 5783.194347), "20b": ("sglang", 1600, 1051.181447, 4675.881613),
       "20c": ("sglang", 3200, 1877.895927, 3489.863259), "20d": ("vllm", 800, 837.3510345, 4891.616337),
       "20e": ("vllm", 1600, 1568.906264, 3132.88315)}


def test_rows_are_the_published_runs():
    """Output tok/s = 1,024 x output_len / elapsed_time; the CSV's own total tokens/s column agrees."""
    assert sorted(ROWS) == sorted(CSV)
    for rid, (backend, osl, elapsed, total_tok_s) in CSV.items():
        r = ROWS[rid]
        assert (r.prompts, r.input_tokens, r.output_tokens) == (1024, 3200, osl)
        assert r.published == 1024 * osl / elapsed
        assert r.published * (3200 + osl) / osl == pytest.approx(total_tok_s, rel=1e-8)
        assert r.scheduler == {"sglang": "sglang", "vllm": "vllm-v0"}[backend]
        assert r.role == "holdout" and r.model == "deepseek-r1" and r.batch is None


@pytest.mark.parametrize("rid", sorted(CSV))
def test_layout_is_the_documented_tp8(rid):
    """--tensor-parallel-size=8 and nothing else: experts TP-sharded (EP1), no attention-DP, DeepSeek's FP8 weights,
    the KV cache in the model's bf16 (dtype auto), 8 H200 as one replica."""
    r = ROWS[rid]
    assert (r.gpu, r.gpus, r.tp, r.ep, r.dp_attention) == ("h200-sxm", 8, 8, 1, False)
    assert (r.weight_dtype, r.kv_dtype) == ("fp8", "bf16")


def test_batch_is_what_the_replicated_latent_cache_holds():
    """Under TP every rank keeps the whole MLA latent: (512 + 64) x 2 bytes x 61 layers on each of 8 GPUs per token;
    the batch is the whole sequences (3,200 + output tokens) the cache holds."""
    for rid, row in ROWS.items():     # each by its engine's memory rule (SGLang's, or vLLM V0's)
        plan = memory_plan(get_model(row.model), get_gpu(row.gpu), row.layout, 0.9, row.weight_dtype, row.kv_dtype,
                           16, validate_perf.MAX_BATCHED_TOKENS, engine=engine_of(row.scheduler))
        assert plan.kv_bytes_per_token == 8 * 61 * (512 + 64) * 2
        assert validate_perf.batch_for(row) == plan.kv_tokens // (3200 + row.output_tokens), rid


@pytest.mark.parametrize("rid", sorted(CSV))
def test_scenario_submits_the_whole_query_at_once_with_the_engines_scheduler(rid, tmp_path):
    r = ROWS[rid]
    data = validate_perf.scenario_for(r, tmp_path / "q.csv")
    lines = (tmp_path / "q.csv").read_text().splitlines()
    assert lines[0] == "timestamp_s,prompt_tokens,output_tokens"
    assert lines[1:] == [f"0,3200,{r.output_tokens}"] * 1024
    pool = scenario_from_dict(data, base_dir=tmp_path).scenario.fleet.pools[0]
    assert (pool.replicas, pool.tensor_parallel, pool.expert_parallel, pool.data_parallel_attention) == (1, 8, 1, False)
    b = pool.batching
    assert b.scheduler == r.scheduler and b.max_num_seqs == validate_perf.batch_for(r)
    if r.scheduler == "sglang":   # SGLang's own iteration rule: prompts chunked, not mixed with decodes
        assert (b.chunked_prefill, b.mixed_batches, b.max_batched_tokens) == (True, False, 8192)
    else:
        assert (b.chunked_prefill, b.mixed_batches) == (False, False)


def test_other_rows_keep_their_scenario(tmp_path):
    """Rows without a scheduler of their own still run vLLM V0's rule with a whole prompt per iteration."""
    r = next(r for r in validate_perf.ROWS_2026 if r.id == "17a")
    b = validate_perf.scenario_for(r, tmp_path / "q.csv")["fleet"]["pools"][0]["batching"]
    assert b == {"scheduler": "vllm-v0", "policy": "continuous", "max_num_seqs": 1024, "max_batched_tokens": 8192,
                 "chunked_prefill": False}
    assert len((tmp_path / "q.csv").read_text().splitlines()) == 1 + 2 * 1024


def test_report_section_has_the_rows_their_group_and_the_decode_increment(tmp_path):
    """The 800 extra output tokens of 20b over 20a took 1,051.18 - 708.26 = 342.9 s: 819,200 / 342.9 = 2,389 tok/s;
    the rows stay out of the TensorRT-LLM decode-step table."""
    validate_perf.write_2026_section("estimate", tmp_path / "validation.md")
    text = (tmp_path / "validation.md").read_text(encoding="utf-8")
    for rid in [*CSV, *GPUSTACK]:
        assert text.count(f"| {rid} |") == 1
    assert "| deepseek-r1, SGLang/vLLM |" in text and "rows 21a-f" in text
    assert "took 343 s (2,389 output tokens/s)" in text
    assert not {st["id"] for st in validate_perf.decode_steps()} & {*CSV, *GPUSTACK}


# GPUStack's H200 page, "Other Benchmark Cases": engine, total input tokens, requests, output tokens per request,
# output token throughput (tok/s)
GPUSTACK = {"21a": ("sglang", 1_997_530, 500, 200, 767.42), "21b": ("sglang", 998_393, 500, 100, 907.31),
            "21c": ("sglang", 3_199_900, 100, 100, 49.89), "21d": ("vllm-v1", 1_997_530, 500, 200, 753.67),
            "21e": ("vllm-v1", 998_393, 500, 100, 843.71), "21f": ("vllm-v1", 3_199_900, 100, 100, 48.33)}


@pytest.mark.parametrize("rid", sorted(GPUSTACK))
def test_later_release_rows_are_the_published_runs_at_tp8(rid, tmp_path):
    """Prompts = the run's input tokens per request (rounded); `--tp 8` (SGLang's `--enable-dp-attention` without
    `--dp` is switched off): TP8, TP-sharded experts; every request at t = 0 with the engine's scheduler."""
    scheduler, tokens_in, n, osl, tok_s = GPUSTACK[rid]
    r = next(r for r in validate_perf.ROWS_2026 if r.id == rid)
    assert r.source == validate_perf.SRC_GPUSTACK and r.role == "holdout" and r.batch is None
    assert (r.input_tokens, r.output_tokens, r.prompts, r.published) == (round(tokens_in / n), osl, n, tok_s)
    assert (r.gpu, r.gpus, r.tp, r.ep, r.dp_attention, r.weight_dtype, r.kv_dtype) == \
        ("h200-sxm", 8, 8, 1, False, "fp8", "bf16")
    data = validate_perf.scenario_for(r, tmp_path / "q.csv")
    assert (tmp_path / "q.csv").read_text().splitlines()[1:] == [f"0,{r.input_tokens},{osl}"] * n
    pool = scenario_from_dict(data, base_dir=tmp_path).scenario.fleet.pools[0]
    assert pool.batching.scheduler == scheduler and pool.batching.chunked_prefill
    assert pool.batching.mixed_batches == (scheduler == "vllm-v1")    # SGLang runs prompts in batches of their own


def test_each_row_runs_the_kernel_set_of_its_engine(tmp_path):
    """vLLM rows: the vllm set (vLLM's traced MoE routing kernels), vllm-0.7 for vLLM 0.7.4 (20d-e: with its CUTLASS
    block-fp8 GEMM's rate); SGLang 0.4.3 rows (20a-c): sglang-0.4; later SGLang and TensorRT-LLM rows: trtllm (no
    H200 trace of their kernels); the set reaches the simulated scenario's perf block."""
    from sim.perf.kernels import KERNEL_SETS
    for r in validate_perf.ROWS_2026:
        one_node = r.source in validate_perf.ONE_NODE_SOURCES
        early = one_node and ("0.4.3" in r.note or "0.7.4" in r.note)
        expected = ("vllm" if one_node and "vLLM" in r.note else "trtllm") if not early else \
            ("vllm-0.7" if "vLLM" in r.note else "sglang-0.4")
        assert r.kernels == expected, r.id
        perf = validate_perf.scenario_for(r, tmp_path / "q.csv")["perf"] if r.dataset == "fixed" else {}
        assert perf.get("kernels", "trtllm") == r.kernels, r.id
    assert sorted(r.id for r in validate_perf.ROWS_2026 if r.kernels == "vllm") == ["21d", "21e", "21f"]
    assert sorted(r.id for r in validate_perf.ROWS_2026 if r.kernels == "vllm-0.7") == ["20d", "20e"]
    assert sorted(r.id for r in validate_perf.ROWS_2026 if r.kernels == "sglang-0.4") == ["20a", "20b", "20c"]
    assert all(r.kernels == "trtllm" for r in validate_perf.ROWS)      # rows 1-15 do not move
    from dataclasses import replace
    for rid, before in (("20d", "vllm"), ("20a", "trtllm")):   # each early set slows its rows' prompts
        r = next(r for r in validate_perf.ROWS_2026 if r.id == rid)
        assert validate_perf.estimate(r) < validate_perf.estimate(replace(r, kernels=before))
    r = next(r for r in validate_perf.ROWS_2026 if r.id == "21d")
    assert validate_perf.estimate(r) < validate_perf.estimate(replace(r, kernels="trtllm"))
    assert KERNEL_SETS["vllm"].moe_routing_s > 0
