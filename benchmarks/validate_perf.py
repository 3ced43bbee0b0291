"""Validate the roofline step-time model against published throughput and latency.

Regenerates ``docs/validation.md`` and ``docs/validation.png``::

    python benchmarks/validate_perf.py            # simulator if sim.api exists, else steady-state estimate
    python benchmarks/validate_perf.py --mode estimate
    python benchmarks/validate_perf.py --fit      # print the catalog calibration (efficiency factors)

Every row is a published measurement (sources cited per row). ``role`` says whether the row was
used to fit a GPU x precision calibration (``fit``) or is held out (``holdout``); the catalog's
factors come from ``--fit`` and the Vidur operator profiles (see docs/performance_model.md).

Simulated throughput of an offline benchmark: a burst of requests with the published fixed
lengths at t = 0, ``max_num_seqs`` = the published batch size, on ``gpus / tp`` replicas. With the
full simulator (``sim.api.run``) the burst is ``2 x batch`` requests per replica (a trace file of
arrivals at t = 0) and throughput is the run's ``output_tokens_per_s``; ``--mode estimate`` uses
the closed-form static-batch estimate of :mod:`sim.perf.throughput` instead. Rows without a published
batch size use the largest batch the KV cache holds for the full sequence length (at most 2048)
and prefill chunks of at most 8,192 tokens. These fixed-length rows keep the iteration rule the
table was first generated with (``batching.scheduler: vllm-v0``: prompts in iterations of their own),
except rows measured on another engine, which name its preset (the SGLang and vLLM V1 DeepSeek-R1 rows 20a-c,
21a-f), and rows with a published number of requests run exactly those (20a-21f).

The MLPerf rows (1, 2, 5, 1a, 2a Offline; 13, 13b, 13c, 13d, 14 Server) run on the real OpenOrca lengths with
TensorRT-LLM's in-flight batching as NVIDIA ran it (:mod:`mlperf_server` beside this file); the MLPerf v5.1
DeepSeek-R1 Offline rows 19a-b on that benchmark's lengths the same way (:mod:`mlperf_deepseek`). Published
DeepSeek-R1 decode steps at small batches on one node are set beside the step model in :mod:`deepseek_decode_floor`.

The page is written by modules beside this file, one per part: the published rows (:mod:`validation_rows`), how a
row runs (:mod:`validation_runs`), the calibration ``--fit`` prints (:mod:`validation_fit`), the page's head, main
table and figure (:mod:`validation_report`) and its sections (:mod:`validation_weaknesses`,
:mod:`validation_generations`, :mod:`validation_operators`; the 2025-26 models: :mod:`validation_2026`,
:mod:`validation_moe_level`, :mod:`validation_deepseek`), and where the sections rewritten alone go
(:mod:`validation_page`). Their names are re-exported here for the tests and scripts that import this module.
"""
from __future__ import annotations

import argparse
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))   # its helper modules, also when imported by a test

import fixed_concurrency  # noqa: E402  (re-exported: the splice doctests name it)
import mlperf_server  # noqa: E402
from validation_2026 import GROUPS_2026, TARGETS, meets, row_span, write_2026_section  # noqa: E402
from validation_fit import fit_catalog, fit_mi300x_fp8, fit_mlperf_flops_scale, print_fit  # noqa: E402
from validation_generations import V07A_ROWS, software_generations  # noqa: E402
from validation_moe_level import MOE_LEVEL, at_moe_level, decode_steps, tp8_at_level  # noqa: E402
from validation_operators import operator_check  # noqa: E402
from validation_page import SECTION_2026, splice_2026, splice_conc, write_conc_section  # noqa: E402
from validation_report import write_report  # noqa: E402
from validation_rows import (MAX_AUTO_BATCH, MAX_BATCHED_TOKENS, MLPERF_DSR1, ONE_NODE_SOURCES,  # noqa: E402
                             PUBLISHED_TOKENS_PER_SAMPLE, ROWS, ROWS_2026, SRC_DSTACK, SRC_GPUSTACK, SRC_TRT_DSR1,
                             Row, value_text)
from validation_runs import (batch_for, estimate, scenario_for, simulate, simulate_scaled,  # noqa: E402
                             simulator_available, throughput_shares)
from validation_weaknesses import WEAKNESSES  # noqa: E402

__all__ = ["GROUPS_2026", "MAX_AUTO_BATCH", "MAX_BATCHED_TOKENS", "MLPERF_DSR1", "MOE_LEVEL",
           "ONE_NODE_SOURCES", "PUBLISHED_TOKENS_PER_SAMPLE", "ROWS", "ROWS_2026", "Row", "SECTION_2026",
           "SRC_DSTACK", "SRC_GPUSTACK", "SRC_TRT_DSR1", "TARGETS", "V07A_ROWS", "WEAKNESSES", "at_moe_level",
           "batch_for", "decode_steps", "estimate", "fit_catalog", "fit_mi300x_fp8", "fit_mlperf_flops_scale",
           "fixed_concurrency", "main", "meets", "operator_check", "print_fit", "row_span", "scenario_for",
           "simulate", "simulate_scaled", "simulator_available", "software_generations", "splice_2026",
           "splice_conc", "throughput_shares", "tp8_at_level", "value_text", "write_2026_section",
           "write_conc_section", "write_report"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=["auto", "estimate", "simulator"], default="auto")
    ap.add_argument("--fit", action="store_true", help="print the catalog calibration and exit")
    ap.add_argument("--out", default=str(ROOT / "docs"), help="folder for validation.md and validation.png")
    ap.add_argument("--section", choices=["all", "2026", "conc"], default="all",
                    help="2026: (re)write only the 2025-26 models' section of validation.md; conc: only the "
                         "fixed-concurrency section")
    args = ap.parse_args(argv)
    if args.fit:
        print_fit()
        return 0
    if args.section != "all" and not (pathlib.Path(args.out) / "validation.md").is_file():
        ap.error(f"--section {args.section} rewrites one section of an existing validation.md, and "
                 f"{pathlib.Path(args.out) / 'validation.md'} does not exist: run the whole validation into "
                 f"--out first (or leave --out at docs/)")
    mode = args.mode
    if mode == "auto":
        mode = "simulator" if simulator_available() else "estimate"
    if args.section == "conc":
        for k, worst in write_conc_section(mode, pathlib.Path(args.out) / "validation.md").items():
            print(f"fixed concurrency {k}: worst |error| {worst:.1%}")
        return 0
    if args.section == "2026":
        for m, (med, worst) in write_2026_section(mode, pathlib.Path(args.out) / "validation.md").items():
            print(f"{m}: median |error| {med:.1%}, worst {worst:.1%}")
        return 0
    results = []
    server = None
    if mode == "simulator":
        base = []
        for sr in mlperf_server.SERVER_ROWS:
            base.append((sr, mlperf_server.simulate_server(sr)))
            print(f"{sr.id:>4} {sr.gpu:>10} server  " + " ".join(f"{k} {v:.4g}" for k, v in base[-1][1].items()),
                  file=sys.stderr)
        server = (base, mlperf_server.simulate_sensitivity(), mlperf_server.v50_level_checks())
    for r in ROWS:
        s = simulate(r) if mode == "simulator" else estimate(r)
        results.append((r, s))
        print(f"{r.id:>4} {r.gpu:>10} {r.model:>14} published {value_text(r, r.published):>10} "
              f"simulated {value_text(r, s):>10} {((s - r.published) / r.published):+7.1%} {r.role}", file=sys.stderr)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stats = write_report(results, mode, out / "validation.md", out / "validation.png", server)
    print(f"median |error| {stats['median']:.1%}, worst {stats['worst']:.1%} "
          f"(held out: {stats['median_holdout']:.1%}, {stats['worst_holdout']:.1%})")
    for m, (med, worst) in write_2026_section(mode, out / "validation.md").items():
        print(f"{m}: median |error| {med:.1%}, worst {worst:.1%}")
    for k, worst in write_conc_section(mode, out / "validation.md").items():
        print(f"fixed concurrency {k}: worst |error| {worst:.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
