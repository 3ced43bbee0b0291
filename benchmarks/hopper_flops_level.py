"""The fp8 FLOPs level each published Hopper row implies, relative to the catalog's (prints JSON).

For every H100/H200 fp8 dense row of the validation (TensorRT-LLM v0.5, the perf-overview tables, the
Llama-3.1-405B rows) and every MLPerf Llama-2-70B load point (Server and Offline, v4.0 and v4.1), the scale of
the catalog's fp8 ``flops_efficiency`` at which the step model reproduces the published number (bisection),
and how much the number depends on that factor (``flops_share``: d ln(throughput) / d ln(flops_efficiency)).
Throughput rows use the closed-form static-batch estimate (``validation_runs.estimate``), the load points the
step model at the published batch and arrival rate (``mlperf_server.load_points``). Used by
``validate_perf.py`` for the section "The FLOPs level each Hopper fp8 row implies" of docs/validation.md::

    python benchmarks/hopper_flops_level.py
"""
from __future__ import annotations

import json
import pathlib
import sys
from dataclasses import replace
from typing import Callable

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import mlperf_server  # noqa: E402
from sim.perf.levels import LARGE_BATCH_SEQS  # noqa: E402
from sim.perf.roofline import RooflineModel  # noqa: E402
from sim.scenario.catalog import get_gpu, get_model  # noqa: E402
from validation_rows import ROWS, ROWS_2026  # noqa: E402
from validation_runs import batch_for, estimate  # noqa: E402

PINNED = 0.2
"""A row pins the FLOPs level when its number moves by at least this fraction of a change of the factor."""

SOFTWARE = {"7": "TensorRT-LLM v0.5 (2023)", "9": "TensorRT-LLM v0.5 (2023)", "12": "TensorRT-LLM perf overview",
            "15": "TensorRT-LLM 1.0 perf overview (2025)"}


def implied_scale(error_at: Callable[[float], float], lo: float = 0.2, hi: float = 3.0) -> float:
    """The scale ``s`` in ``[lo, hi]`` where ``error_at(s)`` (modelled time / published time - 1, decreasing in
    ``s``) crosses 0, by bisection on ``log s``; an end of the range if it does not cross."""
    for _ in range(60):
        mid = (lo * hi) ** 0.5
        if error_at(mid) > 0:
            lo = mid
        else:
            hi = mid
    return (lo * hi) ** 0.5


def scaled_efficiency(eff, s: float):
    """``eff`` with its ``flops_efficiency`` times ``s``."""
    return replace(eff, flops_efficiency=eff.flops_efficiency * s)


def rescaled(m: RooflineModel, base, s: float, gpu=None) -> RooflineModel:
    """``m`` with efficiency ``base`` at FLOPs scale ``s`` (and another ``gpu`` datasheet if given)."""
    return RooflineModel(m.model, gpu or m.gpu, m.tp, m.weight_dtype, m.kv_dtype, scaled_efficiency(base, s),
                         m.overlap_exponent, m.kv_sharing, layout=m.layout, cpu=m.cpu, kernels=m.kernels)


def throughput_rows() -> list[dict]:
    """The dense Hopper fp8 throughput rows of the validation tables."""
    out = []
    for r in ROWS + ROWS_2026:
        if (r.gpu not in mlperf_server.HOPPER or r.weight_dtype != "fp8" or get_model(r.model).n_experts > 1
                or r.dataset == "openorca"):
            continue
        eff = get_gpu(r.gpu).efficiency("fp8")
        at_1 = estimate(r, eff)

        def err(s: float, r=r, eff=eff) -> float:
            return r.published / estimate(r, scaled_efficiency(eff, s)) - 1.0
        share = (estimate(r, scaled_efficiency(eff, 1.01)) / at_1 - 1.0) / 0.01
        out.append({"id": r.id, "gpu": r.gpu, "model": r.model, "tp": r.tp, "batch": batch_for(r),
                    "batch_published": r.batch is not None, "lengths": f"{r.input_tokens}/{r.output_tokens}",
                    "software": SOFTWARE[r.id.rstrip("abcdefgh")], "error_at_catalog": at_1 / r.published - 1.0,
                    "flops_share": share, "implied_scale": implied_scale(err)})
    return out


def load_point_rows() -> list[dict]:
    """The MLPerf Hopper load points (Server and Offline), at the catalog's level rather than the round's."""
    out = []
    # pipelined rows are left out: their step time is the pipeline schedule's as much as the FLOPs level's
    for p in mlperf_server.load_points([r for r in mlperf_server.SERVER_ROWS
                                        if r.gpu in mlperf_server.HOPPER and r.pp == 1]):
        row, m = p.row, mlperf_server.step_model(p.row)
        base = replace(m.efficiency, flops_efficiency=get_gpu(row.gpu).efficiency("fp8").flops_efficiency)
        lengths, rate = mlperf_server.batch_lengths(row.tokens_per_sample), p.tokens_per_s / row.tokens_per_sample

        def iteration(s: float, m=m, base=base, lengths=lengths, rate=rate, p=p) -> float:
            return mlperf_server.iteration_at(rescaled(m, base, s), p.batch, rate, lengths)
        at_1 = iteration(1.0)
        out.append({"id": f"{row.id} {p.label}", "gpu": row.gpu, "model": "llama-2-70b", "tp": row.tp,
                    "batch": round(p.batch), "batch_published": p.label == "Offline", "lengths": "OpenOrca",
                    "software": f"MLPerf {row.mlperf_round} ({mlperf_server.MLPERF_YEAR[row.mlperf_round]})",
                    "error_at_catalog": p.iteration_s / at_1 - 1.0,
                    "flops_share": (at_1 / iteration(1.01) - 1.0) / 0.01,
                    "implied_scale": implied_scale(lambda s, it=iteration, p=p: it(s) / p.iteration_s - 1.0)})
    return out


GH200_OFFLINE_TOKENS_PER_S = 4067.52
"""MLPerf Inference v4.1 Closed, NVIDIA GH200-144GB (GH200 NVL2 platform, one superchip), llama2-70b-99 Offline
tokens/s (github.com/mlcommons/inference_results_v4.1 closed/NVIDIA/results/
GH200-GraceHopper-Superchip_GH200-144GB_aarch64x1_TRT); NVIDIA's config runs it exactly as one H200-SXM of the
8xH200 system (closed/NVIDIA/configs/llama2-70b/Offline: TP1, gpu_batch_size 806, fp8), same round and software."""
GH200_HBM_TBPS = 4.9
"""GH200 144GB HBM3e bandwidth (NVIDIA GH200 Grace Hopper Superchip datasheet), against the H200-SXM's 4.8."""
H200_MAXQ_OFFLINE_TOKENS_PER_S = 25262.1
"""The same 8xH200 system and software with every GPU capped at 500 W (MLPerf v4.1 H200-SXM-141GBx8_TRT_MaxQ,
llama2-70b-99 Offline; ``power_limit = 500`` in NVIDIA's config) against 31,302.7 tokens/s at 700 W."""


def power_headroom() -> dict:
    """The FLOPs level the GH200's Offline run implies (a Hopper die with up to 1,000 W for the module, Grace CPU
    included, NVIDIA GH200 datasheet) next to the 700 W H200's at the same batch and software: how much of the
    large-batch level a higher power limit recovers. The GH200 is modelled as the H200 with its own HBM bandwidth;
    its tokens per sample are taken as the H200 run's."""
    row = next(r for r in mlperf_server.SERVER_ROWS if r.id == "13b")
    m = mlperf_server.step_model(row)
    base = replace(m.efficiency, flops_efficiency=get_gpu(row.gpu).efficiency("fp8").flops_efficiency)
    lengths = mlperf_server.batch_lengths(row.tokens_per_sample)
    batch = mlperf_server.OFFLINE_BATCH[row.id]
    out = {}
    for name, gpu, tps in (("h200-sxm 700 W", m.gpu, mlperf_server.OFFLINE_TOKENS_PER_S[row.id] / row.gpus),
                           ("gh200 up to 1,000 W", replace(m.gpu, hbm_tbps=GH200_HBM_TBPS), GH200_OFFLINE_TOKENS_PER_S)):
        def iteration(s: float, gpu=gpu, tps=tps) -> float:
            return mlperf_server.iteration_at(rescaled(m, base, s, gpu), batch, tps / row.tokens_per_sample, lengths)
        out[name] = {"tokens_per_s_per_gpu": tps,
                     "implied_scale": implied_scale(lambda s, it=iteration, tps=tps: it(s) / (batch / tps) - 1.0)}
    out["maxq_500w_throughput_ratio"] = H200_MAXQ_OFFLINE_TOKENS_PER_S / mlperf_server.OFFLINE_TOKENS_PER_S[row.id]
    return out


def rows() -> list[dict]:
    return throughput_rows() + load_point_rows()


def report(data: list[dict] | None = None, headroom: dict | None = None) -> list[str]:
    """Markdown lines of the section (``data``: :func:`rows`; ``headroom``: :func:`power_headroom`)."""
    data = rows() if data is None else data
    lines = [
        "## The FLOPs level each Hopper fp8 row implies",
        "",
        "Regenerated by `python benchmarks/validate_perf.py` (`python benchmarks/hopper_flops_level.py` prints it as "
        "JSON). For each H100/H200 fp8 dense row: the scale of the catalog's fp8 FLOPs efficiency (0.691, fitted on "
        "rows 7a-7d) at which the model reproduces the published number, and how much that number depends on the "
        "factor (`FLOPs share`: d ln(throughput) / d ln(flops_efficiency); below "
        f"{PINNED:g} the row does not pin the level). `speed error` is the model's throughput (load points: 1 / "
        "iteration) against the published one at the catalog's level, + where the model is fast (throughput rows: "
        "closed-form estimate; MLPerf load points: the iteration at the published batch and arrival rate, as in "
        "the Server section). Rows sorted by batch.",
        "",
        "| id | GPU | model | TP | sequences per group | software | speed error at the catalog's level | FLOPs share | "
        "implied level (× catalog) |",
        "|---|---|---|---|---:|---|---:|---:|---:|",
    ]
    for d in sorted(data, key=lambda d: d["batch"]):
        implied = f"{d['implied_scale']:.2f}" if d["flops_share"] >= PINNED else "not pinned"
        lines.append(f"| {d['id']} | {d['gpu']} | {d['model']} | {d['tp']} | {d['batch']:,}"
                     f"{'' if d['batch_published'] else '*'} | {d['software']} | {d['error_at_catalog']:+.1%} | "
                     f"{d['flops_share']:.2f} | {implied} |")
    big = [d for d in data if d["batch"] >= LARGE_BATCH_SEQS and d["flops_share"] >= PINNED]
    small = [d for d in data if d["batch"] < LARGE_BATCH_SEQS and d["flops_share"] >= PINNED]
    lo, hi = min(d["implied_scale"] for d in big), max(d["implied_scale"] for d in big)
    lines += ["", "`*` batch not published (throughput rows: the largest the KV cache holds; Server points: "
              "Little's law).", "",
              f"Every row at {LARGE_BATCH_SEQS} or more sequences per group that pins the level implies "
              f"{lo:.2f}-{hi:.2f} of the catalog's ({len(big)} rows, three software generations); the rows below "
              f"{LARGE_BATCH_SEQS} that pin it imply "
              f"{min(d['implied_scale'] for d in small):.2f}-{max(d['implied_scale'] for d in small):.2f} "
              f"({len(small)} rows). What this does and does not establish: docs/performance_model.md, "
              "\"Large-batch fp8 on Hopper\"."]
    ph = power_headroom() if headroom is None else headroom
    h200, gh200 = ph["h200-sxm 700 W"], ph["gh200 up to 1,000 W"]
    lines += ["", "**Power headroom** (MLPerf v4.1, Llama-2-70B Offline, TP1 at batch 806, same software): the 8xH200 "
              f"system at 700 W per GPU ran {h200['tokens_per_s_per_gpu']:,.0f} tokens/s per GPU (implied level "
              f"{h200['implied_scale']:.3f}); the GH200-144GB, the same die with up to 1,000 W for the module, "
              f"{gh200['tokens_per_s_per_gpu']:,.0f} (implied level {gh200['implied_scale']:.3f}, its 2 % more HBM "
              f"bandwidth modelled); capped at 500 W, the 8xH200 system (MaxQ) ran "
              f"{ph['maxq_500w_throughput_ratio']:.3f} × its 700 W throughput. The workload is power-sensitive below "
              f"700 W, but more power than 700 W recovers {gh200['implied_scale'] / h200['implied_scale'] - 1:.1%} of "
              f"FLOPs level, not the {1 / h200['implied_scale'] - 1:.0%} the catalog's level would need."]
    return lines


if __name__ == "__main__":
    print(json.dumps({"rows": rows(), "power_headroom": power_headroom()}, indent=1))
