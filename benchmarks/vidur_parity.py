"""Step times of the roofline against Vidur's measured operators (A100, Llama-2-7B, TP1).

Vidur (github.com/microsoft/vidur, MIT) predicts an iteration from per-operator profiles measured on
the GPU; fleetsim bundles its A100 Llama-2-7B profiles (`sim/perf/data/vidur_a100_*`). The Vidur-side
step is composed exactly as `sim.perf.vidur.compose_step_table` does: per layer the measured
non-attention operators at the iteration's token count plus attention from a least-squares fit of the
measured attention sample, times the layers, plus the embedding, the lm head and the catalog's
overhead. The fleetsim side is the roofline with the catalog's A100 bf16 factors and each kernel set
(`perf.kernels`): `trtllm`, the default, and `pytorch`, the set measured from the same Vidur profiles
(`sim.perf.vidur.fit_kernel_set`: element-wise floor and bandwidth from the operator profile, attention
floors and efficiencies from the attention sample; never from these composed steps). Targets (issue):
prefill within 10 % for 128-2,048 tokens, decode within 7 % for batch 1-128 (600 context tokens per
sequence, Vidur's 512/128 workload midway).

    python benchmarks/vidur_parity.py      # prints the rows, the hold-out checks and, for each kernel set,
                                           # the closed-form estimate of validate_perf.py's rows, as JSON
"""
from __future__ import annotations

import json
import pathlib
import sys
from dataclasses import replace

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from sim.perf.base import BatchShape  # noqa: E402
from sim.perf.kernels import kernel_set  # noqa: E402
from sim.perf.roofline import RooflineModel  # noqa: E402
from sim.perf.vidur import (bundled_profile, compose_step_table, elementwise_seconds, fit_attention,  # noqa: E402
                            read_attention_sample, read_operator_profile)
from sim.scenario.catalog import get_gpu, get_model  # noqa: E402
from validation_rows import ROWS  # noqa: E402
from validation_runs import estimate  # noqa: E402

PREFILL_TOKENS = (128, 256, 512, 1024, 1536, 2048)
DECODE_BATCH = (1, 2, 4, 8, 16, 32, 64, 128)
CONTEXT_PER_SEQ = 600
PREFILL_TARGET, DECODE_TARGET = 0.10, 0.07


def _shape(kind: str, n: int) -> BatchShape:
    if kind == "prefill":
        return BatchShape(prefill_tokens=n, prefill_seqs=1, prefill_attn_pairs=n * (n + 1) / 2, prefill_kv_tokens=n)
    return BatchShape(decode_seqs=n, decode_context_tokens=n * CONTEXT_PER_SEQ)


def _cases() -> list[tuple[str, int]]:
    return [("prefill", p) for p in PREFILL_TOKENS] + [("decode", d) for d in DECODE_BATCH]


def parity(kernels: str = "pytorch") -> list[tuple[str, int, float, float]]:
    """Rows ``(kind, size, vidur_s, roofline_s)`` for prefill token counts and decode batch sizes, the
    roofline with the kernel set ``kernels``."""
    model, gpu = get_model("llama-2-7b"), get_gpu("a100-80gb")
    prof = read_operator_profile(bundled_profile("a100"))
    att = fit_attention(read_attention_sample(bundled_profile("a100", "attention")))
    rm = RooflineModel(model, gpu, 1, kernels=kernel_set(kernels))
    out = []
    for kind, n in _cases():
        p, d = (n, 0) if kind == "prefill" else (0, n)
        (_, _, _, v), = compose_step_table(prof, att, model, gpu, 1, [p], [d], [d * CONTEXT_PER_SEQ])
        out.append((kind, n, v, rm.step_time(_shape(kind, n))))
    return out


def h100_holdout(kernels: str = "pytorch") -> list[tuple[str, int, float, float, float, float]]:
    """Rows ``(kind, size, vidur_s, roofline_s, vidur_elementwise_s, roofline_elementwise_s)`` on H100:
    the non-attention operators of a step (all layers: GEMMs + element-wise kernels) and the element-wise
    kernels alone, measured by Vidur against the roofline with H100's catalog factors and the kernel set
    ``kernels``. Vidur published no H100 attention profile, so attention is left out. The H100 GEMM
    factors are fitted on this profile; the kernel set (fitted on A100) is held out."""
    model, gpu = get_model("llama-2-7b"), get_gpu("h100-sxm")
    prof = read_operator_profile(bundled_profile("h100")).select(1)
    rm = RooflineModel(model, gpu, 1, efficiency=replace(gpu.efficiency("bf16"), overhead_s=0.0),
                       kernels=kernel_set(kernels))
    L = model.n_layers
    out = []
    for kind, n in _cases():
        b = rm.breakdown(_shape(kind, n))
        out.append((kind, n, L * float(np.interp(n, prof.num_tokens, prof.layer_s)), b.linear_s + b.activation_s,
                    L * float(np.interp(n, prof.num_tokens, prof.elementwise_s)), b.activation_s))
    return out


def elementwise_by_tp(kernels: str = "pytorch") -> list[tuple[str, int, int, float, float, float, float]]:
    """Rows ``(gpu, tp, rows, median |error|, worst |error|, mean error, measured seconds at one token)`` of
    the kernel set's element-wise time per layer against every token count of Vidur's A100 and H100
    profiles at each TP size (the set is fitted on A100 TP1; the rest is held out)."""
    model = get_model("llama-2-7b")
    out = []
    for g, name in (("a100", "a100-80gb"), ("h100", "h100-sxm")):
        prof = read_operator_profile(bundled_profile(g))
        for tp in (1, 2, 4, 8):
            sel = prof.select(tp)
            e = elementwise_seconds(kernel_set(kernels), prof, model, get_gpu(name), tp) / sel.elementwise_s - 1.0
            out.append((name, tp, len(e), float(np.median(np.abs(e))), float(np.max(np.abs(e))), float(np.mean(e)),
                        float(sel.elementwise_s[np.argmin(sel.num_tokens)])))
    return out


def throughput_rows(kernels: str) -> dict:
    """The published throughput and TTFT rows of ``validate_perf.py`` under a kernel set, by the
    closed-form estimate: ``{"median", "median_holdout", "median_fit", "worst", "errors": {row id: error}}``."""
    errs = {r.id: (estimate(r, kernels=kernels) - r.published) / r.published for r in ROWS}
    hold = {r.id for r in ROWS if r.role == "holdout"}
    a = np.abs(list(errs.values()))
    return {"median": float(np.median(a)), "median_holdout": float(np.median([abs(e) for k, e in errs.items() if k in hold])),
            "median_fit": float(np.median([abs(e) for k, e in errs.items() if k not in hold])), "worst": float(a.max()),
            "errors": errs}


def _error(rows: list[tuple]) -> list[float]:
    return [(r[3] - r[2]) / r[2] for r in rows]


def met(rows: list[tuple[str, int, float, float]]) -> bool:
    """Every row within its target (prefill 10 %, decode 7 %)."""
    return all(abs(e) <= (PREFILL_TARGET if k == "prefill" else DECODE_TARGET)
               for (k, *_), e in zip(rows, _error(rows)))


def report() -> list[str]:
    """Report lines of the parity check (markdown)."""
    rows = {k: parity(k) for k in ("trtllm", "pytorch")}
    lines = ["## Parity with Vidur's measured operators (A100, Llama-2-7B)", "",
             __doc__.split("\n\n", 1)[1].split("\n\n")[0].replace("\n", " ").strip(), "",
             "| iteration | size | Vidur (ms) | `trtllm` kernels (ms) | error | `pytorch` kernels (ms) | error | target |",
             "|---|---|---|---|---|---|---|---|"]
    for (kind, n, v, t), (_, _, _, p) in zip(rows["trtllm"], rows["pytorch"]):
        tgt = PREFILL_TARGET if kind == "prefill" else DECODE_TARGET
        ep = (p - v) / v
        lines.append(f"| {kind} | {n} {'tokens' if kind == 'prefill' else 'sequences'} | {v * 1e3:.2f} | "
                     f"{t * 1e3:.2f} | {(t - v) / v:+.1%} | {p * 1e3:.2f} | {ep:+.1%} | "
                     f"{'met' if abs(ep) <= tgt else 'missed'} (±{tgt:.0%}) |")
    hold = h100_holdout()
    he = np.abs(_error(hold))
    hw = np.abs([(r[5] - r[4]) / r[4] for r in hold])
    lines += ["", f"With `perf.kernels: pytorch` the targets are {'met' if met(rows['pytorch']) else 'NOT met'} "
              "(`tests/test_vidur_parity.py` checks every row). The default `trtllm` set has no kernel floors and "
              "prices attention with the GEMMs' factors: it misses short prefills and small decode batches "
              "(Vidur's PyTorch stack spends 24 µs per layer in element-wise kernels even at one token, the fitted "
              "floor 27.6 µs, and its "
              "attention calls have fixed costs), long prefills (Vidur's prefill attention reaches 28.5 % of peak "
              "FLOPs) and batch 128 (its decode attention reads the KV cache at 85 % of peak bandwidth, above the "
              "GEMMs' 76 %). The default stays `trtllm` because the validated throughput rows are TensorRT-LLM "
              "measurements: TensorRT-LLM is 20 % faster than Vidur's composition at a 2,048-token prefill (row "
              "8f: 120.5 ms published). The largest remaining `pytorch` error, +9 % at 256 tokens, is the smooth "
              "GEMM roofline's (15 % above Vidur's GEMM times there, in the transition between the weight-bound "
              "and compute-bound regimes).", "",
              "**Hold-out on H100.** The kernel set was fitted on A100 only. Vidur has no H100 attention profile, "
              "so this compares the non-attention operators of a step (all 32 layers): GEMMs, with H100's own "
              "catalog factors (fitted on this profile), plus the element-wise kernels, and the element-wise "
              "kernels alone (the held-out part):", "",
              "| iteration | size | Vidur H100 operators (ms) | `pytorch` kernels (ms) | error | "
              "Vidur element-wise (ms) | `pytorch` element-wise (ms) | error |", "|---|---|---|---|---|---|---|---|"]
    for (kind, n, v, r, vw, rw), e in zip(hold, _error(hold)):
        lines.append(f"| {kind} | {n} {'tokens' if kind == 'prefill' else 'sequences'} | {v * 1e3:.2f} | "
                     f"{r * 1e3:.2f} | {e:+.1%} | {vw * 1e3:.2f} | {rw * 1e3:.2f} | {(rw - vw) / vw:+.1%} |")
    lines += ["", f"Operators: median |error| {np.median(he):.1%}, worst {np.max(he):.1%} (mostly the H100 GEMM "
              f"roofline's own error in the transition region); element-wise alone: median {np.median(hw):.1%}, "
              f"worst {np.max(hw):.1%}. H100's element-wise kernels are faster at small sizes than A100's (a fit on "
              "H100 alone gives a 23 µs floor per layer against A100's 28 µs, and 57 % of peak bandwidth against "
              "52 %): the A100 floors do not carry over to another GPU generation. On a small H100 iteration that is "
              "0.2-0.3 ms of a 5.5-6 ms step (4-6 %); the catalog's H100 GEMM factors dominate the rest.", "",
              "**Element-wise kernels by tensor-parallel size** (every token count 1-4,096 of each profile; the set "
              "is fitted on A100 TP1 only):", "",
              "| GPU | TP | rows | median error | worst error | mean signed error | measured at one token (µs per layer) |",
              "|---|---|---|---|---|---|---|"]
    for name, tp, n, med, worst, mean, one in elementwise_by_tp():
        lines.append(f"| {name} | {tp} | {n} | {med:.1%} | {worst:.1%} | {mean:+.1%} | {one * 1e6:.1f} |")
    lines += ["", "The floor is not one number: Vidur's element-wise kernels get shorter as the per-GPU work shrinks "
              "(A100: 24 µs per layer at one token and TP1, 17 µs at TP8), so at TP 2-8 the set is slow "
              "(13-24 % in the median on A100; the worst rows are one-token iterations, 17 µs measured against the "
              "set's 27.6 µs). At one token the measured floors fit `a + b / TP` (A100 16 + 8/TP µs, H100 11 + 8/TP "
              "µs): part of the floor shrinks with the per-GPU work. The norms and the add keep 5 and 2 µs at every TP "
              "(A100); the SiLU-and-mul activation falls from 7 to 2 µs and rotary from 5 to 3 µs, because vLLM's "
              "activation kernel runs one thread block per token that loops over the per-GPU width (grid = tokens, "
              "block = min(width, 1024) in csrc/activation_kernels.cu, github.com/vllm-project/vllm), which TP "
              "splits. The element-wise kernels are ~9 % of a small "
              "TP1 step of this model, a larger share at high TP, where the GEMMs split and the floors barely do.", ""]
    return lines


def main() -> int:
    out = {}
    for k in ("trtllm", "pytorch"):
        rows = parity(k)
        out[k] = {"met": met(rows), "rows": [{"kind": kind, "size": n, "vidur_s": v, "roofline_s": r,
                                              "error": (r - v) / v} for kind, n, v, r in rows]}
    hold = h100_holdout()
    out["h100_holdout_pytorch"] = [{"kind": kind, "size": n, "vidur_s": v, "roofline_s": r, "error": (r - v) / v,
                                    "vidur_elementwise_s": vw, "roofline_elementwise_s": rw,
                                    "elementwise_error": (rw - vw) / vw} for kind, n, v, r, vw, rw in hold]
    out["elementwise_by_tp_pytorch"] = [{"gpu": g, "tp": tp, "rows": n, "median_abs_error": med, "worst_abs_error": worst,
                                         "mean_error": mean, "measured_one_token_s": one}
                                        for g, tp, n, med, worst, mean, one in elementwise_by_tp()]
    out["throughput_rows_estimate"] = {k: throughput_rows(k) for k in ("trtllm", "pytorch")}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
