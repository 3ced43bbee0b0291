"""The MoE decode level of the 2025-26 section and the decode steps it rests on: which rows run at the level
(:data:`MOE_LEVEL`), what it would do to the one-node TP8 rows it does not cover, and the pure-decode step of the
DeepSeek rows at their published batch beside the step their throughput implies.
"""
from __future__ import annotations

import mlperf_deepseek
from sim.perf.base import BatchShape
from sim.perf.levels import MOE_DECODE_LEVELS
from sim.perf.parallel import Layout
from sim.perf.roofline import RooflineModel
from sim.scenario.catalog import get_gpu, get_model
from validation_rows import ONE_NODE_SOURCES, ROWS_2026, SRC_TRT_DSR1, Row
from validation_runs import batch_for, estimate

MOE_LEVEL = MOE_DECODE_LEVELS[0]
"""The MoE decode level the 2025-26 section runs its attention-DP MoE rows at, beside the catalog's step model."""


def at_moe_level(row: Row) -> bool:
    """Whether ``row`` is in the MoE decode level's regime (a mixture of experts under data-parallel attention),
    so the 2025-26 section also runs it at :data:`MOE_LEVEL`."""
    return row.dp_attention and get_model(row.model).n_experts > 1


def tp8_at_level(rows: list[Row]) -> tuple[list[Row], list[float], list[float]]:
    """The one-node TP8 rows without attention-DP (SGLang, vLLM), and by the closed-form estimate what the MoE decode
    level would do to them: ``(rows, moved, left)``, ``moved`` its change of their throughput over the published one,
    ``left`` their error at it (both ascending)."""
    tp8 = [r for r in rows if r.source in ONE_NODE_SOURCES]
    moved = sorted((estimate(r, moe_level=MOE_LEVEL.efficiency) - estimate(r)) / r.published for r in tp8)
    left = sorted(estimate(r, moe_level=MOE_LEVEL.efficiency) / r.published - 1 for r in tp8)
    return tp8, moved, left


SRC_SGLANG_EP = ("lmsys.org/blog/2025-05-05-large-scale-ep (SGLang team, May 2025), two-batch overlap "
                 "ablation: 22,310 tokens/s per node at 256 tokens per GPU, 25.5 % over the run without it")


def decode_steps() -> list[dict]:
    """The pure-decode step of the DeepSeek rows at their published batch (mean context ISL + OSL/2; the
    MLPerf rows 19a-b: 512 sequences per rank and :func:`mlperf_deepseek.decode_context`) beside the step the
    published throughput implies (batch / output tokens/s of one replica), and SGLang's published EP72 decode
    (row 18: 256 sequences per GPU, 2,000 tokens of context)."""
    cases = [(r.id, r.gpu, r.model, r.layout, r.weight_dtype, r.kv_dtype, batch_for(r),
              r.input_tokens + r.output_tokens // 2, batch_for(r) / r.published)
             for r in ROWS_2026 if r.source == SRC_TRT_DSR1]
    ctx = round(mlperf_deepseek.decode_context())
    cases += [(r.id, r.gpu, r.model, r.layout, r.weight_dtype, r.kv_dtype, r.batch, ctx,
               r.batch / (r.published * r.tp / r.gpus)) for r in ROWS_2026 if r.dataset == "mlperf-dsr1"]
    per_node = 22310.0 / 1.255   # two-batch overlap off: its ablation, 22,310 tokens/s with it, a 25.5 % speedup
    cases.append(("18", "h100-sxm", "deepseek-v3", Layout(tp=64, ep=64, dp_attention=True), "fp8", "bf16",
                  256 * 64, 2000, 256 * 8 / per_node))
    out = []
    for rid, gpu, model, lay, wd, kd, batch, ctx, published_s in cases:
        rm = RooflineModel(get_model(model), get_gpu(gpu), lay.tp, wd, kd, layout=lay)
        shape = BatchShape(decode_seqs=batch, decode_context_tokens=batch * ctx)
        bd = rm.breakdown(shape)
        at_level = RooflineModel(get_model(model), get_gpu(gpu), lay.tp, wd, kd, layout=lay,
                                 moe_decode_efficiency=MOE_LEVEL.efficiency).step_time(shape)
        out.append({"id": rid, "layout": f"{gpu} TP{lay.tp} EP{lay.ep} DP-attention", "per_gpu": batch // lay.tp,
                    "ctx": ctx, "published_ms": published_s * 1e3, "model_ms": bd.total_s * 1e3,
                    "level_ms": at_level * 1e3,
                    "linear_ms": bd.linear_s * 1e3, "experts_ms": rm.routed_expert_s(batch) * 1e3,
                    "attention_ms": bd.attention_s * 1e3, "comm_ms": bd.comm_s * 1e3,
                    "rest_ms": (bd.lm_head_s + bd.activation_s + bd.overhead_s) * 1e3})
    return out
