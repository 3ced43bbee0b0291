"""How a validation row (:mod:`validation_rows`) runs: its batch, its closed-form estimate, its scenario for the
full simulator and the simulated number, and how much that number depends on each efficiency factor.
"""
from __future__ import annotations

import math
import pathlib

import mlperf_deepseek
import mlperf_server
from sim.perf.kernels import kernel_set
from sim.perf.memory import memory_plan
from sim.perf.memory_rules import engine_of
from sim.perf.roofline import RooflineModel
from sim.perf.throughput import prefill_shape, static_batch_throughput
from sim.scenario.catalog import Efficiency, get_gpu, get_model
from validation_rows import MAX_AUTO_BATCH, MAX_BATCHED_TOKENS, MLPERF_DSR1, PUBLISHED_TOKENS_PER_SAMPLE, Row


def batch_for(row: Row) -> int:
    """Published batch, or the largest the KV cache holds for whole sequences (<= MAX_AUTO_BATCH), by the memory
    rule of the row's engine (``row.scheduler``)."""
    if row.batch is not None:
        return row.batch
    plan = memory_plan(get_model(row.model), get_gpu(row.gpu), row.layout, 0.9, row.weight_dtype, row.kv_dtype,
                       16, MAX_BATCHED_TOKENS, engine=engine_of(row.scheduler))
    return max(1, min(MAX_AUTO_BATCH, plan.kv_tokens // (row.input_tokens + row.output_tokens)))


def estimate(row: Row, eff: Efficiency | None = None, overlap_exponent: float | None = None,
             kv_sharing: str | None = None, kernels: str | None = None, moe_level: float | None = None) -> float:
    """Steady-state estimate: static-batch throughput per replica x replicas (or TTFT seconds), with the
    kernel set ``kernels`` (``perf.kernels``; default the row's) and the MoE decode level ``moe_level``
    (``perf.moe_decode_efficiency``; default none)."""
    rm = RooflineModel(get_model(row.model), get_gpu(row.gpu), row.tp, row.weight_dtype, row.kv_dtype, eff,
                       overlap_exponent, kv_sharing or row.kv_sharing, layout=row.layout,
                       kernels=kernel_set(kernels or row.kernels), moe_decode_efficiency=moe_level)
    if row.metric == "ttft":
        return rm.step_time(prefill_shape(1, row.input_tokens))
    mbt = None if row.batch is not None else MAX_BATCHED_TOKENS
    per_replica = static_batch_throughput(rm, batch_for(row), row.input_tokens, row.output_tokens, mbt)
    return per_replica * (row.gpus // row.tp)


def scenario_for(row: Row, trace_path: pathlib.Path, rounds: int = 2, flops_scale: float | None = None,
                 moe_level: float | None = None) -> dict:
    """Scenario (dict) of an offline run of ``row`` for ``sim.api.run``.

    Writes a trace of ``rounds x batch x replicas`` requests (one for ttft rows; the published ``prompts`` where
    given), all arriving at t = 0 with the published lengths, to ``trace_path``; the run drains them all. The
    row's ``scheduler`` preset forms the batches (``vllm-v0``: prompts in iterations of their own). OpenOrca rows run
    MLPerf's samples instead (:func:`mlperf_server.offline_scenario`; ``flops_scale`` replaces their MLPerf FLOPs
    calibration, :data:`mlperf_server.MLPERF_FLOPS_SCALE`). ``moe_level`` sets ``perf.moe_decode_efficiency``
    (the MoE decode level; default none).
    """
    if moe_level is not None:
        sc = scenario_for(row, trace_path, rounds, flops_scale)
        sc["perf"] = {**sc["perf"], "moe_decode_efficiency": moe_level}
        return sc
    if row.dataset == "mlperf-dsr1":
        return mlperf_deepseek.scenario(MLPERF_DSR1[row.id], trace_path)
    if row.dataset == "openorca":
        return mlperf_server.offline_scenario(row.gpu, row.gpus, row.tp, row.weight_dtype, row.batch,
                                              PUBLISHED_TOKENS_PER_SAMPLE[row.id], trace_path,
                                              mlperf_server.OFFLINE_QUERY[row.id], flops_scale,
                                              mlperf_server.OFFLINE_ROUND[row.id],
                                              **mlperf_server.OFFLINE_ENGINE.get(row.id, {}))
    b = batch_for(row)
    replicas = row.gpus // row.tp
    n = 1 if row.metric == "ttft" else row.prompts or rounds * b * replicas
    batching = {"scheduler": row.scheduler, "policy": "continuous", "max_num_seqs": b}
    if row.scheduler == "vllm-v0":   # a whole prompt per iteration needs a budget of max_model_len (vLLM's rule)
        batching.update(max_batched_tokens=max(MAX_BATCHED_TOKENS, row.input_tokens + row.output_tokens),
                        chunked_prefill=False)
    trace_path.write_text("timestamp_s,prompt_tokens,output_tokens\n"
                          + f"0,{row.input_tokens},{row.output_tokens}\n" * n, encoding="utf-8")
    return {
        "name": f"validate-{row.id}",
        "seed": 1,
        "duration": 1.0,
        "drain": True,
        "model": row.model,
        "fleet": {"pools": [{"name": "main", "gpu": row.gpu, "replicas": replicas, "tensor_parallel": row.tp,
                             **({"expert_parallel": row.ep} if row.ep > 1 else {}),
                             **({"data_parallel_attention": True} if row.dp_attention else {}),
                             "max_model_len": row.input_tokens + row.output_tokens, "batching": batching}]},
        "perf": {"model": "roofline", "weight_dtype": row.weight_dtype, "kv_dtype": row.kv_dtype,
                 "attention_kv_sharing": row.kv_sharing, **({"kernels": row.kernels} if row.kernels != "trtllm" else {})},
        "workload": {"arrival": {"process": "trace", "path": str(trace_path)}},
    }


def simulate(row: Row, flops_scale: float | None = None, moe_level: float | None = None) -> float:
    """Output tokens/s (or TTFT seconds) from the full simulator, ``sim.api.run`` (``flops_scale``, ``moe_level``:
    :func:`scenario_for`)."""
    import tempfile  # noqa: PLC0415
    import warnings  # noqa: PLC0415

    from sim.api import run  # noqa: PLC0415
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no prices in these scenarios: economics warns that GPUs cost 0
        result = run(scenario_for(row, pathlib.Path(tmp) / "burst.csv", flops_scale=flops_scale, moe_level=moe_level))
    if row.metric == "ttft":
        return float(result.summary["latency"]["ttft"]["mean"])
    return float(result.summary["throughput"]["output_tokens_per_s"])


def simulator_available() -> bool:
    try:
        import sim.api  # noqa: F401, PLC0415
        return hasattr(sim.api, "run")
    except ImportError:
        return False


def simulate_scaled(row: Row, flops: float = 1.0, bw: float = 1.0) -> float:
    """:func:`simulate` of a throughput row with the FLOPs and bandwidth efficiency its scenario runs with (the
    catalog's, or a row's MLPerf level) scaled by ``flops`` and ``bw``."""
    import tempfile  # noqa: PLC0415
    import warnings  # noqa: PLC0415

    from sim.api import run  # noqa: PLC0415
    eff = get_gpu(row.gpu).efficiency(row.weight_dtype)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sc = scenario_for(row, pathlib.Path(tmp) / "burst.csv")
        perf = sc["perf"]
        perf.update(flops_efficiency=min(1.0, perf.get("flops_efficiency", eff.flops_efficiency) * flops),
                    bw_efficiency=min(1.0, perf.get("bw_efficiency", eff.bw_efficiency) * bw))
        return float(run(sc).summary["throughput"]["output_tokens_per_s"])


def throughput_shares(row: Row, step: float = 0.05) -> dict[str, float]:
    """How much the simulated throughput of ``row`` depends on each efficiency factor: d ln(tokens/s) /
    d ln(factor) by a central difference of ``step`` (FLOPs and bandwidth; near 1: the row pins that factor)."""
    def share(**kw: float) -> float:
        up = simulate_scaled(row, **{k: 1 + step for k in kw})
        down = simulate_scaled(row, **{k: 1 - step for k in kw})
        return math.log(up / down) / math.log((1 + step) / (1 - step))
    return {"flops": share(flops=1.0), "bw": share(bw=1.0)}
