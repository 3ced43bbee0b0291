"""The validation page's section on software generations: the evidence for TensorRT-LLM v0.5's per-query-head KV
reads, the counterfactual with grouped reads, and a check on the later release v0.7a.
"""
from __future__ import annotations

from validation_rows import ROWS, Row
from validation_runs import estimate

FALCON_BLOG = "TensorRT-LLM docs/source/blogs/Falcon180B-H200.md (github.com/NVIDIA/TensorRT-LLM), TensorRT-LLM v0.7a"
V07A_ROWS = [
    Row("v7a", "h200-sxm", "llama-2-70b", 1, 1, "fp8", "fp8", 960, 128, 128, 3803, FALCON_BLOG),
    Row("v7b", "h200-sxm", "llama-2-70b", 1, 1, "fp8", "fp8", 192, 128, 2048, 2941, FALCON_BLOG),
]
"""Llama-2-70B on one H200 (FP8, TP1) with the improved GQA generation kernels of TensorRT-LLM v0.7a, from
the same NVIDIA blog that reports the improvement over v0.5; not in the main table (an extra check only)."""


def software_generations() -> list[str]:
    """Report lines: evidence for the per-query-head KV reads of TensorRT-LLM v0.5, and the counterfactual."""
    out = ["## Software generations: TensorRT-LLM v0.5's grouped-query attention", "",
           "The TensorRT-LLM v0.5 rows (7a–7g, 9a–9e; late 2023) are simulated with "
           "`perf.attention_kv_sharing: per_query_head`, every other source with the default `grouped`. This is "
           "one setting per software release, applied to all rows of those two sources alike (it changes only "
           "grouped-query models, i.e. the Llama-2-70B rows), for these reasons:", "",
           "- TensorRT-LLM's generation-phase attention kernel of that time (masked multi-head attention, "
           "`cpp/tensorrt_llm/kernels/decoderMaskedMultiheadAttention/`, github.com/NVIDIA/TensorRT-LLM; "
           "checked in the July 2023 pre-release source) launches one thread block per (sequence, *query* head), "
           "and each block loads the K/V of its group's KV head from the cache itself. With Llama-2-70B's 8 query "
           "heads per KV head, the KV cache is read up to 8 times per step. At long contexts one layer's KV "
           "working set per GPU (~100–300 MB in 7g, 9b, 9c, 9e) is larger than the 50 MB L2, so the repeats go "
           "to HBM; at short context and small batch (7e: ~6 MB per layer) L2 can absorb part of them, which "
           "fits 7e being the one row still ~18% optimistic.",
           "- NVIDIA's own follow-up (TensorRT-LLM docs/source/blogs/Falcon180B-H200.md, Dec 2023): \"TensorRT-LLM "
           "has improved its Group Query Attention (GQA) kernels, in the generation phase, providing up to 2.4x "
           "improvement on Llama-70B over TensorRT-LLM v0.5\"; a Jan 2024 post introduces the XQA kernel for "
           "MQA/GQA generation (docs/source/blogs/XQA-kernel.md).",
           "- The numbers agree: with grouped reads the model is up to 2.3× too fast on exactly the long-context "
           "70B rows (7g, 9c), which is where KV reads dominate; with per-query-head reads the same rows are "
           "within a few per cent (table: closed-form estimate, same factors).", "",
           "| id | published | grouped reads | error | per-query-head reads | error |", "|---|---|---|---|---|---|"]
    for r in ROWS:
        if r.software != "trtllm-0.5" or r.model != "llama-2-70b":
            continue
        g, q = estimate(r, kv_sharing="grouped"), estimate(r, kv_sharing="per_query_head")
        out.append(f"| {r.id} | {r.published:,.0f} | {g:,.0f} | {(g - r.published) / r.published:+.1%} | {q:,.0f} | "
                   f"{(q - r.published) / r.published:+.1%} |")
    out += ["", "**Check on a later release** (not used for anything): the same blog publishes Llama-2-70B on one "
            "H200 (FP8, TP1) with the improved kernels of TensorRT-LLM v0.7a. Short outputs fit the grouped "
            "model; at batch 192 with 2,048 output tokens v0.7a is still far from fully grouped KV reads (between "
            "the two settings), consistent with NVIDIA's later XQA work. The long-context decode efficiency of a "
            "given serving stack is therefore the least certain part of the model: calibrate it "
            "(`fleetsim calibrate`) for your stack when long contexts matter.", "",
            "| release | batch | in/out | published (tok/s/GPU) | grouped reads | error | per-query-head reads | error |",
            "|---|---|---|---|---|---|---|---|"]
    for r in V07A_ROWS:
        g, q = estimate(r, kv_sharing="grouped"), estimate(r, kv_sharing="per_query_head")
        out.append(f"| v0.7a | {r.batch} | {r.input_tokens}/{r.output_tokens} | {r.published:,.0f} | {g:,.0f} | "
                   f"{(g - r.published) / r.published:+.1%} | {q:,.0f} | {(q - r.published) / r.published:+.1%} |")
    return out
