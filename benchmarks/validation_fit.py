"""The catalog calibration the validation rows fit (``validate_perf.py --fit``): the efficiency factors per GPU x
precision, the MLPerf Hopper FLOPs level of each round and the MI300X fp8 FLOPs efficiency.
"""
from __future__ import annotations

import math

import numpy as np

import mlperf_server
from sim.perf.vidur import bundled_profile, fit_gemm_roofline, read_operator_profile
from sim.scenario.catalog import Efficiency, get_gpu, get_model
from validation_rows import ROWS, Row
from validation_runs import estimate, simulate, throughput_shares


def _fit(rows: list[Row], fixed: dict[str, float], free: list[str], overlap_exponent: float) -> Efficiency:
    from scipy.optimize import least_squares  # noqa: PLC0415
    names = ["flops_efficiency", "bw_efficiency", "overhead_s"]
    lo = {"flops_efficiency": 0.05, "bw_efficiency": 0.05, "overhead_s": 0.0}
    hi = {"flops_efficiency": 1.0, "bw_efficiency": 1.0, "overhead_s": 0.05}

    def eff_of(x: np.ndarray) -> Efficiency:
        vals = dict(fixed)
        vals.update(zip(free, x))
        return Efficiency(*(vals[n] for n in names))

    def resid(x: np.ndarray) -> np.ndarray:
        e = eff_of(x)
        return np.array([math.log(estimate(r, e, overlap_exponent) / r.published) for r in rows])

    x0 = [0.6 if n != "overhead_s" else 0.002 for n in free]
    res = least_squares(resid, x0, bounds=([lo[n] for n in free], [hi[n] for n in free]))
    return eff_of(res.x)


def fit_catalog() -> dict[str, tuple[Efficiency, float]]:
    """The catalog calibration, one per GPU x precision: (factors, overlap exponent of the GPU family).

    A100 and H100 bf16 factors and both families' exponents: :func:`sim.perf.vidur.fit_gemm_roofline`
    on the Vidur Llama-2-7B TP1 GEMM profiles. Then least squares (log error) on the ``fit:`` rows:
    A100 overhead (8a-8d); H100 fp8 FLOPs efficiency and overhead (7a-7d, bandwidth from Vidur);
    B200 fp4 FLOPs and bandwidth efficiency (throughput rows only: 12c, 12g and the MLPerf Offline row 5;
    overhead from H100). Printed by ``--fit``.
    """
    out: dict[str, tuple[Efficiency, float]] = {}
    vidur = {}
    for g, name in (("a100", "a100-80gb"), ("h100", "h100-sxm")):
        vidur[name] = fit_gemm_roofline(read_operator_profile(bundled_profile(g)), get_model("llama-2-7b"),
                                        get_gpu(name), tp=1)
    a, pa = vidur["a100-80gb"].efficiency, vidur["a100-80gb"].overlap_exponent
    out["a100-80gb/bf16"] = (_fit([r for r in ROWS if r.role == "fit:a100-bf16"],
                                  {"flops_efficiency": a.flops_efficiency, "bw_efficiency": a.bw_efficiency},
                                  ["overhead_s"], pa), pa)
    h, ph = vidur["h100-sxm"].efficiency, vidur["h100-sxm"].overlap_exponent
    f8 = _fit([r for r in ROWS if r.role == "fit:h100-fp8"], {"bw_efficiency": h.bw_efficiency},
              ["flops_efficiency", "overhead_s"], ph)
    out["h100-sxm/fp8"] = (f8, ph)
    out["h100-sxm/bf16"] = (Efficiency(h.flops_efficiency, h.bw_efficiency, f8.overhead_s), ph)
    out["b200/fp4"] = (_fit([r for r in ROWS if r.role == "fit:b200-fp4"],
                            {"overhead_s": f8.overhead_s}, ["flops_efficiency", "bw_efficiency"], ph), ph)
    return out


def fit_mlperf_flops_scale(mlperf_round: str = "v4.1", tol: float = 0.005) -> float:
    """A round's MLPerf Hopper FLOPs calibration (:data:`mlperf_server.MLPERF_FLOPS_SCALE`): the scale of the
    catalog's fp8 FLOPs efficiency at which that round's simulated Offline rows (v4.1: 1 and 2; v4.0: 1a and 2a;
    H100 and H200) have a mean log error of 0 (:func:`mlperf_server.fit_level`). Only these rows: every Server row
    stays held out."""
    rows = [r for r in ROWS if r.role == f"fit:mlperf-{mlperf_round}-hopper"]
    return mlperf_server.fit_level(lambda scale: [simulate(r, scale) for r in rows], [r.published for r in rows],
                                   0.5, 1.0, tol)


def fit_mi300x_fp8(tol: float = 0.002) -> tuple[float, float]:
    """The MI300X fp8 FLOPs calibration: ``(scale, flops_efficiency)``, the scale of the catalog's MI300X fp8 FLOPs
    efficiency at which AMD's two MLPerf v4.1 Offline rows (4 and 4a, :data:`mlperf_server.AMD_OFFLINE`) have a mean
    log error of 0 (:func:`mlperf_server.fit_level`), and the efficiency it gives (the catalog's x scale; the
    catalog holds it, so a re-fit prints a scale of ~1). Only these rows: the Server rows 13g and 13h stay held
    out; the bandwidth efficiency is not fitted (the rows do not pin it: :func:`throughput_shares`)."""
    rows = [r for r in ROWS if r.role == "fit:mi300x-fp8"]
    scale = mlperf_server.fit_level(lambda s: [simulate(r, s) for r in rows], [r.published for r in rows],
                                    0.2, 2.0, tol)
    return scale, get_gpu("mi300x").efficiency("fp8").flops_efficiency * scale


def print_fit() -> None:
    """Print the catalog calibration and the per-round diagnostics (``--fit``)."""
    for key, (e, p) in fit_catalog().items():
        print(f"{key}: flops_efficiency {e.flops_efficiency:.3f}, bw_efficiency {e.bw_efficiency:.3f}, "
              f"overhead_s {e.overhead_s:.5f}, overlap_exponent {p:.2f}")
    for rnd in mlperf_server.MLPERF_FLOPS_SCALE:
        print(f"MLPerf {rnd} Hopper fp8 FLOPs scale: {fit_mlperf_flops_scale(rnd):.3f}")
        for r in (r for r in ROWS if r.role == f"fit:mlperf-{rnd}-hopper"):
            alone = mlperf_server.fit_level(lambda scale, r=r: [simulate(r, scale)], [r.published], 0.5, 1.0)
            print(f"  row {r.id} alone (diagnostic): {alone:.3f}")
    scale, eff = fit_mi300x_fp8()
    print(f"mi300x/fp8 (MLPerf v4.1 Offline rows 4, 4a): flops_efficiency {eff:.3f} "
          f"({scale:.3f} x the catalog's)")
    for r in (r for r in ROWS if r.role == "fit:mi300x-fp8"):
        shares = throughput_shares(r)
        print(f"  row {r.id}: FLOPs share {shares['flops']:.2f}, bandwidth share {shares['bw']:.2f}")
    v50 = [r for r in mlperf_server.SERVER_ROWS if r.id in mlperf_server.OFFLINE_RUN]
    for row in v50:
        print(f"MLPerf {row.mlperf_round} {row.system} Offline FLOPs scale (diagnostic): "
              f"{mlperf_server.fit_offline_scale([row]):.3f}")
    print(f"MLPerf v5.0 Offline FLOPs scale fitted on both, as each v4.x level (diagnostic): "
          f"{mlperf_server.fit_offline_scale(v50):.3f}")
