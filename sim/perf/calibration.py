"""Fit a GPU's roofline efficiency factors to measured iteration times or throughputs.

Three parameters are fitted by ``scipy.optimize.least_squares`` on **relative** errors
``(predicted - measured) / measured``: ``flops_efficiency`` and ``bw_efficiency`` in [0.05, 1] and
``overhead_s`` in [0, 0.1] s. The smooth-roofline ``overlap_exponent`` ``p`` stays the GPU
catalog's unless ``fit_exponent=True``, which fits it too, in [1, 50] (it is pinned by points whose
linear layers are neither clearly FLOP- nor clearly bandwidth-bound: some 64-1024 tokens per
iteration on A100/H100; see :mod:`sim.perf.roofline`). Points (:mod:`sim.perf.measurements`) are either

- **iteration times** (:class:`StepPoints`): CSV columns ``prefill_tokens, decode_seqs,
  context_tokens, step_s`` (optional ``prefill_seqs``, default 1 when ``prefill_tokens > 0``).
  ``context_tokens`` is the total KV context read by the decoding sequences; prefill chunks are
  assumed to start from an empty cache and be split evenly among ``prefill_seqs``; or
- **throughputs** (:class:`ThroughputPoints`): CSV columns ``batch, input_tokens, output_tokens,
  output_tokens_per_s`` of static offline batches, predicted with
  :func:`sim.perf.throughput.static_batch_throughput`.

Every time or throughput must be > 0 (a step at most an hour, a throughput at most 10^9 tokens/s) and
every count a whole number up to 2^53 (batch, input and output tokens >= 1; an iteration needs prefill
tokens or decoding sequences); a row with fewer cells than the header's columns is refused as such. A fit of ``k`` factors needs points at
``k`` or more different shapes that vary in what each factor scales; when they leave a factor
undetermined (e.g. no FLOP-bound iteration for ``flops_efficiency``) :func:`fit_efficiency` says so
instead of returning an arbitrary value.

The predictions use the serving stack's kernel set (:mod:`sim.perf.kernels`: ``trtllm`` by default,
or ``pytorch``, with any ``perf.kernel_factors`` in place), as the simulation will: the fitted GEMM
factors are what is left of the measured time once the set's element-wise and attention kernels are
priced. Points of a PyTorch-kernel stack fitted with the fused ``trtllm`` set would put those
kernels' floors into the GEMM factors and ``overhead_s`` instead, and a scenario that then adds the
floors again would count them twice.

The result is written as a YAML calibration file usable as ``perf: {model: roofline,
calibration: FILE}``::

    gpu: h100-sxm
    model: llama-2-7b
    tp: 1
    weight_dtype: bf16
    kv_dtype: bf16
    flops_efficiency: 0.62
    bw_efficiency: 0.71
    overhead_s: 0.0012
    overlap_exponent: 1.7        # optional; absent = the GPU catalog's
    kernels: pytorch             # optional; absent = trtllm
    attention_kv_sharing: per_query_head   # optional; absent = grouped
    kernel_factors: {decode_attention_floor_s: 2.0e-05}   # optional: numbers unlike the named set's
    fit: {points: 40, median_abs_rel_error: 0.03, max_abs_rel_error: 0.09}

``overlap_exponent`` is written only when it was fitted (``fit_exponent=True``, or a Vidur GEMM
profile via ``fleetsim calibrate --vidur-mlp``); files without it (older ones too) keep the catalog's.
``kernels`` and ``kernel_factors`` record the kernel set the factors were fitted with, only when it is
not the default ``trtllm`` (a ``trtllm`` file is the same as before they existed); they are a record,
not a setting: the scenario's ``perf.kernels`` and ``perf.kernel_factors`` decide what runs, and should
name the same set. ``attention_kv_sharing`` is recorded the same way: the decode attention's KV reads
(``perf.attention_kv_sharing``, :mod:`sim.perf.roofline`) the points were predicted with, written only
when it is not the default ``grouped``, and compared with the block that uses the file
(:func:`kv_sharing_mismatch`); so is ``gpu`` with the GPU of each pool the block prices (its catalog name,
or an inline GPU's ``like``: :func:`gpu_mismatch`), and ``weight_dtype`` and ``kv_dtype`` with the block's
(:func:`dtype_mismatch`). A key outside :data:`FILE_KEYS` is refused, and so is a precision outside :data:`DTYPES`.
"""
from __future__ import annotations

import math
import pathlib
import typing
from dataclasses import asdict, dataclass

import numpy as np
import yaml
from scipy.optimize import least_squares

from sim.errors import InputError, given
from sim.io import reads_as_number
from sim.perf.base import BatchShape
from sim.perf.kernels import KernelSet, build_kernels, kernel_record
from sim.perf.measurements import MAX_MEASURED, StepPoints, ThroughputPoints, read_points
from sim.perf.roofline import KV_SHARING, RooflineModel
from sim.perf.throughput import static_batch_throughput
from sim.scenario.catalog import Efficiency, GPUSpec, ModelSpec
from sim.scenario.perf import RooflinePerf

DEFAULT_KV_SHARING = "grouped"
"""``perf.attention_kv_sharing``'s default, which a calibration file leaves unwritten."""
#: the precisions a calibration file may record, as a ``perf:`` block (and ``fleetsim calibrate``) takes them
DTYPES = {k: typing.get_args(RooflinePerf.model_fields[k].annotation) for k in ("weight_dtype", "kv_dtype")}

BOUNDS = ((0.05, 0.05, 0.0), (1.0, 1.0, 0.1))
"""Lower and upper bounds of (flops_efficiency, bw_efficiency, overhead_s)."""

EXPONENT_BOUNDS = (1.0, 50.0)
"""Bounds of a fitted ``overlap_exponent`` (1 = FLOP and byte time add; 50 is the hard max to <1.4 %)."""


@dataclass(frozen=True)
class Calibration:
    """Fitted factors for one GPU x model x precision, and how well they fit.

    ``overlap_exponent`` is ``None`` when it was not fitted (use the GPU catalog's).
    ``r_squared``: share of the measured values' variance the fit explains (1 - SS_res / SS_tot,
    in the measured unit; ``None`` when the measurements do not vary); ``at_bound``: the fitted
    factors that ended on a bound of :data:`BOUNDS` (or :data:`EXPONENT_BOUNDS`), where the
    optimum may lie beyond what the model allows; ``measured`` / ``predicted``: per point;
    ``kernels``: the kernel set the predictions priced the non-GEMM kernels with (``None``: the
    default ``trtllm``); ``attention_kv_sharing``: how they read a grouped-query model's KV heads.
    """

    gpu: str
    model: str
    tp: int
    weight_dtype: str
    kv_dtype: str
    flops_efficiency: float
    bw_efficiency: float
    overhead_s: float
    points: int
    median_abs_rel_error: float
    max_abs_rel_error: float
    overlap_exponent: float | None = None
    r_squared: float | None = None
    at_bound: tuple[str, ...] = ()
    measured: tuple[float, ...] = ()
    predicted: tuple[float, ...] = ()
    kernels: KernelSet | None = None
    attention_kv_sharing: str = DEFAULT_KV_SHARING

    @property
    def efficiency(self) -> Efficiency:
        return Efficiency(self.flops_efficiency, self.bw_efficiency, self.overhead_s)


def _predict(points: StepPoints | ThroughputPoints, model: ModelSpec, gpu: GPUSpec, tp: int, weight_dtype: str,
             kv_dtype: str, eff: Efficiency, shapes: list[BatchShape] | None = None,
             overlap_exponent: float | None = None, kernels: KernelSet | None = None,
             kv_sharing: str = DEFAULT_KV_SHARING) -> tuple[np.ndarray, np.ndarray]:
    rm = RooflineModel(model, gpu, tp, weight_dtype, kv_dtype, eff, overlap_exponent, kv_sharing, kernels=kernels)
    if isinstance(points, StepPoints):
        shapes = shapes if shapes is not None else points.shapes()
        return np.array([rm.step_time(s) for s in shapes]), np.asarray(points.step_s, dtype=float)
    pred = np.array([static_batch_throughput(rm, int(b), int(i), int(o)) for b, i, o in
                     zip(points.batch, points.input_tokens, points.output_tokens)])
    return pred, np.asarray(points.output_tokens_per_s, dtype=float)


FACTORS = ("flops_efficiency", "bw_efficiency", "overhead_s", "overlap_exponent")
"""The fitted parameters, in the order of the fit's parameter vector."""

DEGENERATE = 1e-3
"""Smallest singular value of the fit's column-normalised Jacobian below which the points do not
determine every factor (some factor, or a combination of factors, barely changes any prediction).
Well-posed point sets are far above it (a mixed set of prefill and decode iterations: ~0.3; even three
prefill-only or three decode-only iterations: 2e-3 to 1e-2); degenerate ones are far below (three
nearly identical iterations: 5e-6; prefills of 1-4 tokens, none FLOP-bound: 3e-5)."""

INSENSITIVE = 0.01
"""A factor whose doubling changes no predicted time by more than this (relative) is undetermined."""

_HINTS = {
    "step": {"flops_efficiency": "FLOP-bound iterations (prefill_tokens in the thousands)",
             "bw_efficiency": "bandwidth-bound iterations (decode-only: prefill_tokens 0, decode_seqs 1-64)",
             "overhead_s": "iterations of very different sizes (a single decode to thousands of prefill tokens)",
             "overlap_exponent": "iterations in between (some 64-1024 tokens per iteration)"},
    "tput": {"flops_efficiency": "prefill-heavy batches (large batch x input_tokens)",
             "bw_efficiency": "decode-heavy batches (small batch, many output_tokens)",
             "overhead_s": "batches of very different sizes",
             "overlap_exponent": "batches of some 64-1024 tokens per iteration"},
}


def _shape_columns(points: StepPoints | ThroughputPoints) -> tuple[list[str], np.ndarray]:
    """The columns that make up a point's shape, and the points' values of them (one row a point)."""
    if isinstance(points, StepPoints):
        cols = ["prefill_tokens", "prefill_seqs", "decode_seqs", "context_tokens"]
        data = [points.prefill_tokens, points.prefill_seqs, points.decode_seqs, points.context_tokens]
    else:
        cols = ["batch", "input_tokens", "output_tokens"]
        data = [points.batch, points.input_tokens, points.output_tokens]
    return cols, np.column_stack([np.asarray(d, dtype=float) for d in data])


def _check_determined(jac: np.ndarray, x: np.ndarray, names: list[str], kind: str, where: str, n: int) -> None:
    """Raise when the points leave a factor, or a combination of factors, undetermined.

    A factor is undetermined alone when doubling it (or halving it) would change no predicted time
    by more than :data:`INSENSITIVE` (relative); a combination when the smallest singular value of
    the column-normalised Jacobian of the relative errors is below :data:`DEGENERATE`. The message
    names the factors involved and the points that would pin them down.
    """
    norms = np.linalg.norm(jac, axis=0)
    sens = np.abs(jac * x).max(axis=0)                         # relative change of a prediction per relative change
    alone = [j for j in range(len(names))
             if not (np.isfinite(norms[j]) and norms[j] > 0)
             or (names[j] != "overhead_s" and sens[j] < INSENSITIVE)]   # overhead_s may sit at 0
    rest = [j for j in range(len(names)) if j not in alone]
    together: list[int] = []
    if len(rest) > 1:
        _, sv, vt = np.linalg.svd(jac[:, rest] / norms[rest], full_matrices=False)
        small = sv < DEGENERATE * sv[0]
        weight = np.sqrt((vt[small] ** 2).sum(axis=0))         # each factor's share of the flat directions
        together = [rest[j] for j in np.argsort(-weight) if weight[j] > 0.3] if small.any() else []
    if not alone and not together:
        return
    parts = []
    if alone:
        parts.append(f"do not determine {_words([names[j] for j in alone])} (the fit is as good at any value)")
    if together:
        parts.append(f"do not determine {_words([names[j] for j in together])} separately (other "
                     f"combinations of them fit as well)")
    hints = ", ".join(_HINTS[kind][names[j]] for j in alone + together)
    raise InputError(f"{where}the {n} points {' and '.join(parts)}; measure also {hints}")


def _check_context(points: StepPoints | ThroughputPoints, model: ModelSpec, where: str) -> None:
    """Raise when a point holds a sequence longer than the model's context: no replica can have run it
    (and a static batch of 10^18 output tokens would be priced one decode step at a time)."""
    ctx = model.max_context
    if isinstance(points, StepPoints):
        seqs = [("prefill_tokens / prefill_seqs", points.prefill_tokens, np.maximum(points.prefill_seqs, 1)),
                ("context_tokens / decode_seqs", points.context_tokens, np.maximum(points.decode_seqs, 1))]
    else:
        seqs = [("input_tokens + output_tokens", points.input_tokens + points.output_tokens, 1.0)]
    for what, tokens, n in seqs:
        per_seq = np.asarray(tokens, dtype=float) / n
        bad = np.flatnonzero(per_seq > ctx)
        if len(bad):
            k = int(bad[0])
            raise InputError(f"{where}point {k + 1}: {what} is {per_seq[k]:,.6g} tokens a sequence, more than "
                             f"{model.name}'s context of {ctx:,} tokens (no replica runs such a sequence; check "
                             f"the columns and --model)")


def _words(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def fit_efficiency(points: StepPoints | ThroughputPoints, model: ModelSpec, gpu: GPUSpec, tp: int = 1,
                   weight_dtype: str = "bf16", kv_dtype: str = "bf16",
                   initial: Efficiency | None = None, fit_exponent: bool = False,
                   source: str | None = None, kernels: KernelSet | None = None,
                   kv_sharing: str = DEFAULT_KV_SHARING) -> Calibration:
    """Least-squares fit of (flops_efficiency, bw_efficiency, overhead_s) on relative errors.

    With ``fit_exponent`` the smooth-roofline ``overlap_exponent`` is fitted as a fourth parameter
    (within :data:`EXPONENT_BOUNDS`, starting from the catalog's) and stored in the result;
    otherwise the catalog's is used and the result's ``overlap_exponent`` is ``None``.

    A fit of ``k`` factors needs points at ``k`` or more different shapes, and points that vary in
    what each factor scales (FLOP-bound and bandwidth-bound iterations, small and large ones):
    otherwise :class:`~sim.errors.InputError` says which factor the points leave undetermined.
    ``source`` (the points file) starts those messages.

    ``kernels`` is the serving stack's kernel set (default ``trtllm``; :func:`sim.perf.kernels_for`
    builds it from a ``perf:`` block's ``kernels`` and ``kernel_factors``): the predictions price the
    element-wise and attention kernels with it, so the fitted factors are the ones a scenario with
    that set needs. ``kv_sharing`` (``perf.attention_kv_sharing``: ``grouped`` or ``per_query_head``)
    is likewise the decode attention's KV reads the predictions use.
    """
    where = f"{source}: " if source else ""
    n = len(points.step_s) if isinstance(points, StepPoints) else len(points.batch)
    k = 4 if fit_exponent else 3
    names = list(FACTORS[:k])
    if n < k:
        raise InputError(f"{where}calibration needs at least {k} points to fit {k} factors "
                         f"({', '.join(names)}) (got {n})")
    _check_context(points, model, where)
    cols, shape_rows = _shape_columns(points)
    distinct = len(np.unique(shape_rows, axis=0))
    if distinct < k:
        raise InputError(f"{where}the {n} points have only {distinct} different shape(s) (columns "
                         f"{', '.join(cols)}); fitting {', '.join(names)} needs at least {k}: measure "
                         f"iterations that differ in {', '.join(cols)}")
    shapes = points.shapes() if isinstance(points, StepPoints) else None
    x0 = initial or gpu.efficiency(weight_dtype)

    def residuals(x: np.ndarray) -> np.ndarray:
        p = float(x[3]) if fit_exponent else None
        pred, meas = _predict(points, model, gpu, tp, weight_dtype, kv_dtype, Efficiency(*x[:3]), shapes, p,
                              kernels, kv_sharing)
        return (pred - meas) / meas

    lo, hi, scale = list(BOUNDS[0]), list(BOUNDS[1]), [0.1, 0.1, 1e-3]
    start = [x0.flops_efficiency, x0.bw_efficiency, x0.overhead_s]
    if fit_exponent:
        lo, hi, scale = lo + [EXPONENT_BOUNDS[0]], hi + [EXPONENT_BOUNDS[1]], scale + [1.0]
        start.append(min(gpu.overlap_exponent, 4.0))  # an infinite catalog exponent: start in the sensitive range
    start = np.clip(start, lo, hi)
    res = least_squares(residuals, start, bounds=(lo, hi), x_scale=scale, xtol=1e-12, ftol=1e-12)
    _check_determined(np.asarray(res.jac, dtype=float), np.asarray(res.x, dtype=float), names,
                      "step" if shapes is not None else "tput", where, n)
    pred, meas = _predict(points, model, gpu, tp, weight_dtype, kv_dtype, Efficiency(*res.x[:3]), shapes,
                          float(res.x[3]) if fit_exponent else None, kernels, kv_sharing)
    err = np.abs((pred - meas) / meas)
    return Calibration(gpu=gpu.name, model=model.name, tp=tp, weight_dtype=weight_dtype, kv_dtype=kv_dtype,
                       flops_efficiency=float(res.x[0]), bw_efficiency=float(res.x[1]), overhead_s=float(res.x[2]),
                       points=n, median_abs_rel_error=float(np.median(err)), max_abs_rel_error=float(np.max(err)),
                       overlap_exponent=float(res.x[3]) if fit_exponent else None,
                       r_squared=r_squared(meas, pred), at_bound=at_bounds(res.x, lo, hi, names),
                       measured=tuple(float(v) for v in meas), predicted=tuple(float(v) for v in pred),
                       kernels=kernels, attention_kv_sharing=kv_sharing)


def r_squared(measured: np.ndarray, predicted: np.ndarray) -> float | None:
    """Coefficient of determination ``1 - SS_res / SS_tot``; ``None`` when ``measured`` is constant.

        >>> r_squared(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 4.0]))
        0.5
    """
    measured, predicted = np.asarray(measured, dtype=float), np.asarray(predicted, dtype=float)
    ss_tot = float(np.sum((measured - measured.mean()) ** 2))
    if ss_tot == 0.0:
        return None
    return 1.0 - float(np.sum((measured - predicted) ** 2)) / ss_tot


#: how close (relative to the bound interval) a fitted factor must be to a bound to count as on it
AT_BOUND = 1e-4


def at_bounds(x, lo, hi, names) -> tuple[str, ...]:
    """Names of the fitted values ``x`` lying on their lower or upper bound (within :data:`AT_BOUND`
    of the interval). A lower bound of 0 (``overhead_s``) is the natural "none" and is not reported.

        >>> at_bounds([1.0, 0.5, 0.0], [0.05, 0.05, 0.0], [1.0, 1.0, 0.1], ["a", "b", "c"])
        ('a',)
    """
    out = []
    for v, a, b, name in zip(x, lo, hi, names):
        tol = AT_BOUND * (b - a)
        if v >= b - tol or (a > 0 and v <= a + tol):
            out.append(name)
    return tuple(out)


def write_calibration(cal: Calibration, path: str | pathlib.Path) -> None:
    """Write ``cal`` as the YAML calibration file described in the module docstring."""
    d = asdict(cal)
    fit = {k: d.pop(k) for k in ("points", "median_abs_rel_error", "max_abs_rel_error", "r_squared")}
    if fit["r_squared"] is None:
        del fit["r_squared"]
    bound = d.pop("at_bound")
    if bound:
        fit["at_bound"] = list(bound)
    del d["measured"], d["predicted"], d["kernels"]
    if d["overlap_exponent"] is None:
        del d["overlap_exponent"]
    if d["attention_kv_sharing"] == DEFAULT_KV_SHARING:
        del d["attention_kv_sharing"]
    d.update(kernel_record(cal.kernels))
    d["fit"] = fit
    pathlib.Path(path).write_text(yaml.safe_dump(d, sort_keys=False), encoding="utf-8")


def recorded_kernels(d: dict, path: pathlib.Path) -> KernelSet | None:
    """The kernel set a calibration file records (:func:`kernel_record`); ``None`` when it names none."""
    if d.get("kernels") is None and d.get("kernel_factors") is None:
        return None
    return build_kernels(d.get("kernels"), d.get("kernel_factors"), f"{path}: ")


def kv_sharing_mismatch(fitted: str, running: str) -> str | None:
    """Why factors fitted with the KV sharing ``fitted`` (a calibration file's record) mislead a ``perf:``
    block that runs ``running``; ``None`` when they are the same.

        >>> kv_sharing_mismatch("grouped", "grouped") is None
        True
        >>> kv_sharing_mismatch("per_query_head", "grouped")[:70]
        'fitted with attention_kv_sharing: per_query_head, but this perf block '
    """
    if fitted == running:
        return None
    return (f"fitted with attention_kv_sharing: {fitted}, but this perf block runs attention_kv_sharing: "
            f"{running}: the factors absorbed the other reading of the KV cache; name the same in the perf "
            f"block, or refit with fleetsim calibrate --attention-kv-sharing {running}")


#: the keys a calibration file may hold (:func:`write_calibration` writes them, the optional ones when they apply)
FILE_KEYS = ("gpu", "model", "tp", "weight_dtype", "kv_dtype", "flops_efficiency", "bw_efficiency", "overhead_s",
             "overlap_exponent", "kernels", "attention_kv_sharing", "kernel_factors", "fit")


def dtype_mismatch(cal: "Calibration", weight_dtype: str, kv_dtype: str) -> str | None:
    """Why factors fitted at the calibration file's precisions mislead a ``perf:`` block that runs
    ``weight_dtype`` and ``kv_dtype``; ``None`` when they are the same.

        >>> c = Calibration("h100-sxm", "llama-2-7b", 1, "fp8", "bf16", 0.6, 0.7, 0.001, 0, 0.0, 0.0)
        >>> dtype_mismatch(c, "fp8", "bf16") is None
        True
        >>> dtype_mismatch(c, "bf16", "bf16")[:67]
        'was fitted with weight_dtype: fp8, but this perf block runs weight_'
    """
    pairs = [(k, f, r) for k, f, r in (("weight_dtype", cal.weight_dtype, weight_dtype),
                                       ("kv_dtype", cal.kv_dtype, kv_dtype)) if f != r]
    if not pairs:
        return None
    fitted = " and ".join(f"{k}: {f}" for k, f, _ in pairs)
    running = " and ".join(f"{k}: {r}" for k, _, r in pairs)
    flags = " ".join(f"--{k.replace('_', '-')} {r}" for k, _, r in pairs)
    return (f"was fitted with {fitted}, but this perf block runs {running}: the factors are shares of the other "
            f"precision's peak and bytes (the GPU catalog has a set per precision); refit with fleetsim calibrate "
            f"{flags}, or set the perf block's {' and '.join(f'{k}: {f}' for k, f, _ in pairs)}")


def gpu_mismatch(fitted: str, running: str, pools: str) -> str | None:
    """Why factors fitted on the GPU ``fitted`` (a calibration file's record) mislead ``pools`` running on
    ``running`` (a catalog name, or an inline GPU's ``like``); ``None`` when they match or the file names none.

        >>> gpu_mismatch("h100-sxm", "h100-sxm", "pool p") is None
        True
        >>> gpu_mismatch("a100-80gb", "h100-sxm", "pool p")[:61]
        'was fitted on a100-80gb, but pool p runs on h100-sxm: an effi'
    """
    if not fitted or fitted == running:
        return None
    return (f"was fitted on {fitted}, but {pools} runs on {running}: an efficiency is one GPU's (and stack's) "
            f"share of its own peak; refit with fleetsim calibrate --gpu {running}, or remove calibration for "
            f"the GPU catalog's factors")


def load_calibration(path: str | pathlib.Path) -> Calibration:
    """Read a calibration file; :class:`~sim.errors.InputError` naming the problem otherwise."""
    path = pathlib.Path(path)
    from sim.scenario.safe_text import read_input_text
    from sim.scenario.safe_yaml import load_yaml

    text = read_input_text(path, "calibration file")      # a regular file, within the scenario loader's limits
    try:
        d = load_yaml(text)
    except (yaml.YAMLError, ValueError) as exc:
        raise InputError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(d, dict):
        raise InputError(f"{path}: expected a mapping with flops_efficiency, bw_efficiency, overhead_s")
    unknown = sorted((k for k in d if k not in FILE_KEYS), key=str)
    if unknown:       # a misspelt optional key (overlap_exponant) was dropped in silence
        raise InputError(f"{path}: {unknown[0]}: unknown key; allowed: {', '.join(FILE_KEYS)}")
    for k in ("flops_efficiency", "bw_efficiency", "overhead_s", "overlap_exponent"):
        if isinstance(d.get(k), str) and reads_as_number(d[k]):     # YAML reads 2e-3 (no dot) as text: the
            d[k] = float(d[k])      # scenario takes it as the number; "must be in [0, inf) (got '2e-3')" it is
    for k, lo, hi in (("flops_efficiency", 0, 1), ("bw_efficiency", 0, 1), ("overhead_s", 0, math.inf)):
        v = d.get(k)
        if (isinstance(v, bool) or not isinstance(v, (int, float)) or not (lo <= v <= hi) or not math.isfinite(v)
                or (k != "overhead_s" and v == 0)):
            raise InputError(f"{path}: {k}: must be a number in {'(0, 1]' if hi == 1 else '[0, inf)'} (got {v!r})")
    p = d.get("overlap_exponent")
    if p is not None and (isinstance(p, bool) or not isinstance(p, (int, float)) or not p >= 1):
        raise InputError(f"{path}: overlap_exponent: must be a number >= 1 (1 = FLOP and byte time add, "
                         f".inf = their max) or absent for the GPU catalog's (got {p!r})")
    for k, allowed in DTYPES.items():     # kv_dtype: int8 was taken, and priced as nothing the run knows
        if d.get(k, "bf16") not in allowed:
            raise InputError(f"{path}: {k}: must be one of {', '.join(allowed)} (got {given(d[k])})")
    sharing = d.get("attention_kv_sharing", DEFAULT_KV_SHARING)
    if sharing not in KV_SHARING:
        raise InputError(f"{path}: attention_kv_sharing: must be one of {', '.join(KV_SHARING)} (got {given(sharing)})")
    fit = d.get("fit") or {}
    if not isinstance(fit, dict):
        raise InputError(f"{path}: fit: must be a mapping of the fit's statistics (got {given(fit)})")
    bound = fit.get("at_bound") or []
    if not isinstance(bound, list):
        raise InputError(f"{path}: fit.at_bound: must be a list of factor names (got {given(bound)})")
    return Calibration(gpu=str(d.get("gpu", "")), model=str(d.get("model", "")), tp=_whole(path, "tp", d.get("tp", 1), 1),
                       weight_dtype=d.get("weight_dtype", "bf16"), kv_dtype=d.get("kv_dtype", "bf16"),
                       flops_efficiency=float(d["flops_efficiency"]), bw_efficiency=float(d["bw_efficiency"]),
                       overhead_s=float(d["overhead_s"]), points=_whole(path, "fit.points", fit.get("points", 0), 0),
                       median_abs_rel_error=_recorded(path, fit, "median_abs_rel_error"),
                       max_abs_rel_error=_recorded(path, fit, "max_abs_rel_error"),
                       overlap_exponent=None if p is None else float(p),
                       r_squared=float(fit["r_squared"]) if isinstance(fit.get("r_squared"), (int, float)) else None,
                       at_bound=tuple(str(v) for v in bound), kernels=recorded_kernels(d, path),
                       attention_kv_sharing=sharing)


def _whole(path: pathlib.Path, key: str, v, least: int) -> int:
    """A whole number a calibration file records (``tp``, ``fit.points``), or an error naming the field."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not (v >= least and float(v).is_integer()):
        raise InputError(f"{path}: {key}: must be a whole number >= {least} (got {given(v)})")
    return int(v)


def _recorded(path: pathlib.Path, fit: dict, key: str) -> float:
    """A number of the file's ``fit:`` record (``nan`` when absent), or an error naming the field."""
    v = fit.get(key, math.nan)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise InputError(f"{path}: fit.{key}: must be a number (got {given(v)})")
    return float(v)
