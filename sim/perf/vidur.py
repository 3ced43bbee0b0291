"""Read Vidur-style operator profiles; fit roofline efficiencies to them; compose a step table.

The Vidur project (github.com/microsoft/vidur, MIT licence) measures every operator of a model
layer on real GPUs. Two kinds of CSV are understood:

- **operator (MLP) profile**: one row per ``(num_tokens, num_tensor_parallel_workers)`` with
  columns ``time_stats.<op>.median`` in **milliseconds per layer** for the non-attention operators
  ``attn_pre_proj`` (QKV), ``attn_post_proj`` (O), ``mlp_up_proj``, ``mlp_down_proj`` (GEMMs),
  ``input_layernorm``, ``post_attention_layernorm``, ``attn_rope``, ``mlp_act``, ``add``
  (element-wise) and ``emb`` (once per model). Rows starting with ``#`` are comments.
- **attention sample**: columns ``is_prefill, batch_size, prefill_chunk_size, kv_cache_size,
  attn_median_ms`` (per layer; ``kv_cache_size`` = tokens already cached per sequence).

:func:`fit_operator_efficiency` fits a GPU's ``flops_efficiency`` and ``bw_efficiency`` so that the
roofline's linear-layer and element-wise time of ONE layer matches the summed operator times over
all rows (least squares on relative error): weight-bound rows (few tokens) pin ``bw_efficiency``,
compute-bound rows (thousands of tokens) pin ``flops_efficiency``.

:func:`fit_gemm_roofline` fits ``flops_efficiency``, ``bw_efficiency`` and the smooth-roofline
``overlap_exponent`` together to the four GEMMs' time of one TP size over all token counts (least
squares on log error): the token counts between the two regimes (64-1024 tokens on A100 and H100)
pin the exponent. This is how the catalog's factors and exponents are made.

:func:`compose_step_table` turns the profiles into a step-time table for
:class:`sim.perf.table.TableModel`: per iteration ``n_layers * (operators(T) + attention) + emb +
lm head + overhead``. Operator times are interpolated linearly in ``num_tokens`` (the profile is
dense: 259 token counts from 1 to 4096); attention comes from a least-squares fit of the sample,
decode ``a + b * batch * kv`` (bytes read) and prefill ``a + b * chunk * (kv + chunk / 2)`` (causal
pairs), because the sample is sparse; the lm head (not in the profile) from the roofline.
"""
from __future__ import annotations

import csv
import math
import pathlib
from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import least_squares

from sim.errors import InputError
from sim.io import csv_rows, header_index
from sim.perf.base import BatchShape
from sim.perf.kernels import KernelSet
from sim.perf.roofline import RooflineModel
from sim.scenario.catalog import Efficiency, GPUSpec, ModelSpec

GEMM_OPS = ("attn_pre_proj", "attn_post_proj", "mlp_up_proj", "mlp_down_proj")
ELEMENTWISE_OPS = ("input_layernorm", "post_attention_layernorm", "attn_rope", "mlp_act", "add")
DATA_DIR = pathlib.Path(__file__).with_name("data")


def bundled_profile(gpu: str, kind: str = "mlp") -> pathlib.Path:
    """Path of a bundled Vidur Llama-2-7B profile: ``gpu`` in (a100, h100), ``kind`` mlp or attention."""
    name = f"vidur_{gpu}_llama2_7b_mlp.csv" if kind == "mlp" else f"vidur_{gpu}_llama2_7b_attention_sample.csv"
    return DATA_DIR / name


def _rows(path: pathlib.Path) -> list[tuple[int, dict[str, str]]]:
    """``(line number, row)`` of a CSV profile (read by the one CSV rule, :func:`sim.io.csv_rows`): a
    regular UTF-8 file within the scenario loader's size limit, every row as long as the header;
    :class:`InputError` naming the file (and line) otherwise."""
    from sim.scenario.safe_text import read_input_text
    text = read_input_text(path)      # a regular file, within the scenario loader's limits
    lines = list(csv_rows(text, path))
    if not lines:
        return []
    header = [h.strip() for h in lines[0][1]]
    header_index(header, path, lines[0][0])       # a column given twice: which one a dict keeps is no choice
    if len(lines) == 1:
        raise InputError(f"{path}: has a header row and no data rows")
    out = []
    for n, values in lines[1:]:
        if len(values) != len(header):
            raise InputError(f"{path}:{n}: has {len(values)} values; the header names {len(header)} columns")
        out.append((n, dict(zip(header, values))))
    return out


def _column(path: pathlib.Path, rows: list[tuple[int, dict[str, str]]], name: str, kind: str) -> np.ndarray:
    """One column of :func:`_rows` as numbers: ``kind`` ``ms`` (finite > 0 milliseconds per layer, returned
    in seconds), ``count`` (whole >= 1), ``size`` (whole >= 0) or ``bool`` (True/False)."""
    col = list(rows[0][1]).index(name) + 1
    out = []
    for n, row in rows:
        text = row[name].strip()
        try:
            if kind == "bool":
                if text.lower() not in ("true", "false"):
                    raise ValueError
                out.append(text.lower() == "true")
                continue
            v = float(text)
            lowest = 1 if kind == "count" else 0
            if not (math.isfinite(v) and (v > 0 if kind == "ms" else v == math.floor(v) and v >= lowest)):
                raise ValueError
        except ValueError:
            allowed = {"ms": "a finite number > 0 (milliseconds per layer)", "count": "a whole number >= 1",
                       "size": "a whole number >= 0", "bool": "True or False"}[kind]
            raise InputError(f"{path}:{n}:{col}: {name} must be {allowed} (got {row[name]!r})") from None
        out.append(v * 1e-3 if kind == "ms" else int(v))
    return np.array(out)


@dataclass(frozen=True)
class OperatorProfile:
    """Per-layer non-attention operator seconds by token count and TP size (columns)."""

    num_tokens: np.ndarray
    tp: np.ndarray
    gemm_s: np.ndarray
    elementwise_s: np.ndarray
    emb_s: np.ndarray

    @property
    def layer_s(self) -> np.ndarray:
        return self.gemm_s + self.elementwise_s

    def select(self, tp: int) -> "OperatorProfile":
        """Rows of one TP size, sorted by token count (duplicates averaged)."""
        keep = self.tp == tp
        if not keep.any():
            raise InputError(f"operator profile has no rows for tensor parallel {tp} "
                             f"(has {sorted(set(self.tp.tolist()))})")
        toks = np.unique(self.num_tokens[keep])
        def avg(a: np.ndarray) -> np.ndarray:
            return np.array([a[keep & (self.num_tokens == t)].mean() for t in toks])
        return OperatorProfile(toks, np.full(len(toks), tp), avg(self.gemm_s), avg(self.elementwise_s),
                               avg(self.emb_s))


def read_operator_profile(path: str | pathlib.Path) -> OperatorProfile:
    """Read a Vidur ``mlp.csv`` (see module docstring); times converted to seconds."""
    path = pathlib.Path(path)
    rows = _rows(path)
    need = [f"time_stats.{o}.median" for o in GEMM_OPS + ELEMENTWISE_OPS + ("emb",)] + ["num_tokens"]
    if not rows or any(c not in rows[0][1] for c in need):
        missing = [c for c in need if not rows or c not in rows[0][1]]
        raise InputError(f"{path}: not a Vidur operator profile; missing columns {', '.join(missing)}")
    def ms(ops: tuple[str, ...]) -> np.ndarray:
        return sum(_column(path, rows, f"time_stats.{o}.median", "ms") for o in ops)
    tp_col = "num_tensor_parallel_workers"
    tp = _column(path, rows, tp_col, "count") if tp_col in rows[0][1] else np.ones(len(rows), dtype=int)
    return OperatorProfile(_column(path, rows, "num_tokens", "count"), tp, ms(GEMM_OPS), ms(ELEMENTWISE_OPS),
                           ms(("emb",)))


@dataclass(frozen=True)
class AttentionSample:
    """Measured attention-kernel seconds per layer (columns; see module docstring)."""

    is_prefill: np.ndarray
    batch: np.ndarray
    chunk: np.ndarray
    kv: np.ndarray
    attn_s: np.ndarray


def read_attention_sample(path: str | pathlib.Path) -> AttentionSample:
    path = pathlib.Path(path)
    rows = _rows(path)
    need = ("is_prefill", "batch_size", "prefill_chunk_size", "kv_cache_size", "attn_median_ms")
    if not rows or any(c not in rows[0][1] for c in need):
        raise InputError(f"{path}: not an attention sample; needs columns {', '.join(need)}")
    return AttentionSample(_column(path, rows, "is_prefill", "bool"), _column(path, rows, "batch_size", "count"),
                           _column(path, rows, "prefill_chunk_size", "size"),
                           _column(path, rows, "kv_cache_size", "size"), _column(path, rows, "attn_median_ms", "ms"))


def _one_layer(model: ModelSpec) -> ModelSpec:
    return replace(model, n_layers=1)


def predicted_operator_seconds(profile: OperatorProfile, model: ModelSpec, gpu: GPUSpec, eff: Efficiency,
                               weight_dtype: str = "bf16") -> np.ndarray:
    """Roofline seconds of one layer's linear layers plus element-wise kernels, per profile row."""
    models: dict[int, RooflineModel] = {}
    out = np.empty(len(profile.num_tokens))
    for i, (n, tp) in enumerate(zip(profile.num_tokens, profile.tp)):
        rm = models.get(int(tp))
        if rm is None:
            rm = models[int(tp)] = RooflineModel(_one_layer(model), gpu, int(tp), weight_dtype, "bf16",
                                                 Efficiency(eff.flops_efficiency, eff.bw_efficiency, 0.0))
        b = rm.breakdown(BatchShape(prefill_tokens=int(n), prefill_seqs=1))
        out[i] = b.linear_s + b.activation_s
    return out


def fit_operator_efficiency(profile: OperatorProfile, model: ModelSpec, gpu: GPUSpec,
                            weight_dtype: str = "bf16") -> tuple[Efficiency, np.ndarray]:
    """Fit (flops_efficiency, bw_efficiency) to ``profile``; returns them and per-row relative errors.

    ``overhead_s`` of the result is the GPU catalog's (operator profiles carry no iteration overhead).
    """
    meas = profile.layer_s

    def resid(x: np.ndarray) -> np.ndarray:
        pred = predicted_operator_seconds(profile, model, gpu, Efficiency(x[0], x[1], 0.0), weight_dtype)
        return (pred - meas) / meas

    res = least_squares(resid, [0.6, 0.7], bounds=([0.05, 0.05], [1.0, 1.0]))
    eff = Efficiency(float(res.x[0]), float(res.x[1]), gpu.efficiency(weight_dtype).overhead_s)
    return eff, resid(res.x)


@dataclass(frozen=True)
class AttentionFit:
    """Per-layer attention seconds: decode ``a + b*batch*kv``, prefill ``c + d*chunk*(kv + chunk/2)``."""

    decode_base_s: float
    decode_per_kv_token_s: float
    prefill_base_s: float
    prefill_per_pair_s: float

    def decode_s(self, batch: np.ndarray, kv_per_seq: np.ndarray) -> np.ndarray:
        return np.where(batch > 0, self.decode_base_s + self.decode_per_kv_token_s * batch * kv_per_seq, 0.0)

    def prefill_s(self, chunk: np.ndarray, kv_per_seq: np.ndarray) -> np.ndarray:
        return np.where(chunk > 0, self.prefill_base_s + self.prefill_per_pair_s * chunk * (kv_per_seq + chunk / 2.0), 0.0)


def fit_attention(sample: AttentionSample) -> AttentionFit:
    """Least-squares (non-negative) fit of :class:`AttentionFit` to an attention sample."""
    from scipy.optimize import nnls
    d, p = ~sample.is_prefill, sample.is_prefill
    A = np.column_stack([np.ones(d.sum()), sample.batch[d] * sample.kv[d]])
    (a, b), _ = nnls(A / sample.attn_s[d, None], np.ones(d.sum()))
    A = np.column_stack([np.ones(p.sum()), sample.chunk[p] * (sample.kv[p] + sample.chunk[p] / 2.0)])
    (c, e), _ = nnls(A / sample.attn_s[p, None], np.ones(p.sum()))
    return AttentionFit(float(a), float(b), float(c), float(e))


def compose_step_table(profile: OperatorProfile, attention: AttentionFit, model: ModelSpec, gpu: GPUSpec,
                       tp: int, prefill_tokens: list[int], decode_seqs: list[int], context_tokens: list[int],
                       overhead_s: float | None = None) -> list[tuple[int, int, int, float]]:
    """Rows ``(prefill_tokens, decode_seqs, context_tokens, step_s)`` over the full grid.

    ``context_tokens`` is the total KV context of the decoding sequences (spread evenly over them);
    prefill chunks start from an empty cache. The grid's largest ``prefill_tokens + decode_seqs``
    must lie within the profile's token range. ``overhead_s`` defaults to the GPU catalog's.
    """
    prof = profile.select(tp)
    if max(prefill_tokens) + max(decode_seqs) > prof.num_tokens.max():
        raise InputError(f"grid needs up to {max(prefill_tokens) + max(decode_seqs)} tokens per iteration but the "
                         f"profile only covers {prof.num_tokens.min()}..{prof.num_tokens.max()}")
    eff = gpu.efficiency("bf16")
    oh = eff.overhead_s if overhead_s is None else overhead_s
    lm = RooflineModel(model, gpu, tp, "bf16", "bf16", Efficiency(eff.flops_efficiency, eff.bw_efficiency, 0.0))
    emb = float(np.interp(1, prof.num_tokens, prof.emb_s))
    rows = []
    for p in prefill_tokens:
        for d in decode_seqs:
            for c in context_tokens:
                n = p + d
                if n == 0:
                    rows.append((p, d, c, 0.0))
                    continue
                ops = float(np.interp(n, prof.num_tokens, prof.layer_s))
                attn = float(attention.decode_s(np.array(d), np.array(c / d if d else 0.0))) / tp
                attn += float(attention.prefill_s(np.array(p), np.array(0.0))) / tp
                b = lm.breakdown(BatchShape(prefill_tokens=p, prefill_seqs=1 if p else 0, decode_seqs=d))
                step = model.n_layers * (ops + attn) + emb + b.lm_head_s + b.comm_s + oh
                rows.append((p, d, c, step))
    return rows


def write_step_table(rows: list[tuple[int, int, int, float]], path: str | pathlib.Path, header_comment: str = "") -> None:
    """Write table rows as the CSV :class:`sim.perf.table.TableModel` reads."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        for line in header_comment.splitlines():
            fh.write(f"# {line}\n")
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["prefill_tokens", "decode_seqs", "context_tokens", "step_s"])
        for p, d, c, s in rows:
            w.writerow([p, d, c, f"{s:.9g}"])


def regime_efficiency(profile: OperatorProfile, model: ModelSpec, gpu: GPUSpec, tp: int = 1,
                      weight_bound_max_tokens: int = 16, compute_bound_min_tokens: int = 2048,
                      weight_dtype: str = "bf16") -> Efficiency:
    """Efficiencies read off the two ends of a GEMM profile (the catalog's method).

    ``bw_efficiency`` = median over rows with ``num_tokens <= weight_bound_max_tokens`` of
    (roofline bytes / peak bandwidth) / measured GEMM time; ``flops_efficiency`` = median over rows
    with ``num_tokens >= compute_bound_min_tokens`` of (FLOPs / peak) / measured GEMM time. Only
    rows of tensor-parallel size ``tp``. ``overhead_s`` is the GPU catalog's.
    """
    prof = profile.select(tp)
    rm = RooflineModel(_one_layer(model), gpu, tp, weight_dtype, "bf16", Efficiency(1.0, 1.0, 0.0))
    bw, fl = [], []
    for n, meas in zip(prof.num_tokens, prof.gemm_s):
        b = rm.breakdown(BatchShape(prefill_tokens=int(n), prefill_seqs=1))
        if n <= weight_bound_max_tokens:
            bw.append(b.linear_bytes / gpu.hbm_bytes_per_s / meas)
        if n >= compute_bound_min_tokens:
            fl.append(b.linear_flops / (gpu.peak_tflops(weight_dtype) * 1e12) / meas)
    if not bw or not fl:
        raise InputError("profile needs rows at both ends: <= "
                         f"{weight_bound_max_tokens} and >= {compute_bound_min_tokens} tokens")
    return Efficiency(float(np.median(fl)), float(np.median(bw)), gpu.efficiency(weight_dtype).overhead_s)


def _enough_token_counts(prof: OperatorProfile, factors: str, n: int) -> OperatorProfile:
    """``prof`` (one TP size) when it has at least ``n`` different token counts to fit ``factors``."""
    if len(prof.num_tokens) < n:
        raise InputError(f"the tensor-parallel-{int(prof.tp[0])} rows have {len(prof.num_tokens)} different "
                         f"token count(s); fitting {factors} needs at least {n}")
    return prof


@dataclass(frozen=True)
class GemmRooflineFit:
    """Smooth-roofline factors fitted to a GEMM profile, and the relative error per profile row."""

    efficiency: Efficiency
    overlap_exponent: float
    num_tokens: np.ndarray
    rel_error: np.ndarray


def fit_gemm_roofline(profile: OperatorProfile, model: ModelSpec, gpu: GPUSpec, tp: int = 1,
                      weight_dtype: str = "bf16") -> GemmRooflineFit:
    """Fit ``(flops_efficiency, bw_efficiency, overlap_exponent)`` to the GEMM time of one TP size.

    Model per row: ``(t_c**p + t_m**p)**(1/p)`` with ``t_c = FLOPs / (peak * flops_efficiency)``,
    ``t_m = bytes / (hbm_bw * bw_efficiency)`` of one layer's linear layers
    (:class:`~sim.perf.roofline.RooflineModel`), ``p`` in [1, 50]; least squares on
    ``log(predicted / measured)`` over all token counts. ``overhead_s`` of the result is the GPU
    catalog's (operator profiles carry no iteration overhead).
    """
    from sim.perf.roofline import smooth_roofline
    prof = _enough_token_counts(profile.select(tp), "flops_efficiency, bw_efficiency and overlap_exponent", 3)
    rm = RooflineModel(_one_layer(model), gpu, tp, weight_dtype, "bf16", Efficiency(1.0, 1.0, 0.0), math.inf)
    tc, tm = [], []
    for n in prof.num_tokens:
        b = rm.breakdown(BatchShape(prefill_tokens=int(n), prefill_seqs=1))
        tc.append(b.linear_flops / (gpu.peak_tflops(weight_dtype) * 1e12))
        tm.append(b.linear_bytes / gpu.hbm_bytes_per_s)
    tc_a, tm_a, meas = np.array(tc), np.array(tm), prof.gemm_s

    def pred(x: np.ndarray) -> np.ndarray:
        return np.array([smooth_roofline(c / x[0], m / x[1], x[2]) for c, m in zip(tc_a, tm_a)])

    res = least_squares(lambda x: np.log(pred(x) / meas), [0.7, 0.8, 2.0], bounds=([0.05, 0.05, 1.0], [1.0, 1.0, 50.0]))
    eff = Efficiency(float(res.x[0]), float(res.x[1]), gpu.efficiency(weight_dtype).overhead_s)
    return GemmRooflineFit(eff, float(res.x[2]), prof.num_tokens, pred(res.x) / meas - 1.0)


@dataclass(frozen=True)
class KernelSetFit:
    """A kernel set measured from Vidur profiles (:func:`fit_kernel_set`) and how well it fits them.

    ``elementwise_error``: relative error of the fitted element-wise time per token count of the
    profile it was fitted on; ``attention_error``: per attention-sample row (decode rows first)."""

    kernels: KernelSet
    num_tokens: np.ndarray
    elementwise_error: np.ndarray
    attention_error: np.ndarray


def elementwise_seconds(kernels: KernelSet, profile: OperatorProfile, model: ModelSpec, gpu: GPUSpec,
                        tp: int = 1) -> np.ndarray:
    """Roofline seconds of one layer's element-wise kernels under ``kernels``, per ``tp`` profile row."""
    prof = profile.select(tp)
    rm = RooflineModel(_one_layer(model), gpu, tp, "bf16", "bf16", Efficiency(1.0, 1.0, 0.0), kernels=kernels)
    return np.array([rm.breakdown(BatchShape(prefill_tokens=int(n), prefill_seqs=1)).activation_s
                     for n in prof.num_tokens])


def fit_kernel_set(profile: OperatorProfile, sample: AttentionSample, model: ModelSpec, gpu: GPUSpec,
                   name: str = "fitted") -> KernelSetFit:
    """The per-kernel characteristics of the stack that produced ``profile`` and ``sample`` (TP1 rows).

    - Element-wise kernels: ``(elementwise_floor_s, elementwise_bw_fraction)`` so that ``max(floor,
      bytes / (hbm_bw * fraction))`` per layer, with the roofline's activation bytes, matches the
      profile's summed element-wise operators at every token count (least squares on log error).
    - Attention: :func:`fit_attention`'s lines read as kernels: the intercepts are the decode and
      prefill floors, the decode slope (seconds per cached token read) gives the fraction of peak HBM
      bandwidth at the model's KV bytes per token and layer, the prefill slope (seconds per causal
      query-key pair) the fraction of peak FLOPs at ``2 * (qk + v)`` FLOPs per pair and layer.
    """
    from sim.perf.attention import attention_widths
    prof = _enough_token_counts(profile.select(1), "elementwise_floor_s and elementwise_bw_fraction", 2)
    sizes = {"decode": ("batch_size x kv_cache_size", sample.batch * sample.kv),
             "prefill": ("prefill_chunk_size, kv_cache_size", sample.chunk * (sample.kv + sample.chunk / 2.0))}
    for kind, rows in (("decode", ~sample.is_prefill), ("prefill", sample.is_prefill)):
        if rows.sum() < 2:
            raise ValueError(f"needs at least 2 {kind} rows to fit the {kind} attention kernel "
                             f"(has {int(rows.sum())})")
        what, size = sizes[kind]
        if len(np.unique(size[rows])) < 2:
            raise ValueError(f"needs {kind} rows of at least 2 different sizes ({what}) to fit the {kind} "
                             f"attention kernel (has {len(np.unique(size[rows]))})")
    res = least_squares(
        lambda x: np.log(elementwise_seconds(KernelSet(name, x[0], x[1]), prof, model, gpu) / prof.elementwise_s),
        [2e-5, 0.5], bounds=([0.0, 0.05], [1e-3, 1.0]))
    att = fit_attention(sample)
    qk, v, _ = attention_widths(model)
    kv_bytes_per_token = 2.0 * model.n_kv_heads * model.head_dim * 2.0   # one layer, bf16 K and V
    ks = KernelSet(name, float(res.x[0]), float(res.x[1]),
                   attention_flops_fraction=2.0 * (qk + v) / att.prefill_per_pair_s / (gpu.peak_tflops("bf16") * 1e12),
                   attention_bw_fraction=kv_bytes_per_token / att.decode_per_kv_token_s / gpu.hbm_bytes_per_s,
                   prefill_attention_floor_s=att.prefill_base_s, decode_attention_floor_s=att.decode_base_s)
    d, p = ~sample.is_prefill, sample.is_prefill
    att_pred = np.concatenate([att.decode_s(sample.batch[d], sample.kv[d]), att.prefill_s(sample.chunk[p], sample.kv[p])])
    att_meas = np.concatenate([sample.attn_s[d], sample.attn_s[p]])
    return KernelSetFit(ks, prof.num_tokens, elementwise_seconds(ks, prof, model, gpu) / prof.elementwise_s - 1.0,
                        att_pred / att_meas - 1.0)
