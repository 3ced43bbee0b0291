"""Step times of the default roofline against Vidur's measured operators (A100, Llama-2-7B, TP1).

Vidur (github.com/microsoft/vidur, MIT) predicts an iteration from per-operator profiles measured on
the GPU; fleetsim bundles its A100 Llama-2-7B profiles (`sim/perf/data/vidur_a100_*`). The Vidur-side
step is composed exactly as `sim.perf.vidur.compose_step_table` does: per layer the measured
non-attention operators at the iteration's token count plus attention from a least-squares fit of the
measured attention sample, times the layers, plus the embedding, the lm head and the catalog's
overhead. The fleetsim side is the default roofline (catalog A100 bf16 factors). Targets (issue):
prefill within 10 % for 128-2,048 tokens, decode within 7 % for batch 1-128 (600 context tokens per
sequence, Vidur's 512/128 workload midway).
"""
from __future__ import annotations

from sim.perf.base import BatchShape
from sim.perf.roofline import RooflineModel
from sim.perf.vidur import (bundled_profile, compose_step_table, fit_attention, read_attention_sample,
                            read_operator_profile)
from sim.scenario.catalog import get_gpu, get_model

PREFILL_TOKENS = (128, 256, 512, 1024, 1536, 2048)
DECODE_BATCH = (1, 2, 4, 8, 16, 32, 64, 128)
CONTEXT_PER_SEQ = 600
PREFILL_TARGET, DECODE_TARGET = 0.10, 0.07


def parity() -> list[tuple[str, int, float, float]]:
    """Rows ``(kind, size, vidur_s, roofline_s)`` for prefill token counts and decode batch sizes."""
    model, gpu = get_model("llama-2-7b"), get_gpu("a100-80gb")
    prof = read_operator_profile(bundled_profile("a100"))
    att = fit_attention(read_attention_sample(bundled_profile("a100", "attention")))
    rm = RooflineModel(model, gpu, 1)
    out = []
    for p in PREFILL_TOKENS:
        (_, _, _, v), = compose_step_table(prof, att, model, gpu, 1, [p], [0], [0])
        r = rm.step_time(BatchShape(prefill_tokens=p, prefill_seqs=1, prefill_attn_pairs=p * (p + 1) / 2,
                                    prefill_kv_tokens=p))
        out.append(("prefill", p, v, r))
    for d in DECODE_BATCH:
        (_, _, _, v), = compose_step_table(prof, att, model, gpu, 1, [0], [d], [d * CONTEXT_PER_SEQ])
        out.append(("decode", d, v, rm.step_time(BatchShape(decode_seqs=d, decode_context_tokens=d * CONTEXT_PER_SEQ))))
    return out


def report() -> list[str]:
    """Report lines of the parity check."""
    rows = parity()
    lines = ["## Parity with Vidur's measured operators (A100, Llama-2-7B)", "",
             __doc__.split("\n\n", 1)[1].replace("\n", " ").strip(), "",
             "| iteration | size | Vidur (ms) | fleetsim roofline (ms) | error | target |", "|---|---|---|---|---|---|"]
    for kind, n, v, r in rows:
        t = PREFILL_TARGET if kind == "prefill" else DECODE_TARGET
        e = (r - v) / v
        lines.append(f"| {kind} | {n} {'tokens' if kind == 'prefill' else 'sequences'} | {v * 1e3:.2f} | "
                     f"{r * 1e3:.2f} | {e:+.1%} | {'met' if abs(e) <= t else f'missed (±{t:.0%})'} |")
    lines += ["", "Not met. The short-prefill and batch-1 misses are fixed per-kernel time Vidur's PyTorch stack "
              "measures (element-wise kernels ~20-25 µs per layer at one token, a ~0.15 ms per-layer floor of "
              "the prefill attention kernel); the long-prefill miss is its FlashAttention prefill reaching "
              "15-30 % of peak FLOPs, and the batch-128 one its decode attention reaching ~95 % of HBM "
              "bandwidth, against the GEMMs' factors the roofline applies to attention. TensorRT-LLM, on which "
              "the catalog is calibrated, is 20 % faster than Vidur's composition at a 2,048-token prefill "
              "(row 8f: 120.5 ms published), so one default cannot meet both; it needs attention "
              "efficiencies per serving stack.", ""]
    return lines
