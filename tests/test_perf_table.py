"""Table step-time model: exact at grid points, linear between, warns and falls back outside."""
import pathlib
import warnings

import numpy as np
import pytest

from sim.errors import InputError
from sim.perf import build_step_model
from sim.perf.base import BatchShape
from sim.perf.linear import LinearModel
from sim.perf.table import TableModel, read_table
from sim.perf.vidur import (bundled_profile, compose_step_table, fit_attention, read_attention_sample,
                            read_operator_profile, write_step_table)
from sim.scenario.catalog import get_gpu, get_model
from sim.scenario.perf import parse_perf

P, D, C = [0, 128, 512], [0, 1, 8, 64], [0, 1000, 20000]
FALLBACK = LinearModel(base_s=7.0)


def affine(p, d, c):
    """A step time linear in each coordinate; trilinear interpolation must reproduce it everywhere."""
    return 0.004 + 2e-5 * p + 3e-4 * d + 1e-7 * c


def write_grid(path: pathlib.Path, f=affine) -> pathlib.Path:
    lines = ["# comment line", "prefill_tokens,decode_seqs,context_tokens,step_s"]
    lines += [f"{p},{d},{c},{float(f(p, d, c))!r}" for p in P for d in D for c in C]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_exact_at_grid_points(tmp_path):
    rng = np.random.default_rng(3)
    vals = {(p, d, c): float(rng.uniform(0.01, 0.1)) for p in P for d in D for c in C}
    t = TableModel.from_csv(write_grid(tmp_path / "t.csv", lambda p, d, c: vals[(p, d, c)]), FALLBACK)
    for (p, d, c), v in vals.items():
        if p + d == 0:
            continue
        s = BatchShape(prefill_tokens=p, prefill_seqs=1 if p else 0, prefill_kv_tokens=p, decode_seqs=d,
                       decode_context_tokens=c)
        assert t.step_time(s) == v


def test_linear_between_grid_points(tmp_path):
    t = TableModel.from_csv(write_grid(tmp_path / "t.csv"), FALLBACK)
    for p, d, c in [(64, 4, 500), (300, 30, 15000), (511, 63, 19999), (1, 1, 1)]:
        s = BatchShape(prefill_tokens=p, prefill_seqs=1, prefill_kv_tokens=p, decode_seqs=d, decode_context_tokens=c)
        assert t.step_time(s) == pytest.approx(affine(p, d, c), rel=1e-12)


def test_monotone_between_grid_points(tmp_path):
    # monotone but strongly non-linear data (a step-time surface rising faster with batch)
    t = TableModel.from_csv(write_grid(tmp_path / "t.csv", lambda p, d, c: 0.01 + (p / 100) ** 2 + d ** 1.5 * 1e-3
                                       + (c / 1e4) ** 3), FALLBACK)
    ds = np.linspace(1, 64, 300)
    by_d = [t.step_time(BatchShape(decode_seqs=int(d), decode_context_tokens=5000)) for d in ds]
    assert np.all(np.diff(by_d) >= 0)
    by_c = t.decode_times(8, np.linspace(0, 20000, 500))
    assert np.all(np.diff(by_c) >= 0)


def test_outside_grid_warns_once_and_uses_fallback(tmp_path):
    t = TableModel.from_csv(write_grid(tmp_path / "t.csv"), FALLBACK)
    with pytest.warns(RuntimeWarning, match="outside its grid") as rec:
        assert t.step_time(BatchShape(decode_seqs=65, decode_context_tokens=10)) == 7.0
        assert t.step_time(BatchShape(prefill_tokens=600, prefill_seqs=1, prefill_kv_tokens=600)) == 7.0
        t.decode_times(2, np.array([10, 10**6]))
    assert len(rec) == 1
    assert "decode_seqs 0..64" in str(rec[0].message)


def test_decode_times_bit_for_bit_inside_and_outside(tmp_path):
    t = TableModel.from_csv(write_grid(tmp_path / "t.csv", lambda p, d, c: 0.01 + np.sqrt(p + d + c / 7)),
                            LinearModel(0.3, 0, 1e-3, 1e-8))
    ctx = np.random.default_rng(5).integers(0, 40000, 300)  # about half beyond the grid's 20000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n in (1, 5, 64):
            loop = [t.step_time(BatchShape(decode_seqs=n, decode_context_tokens=int(c))) for c in ctx]
            assert np.array_equal(t.decode_times(n, ctx), loop)


def test_bad_tables_name_the_problem(tmp_path):
    good = write_grid(tmp_path / "g.csv").read_text().splitlines()
    (tmp_path / "missing.csv").write_text("\n".join(good[:-1]) + "\n")
    with pytest.raises(InputError, match="not a full grid: missing prefill_tokens=512, decode_seqs=64, context_tokens=20000"):
        read_table(tmp_path / "missing.csv")
    (tmp_path / "dup.csv").write_text("\n".join(good + [good[-1]]) + "\n")
    with pytest.raises(InputError, match=r"dup.csv:\d+: duplicate grid point"):
        read_table(tmp_path / "dup.csv")
    (tmp_path / "nan.csv").write_text("prefill_tokens,decode_seqs,context_tokens,step_s\n0,1,0,fast\n")
    with pytest.raises(InputError, match=r"nan.csv:2:4: step_s must be a number \(got 'fast'\)"):
        read_table(tmp_path / "nan.csv")
    with pytest.raises(InputError, match="missing context_tokens"):
        (tmp_path / "hdr.csv").write_text("prefill_tokens,decode_seqs,step_s\n")
        read_table(tmp_path / "hdr.csv")


def test_build_step_model_table_resolves_relative_path(tmp_path):
    write_grid(tmp_path / "steps.csv")
    m = build_step_model(parse_perf({"model": "table", "path": "steps.csv"}), get_model("llama-2-7b"),
                         get_gpu("a100-80gb"), 1, tmp_path)
    assert m.step_time(BatchShape(decode_seqs=8, decode_context_tokens=1000)) == pytest.approx(affine(0, 8, 1000))


def test_vidur_import_composes_layers_times_operators(tmp_path):
    # By hand from the raw profile: at 1 token (TP1) the per-layer non-attention operators sum to
    # 0.003 (emb, once) and 0.095+0.105+... per layer; the composed decode step at batch 1 with no
    # context must be n_layers * (ops + attention at kv 0) + emb + lm head + overhead.
    m, g = get_model("llama-2-7b"), get_gpu("a100-80gb")
    prof = read_operator_profile(bundled_profile("a100"))
    attn = fit_attention(read_attention_sample(bundled_profile("a100", "attention")))
    rows = compose_step_table(prof, attn, m, g, 1, [0, 512], [0, 1, 16], [0, 8000])
    write_step_table(rows, tmp_path / "steps.csv", "test")
    t = TableModel.from_csv(tmp_path / "steps.csv", FALLBACK)
    one = prof.select(1)
    ops_1 = float(one.layer_s[one.num_tokens == 1][0])
    # bf16 lm head at 1 token: smooth roofline of its FLOPs and weight reads (weight reads dominate)
    lm_m = 4096 * 32000 * 2 / (2.039e12 * g.bw_efficiency)
    lm_c = 2 * 4096 * 32000 / (312e12 * g.flops_efficiency)
    lm_head_s = (lm_m ** g.overlap_exponent + lm_c ** g.overlap_exponent) ** (1 / g.overlap_exponent)
    expect = 32 * (ops_1 + attn.decode_base_s) + float(one.emb_s[0]) + lm_head_s + g.overhead_s
    assert t.step_time(BatchShape(decode_seqs=1, decode_context_tokens=0)) == pytest.approx(expect, rel=1e-6)
    # more context or a prefill chunk: slower
    assert t.step_time(BatchShape(decode_seqs=16, decode_context_tokens=8000)) > \
        t.step_time(BatchShape(decode_seqs=16, decode_context_tokens=0))
    assert t.step_time(BatchShape(prefill_tokens=512, prefill_seqs=1, prefill_kv_tokens=512)) > 3 * expect
    # and within 35% of the roofline with the catalog's factors (independent model, same GPU)
    from sim.perf.roofline import RooflineModel
    rm = RooflineModel(m, g, 1)
    for s in (BatchShape(decode_seqs=16, decode_context_tokens=8000),
              BatchShape(prefill_tokens=512, prefill_seqs=1, prefill_attn_pairs=512 * 513 / 2, prefill_kv_tokens=512)):
        assert t.step_time(s) == pytest.approx(rm.step_time(s), rel=0.35)


def test_bundled_example_table_loads():
    from sim.perf.vidur import DATA_DIR
    axes, values = read_table(DATA_DIR / "a100_llama2_7b_tp1_steps.csv")
    assert values.shape == (6, 7, 5) and np.all(values[:, 1:, :] > 0)
