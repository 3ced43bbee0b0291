"""Hostile input, round 20: the CSV files other than traces (step-time tables, calibrate's measured points,
Vidur profiles) given a column twice or a comma inside a number, and the newest edges of the scenario.

Each is exit 2 from the command line (an :class:`~sim.errors.InputError` or
:class:`~sim.errors.ScenarioError` from Python) with a message naming the file, the line or field and what
is allowed; never a traceback, an internal error, or a result that silently means something else.
"""
from __future__ import annotations

import shutil

import pytest

import hostile_cases as hc
from sim.errors import InputError

_main, _err, _scenario = hc.exit_status, hc.err_lines, hc.write_scenario

_TABLE_HEADER = "prefill_tokens,decode_seqs,context_tokens,step_s"
_POINTS = ("0,8,1000,0.02", "512,0,0,0.05", "0,16,2000,0.03", "1024,4,500,0.08")


def _grid(extra: str = "", cell=lambda p, d, c: 0.01 + p * 1e-6 + d * 1e-5 + c * 1e-8) -> list[str]:
    """A full 2x2x2 grid's rows (``extra`` appended to each), the empty batch at 0 s."""
    return [f"{p},{d},{c},{0 if p == d == 0 else cell(p, d, c)}{extra}"
            for p in (0, 8192) for d in (0, 256) for c in (0, 100000)]


def _table_scenario(tmp_path, body: str):
    (tmp_path / "steps.csv").write_text(body)
    sc = hc._small()
    sc["perf"] = {"model": "table", "path": "steps.csv"}
    return _scenario(tmp_path, sc)


# ------------------------------------------------------------------ a step-time table's columns
def test_a_step_table_naming_a_column_twice_is_refused(tmp_path, capsys):
    """``step_s`` twice in the header: the first column was read and the second dropped silently (the trace
    reader refuses the same header); which of the two the user measured is not the reader's guess."""
    path = _table_scenario(tmp_path, "\n".join([_TABLE_HEADER + ",step_s"] + _grid(",5")) + "\n")
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: perf.path: steps.csv:1: column 'step_s' appears 2 times in the header "
                            "(columns 4, 5): which one holds the values is ambiguous; give it once"]


def test_a_step_table_row_with_a_decimal_comma_is_refused(tmp_path, capsys):
    """``8192,256,100000,1,5`` (a step of 1.5 s written with a decimal comma) has five cells under four
    names: it was read as a step of 1 s and the ``5`` dropped, taken silently (a thousands separator,
    ``100,000``, was refused only by chance, as a point missing from the grid)."""
    rows = _grid()
    rows[-1] = "8192,256,100000,1,5"
    path = _table_scenario(tmp_path, "\n".join([_TABLE_HEADER] + rows) + "\n")
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: perf.path: steps.csv:9: the row has 5 cells where the header names 4 "
                            "columns: a comma inside a value (a thousands separator such as 2,048, a decimal "
                            "comma) shifts the columns after it"]


def test_a_step_table_with_empty_cells_past_its_header_or_a_column_it_does_not_read_is_taken(tmp_path, capsys):
    """A spreadsheet's trailing commas, and a note column of its own, are no reason to refuse a table."""
    rows = [r + ("," if i % 2 else ",,") for i, r in enumerate(_grid())]
    path = _table_scenario(tmp_path, "\n".join([_TABLE_HEADER] + rows) + "\n")
    assert _main(["validate", str(path)]) == 0
    rows = [r + f",run {i}" for i, r in enumerate(_grid())]
    path = _table_scenario(tmp_path, "\n".join([_TABLE_HEADER + ",note,note"] + rows) + "\n")
    assert _main(["validate", str(path)]) == 0          # a column the table does not read may repeat
    capsys.readouterr()


def test_the_python_reader_of_a_table_refuses_the_same(tmp_path):
    from sim.perf.table import read_table

    (tmp_path / "t.csv").write_text("\n".join(["step_s," + _TABLE_HEADER] + [",".join(["1"] + r.split(","))
                                                                             for r in _grid()]))
    with pytest.raises(InputError, match=r"t\.csv:1: column 'step_s' appears 2 times in the header \(columns 1, 5\)"):
        read_table(tmp_path / "t.csv")


@pytest.mark.parametrize("step,said", [
    (1e-300, "0 or at least 1e-06 s (a microsecond; launching one GPU kernel takes several)"),
    (2e4, "at most 3600 s (an hour; serving iterations take milliseconds to seconds)")])
def test_a_step_table_in_the_wrong_unit_is_refused_as_calibrates_points_are(tmp_path, capsys, step, said):
    """A table of 1e-300 s steps ran (every request served in no time); one in microseconds (20,000 for 20 ms)
    ran with steps of hours: the same numbers in calibrate's measured points are refused by these bounds."""
    path = _table_scenario(tmp_path, "\n".join([_TABLE_HEADER] + _grid(cell=lambda p, d, c: step)) + "\n")
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: perf.path: steps.csv:4:4: step_s must be {said}; it is in seconds "
                            f"(got '{step}')"]


# ------------------------------------------------------------------ calibrate's points and Vidur profiles
@pytest.mark.parametrize("header,rows,said", [
    (_TABLE_HEADER + ",step_s", [r + ",9" for r in _POINTS],
     "pts.csv:1: column 'step_s' appears 2 times in the header (columns 4, 5)"),
    (_TABLE_HEADER, [*_POINTS[:2], "0,16,2,048,0.03", _POINTS[3]],
     "pts.csv:4: the row has 5 cells where the header names 4 columns"),
    ("batch,input_tokens,output_tokens,output_tokens_per_s,batch", ["1,100,100,50,8", "8,100,100,300,8"],
     "pts.csv:1: column 'batch' appears 2 times in the header (columns 1, 5)"),
    ("batch,input_tokens,output_tokens,output_tokens_per_s", ["1,100,100,50", "8,100,100,1,200"],
     "pts.csv:3: the row has 5 cells where the header names 4 columns"),
])
def test_calibrate_points_naming_a_column_twice_or_split_by_a_comma_are_refused(tmp_path, capsys, header, rows,
                                                                                said):
    """A measured step of ``0,16,2,048,0.03`` was fitted as context 2 and 48 s, and a throughput of ``1,200``
    as 1 token/s: the fit answered for points nobody measured."""
    pts = tmp_path / "pts.csv"
    pts.write_text("\n".join([header, *rows]) + "\n")
    assert _main(["calibrate", str(pts), "--gpu", "h100-sxm", "--model", "llama-3-8b"]) == 2
    (line,) = _err(capsys)
    assert line.startswith(f"{pts.parent / said}"), line


def test_a_vidur_profile_naming_a_column_twice_is_refused(tmp_path, capsys):
    """A profile's rows were read into a dict per row, so the last of two equal column names won silently."""
    from sim.perf.vidur import DATA_DIR

    src = (DATA_DIR / "vidur_a100_llama2_7b_mlp.csv").read_text().splitlines()
    at = next(i for i, line in enumerate(src) if not line.startswith("#"))
    src[at] += ",time_stats.mlp_up_proj.median"
    src[at + 1:] = [line + ",99" if line.strip() else line for line in src[at + 1:]]
    mlp = tmp_path / "mlp.csv"
    mlp.write_text("\n".join(src) + "\n")
    col = src[at].split(",").index("time_stats.mlp_up_proj.median") + 1
    n = len(src[at].split(","))
    assert _main(["calibrate", "--gpu", "a100-80gb", "--model", "llama-2-7b", "--vidur-mlp", str(mlp)]) == 2
    assert _err(capsys) == [f"{mlp}:{at + 1}: column 'time_stats.mlp_up_proj.median' appears 2 times in the header "
                            f"(columns {col}, {n}): which one holds the values is ambiguous; give it once"]
    shutil.copy(DATA_DIR / "vidur_a100_llama2_7b_mlp.csv", mlp)      # as shipped: taken
    assert _main(["calibrate", "--gpu", "a100-80gb", "--model", "llama-2-7b", "--vidur-mlp", str(mlp)]) == 0
    capsys.readouterr()


# ------------------------------------------------------------------ numbers at the edges of the scenario
@pytest.mark.parametrize("value,shown", [("1e308", "1e+308"), ("1e9", "1e+09"), ("2h", "7200")])
def test_a_front_end_slower_than_an_hour_is_refused(tmp_path, capsys, value, shown):
    """``fleet.frontend_s: 1e308`` ran: every TTFT and E2E was ``inf`` (numpy's ``overflow encountered in
    reduce`` printed on the way) and the 116 requests counted completed; ``1e9`` gave TTFTs of 31 years. A
    front end (HTTP, tokenization, network) takes milliseconds; an hour is as long as calibrate takes a
    measured step to be."""
    path = _scenario(tmp_path)
    assert _main(["run", str(path), "--set", f"fleet.frontend_s={value}", "--out", str(tmp_path / "r")]) == 2
    assert _err(capsys) == [f"{path}: fleet.frontend_s: must be at most 3600 s (an hour; a serving front end, HTTP, "
                            "tokenization and network, takes milliseconds: a time in milliseconds written as "
                            f"seconds?) (got {shown} s)"]
    assert not (tmp_path / "r").exists()


def test_a_front_end_of_an_hour_or_less_runs(tmp_path, capsys):
    """The bound is inclusive; a front end's seconds land in TTFT whole (here a fixed 200-token prompt at
    2 req/s on one H100: the TTFT is the front end plus milliseconds)."""
    path = _scenario(tmp_path)
    assert _main(["run", str(path), "--set", "fleet.frontend_s=3600", "--set", "duration=20",
                  "--out", str(tmp_path / "r")]) == 0
    capsys.readouterr()
    import json
    ttft = json.loads((tmp_path / "r" / "summary.json").read_text())["latency"]["ttft"]
    assert 3600.0 < ttft["p50"] < 3600.5 and 3600.0 < ttft["p99"] < 3601.0, ttft


def test_a_burst_at_or_after_the_end_of_the_run_is_said_and_not_counted_as_work(tmp_path, capsys):
    """A burst at ``at >= duration`` arrives never (arrivals stop at the duration): ``validate`` said
    ``work: ~4 requests`` and the run served none without a word. It stays legal (a fleet held without
    traffic is priced all the same), but is said, and counted as no work."""
    from sim.cli import main      # (not hc.exit_status, which silences warnings)
    path = _scenario(tmp_path)
    assert main(["validate", str(path), "--set", "workload.arrival={process: burst, count: 4, at: 60}"]) == 0
    out = capsys.readouterr()
    assert out.err.splitlines() == [f"{path}: workload.arrival.at: 60 s is at or after the end of the run (60 s), "
                                    "where arrivals stop: none of the burst's 4 requests arrives or is served; set "
                                    "at below duration to serve them"]
    assert "work: ~0 requests" in out.out
    assert main(["validate", str(path), "--set", "workload.classes=[{name: a, share: 1}, {name: b, arrival: "
                  "{process: burst, count: 1, at: 1e9}}]"]) == 0
    assert f"{path}: workload.classes.1.arrival.at: 1e+09 s is at or after the end of the run (60 s), where " \
           "arrivals stop: none of the burst's 1 request arrives or is served" in capsys.readouterr().err


def test_a_burst_inside_the_run_is_counted_and_not_warned_of(tmp_path, capsys):
    from sim.cli import main      # (not hc.exit_status, which silences warnings)
    path = _scenario(tmp_path)
    assert main(["validate", str(path), "--set", "workload.arrival={process: burst, count: 4, at: 59.9}"]) == 0
    out = capsys.readouterr()
    assert out.err == "" and "work: ~4 requests" in out.out


# ------------------------------------------------------------------ a JSONL trace's row that is no object
@pytest.mark.parametrize("row,said", [("null", "null"), ("7", "a number"), ('"a,b"', "the text 'a,b'"),
                                      ("true", "a boolean")])
def test_a_jsonl_row_that_is_no_object_is_said_in_jsons_words(tmp_path, capsys, row, said):
    """``null`` on a line of a JSONL trace was said to be ``(a NoneType)``, ``7`` ``(a int)``: Python's
    type names, not the file's."""
    (tmp_path / "t.jsonl").write_text(row + "\n")
    sc = hc._small()
    sc["workload"] = {"arrival": {"process": "trace", "path": "t.jsonl"}}
    path = _scenario(tmp_path, sc)
    assert _main(["validate", str(path)]) == 2
    (line,) = _err(capsys)
    assert line.endswith(f"(first: line 1: column '<row>': not a JSON object (got {said}))"), line


# ------------------------------------------------------------------ a trace's compression and its name
_TRACE = b"timestamp_s,prompt_tokens,output_tokens\n0.1,100,10\n0.2,120,12\n"


def _trace_scenario(tmp_path, name: str, data: bytes):
    (tmp_path / name).write_bytes(data)
    sc = hc._small()
    sc["workload"] = {"arrival": {"process": "trace", "path": name}}
    return _scenario(tmp_path, sc)


def test_a_gzip_trace_without_gz_in_its_name_is_said_as_such(tmp_path, capsys):
    """A compressed trace saved as ``t.csv`` was said to be ``not UTF-8 text: byte 0x8b at line 1, column 2
    (save the file as UTF-8)``: gzip's second magic byte, and advice that does not help."""
    import gzip

    path = _trace_scenario(tmp_path, "t.csv", gzip.compress(_TRACE))
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: workload.arrival.path: t.csv: is gzip-compressed, and only a name ending in "
                            ".gz is decompressed: name it t.csv.gz (or decompress it)"]
    (tmp_path / "t.csv").rename(tmp_path / "t.csv.gz")
    assert _main(["validate", str(path), "--set", "workload.arrival.path=t.csv.gz"]) == 0     # as it says: taken
    capsys.readouterr()


@pytest.mark.parametrize("data,said", [
    (_TRACE, "its name ends in .gz, but it is not gzip-compressed: name it without .gz (Not a gzipped file (b'ti'))"),
    (None, "gzip data followed by bytes that are not (Not a gzipped file (b'ga'))"),
], ids=["plain-text", "trailing-garbage"])
def test_a_gz_trace_that_is_not_gzip_says_what_it_is(tmp_path, capsys, data, said):
    """Was ``unreadable trace file (Not a gzipped file (b'ti'))``: Python's words for the first two bytes."""
    import gzip

    path = _trace_scenario(tmp_path, "t.csv.gz", data if data is not None else gzip.compress(_TRACE) + b"garbage")
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: workload.arrival.path: t.csv.gz: unreadable trace file: {said}"]


# ------------------------------------------------------------------ sim.run's arguments from Python
@pytest.mark.parametrize("name,value", [("skip_bad_rows", "false"), ("scheduler_factors", None), ("quiet", "no"),
                                        ("progress", 0), ("allow_large", "false")])
def test_a_python_switch_that_is_no_boolean_is_refused(name, value):
    """``sim.run(..., skip_bad_rows="false")`` left a trace's bad rows out (a non-empty text is true), and
    ``allow_large="false"`` lifted the work limits: each ran, answering for another scenario."""
    import sim

    with pytest.raises(TypeError) as exc:
        sim.run(hc._small(), **{name: value})
    assert str(exc.value) == (f"{name}: give True or False{' (or None)' if name == 'allow_large' else ''} "
                              f"(got {value!r}, of type {type(value).__name__})")


def test_python_switches_as_booleans_still_run():
    import numpy as np

    import sim

    r = sim.run(hc._small(), overrides=["duration=5"], skip_bad_rows=np.bool_(False), allow_large=None, quiet=True)
    assert r.summary["requests"]["arrived"] > 0


@pytest.mark.parametrize("capacity", [1e-300, 1e-9])
def test_a_capacity_so_small_no_step_ends_is_refused(capacity):
    """``sim.run(..., capacity=1e-300)`` ran with every step ~1e300 s long: 0 of 116 requests completed,
    no error; the scenario's own step check (steps past 11.6 days are refused) did not see the scale."""
    import sim
    from sim.errors import ScenarioError

    with pytest.raises(ScenarioError) as exc:
        sim.run(hc._small(), capacity=capacity)
    (msg,) = str(exc.value).splitlines()
    assert msg.startswith(f"<scenario>: perf: pool p's shortest step (one sequence decoding one token) at capacity "
                          f"{capacity:g} (each step 1/capacity as long) takes "), msg
    assert msg.endswith("more than 1e+06 s (11.6 days; no GPU iteration takes days): give a capacity nearer 1; "
                        "the run would not end"), msg


def test_a_capacity_of_true_is_refused_and_a_small_one_that_ends_runs():
    """``capacity=True`` ran as 1; a scale of 0.5 doubles each step (the same arrivals, half the speed)."""
    import sim

    with pytest.raises(InputError, match=r"capacity: give a scale greater than 0 .*got True"):
        sim.run(hc._small(), capacity=True)
    one, half = (sim.run(hc._small(), overrides=["duration=20"], capacity=c).summary for c in (1.0, 0.5))
    assert one["requests"]["arrived"] == half["requests"]["arrived"]
    assert half["latency"]["tpot"]["p50"] == pytest.approx(2 * one["latency"]["tpot"]["p50"], rel=0.05)


# ------------------------------------------------------------------ a whole number past 2^53 in e-notation
@pytest.mark.parametrize("setting,field,digits", [("workload.output_tokens={dist: fixed, value: 1e17}",
                                                   "workload.output_tokens.value", 18),
                                                  ("fleet.pools.0.replicas=1e300", "fleet.pools.0.replicas", 301),
                                                  ("seed=1e20", "seed", 21)])
def test_a_large_whole_number_in_e_notation_is_said_to_be_text(tmp_path, capsys, setting, field, digits):
    """``1e3`` is said to be text YAML does not read as a number (``write 1000``), but ``1e17`` was only
    ``must be a whole number (got '1e17')``, which it is: the hint stopped at 2^53. A seed of 10^20 in digits
    is taken."""
    path = _scenario(tmp_path)
    assert _main(["validate", str(path), "--set", setting]) == 2
    got = setting.rsplit(" ", 1)[-1].rstrip("}") if "{" in setting else setting.split("=", 1)[1]
    assert _err(capsys) == [f"{path}: {field}: must be a whole number (got '{got}'); YAML reads {got} as text, not "
                            f"a number: write it in digits ({digits} of them)"]
    assert _main(["validate", str(path), "--set", "seed=" + "1" + "0" * 20]) == 0
    capsys.readouterr()


# ------------------------------------------------------------------ a cache folder that cannot be written
def test_a_fluid_run_with_a_cache_folder_that_cannot_be_written_still_runs(tmp_path, capsys, monkeypatch):
    """``FLEETSIM_CACHE`` under a file (as read-only or full: writing fails) stopped every fluid run with
    ``cannot read or write a file (NotADirectoryError ...)``, exit 2, after the capacity curve was measured;
    the scheduler factors' cache already let such a folder cost only the next measurement."""
    import json

    (tmp_path / "afile").write_text("")
    path = _scenario(tmp_path)
    monkeypatch.setenv("FLEETSIM_CACHE", str(tmp_path / "afile" / "cache"))
    assert _main(["run", str(path), "--set", "fidelity=fluid", "--set", "duration=2h", "--json",
                  # (a coarse curve: it is written to the cache all the same, and costs a third)
                  "--set", "fluid.grid=[0.5, 0.9]", "--set", "fluid.calibration_duration=60",
                  "--set", "fluid.calibration_requests=100", "--out", str(tmp_path / "a")]) == 0
    assert not [line for line in _err(capsys) if "cannot" in line or "afile" in line]
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["requests"]["arrived"] > 0 and (tmp_path / "afile").read_text() == ""


# ------------------------------------------------------------------ what validate said ok and run refused
@pytest.mark.parametrize("rows,sets,said", [
    ("100,100,10\n200,100,10\n", [], "t.csv: no request falls inside the run: the trace's first row has timestamp_s "
                                     "100 s, at or after the scenario's duration (60 s)"),
    ("0.1,100,10\n0.2,100,10\n", ["workload.arrival.time_scale=1000"],
     "t.csv: no request falls inside the run: the trace's first row has timestamp_s 0.1 s (replayed at 100 s with "
     "time_scale 1000)"),
    ("5,100,10\n5,100,10\n", ["workload.arrival.loop=true"], "t.csv: cannot loop a trace with fewer than two "
                                                              "distinct times"),
])
def test_validate_refuses_a_trace_the_run_would_refuse_to_replay(tmp_path, capsys, rows, sets, said):
    """``fleetsim validate`` read every row and said ``ok ... work: ~0 requests``; ``fleetsim run`` then
    refused the same scenario (exit 2) before serving anything."""
    path = _trace_scenario(tmp_path, "t.csv", ("timestamp_s,prompt_tokens,output_tokens\n" + rows).encode())
    argv = [a for s in sets for a in ("--set", s)]
    assert _main(["run", str(path), *argv, "--out", str(tmp_path / "r")]) == 2
    run_said = [line for line in _err(capsys) if not line.startswith("fleetsim: simulating")]
    assert _main(["validate", str(path), *argv]) == 2
    assert _err(capsys) == run_said and run_said[0].startswith(f"{path}: workload.arrival.path: {said}"), run_said


def test_a_trace_rate_scale_past_any_count_is_refused(tmp_path, capsys):
    """``rate_scale: 1e308`` printed numpy's ``overflow encountered in scalar multiply`` before the work
    limit's message, and with ``--allow-large`` and ``metrics.records: none`` was an internal error
    (``repeats may not contain negative values``): the copies of each row overflowed an integer."""
    path = _trace_scenario(tmp_path, "t.csv", _TRACE)
    assert _main(["run", str(path), "--set", "workload.arrival.rate_scale=1e308", "--set", "metrics.records=none",
                  "--allow-large", "--out", str(tmp_path / "r")]) == 2
    assert _err(capsys) == [f"{path}: workload.arrival.rate_scale: must be <= 1e+15 (got '1e308')"]


def test_validate_refuses_trace_tenants_that_are_not_classes_as_the_run_does(tmp_path, capsys):
    """With classes, a trace's tenant names the class; one that is no class made ``run`` exit 2 while
    ``validate`` said ok."""
    path = _trace_scenario(tmp_path, "t.csv", b"timestamp_s,prompt_tokens,output_tokens,tenant\n0.1,5,1,a\n"
                                              b"0.2,5,1,b\n0.3,5,1,7\n0.4,5,1,\n")
    classes = ["--set", "workload.classes=[{name: a, share: 1}]"]
    said = [f"{path}: workload.arrival.path: t.csv: tenant(s) 'b', '7' are not classes (classes: 'a')"]
    assert _main(["run", str(path), *classes, "--out", str(tmp_path / "r")]) == 2
    assert [line for line in _err(capsys) if not line.startswith("fleetsim: simulating")] == said
    assert _main(["validate", str(path), *classes]) == 2
    assert _err(capsys) == said
    assert _main(["validate", str(path), "--set", "workload.classes=[{name: a, share: 0.5}, {name: b, share: 0.25}, "
                  "{name: '7', share: 0.25}]"]) == 0      # every tenant a class (the empty one drawn by share): ok
    capsys.readouterr()


@pytest.mark.parametrize("tenant,said", [("true", "a boolean"), ('{"a": 1}', "an object"), ('["a"]', "a list")])
def test_a_jsonl_tenant_that_is_no_name_is_a_bad_row(tmp_path, capsys, tenant, said):
    """A JSONL tenant ``true`` named the class ``'True'`` (Python's ``str``), an object the class
    ``"{'a': 1}"``: a CSV cell is always text, a JSON value need not be."""
    path = _trace_scenario(tmp_path, "t.jsonl", ('{"timestamp_s": 0.1, "prompt_tokens": 5, "output_tokens": 1, '
                                                 f'"tenant": {tenant}}}\n').encode())
    assert _main(["validate", str(path)]) == 2
    (line,) = _err(capsys)
    assert line.endswith(f"(first: line 1: column 'tenant': must be a name (text or a number; null or \"\" for "
                         f"none), not {said})"), line


# ------------------------------------------------------------------ a calibration file edited by hand
@pytest.mark.parametrize("key,text,value", [("overhead_s", "2e-3", 0.002), ("flops_efficiency", "5e-1", 0.5),
                                            ("overlap_exponent", "2e0", 2.0)])
def test_a_calibration_factor_in_e_notation_without_a_dot_is_read_as_its_number(tmp_path, capsys, key, text, value):
    """YAML reads ``overhead_s: 2e-3`` (no dot) as text, and a calibration file refused it with ``must be a
    number in [0, inf) (got '2e-3')``, which it is; the scenario itself takes such text as the number."""
    from sim.perf.calibration import load_calibration

    body = {"gpu": "h100-sxm", "model": "llama-3-8b", "flops_efficiency": 0.6, "bw_efficiency": 0.8,
            "overhead_s": 0.001}
    lines = [f"{k}: {v}" for k, v in body.items() if k != key] + [f"{key}: {text}"]
    (tmp_path / "cal.yaml").write_text("\n".join(lines) + "\n")
    assert getattr(load_calibration(tmp_path / "cal.yaml"), key) == value
    path = _scenario(tmp_path)
    assert _main(["validate", str(path), "--set", "perf={model: roofline, calibration: cal.yaml}"]) == 0
    capsys.readouterr()
    (tmp_path / "cal.yaml").write_text("\n".join(lines[:-1] + [f"{key}: 2e-3x"]) + "\n")     # not a number: refused
    with pytest.raises(InputError, match=f"{key}: must be a number"):
        load_calibration(tmp_path / "cal.yaml")
