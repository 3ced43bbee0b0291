"""The MoE decode level: which one parameter reproduces the one-node attention-DP MoE decode step, fitted on few rows.

Used by ``benchmarks/validate_perf.py`` (section "2025-26 models") and ``tests/test_moe_decode_level.py``;
``python benchmarks/moe_decode_level.py`` prints the comparison as JSON.

The step model prices about half of the decode step that TensorRT-LLM's published DeepSeek-R1 rows imply
(docs/validation.md, rows 17a-c and 19a-b). Each candidate below is one parameter, fitted on the TensorRT-LLM
blog's rows 17a-c alone (H200 fp8 and B200 fp4: two GPU generations): the value at which the modelled pure-decode
step at the published batch and mean context (:func:`validation_moe_level.decode_steps`) has a mean log error of 0
against the step the published throughput implies (Little's law: concurrency / output tokens/s). Held out: the
MLPerf v5.1 rows 19a-b (another publisher, an audited result, another workload; their steps the same way) and
the Qwen3-235B-A22B rows 16a-f (another model; no published batch, so their throughput by
:func:`validation_runs.estimate`, which equals the simulator's on these rows to the digits shown there).

Candidates (each a change to the step model of a mixture-of-experts model under data-parallel attention):

- ``flops``: a FLOPs-efficiency scale on every GEMM (the precedent of :data:`sim.perf.levels.FP8_LEVELS`;
  ``perf.flops_efficiency``);
- ``experts``: a time multiplier on the routed experts' grouped GEMMs;
- ``attention``: a time multiplier on the attention kernels;
- ``per_seq``: a time per decoding sequence per step on the busiest rank, one for every GPU;
- ``per_seq_gpu``: the same, one per GPU generation (Hopper from 17a, Blackwell from 17b-c: two values);
- ``step``: a multiplier on the whole step;
- ``level``: every decoding sequence of the busiest rank adds its token's active-parameter FLOPs at a fraction
  of the GEMM rate (the GPU's peak in the weights' precision times the catalog's ``flops_efficiency``), on top of
  the roofline step: ``perf.moe_decode_efficiency``, the kept candidate (:data:`sim.perf.levels.MOE_DECODE_LEVELS`).
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sim.perf.base import BatchShape  # noqa: E402
from sim.perf.roofline import RooflineModel  # noqa: E402
from sim.scenario.catalog import Efficiency, get_gpu, get_model  # noqa: E402
import validation_runs  # noqa: E402
from validation_moe_level import decode_steps  # noqa: E402
from validation_rows import ROWS_2026  # noqa: E402

FIT_ROWS = ("17a", "17b", "17c")
"""The rows every candidate is fitted on: TensorRT-LLM's DeepSeek-R1 max-throughput rows (published batch)."""
HELD_OUT_STEPS = ("19a", "19b")
"""Held-out rows with a published batch: their decode step is compared (MLPerf v5.1)."""

CANDIDATES = {"flops": (0.02, 1.0), "experts": (1.0, 20.0), "attention": (1.0, 30.0), "per_seq": (0.0, 1e-3),
              "step": (1.0, 4.0), "level": (0.01, 1.0)}
"""Each candidate's search interval for the fit (``per_seq_gpu`` is ``per_seq`` fitted per generation)."""


def generation(gpu: str) -> str:
    """``hopper`` or ``blackwell`` (the GPUs of these rows)."""
    return "hopper" if gpu.startswith("h") else "blackwell"


def step_model(row, kind: str = "catalog", value=None) -> RooflineModel:
    """The step model of validation row ``row`` with candidate ``kind`` at ``value`` (``catalog``: none)."""
    gpu = get_gpu(row.gpu)
    eff = gpu.efficiency(row.weight_dtype)
    if kind == "flops":
        eff = Efficiency(eff.flops_efficiency * value, eff.bw_efficiency, eff.overhead_s)
    args = (get_model(row.model), gpu, row.tp, row.weight_dtype, row.kv_dtype, eff, None, row.kv_sharing)
    if kind in ("catalog", "flops", "level"):
        return RooflineModel(*args, layout=row.layout, moe_decode_efficiency=value if kind == "level" else None)
    per_seq = value[generation(row.gpu)] if kind == "per_seq_gpu" else value

    class Candidate(RooflineModel):
        def _expert_parts(self, n):
            f, b, s = super()._expert_parts(n)
            return (f, b, s * value) if kind == "experts" else (f, b, s)

        def _attention_s(self, *a, **k):
            s = super()._attention_s(*a, **k)
            return s * value if kind == "attention" else s

        def _seconds(self, n_tokens, pt, pairs, pkv, ds, dctx, n_emit, mx):
            s = super()._seconds(n_tokens, pt, pairs, pkv, ds, dctx, n_emit, mx)
            if kind in ("per_seq", "per_seq_gpu") and self._adp:
                s = s + per_seq * math.ceil(ds / self.tp)
            return s * value if kind == "step" else s
    return Candidate(*args, layout=row.layout)


def _rows():
    """``(runs, steps, rows)``: the module whose ``estimate`` runs the rows (:mod:`validation_runs`), the decode
    steps by row id and the 2025-26 rows by id."""
    steps = {st["id"]: st for st in decode_steps()}
    rows = {r.id: r for r in ROWS_2026}
    return validation_runs, steps, rows


def step_error(row, step: dict, kind: str = "catalog", value=None) -> float:
    """Published step / modelled pure-decode step - 1 of a row with a published batch (> 0: the model is fast)."""
    b = validation_runs.batch_for(row)
    modelled = step_model(row, kind, value).step_time(BatchShape(decode_seqs=b, decode_context_tokens=b * step["ctx"]))
    return step["published_ms"] / (modelled * 1e3) - 1


def fit(kind: str = "level", ids: tuple[str, ...] = FIT_ROWS, tol: float = 1e-6) -> float:
    """The value of candidate ``kind`` at which rows ``ids`` have a mean log step error of 0 (brentq)."""
    from scipy.optimize import brentq  # noqa: PLC0415
    _, steps, rows = _rows()
    lo, hi = CANDIDATES[kind]

    def mean_log(v: float) -> float:
        return float(np.mean([math.log1p(step_error(rows[i], steps[i], kind, v)) for i in ids]))
    return brentq(mean_log, lo + 1e-12, hi, xtol=tol * (hi - lo))


def qwen_errors(kind: str, value) -> dict[str, float]:
    """Throughput error of the Qwen3-235B-A22B rows (16a-f) with candidate ``kind`` at ``value``."""
    runs, _, rows = _rows()
    orig = runs.RooflineModel
    out = {}
    for rid, r in rows.items():
        if r.model != "qwen3-235b-a22b":
            continue
        try:   # estimate() builds the row's step model: this candidate's instead
            runs.RooflineModel = lambda *a, _r=r, **k: step_model(_r, kind, value)
            out[rid] = runs.estimate(r) / r.published - 1
        finally:
            runs.RooflineModel = orig
    return out


def compare() -> list[dict]:
    """Each candidate: fitted value, its errors on the fitted rows and on the held-out ones, median and worst."""
    _, steps, rows = _rows()
    fitted = {k: fit(k) for k in CANDIDATES}
    fitted["per_seq_gpu"] = {"hopper": fit("per_seq", ("17a",)), "blackwell": fit("per_seq", ("17b", "17c"))}
    out = []
    for kind in ("catalog", "flops", "experts", "attention", "per_seq", "per_seq_gpu", "step", "level"):
        v = fitted.get(kind)
        err = {i: step_error(rows[i], steps[i], kind, v) for i in FIT_ROWS + HELD_OUT_STEPS}
        qwen = qwen_errors(kind, v)
        held = [abs(err[i]) for i in HELD_OUT_STEPS]
        out.append({"candidate": kind, "value": v, "errors": {**err, **qwen},
                    "mlperf_median": float(np.median(held)), "mlperf_worst": max(held),
                    "qwen_median": float(np.median([abs(e) for e in qwen.values()])),
                    "qwen_worst": max(abs(e) for e in qwen.values())})
    return out


def _value(c: dict) -> str:
    v = c["value"]
    if v is None:
        return "—"
    if isinstance(v, dict):
        return ", ".join(f"{g} {x * 1e6:.0f} µs" for g, x in v.items())
    return f"{v * 1e6:.0f} µs" if c["candidate"] == "per_seq" else f"{v:.3f}"


LABELS = {"catalog": "none (the catalog's step model)",
          "flops": "(a) FLOPs-efficiency scale, every GEMM",
          "experts": "(b) time multiplier, routed-expert grouped GEMMs",
          "attention": "(c) time multiplier, attention kernels",
          "per_seq": "(d) time per decoding sequence per step, busiest rank",
          "per_seq_gpu": "(d') the same per GPU generation (two values)",
          "step": "(e) multiplier on the whole step",
          "level": "(f) decoding sequences' active FLOPs at a fraction of the GEMM rate (kept)"}


def report_lines(table: list[dict] | None = None) -> list[str]:
    """The candidate table of validation.md (markdown lines)."""
    table = table or compare()
    cols = FIT_ROWS + HELD_OUT_STEPS
    lines = ["| candidate | fitted value | " + " | ".join(f"{c} step" for c in cols) + " | MLPerf 19a-b median / worst | "
             "Qwen3 16a-f median / worst |", "|---|---:|" + "---:|" * len(cols) + "---:|---:|"]
    for c in table:
        e = c["errors"]
        lines.append(f"| {LABELS[c['candidate']]} | {_value(c)} | " + " | ".join(f"{e[i]:+.0%}" for i in cols)
                     + f" | {c['mlperf_median']:.0%} / {c['mlperf_worst']:.0%} | "
                     f"{c['qwen_median']:.0%} / {c['qwen_worst']:.0%} |")
    return lines


if __name__ == "__main__":
    print(json.dumps(compare(), indent=1, default=float))
