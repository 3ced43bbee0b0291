"""Hostile input on the newest surface: ``fleetsim calibrate --vidur-mlp/--vidur-attention``, the
kernel-set and layout keys of a scenario, the autoscaler's delays against the run.

Every bad value is exit 2 with one line naming the file, the field (or line and column) and what is
allowed, never a traceback or an internal error; a legal but meaningless value is a one-line warning.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import yaml

from sim.cli import main
from sim.perf.vidur import bundled_profile

MLP, ATTENTION = bundled_profile("a100"), bundled_profile("a100", "attention")


def _err(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err, err
    return err


# ------------------------------------------------------------------ fleetsim calibrate --vidur-*
def _table(path: Path) -> tuple[list[str], list[list[str]]]:
    lines = [x for x in path.read_text(encoding="utf-8").splitlines() if not x.startswith("#")]
    rows = list(csv.reader(lines))
    return rows[0], rows[1:]


def _edited(tmp_path: Path, src: Path, column: str, value: str, row: int = 4) -> Path:
    """A copy of ``src`` (comments dropped) with ``column`` of data row ``row`` set to ``value``;
    the data row is on line ``row + 2`` of the copy."""
    header, rows = _table(src)
    rows[row][header.index(column)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *rows])
    path = tmp_path / f"edited_{src.name}"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def _calibrate(mlp: Path | str, attention: Path | str = ATTENTION, *extra: str) -> list[str]:
    return ["calibrate", "--vidur-mlp", str(mlp), "--vidur-attention", str(attention),
            "--gpu", "a100-80gb", "--model", "llama-2-7b", *extra]


UP = "time_stats.mlp_up_proj.median"
BAD_MLP_CELLS = [
    (UP, "nan", f"{UP} must be a finite number > 0 (milliseconds per layer) (got 'nan')"),
    (UP, "inf", f"{UP} must be a finite number > 0 (milliseconds per layer) (got 'inf')"),
    (UP, "-1", f"{UP} must be a finite number > 0 (milliseconds per layer) (got '-1')"),
    (UP, "0", f"{UP} must be a finite number > 0 (milliseconds per layer) (got '0')"),
    (UP, "", f"{UP} must be a finite number > 0 (milliseconds per layer) (got '')"),
    (UP, "abc", f"{UP} must be a finite number > 0 (milliseconds per layer) (got 'abc')"),
    ("num_tokens", "0", "num_tokens must be a whole number >= 1 (got '0')"),
    ("num_tokens", "12.5", "num_tokens must be a whole number >= 1 (got '12.5')"),
    ("num_tokens", "-5", "num_tokens must be a whole number >= 1 (got '-5')"),
    ("num_tensor_parallel_workers", "0", "num_tensor_parallel_workers must be a whole number >= 1 (got '0')"),
    ("num_tensor_parallel_workers", "two", "num_tensor_parallel_workers must be a whole number >= 1 (got 'two')"),
]


@pytest.mark.parametrize("column,value,expected", BAD_MLP_CELLS, ids=[f"{c[0][-14:]}={c[1]}" for c in BAD_MLP_CELLS])
def test_a_bad_cell_of_the_operator_profile_names_line_and_column(tmp_path, capsys, column, value, expected):
    path = _edited(tmp_path, MLP, column, value)
    assert main(_calibrate(path)) == 2
    header, _ = _table(MLP)
    err = _err(capsys)
    assert err.strip() == f"{path}:6:{header.index(column) + 1}: {expected}"


BAD_ATTENTION_CELLS = [
    ("attn_median_ms", "nan", "attn_median_ms must be a finite number > 0 (milliseconds per layer) (got 'nan')"),
    ("attn_median_ms", "inf", "attn_median_ms must be a finite number > 0 (milliseconds per layer) (got 'inf')"),
    ("attn_median_ms", "0", "attn_median_ms must be a finite number > 0 (milliseconds per layer) (got '0')"),
    ("attn_median_ms", "-0.5", "attn_median_ms must be a finite number > 0 (milliseconds per layer) (got '-0.5')"),
    ("is_prefill", "maybe", "is_prefill must be True or False (got 'maybe')"),
    ("batch_size", "x", "batch_size must be a whole number >= 1 (got 'x')"),
    ("kv_cache_size", "-10", "kv_cache_size must be a whole number >= 0 (got '-10')"),
]


@pytest.mark.parametrize("column,value,expected", BAD_ATTENTION_CELLS, ids=[f"{c[0]}={c[1]}" for c in BAD_ATTENTION_CELLS])
def test_a_bad_cell_of_the_attention_sample_names_line_and_column(tmp_path, capsys, column, value, expected):
    path = _edited(tmp_path, ATTENTION, column, value)
    assert main(_calibrate(MLP, path)) == 2
    header, _ = _table(ATTENTION)
    assert _err(capsys).strip() == f"{path}:6:{header.index(column) + 1}: {expected}"


def test_a_short_row_of_the_operator_profile_is_named(tmp_path, capsys):
    header, rows = _table(MLP)
    rows[4] = rows[4][:10]
    path = tmp_path / "short.csv"
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n", encoding="utf-8")
    assert main(_calibrate(path)) == 2
    assert _err(capsys).strip() == (f"{path}:6: has 10 values; the header names {len(header)} columns")


@pytest.mark.parametrize("which", ["mlp", "attention"])
def test_a_profile_with_a_header_and_no_rows_says_so(tmp_path, capsys, which):
    src = MLP if which == "mlp" else ATTENTION
    header, _ = _table(src)
    path = tmp_path / "header_only.csv"
    path.write_text(",".join(header) + "\n", encoding="utf-8")
    argv = _calibrate(path) if which == "mlp" else _calibrate(MLP, path)
    assert main(argv) == 2
    assert _err(capsys).strip() == f"{path}: has a header row and no data rows"


@pytest.mark.parametrize("which", ["mlp", "attention"])
def test_a_profile_that_is_a_folder_a_device_or_not_text_names_the_file(tmp_path, capsys, which):
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    for path, expected in ((tmp_path, "is a folder, not a regular file"),
                           (Path("/dev/zero"), "is a device, not a regular file"),
                           (binary, "not UTF-8 text"),
                           (tmp_path / "missing.csv", "cannot read (No such file or directory)")):
        argv = _calibrate(path) if which == "mlp" else _calibrate(MLP, path)
        assert main(argv) == 2
        err = _err(capsys)
        assert err.startswith(f"{path}: {expected}"), err


def test_a_profile_with_one_token_count_cannot_fit_three_factors(tmp_path, capsys):
    header, rows = _table(MLP)
    tp = header.index("num_tensor_parallel_workers")
    path = tmp_path / "one.csv"
    path.write_text("\n".join(",".join(r) for r in [header, *[r for r in rows if r[tp] == "1"][:1] * 5]) + "\n",
                    encoding="utf-8")
    assert main(_calibrate(path)) == 2
    assert _err(capsys).strip() == (f"{path}: the tensor-parallel-1 rows have 1 different token count(s); fitting "
                                    "flops_efficiency, bw_efficiency and overlap_exponent needs at least 3")


def test_an_attention_sample_of_one_shape_per_kind_cannot_fit_a_floor_and_a_slope(tmp_path, capsys):
    header, rows = _table(ATTENTION)
    decode = next(r for r in rows if r[0] == "False")
    path = tmp_path / "same.csv"
    path.write_text("\n".join(",".join(r) for r in [header, decode, decode, decode, *rows[-5:]]) + "\n",
                    encoding="utf-8")
    assert main(_calibrate(MLP, path)) == 2
    assert _err(capsys).strip() == (f"{path}: needs decode rows of at least 2 different sizes (batch_size x "
                                    "kv_cache_size) to fit the decode attention kernel (has 1)")


def test_a_profile_without_tp1_rows_names_the_file(tmp_path, capsys):
    header, rows = _table(MLP)
    tp = header.index("num_tensor_parallel_workers")
    path = tmp_path / "tp2.csv"
    path.write_text("\n".join(",".join(r) for r in [header, *[r for r in rows if r[tp] == "2"]]) + "\n",
                    encoding="utf-8")
    assert main(_calibrate(path)) == 2
    assert _err(capsys).strip() == f"{path}: operator profile has no rows for tensor parallel 1 (has [2])"
    # with --tp 2 the GEMM fit runs; the kernel set is measured on TP1 rows, which it lacks
    assert main(_calibrate(path, ATTENTION, "--tp", "2")) == 2
    assert _err(capsys).strip() == f"{path}: operator profile has no rows for tensor parallel 1 (has [2])"


def test_points_and_a_vidur_profile_together_are_refused(tmp_path, capsys):
    points = tmp_path / "p.csv"
    points.write_text("prefill_tokens,decode_seqs,context_tokens,step_s\n0,8,4096,0.01\n")
    assert main(["calibrate", str(points), "--vidur-mlp", str(MLP), "--gpu", "a100-80gb", "--model", "llama-2-7b"]) == 2
    assert _err(capsys).strip() == ("--vidur-mlp: give measured points or a Vidur operator profile, not both "
                                    f"(got {points} and {MLP})")
    assert main(["calibrate", str(points), "--vidur-attention", str(ATTENTION), "--gpu", "a100-80gb",
                 "--model", "llama-2-7b"]) == 2
    assert _err(capsys).strip() == "--vidur-attention: needs --vidur-mlp (the kernel set is fitted to both profiles)"


def test_the_bundled_profiles_still_give_the_pytorch_kernel_set(capsys):
    assert main(_calibrate(MLP)) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.strip().startswith("kernel_factors:"))
    assert yaml.safe_load(line)["kernel_factors"]["elementwise_bw_fraction"] == pytest.approx(0.524, abs=1e-3)


def test_measured_points_from_a_device_are_refused_at_once(capsys):
    assert main(["calibrate", "/dev/zero", "--gpu", "a100-80gb", "--model", "llama-2-7b"]) == 2
    assert _err(capsys).strip() == "/dev/zero: is a device, not a regular file"
