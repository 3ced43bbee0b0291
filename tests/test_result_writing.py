"""Result folder writing: CSV cells round-trip exactly, bytes are deterministic, figures from memory
are the figures from the files."""
import csv
import gzip
import io
import shutil
from pathlib import Path

import numpy as np
import pytest

from sim.io import Coded, atomic_write_csv_gz, csv_chunks, csv_text

ROOT = Path(__file__).resolve().parents[1]


def old_csv_text(header, columns):
    """The per-cell formatter this module replaced (reference: repr for floats, NaN empty)."""
    def fmt(v):
        if isinstance(v, float):
            return "" if v != v else repr(v)
        s = str(v)
        return f'"{s}"' if ("," in s or '"' in s) else s
    cols = [c.tolist() if hasattr(c, "tolist") else list(c) for c in columns]
    n = len(cols[0]) if cols else 0
    return ",".join(header) + "\n" + "".join(",".join(fmt(c[i]) for c in cols) + "\n" for i in range(n))


def table(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random(n) * 10.0 ** rng.integers(-30, 30, n)
    x[rng.random(n) < 0.1] = np.nan
    x[:6] = [0.0, -0.0, 5e-324, 1e16, 1e-5, np.inf][: min(6, n)]
    ints = rng.integers(-10**12, 10**12, n)
    codes = rng.integers(-1, 3, n)
    return ["x", "i", "b", "s"], [x, ints, ints % 2 == 0, Coded(codes, ("a", "b b", "c"))]


def test_cells_match_per_cell_repr_formatting_across_blocks():
    header, cols = table(10_000)
    expected = old_csv_text(header, [cols[0], cols[1], cols[2], cols[3].strings().tolist()])
    assert csv_text(header, cols) == expected
    assert "".join(csv_chunks(header, cols, block_rows=997)) == expected


def test_fast_number_cells_equal_repr_and_str_over_every_kind_of_double(monkeypatch):
    import sim.io

    rng = np.random.default_rng(7)
    bits = rng.integers(0, 2**64, 200_000, dtype=np.uint64).view(np.float64)    # every exponent, NaN, inf
    near = np.ldexp(1.0, rng.integers(-20, 70, 50_000))
    x = np.concatenate([bits, near, np.nextafter(near, 0.0), np.nextafter(near, np.inf),
                        rng.integers(0, 10**6, 50_000) / 1000.0, [1e-4, 9.999999999999999e-05, 1e16, -np.inf]])
    ints = np.concatenate([rng.integers(-2**63, 2**63 - 1, 10_000, dtype=np.int64), [-2**63, 2**63 - 1, 0]])
    tables = [(["x"], [x]), (["i"], [ints]), (["u", "s"], [np.array([0, 2**64 - 1], dtype=np.uint64),
                                                          np.array([-7, 300], dtype=np.int16)])]
    texts = [csv_text(header, cols) for header, cols in tables]
    assert texts == [old_csv_text(header, cols) for header, cols in tables]
    monkeypatch.setattr(sim.io, "_JSON_NUMBERS", [None])              # formatter missing: repr/str
    assert [csv_text(header, cols) for header, cols in tables] == texts


def test_floats_round_trip_exactly_and_nan_is_an_empty_cell():
    header, cols = table(5_000, seed=3)
    rows = list(csv.reader(io.StringIO(csv_text(header, cols))))[1:]
    back = np.array([float(r[0]) if r[0] else np.nan for r in rows])
    assert np.array_equal(back, cols[0], equal_nan=True)
    assert np.signbit(back[1])                                  # -0.0 kept
    assert [r[0] == "" for r in rows] == np.isnan(cols[0]).tolist()


def test_labels_with_commas_and_quotes_are_quoted_and_code_minus_one_is_empty():
    col = Coded(np.array([0, 1, -1]), ('a,b', 'say "hi"'))
    rows = list(csv.reader(io.StringIO(csv_text(["name", "k"], [col, np.arange(3)]))))
    assert rows == [["name", "k"], ["a,b", "0"], ['say "hi"', "1"], ["", "2"]]


def test_gzip_csv_is_deterministic_and_readable(tmp_path):
    header, cols = table(20_000, seed=5)
    a = atomic_write_csv_gz(tmp_path / "a.csv.gz", header, cols).read_bytes()
    b = atomic_write_csv_gz(tmp_path / "b.csv.gz", header, cols).read_bytes()
    assert a == b
    assert a[4:8] == b"\0\0\0\0"                                 # mtime 0
    assert gzip.decompress(a).decode() == csv_text(header, cols)
    assert gzip.decompress(atomic_write_csv_gz(tmp_path / "e.csv.gz", ["x"], [np.array([])]).read_bytes()) == b"x\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv.gz", "b.csv.gz", "e.csv.gz"]   # no temp files left
    for level in (1, 6):             # ISA-L (levels 1-3) or zlib: the same text, valid gzip either way
        z = atomic_write_csv_gz(tmp_path / f"l{level}.csv.gz", header, cols, level=level).read_bytes()
        assert gzip.decompress(z).decode() == csv_text(header, cols)


def test_figures_drawn_from_memory_equal_figures_drawn_from_the_files(tmp_path):
    from sim.api import run
    from sim.report import write_run_figures

    scn = {"name": "two-classes", "seed": 4, "duration": "2m", "model": "llama-3-8b",
           "workload": {"classes": [
               {"name": "chat", "share": 0.7, "prompt_tokens": {"dist": "fixed", "value": 200},
                "output_tokens": {"dist": "fixed", "value": 20}},
               {"name": "batch", "share": 0.3, "prompt_tokens": {"dist": "fixed", "value": 800},
                "output_tokens": {"dist": "fixed", "value": 50}}],
               "arrival": {"process": "poisson", "rate": 4.0}},
           "fleet": {"pools": [{"name": "main", "gpu": "h100-sxm", "replicas": 2}]},
           "perf": {"model": "linear", "base_s": 0.01, "per_prefill_token_s": 0.0001}}
    result = run(scn)
    mem = tmp_path / "mem"
    result.write(mem, figures="png")
    files = tmp_path / "files"
    files.mkdir()
    for name in ("requests.csv.gz", "timeseries.csv", "cashflow.csv", "summary.json"):
        shutil.copy(mem / name, files / name)
    write_run_figures(files)                                         # as `fleetsim report` does: PNG and SVG
    stems = ["cashflow", "latency_cdf", "timeseries", "utilization"]
    written = sorted(p.name for p in (mem / "figures").iterdir())
    assert written == [f"{s}.png" for s in stems]                    # figures="png": PNG only
    redrawn = sorted(p.name for p in (files / "figures").iterdir())
    assert redrawn == sorted(written + [f"{s}.svg" for s in stems])
    for name in written:
        assert (mem / "figures" / name).read_bytes() == (files / "figures" / name).read_bytes(), name
    quick = tmp_path / "quick"
    result.write(quick)                                              # the default: quick-look SVGs
    assert sorted(p.name for p in (quick / "figures").iterdir()) == [f"{s}.svg" for s in stems]
    result.write(tmp_path / "none", figures="none")
    assert not (tmp_path / "none" / "figures").exists() and (tmp_path / "none" / "summary.json").exists()
    with pytest.raises(ValueError, match="allowed: svg, png, none"):
        result.write(tmp_path / "bad", figures="jpeg")


def test_a_run_writing_its_figures_does_not_import_matplotlib(tmp_path):
    """Quick-look SVGs are the point of the default: a run's process never loads matplotlib."""
    import subprocess
    import sys

    code = ("import sys, sim\n"
            "r = sim.run('scenarios/baseline.yaml', overrides=['duration=2m', 'warmup=0'])\n"
            f"r.write({str(tmp_path / 'out')!r})\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(ROOT)).stdout
    assert out.strip() == "[]"
    assert sorted(p.name for p in (tmp_path / "out" / "figures").iterdir()) == [
        "cashflow.svg", "latency_cdf.svg", "timeseries.svg", "utilization.svg"]


def test_cdf_points_are_the_exact_cdf_sampled_at_even_ranks():
    from sim.report.run_figures import cdf_points

    v = np.random.default_rng(1).exponential(size=100_001)
    x, y = cdf_points(v, max_points=2_000)
    assert x.size <= 2_000 and x[0] == v.min() and x[-1] == v.max() and y[-1] == 1.0
    s = np.sort(v)
    ranks = np.rint(y * v.size).astype(int)                      # y = rank / n
    assert np.array_equal(s[ranks - 1], x)
    assert np.max(np.diff(ranks)) <= v.size / 1_999 + 1
