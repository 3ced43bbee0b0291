"""Fit a GPU's roofline efficiency factors to measured points, or import Vidur operator profiles.

Measured points (CSV, one row per measurement; ``#`` lines are comments), either iteration times::

    prefill_tokens,decode_seqs,context_tokens,step_s[,prefill_seqs]

(``context_tokens`` = total KV context read by the decoding sequences; prefill chunks start from an
empty cache, split evenly over ``prefill_seqs``, default 1) or static-batch throughputs::

    batch,input_tokens,output_tokens,output_tokens_per_s

``fleetsim calibrate examples/calibration_points.csv --gpu h100-sxm --model llama-2-7b --weight-dtype fp8
--kv-dtype fp8 --out h100.yaml`` fits ``flops_efficiency``, ``bw_efficiency`` and ``overhead_s`` by least
squares on relative error, prints how well it fits (median and worst relative error, R², measured
against predicted per point), warns on stderr when a factor ends on its bound (the points want a value
the model does not allow: usually points of another GPU, model or precision), and writes a YAML file
usable as ``perf: {model: roofline, calibration: h100.yaml}``.
Times and throughputs must be > 0 and counts whole numbers; the points must differ in shape and
include iterations that pin each factor (FLOP-bound and bandwidth-bound, small and large), or the
command stops with exit status 2 naming the file and what is missing.
The smooth-roofline overlap exponent stays the GPU catalog's (and is not written) unless
``--fit-exponent`` fits it too. ``--kernels pytorch`` (or any set of :data:`sim.perf.kernels.KERNEL_SETS`; default ``trtllm``) and ``--kernel-factors
'{decode_attention_floor_s: 2.0e-5}'`` price the non-GEMM kernels as the scenario's ``perf.kernels``
and ``perf.kernel_factors`` will, so the factors fitted are the ones that scenario needs; the file
records the set (:func:`sim.perf.kernels.kernel_record`). ``--attention-kv-sharing per_query_head``
(default ``grouped``) predicts the decode attention's KV reads as the scenario's
``perf.attention_kv_sharing`` will, and is recorded in the file when not the default.

With ``--vidur-mlp mlp.csv`` (a Vidur operator profile) instead of points, ``flops_efficiency``,
``bw_efficiency`` and the overlap exponent are fitted to the profile's GEMM times at all token
counts (:func:`sim.perf.vidur.fit_gemm_roofline`, the catalog's own method; ``overhead_s`` stays the
catalog's, as operator profiles carry no per-iteration overhead); adding ``--table-out steps.csv``
(and optionally ``--vidur-attention``) also composes a step-time table for
``perf: {model: table, path: steps.csv}``. With ``--vidur-attention attn.csv`` as well, the command
also measures the profiled stack's kernel set (:func:`sim.perf.vidur.fit_kernel_set`, TP1 rows:
element-wise floor and bandwidth, attention floors and efficiencies) and prints it as a
``perf.kernel_factors`` mapping.
"""
from __future__ import annotations

import argparse
import sys

from sim.errors import output_value, path_value
from sim.perf.kernels import KERNEL_SETS


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("points", nargs="?", type=path_value, help="CSV of measured iteration times (columns prefill_tokens, decode_seqs, "
                        "context_tokens, step_s) or static-batch throughputs (batch, input_tokens, output_tokens, "
                        "output_tokens_per_s), e.g. examples/calibration_points.csv")
    p.add_argument("--gpu", required=True, help="catalog GPU name, e.g. h100-sxm")
    p.add_argument("--model", required=True, help="catalog model name, e.g. llama-3-8b")
    p.add_argument("--tp", type=int, default=1, help="tensor-parallel size of the measured replica (default 1)")
    p.add_argument("--weight-dtype", choices=["bf16", "fp8", "fp4"], default="bf16",
                   help="precision of the measured replica's weights, as the scenario's perf.weight_dtype "
                        "(default bf16)")
    p.add_argument("--kv-dtype", choices=["bf16", "fp8"], default="bf16",
                   help="precision of its KV cache, as the scenario's perf.kv_dtype (default bf16)")
    p.add_argument("--out", type=output_value("file"), metavar="FILE",
                   help="write the calibration YAML here (a scenario uses it as perf: {model: roofline, "
                        "calibration: FILE})")
    p.add_argument("--fit-exponent", action="store_true",
                   help="with measured points: also fit the smooth-roofline overlap exponent "
                        "(default: keep the GPU catalog's)")
    p.add_argument("--kernels", choices=list(KERNEL_SETS), default=None,
                   help="with measured points: the stack's kernel set, as the scenario's perf.kernels "
                        "(default trtllm)")
    p.add_argument("--kernel-factors", default=None, metavar="MAPPING",
                   help="with measured points: numbers replacing the kernel set's, as the scenario's "
                        "perf.kernel_factors, e.g. '{decode_attention_floor_s: 2.0e-5}'")
    p.add_argument("--attention-kv-sharing", choices=["grouped", "per_query_head"], default=None,
                   help="with measured points: how decode attention reads a grouped-query model's KV heads, "
                        "as the scenario's perf.attention_kv_sharing (default grouped)")
    p.add_argument("--vidur-mlp", type=path_value, metavar="CSV", help="Vidur operator profile (mlp.csv) to fit or import")
    p.add_argument("--vidur-attention", type=path_value, metavar="CSV",
                   help="Vidur-style attention sample: with --vidur-mlp, fit the stack's kernel set (and attention "
                        "for --table-out)")
    p.add_argument("--table-out", type=output_value("file"), metavar="FILE",
                   help="compose a step-time table CSV from the Vidur profiles")
    p.add_argument("--grid-prefill", default=None, metavar="N,N",
                   help=f"with --table-out, the table grid's prefill tokens per iteration (comma-separated; default "
                        f"{GRID_DEFAULTS['grid_prefill']})")
    p.add_argument("--grid-decode", default=None, metavar="N,N", help=f"with --table-out, the table grid's decoding sequences "
                                                       f"(default {GRID_DEFAULTS['grid_decode']})")
    p.add_argument("--grid-context", default=None, metavar="N,N",
                   help=f"with --table-out, the table grid's total context tokens of the decoding sequences "
                        f"(default {GRID_DEFAULTS['grid_context']})")


def _grid(text: str, name: str) -> list[int]:
    from sim.errors import InputError
    try:
        vals = sorted({int(v) for v in text.split(",") if v.strip()})
    except ValueError:
        raise InputError(f"--{name}: expected comma-separated integers (got {text!r})") from None
    if not vals or vals[0] < 0:
        raise InputError(f"--{name}: expected integers >= 0 (got {text!r})")
    return vals


def _bounds(name: str) -> tuple[float, float]:
    from sim.perf.calibration import BOUNDS, EXPONENT_BOUNDS, FACTORS

    i = FACTORS.index(name)
    return EXPONENT_BOUNDS if i == 3 else (BOUNDS[0][i], BOUNDS[1][i])


def _print_kernel_set(args: argparse.Namespace, model, gpu) -> None:
    """The kernel set of the stack Vidur profiled, as ``perf.kernel_factors`` (stdout) and its fit."""
    import numpy as np

    from sim.errors import InputError
    from sim.perf.vidur import fit_kernel_set, read_attention_sample, read_operator_profile
    profile, sample = read_operator_profile(args.vidur_mlp), read_attention_sample(args.vidur_attention)
    try:
        fit = fit_kernel_set(profile, sample, model, gpu)
    except InputError as exc:      # the operator profile has no TP1 rows
        raise InputError(f"{args.vidur_mlp}: {exc}") from None
    except ValueError as exc:      # too few rows of one kind in the attention sample
        raise InputError(f"{args.vidur_attention}: {exc}") from None
    k = fit.kernels
    print("kernel set (TP1 rows; use with perf.kernels: pytorch):")
    print(f"  kernel_factors: {{elementwise_floor_s: {k.elementwise_floor_s:.4g}, elementwise_bw_fraction: "
          f"{k.elementwise_bw_fraction:.4g}, attention_flops_fraction: {k.attention_flops_fraction:.4g}, "
          f"attention_bw_fraction: {k.attention_bw_fraction:.4g}, prefill_attention_floor_s: "
          f"{k.prefill_attention_floor_s:.4g}, decode_attention_floor_s: {k.decode_attention_floor_s:.4g}}}")
    for what, err in (("element-wise", fit.elementwise_error), ("attention", fit.attention_error)):
        print(f"  {what} fit: median |relative error| {np.median(np.abs(err)):.2%}, worst {np.max(np.abs(err)):.2%} "
              f"over {len(err)} rows")


def main(args: argparse.Namespace) -> int:
    _grid_flags_without_table(args)
    gpu, model = _checked_inputs(args)
    grids = _table_grids(args) if args.table_out is not None else None   # checked before any fitting
    cal, source, unit = _fit(args, gpu, model)
    _print_fit(cal, gpu, model, args, source, unit)
    if args.out is not None:
        from sim.perf.calibration import write_calibration

        write_calibration(cal, args.out)
        from sim.planning.table import fill

        print(fill(f"wrote {args.out} (use it in a scenario as perf: {{model: roofline, calibration: {args.out}}}, "
                   f"the path relative to the scenario's folder)"), file=sys.stderr)
    if grids is not None:
        _write_step_table(args, gpu, model, grids)
    return 0


def _checked_inputs(args: argparse.Namespace):
    """The catalog GPU and model, once the tensor parallelism, the weight precision and the input
    (points or a profile) are known to fit them; :class:`~sim.errors.InputError` otherwise."""
    from sim.errors import InputError
    from sim.perf.memory import check_parallelism
    from sim.scenario.catalog import get_gpu, get_model

    def looked_up(flag: str, get, name: str):
        try:
            return get(name)
        except KeyError as exc:    # the catalog's message; a flag takes a name only, no inline mapping
            raise InputError(f"{flag}: {str(exc.args[0]).split(' or an inline mapping')[0]}") from None

    gpu, model = looked_up("--gpu", get_gpu, args.gpu), looked_up("--model", get_model, args.model)
    bad = check_parallelism(model, args.tp)
    if bad:
        raise InputError(f"--tp: {bad}")
    try:
        gpu.peak_tflops(args.weight_dtype)
    except ValueError as exc:
        raise InputError(f"--weight-dtype: {exc}") from None
    if args.vidur_attention is not None and args.vidur_mlp is None:
        raise InputError("--vidur-attention: needs --vidur-mlp (the kernel set is fitted to both profiles)")
    if args.points is None and args.vidur_mlp is None:
        raise InputError("give a CSV of measured points, or --vidur-mlp with a Vidur operator profile")
    if args.points is not None and args.vidur_mlp is not None:
        raise InputError(f"--vidur-mlp: give measured points or a Vidur operator profile, not both "
                         f"(got {args.points} and {args.vidur_mlp})")
    _check_outputs(args)
    for flag, value in (("--kernels", args.kernels), ("--kernel-factors", args.kernel_factors),
                        ("--attention-kv-sharing", args.attention_kv_sharing)):
        if value is not None and args.points is None:
            raise InputError(f"{flag}: only with measured points (a --vidur-mlp fit prices the GEMMs alone, "
                             f"which neither a kernel set nor the KV sharing changes)")
    return gpu, model


def _check_outputs(args: argparse.Namespace) -> None:
    """``--out`` and ``--table-out`` name files that can be written, neither an input nor each other
    (each was written over in silence, the points file included)."""
    from sim.errors import InputError
    from sim.out_folder import result_file_problem
    from sim.paths import output_file_problem

    inputs = [args.points, args.vidur_mlp, args.vidur_attention]
    for flag, path in (("--out", args.out), ("--table-out", args.table_out)):
        if path is not None:
            problem = output_file_problem(path, inputs) or result_file_problem(path)
            if problem:
                raise InputError(f"{flag}: {path}: {problem}")
            inputs.append(path)


def _kernels(args: argparse.Namespace):
    """The kernel set ``--kernels`` and ``--kernel-factors`` describe, built as a scenario's ``perf:``
    block builds it."""
    from sim.errors import InputError
    from sim.perf.kernels import build_kernels
    from sim.scenario.safe_yaml import load_yaml

    factors = None
    if args.kernel_factors is not None:
        try:
            factors = load_yaml(args.kernel_factors)
        except Exception as exc:        # a YAML error of any kind: say what is expected
            raise InputError(f"--kernel-factors: expected a YAML mapping such as "
                             f"'{{decode_attention_floor_s: 2.0e-5}}' ({' '.join(str(exc).split())})") from None
    return build_kernels(args.kernels, factors,
                         labels={"kernels": "--kernels", "kernel_factors": "--kernel-factors"})


def _fit(args: argparse.Namespace, gpu, model):
    """The calibration fitted to the measured points, or to a Vidur profile's GEMM times; what it
    was fitted over (for the report line) and the unit of the measured column."""
    from sim.perf.calibration import DEFAULT_KV_SHARING, Calibration, StepPoints, fit_efficiency, read_points

    if args.points is not None:
        points = read_points(args.points)
        cal = fit_efficiency(points, model, gpu, args.tp, args.weight_dtype, args.kv_dtype,
                             fit_exponent=args.fit_exponent, source=str(args.points), kernels=_kernels(args),
                             kv_sharing=args.attention_kv_sharing or DEFAULT_KV_SHARING)
        return cal, f"{cal.points} points", "step_s" if isinstance(points, StepPoints) else "output tok/s"
    import numpy as np

    from sim.errors import InputError
    from sim.perf.vidur import fit_gemm_roofline, read_operator_profile
    profile = read_operator_profile(args.vidur_mlp)
    try:
        fit = fit_gemm_roofline(profile, model, gpu, args.tp, args.weight_dtype)
    except InputError as exc:      # no rows, or too few token counts, of this tensor-parallel size
        raise InputError(f"{args.vidur_mlp}: {exc}") from None
    err = np.abs(fit.rel_error)
    cal = Calibration(gpu.name, model.name, args.tp, args.weight_dtype, args.kv_dtype,
                      fit.efficiency.flops_efficiency, fit.efficiency.bw_efficiency, fit.efficiency.overhead_s,
                      len(fit.num_tokens), float(np.median(err)), float(np.max(err)), fit.overlap_exponent)
    source = (f"GEMM time at {cal.points} token counts ({int(fit.num_tokens.min())}-{int(fit.num_tokens.max())}) "
              f"of {args.vidur_mlp.name}")
    return cal, source, None


def _print_fit(cal, gpu, model, args: argparse.Namespace, source: str, unit: str | None) -> None:
    """The fitted factors, how well they fit (per point when measured), and a warning on stderr
    for each factor that ended on its bound."""
    print(f"{gpu.name} x {model.name} TP{args.tp} {args.weight_dtype}: flops_efficiency {cal.flops_efficiency:.4f}, "
          f"bw_efficiency {cal.bw_efficiency:.4f}, overhead_s {cal.overhead_s:.6f}")
    if cal.overlap_exponent is not None:
        print(f"overlap_exponent {cal.overlap_exponent:.4f} (fitted)")
    else:
        print(f"overlap_exponent {gpu.overlap_exponent:.4g} (the GPU catalog's, not fitted; --fit-exponent fits it)")
    if getattr(cal, "kernels", None) is not None:
        from sim.perf.kernels import described, kernel_record
        if kernel_record(cal.kernels):
            print(f"fitted with {described(cal.kernels)} (name the same in the scenario's perf block)")
    if args.attention_kv_sharing is not None:
        print(f"fitted with attention_kv_sharing: {cal.attention_kv_sharing} (name the same in the scenario's "
              f"perf block)")
    print(f"fit over {source}: median |relative error| {cal.median_abs_rel_error:.2%}, "
          f"worst {cal.max_abs_rel_error:.2%}"
          + (f", R² {cal.r_squared:.4f}" if cal.r_squared is not None else ""))
    if cal.measured:
        print(f"{'point':>5}  {'measured ' + unit:>22}  {'predicted':>12}  {'error':>8}")
        for i, (m, p) in enumerate(zip(cal.measured, cal.predicted), start=1):
            print(f"{i:>5}  {m:>22,.6g}  {p:>12,.6g}  {(p - m) / m:>+8.2%}")
    for name in cal.at_bound:
        lo, hi = _bounds(name)
        value = getattr(cal, name)
        side = "upper" if value >= hi - (hi - lo) * 1e-4 else "lower"
        print(f"warning: {name} {value:.4g} is at its {side} bound [{lo:g}, {hi:g}]: the points pull it "
              f"beyond what the model allows, so the other factors absorb the difference; check that "
              f"the points match --gpu, --model, --tp and the dtypes, or measure points that pin {name}",
              file=sys.stderr)
    if args.points is None:
        print("overhead_s is the GPU catalog's (operator profiles carry no per-iteration overhead)")
        if args.vidur_attention is not None:
            _print_kernel_set(args, model, gpu)


#: grid points of a composed step table: ~25 bytes a row (measured: 100,000 points, 2.46 MB, 3.5 s), so
#: the table stays well within the 16 MiB a scenario's step table is read up to (sim.scenario.safe_text)
MAX_TABLE_POINTS = 500_000


#: ``--table-out``'s grids when not given
GRID_DEFAULTS = {"grid_prefill": "0,128,256,512,1024,2048", "grid_decode": "0,1,8,32,64,128,256",
                 "grid_context": "0,4096,16384,65536,262144"}


def _grid_flags_without_table(args: argparse.Namespace) -> None:
    """A ``--grid-*`` flag shapes only the ``--table-out`` table: given alone it would be ignored in silence."""
    from sim.errors import InputError

    given = [f"--{k.replace('_', '-')}" for k in GRID_DEFAULTS if getattr(args, k) is not None]
    if given and args.table_out is None:
        raise InputError(f"{', '.join(given)}: shape{'s' if len(given) == 1 else ''} the step-time table of "
                         f"--table-out, which is not given (add --table-out steps.csv, or drop "
                         f"{'it' if len(given) == 1 else 'them'})")


def _table_grids(args: argparse.Namespace) -> tuple[list[int], list[int], list[int]]:
    """``--table-out``'s prefill, decode and context grids, once it is known to have a profile."""
    from sim.errors import InputError

    if args.vidur_mlp is None:
        raise InputError("--table-out needs --vidur-mlp (and optionally --vidur-attention)")
    grids = tuple(_grid(GRID_DEFAULTS[k] if getattr(args, k) is None else getattr(args, k), k.replace("_", "-"))
                  for k in GRID_DEFAULTS)
    points = len(grids[0]) * len(grids[1]) * len(grids[2])
    if points > MAX_TABLE_POINTS:
        raise InputError(f"--grid-prefill, --grid-decode, --grid-context: {len(grids[0]):,} x {len(grids[1]):,} x "
                         f"{len(grids[2]):,} = {points:,} grid points (at most {MAX_TABLE_POINTS:,}: a scenario reads a "
                         f"step table of up to 16 MiB); use fewer values, the table is interpolated between them")
    return grids


def _write_step_table(args: argparse.Namespace, gpu, model, grids: tuple[list[int], list[int], list[int]]) -> None:
    """``--table-out``: a step-time table composed from the Vidur GEMM profile and attention sample."""
    from sim.perf.vidur import (AttentionFit, compose_step_table, fit_attention, read_attention_sample,
                                read_operator_profile, write_step_table)
    attn = (fit_attention(read_attention_sample(args.vidur_attention)) if args.vidur_attention
            else AttentionFit(0.0, 0.0, 0.0, 0.0))
    from sim.errors import InputError
    try:
        rows = compose_step_table(read_operator_profile(args.vidur_mlp), attn, model, gpu, args.tp, *grids)
    except InputError as exc:        # e.g. the grid reaches past the profile's token counts
        raise InputError(f"{args.vidur_mlp}: {exc}") from None
    write_step_table(rows, args.table_out,
                     f"Step-time table for {model.name} on {args.tp}x {gpu.name}, composed by `fleetsim calibrate` "
                     f"from {args.vidur_mlp.name}" + (f" and {args.vidur_attention.name}" if args.vidur_attention
                                                     else " (attention omitted)"))
    from sim.planning.table import fill

    print(fill(f"wrote {args.table_out} ({len(rows)} grid points; use it in a scenario as perf: {{model: table, "
               f"path: {args.table_out}}}, the path relative to the scenario's folder)"), file=sys.stderr)
