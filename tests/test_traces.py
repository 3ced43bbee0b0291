"""Trace files: exact replay, scaling, looping, length resampling, and bad rows named by line and column."""
from __future__ import annotations

import csv
import datetime
import math
import pathlib
import re

import numpy as np
import pytest

from sim.errors import InputError, ScenarioError
from sim.workload import WorkloadConfig, fit_empirical, generate, read_trace, validate, write_trace

TRACES = pathlib.Path(__file__).resolve().parent.parent / "scenarios" / "traces"
AZURE_CONV = "azure_conv_2023_first2000.csv"


def azure_rows_by_hand(path: pathlib.Path):
    """Parse an Azure file with the standard library (7th fractional digit dropped)."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    when = [datetime.datetime.strptime(r["TIMESTAMP"][:26], "%Y-%m-%d %H:%M:%S.%f") for r in rows]
    t = np.array([(w - when[0]).total_seconds() for w in when])
    return t, np.array([int(r["ContextTokens"]) for r in rows]), np.array([int(r["GeneratedTokens"]) for r in rows])


def replay(arrival: dict, horizon_s: float, seed: int = 1, base_dir=TRACES, **workload):
    cfg = WorkloadConfig.model_validate({"arrival": arrival, **workload})
    chunks = list(generate(cfg, horizon_s, seed, base_dir=base_dir, chunk_size=512))
    return tuple(np.concatenate([getattr(c, f) for c in chunks])
                 for f in ("arrival_s", "prompt_tokens", "output_tokens", "class_idx"))


def test_azure_replay_reproduces_the_file():
    t_ref, p_ref, o_ref = azure_rows_by_hand(TRACES / AZURE_CONV)
    t, p, o, c = replay({"process": "trace", "path": AZURE_CONV, "format": "azure"}, 1e6)
    assert t.size == 2000
    np.testing.assert_allclose(t, t_ref, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(p, p_ref)
    np.testing.assert_array_equal(o, o_ref)
    assert t[0] == 0.0 and (c == 0).all()


def test_replay_stops_at_the_horizon():
    t_ref, *_ = azure_rows_by_hand(TRACES / AZURE_CONV)
    t, *_ = replay({"process": "trace", "path": AZURE_CONV, "format": "azure"}, 100.0)
    assert t.size == (t_ref < 100.0).sum()


def test_time_scale_multiplies_interarrival_times():
    t1, p1, *_ = replay({"process": "trace", "path": AZURE_CONV, "format": "azure"}, 1e6)
    t3, p3, *_ = replay({"process": "trace", "path": AZURE_CONV, "format": "azure", "time_scale": 3}, 1e6)
    np.testing.assert_allclose(np.diff(t3), 3 * np.diff(t1), rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(p1, p3)


def test_rate_scale_two_doubles_the_rate_and_keeps_the_length_mix():
    src = {"process": "trace", "path": AZURE_CONV, "format": "azure"}
    t1, p1, o1, _ = replay(src, 1e6)
    t2, p2, o2, _ = replay(src | {"rate_scale": 2}, 1e6, seed=4)
    assert t2.size == 2 * t1.size and (np.diff(t2) >= 0).all()
    # every original request appears exactly twice, at its time and once more within its gap
    pairs1 = sorted(zip(p1.tolist(), o1.tolist()))
    pairs2 = sorted(zip(p2.tolist(), o2.tolist()))
    assert pairs2 == sorted(pairs1 + pairs1)
    assert np.isin(t1, t2).all()
    # the arrival rate doubles in every minute, up to the copies spilling across an edge
    edges = np.arange(0, 480, 60.0)
    c1, _ = np.histogram(t1, edges)
    c2, _ = np.histogram(t2, edges)
    assert np.all(np.abs(c2 - 2 * c1) <= 6)


@pytest.mark.parametrize("scale", [0.5, 2.5])
def test_fractional_rate_scale_is_right_on_average(scale):
    src = {"process": "trace", "path": AZURE_CONV, "format": "azure", "rate_scale": scale}
    t, *_ = replay(src, 1e6, seed=5)
    frac = scale - math.floor(scale)
    # floor(scale) copies each plus a Bernoulli(frac) one: binomial spread over 2000 rows
    assert abs(t.size - 2000 * scale) < 4 * math.sqrt(2000 * frac * (1 - frac))


def test_loop_repeats_the_trace_with_period_last_time_plus_mean_gap():
    t1, p1, *_ = replay({"process": "trace", "path": AZURE_CONV, "format": "azure"}, 1e6)
    period = t1[-1] + t1[-1] / (t1.size - 1)
    t, p, *_ = replay({"process": "trace", "path": AZURE_CONV, "format": "azure", "loop": True}, 2 * period)
    assert t.size == 4000
    np.testing.assert_allclose(t[2000:], t1 + period, rtol=1e-12)
    np.testing.assert_array_equal(p[2000:], p1)


def test_fleetsim_csv_and_jsonl_agree_and_tenants_pick_classes():
    classes = [{"name": "batch", "share": 0.5}, {"name": "chat", "share": 0.5}]
    a = replay({"process": "trace", "path": "fleetsim_sample.csv"}, 1e6, classes=classes)
    b = replay({"process": "trace", "path": "fleetsim_sample.jsonl"}, 1e6, classes=classes)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    with open(TRACES / "fleetsim_sample.csv", newline="") as fh:
        tenants = [r["tenant"] for r in csv.DictReader(fh)]
    assert a[3].tolist() == [{"batch": 0, "chat": 1}[x] for x in tenants]


def test_unknown_tenant_is_an_error():
    cfg = WorkloadConfig.model_validate({"arrival": {"process": "trace", "path": "fleetsim_sample.csv"},
                                         "classes": [{"name": "chat", "share": 1.0}]})
    with pytest.raises(InputError, match="'batch'"):
        next(generate(cfg, 100, 1, base_dir=TRACES))


def test_burstgpt_columns_are_read():
    d = read_trace(TRACES / "burstgpt_synthetic_sample.csv", "burstgpt")
    with open(TRACES / "burstgpt_synthetic_sample.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert d.arrival_s.tolist() == [float(r["Timestamp"]) for r in rows]
    assert d.prompt_tokens.tolist() == [int(r["Request tokens"]) for r in rows]
    assert d.output_tokens.tolist() == [int(r["Response tokens"]) for r in rows]


def test_trace_lengths_resample_rows_jointly():
    lengths = {"dist": "trace", "path": AZURE_CONV, "format": "azure"}
    t, p, o, _ = replay({"process": "poisson", "rate": 50}, 2000.0, prompt_tokens=lengths, output_tokens=lengths)
    _, p_ref, o_ref = azure_rows_by_hand(TRACES / AZURE_CONV)
    assert set(zip(p.tolist(), o.tolist())) <= set(zip(p_ref.tolist(), o_ref.tolist()))
    # resampling with replacement: the mean of n ~ 100k draws is within 4 standard errors
    assert abs(p.mean() - p_ref.mean()) < 4 * p_ref.std() / math.sqrt(p.size)
    assert abs(o.mean() - o_ref.mean()) < 4 * o_ref.std() / math.sqrt(o.size)


def test_fit_empirical_is_exact_for_few_values_and_keeps_the_mean_when_binned():
    d = fit_empirical(np.array([5, 5, 7, 9, 9, 9]))
    assert d.values == [5, 7, 9] and d.weights == [2, 1, 3]
    _, p_ref, _ = azure_rows_by_hand(TRACES / AZURE_CONV)
    f = fit_empirical(p_ref, max_points=64)
    assert len(f.values) <= 64
    mean = np.average(f.values, weights=f.weights)
    assert mean == pytest.approx(p_ref.mean(), abs=0.5)   # only the rounding of bin means
    # quantiles survive at the bin resolution (1/64 of the mass)
    fitted = np.repeat(f.values, np.asarray(f.weights, dtype=int))
    for q in (0.1, 0.5, 0.9):
        lo, hi = np.quantile(p_ref, [q - 1 / 64, q + 1 / 64])
        assert lo <= np.quantile(fitted, q) <= hi


PLAIN = "timestamp_s,prompt_tokens,output_tokens\n"
TENANT = "timestamp_s,prompt_tokens,output_tokens,tenant\n"


def write(tmp_path: pathlib.Path, name: str, text: str) -> pathlib.Path:
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("header, body, line, column, what", [
    (PLAIN, "0.0,10,5\n-1.0,10,5\n", 3, "timestamp_s", "must be >= 0"),
    (PLAIN, "-0.5,10,5\n", 2, "timestamp_s", "must be >= 0"),
    (PLAIN, "nan,10,5\n", 2, "timestamp_s", "must be a number"),
    (PLAIN, "0.0,10,5\n2.0,10,5\n1.5,10,5\n", 4, "timestamp_s", "must not go backwards"),
    (PLAIN, "0.0,10,5\nabc,10,5\n", 3, "timestamp_s", "must be a number"),
    (PLAIN, "0.0,10,5\n1.0,ten,5\n", 3, "prompt_tokens", "must be an integer"),
    (PLAIN, "0.0,10,5\n1.0,10,0\n", 3, "output_tokens", "must be >= 1"),
    (PLAIN, "0.0,10,5\n1.0,10\n", 3, "output_tokens", "missing value"),
    (PLAIN, "0.0,10,5\n1.0,2.5,5\n", 3, "prompt_tokens", "must be an integer"),
    # the same checks in a trace with a tenant column (its own fast path)
    (TENANT, "0.0,10,5,chat\n-1.0,10,5,chat\n", 3, "timestamp_s", "must be >= 0"),
    (TENANT, "nan,10,5,chat\n", 2, "timestamp_s", "must be a number"),
    (TENANT, "inf,10,5,chat\n", 2, "timestamp_s", "must be a number"),
    (TENANT, "0.0,10,5,chat\n2.0,10,5,\n1.5,10,5,chat\n", 4, "timestamp_s", "must not go backwards"),
    (TENANT, "0.0,10,5,chat\n1.0,ten,5,chat\n", 3, "prompt_tokens", "must be an integer"),
    (TENANT, "0.0,10,5,chat\n1.0,10,0,batch\n", 3, "output_tokens", "must be >= 1"),
    (TENANT, "0.0,10,5,chat\n1.0,10\n", 3, "output_tokens", "missing value"),
    (TENANT, "0.0,10,5,chat\n,10,5,chat\n", 3, "timestamp_s", "must be a number"),
    # a quoted line break in a tenant moves every later line number on by one
    (TENANT, '0.0,10,5,"two\nlines"\n1.0,10,5,chat\n0.5,10,5,chat\n', 5, "timestamp_s", "must not go backwards"),
])
def test_bad_csv_rows_name_file_line_and_column(tmp_path, header, body, line, column, what):
    path = write(tmp_path, "bad.csv", header + body)
    with pytest.raises(InputError) as err:
        read_trace(path, "fleetsim", display_path="bad.csv")
    msg = str(err.value)
    assert msg.startswith(f"bad.csv: line {line}: column '{column}': ") and what in msg


def test_bad_azure_and_jsonl_rows(tmp_path):
    az = write(tmp_path, "az.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                                   "2023-11-16 18:15:46.6805900,374,44\n"
                                   "2023-11-16 18:15:45.0000000,10,1\n")
    with pytest.raises(InputError, match=r"az.csv: line 3: column 'TIMESTAMP': times must not go backwards"):
        read_trace(az, "azure", display_path="az.csv")
    az2 = write(tmp_path, "az2.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 25:00:00,1,1\n")
    with pytest.raises(InputError, match=r"line 2: column 'TIMESTAMP': must be a date-time"):
        read_trace(az2, "azure")
    js = write(tmp_path, "t.jsonl", '{"timestamp_s": 0, "prompt_tokens": 3, "output_tokens": 4}\n'
                                    '{"timestamp_s": 1, "prompt_tokens": "x", "output_tokens": 4}\n')
    with pytest.raises(InputError, match=r"t.jsonl: line 2: column 'prompt_tokens': must be an integer"):
        read_trace(js, "fleetsim", display_path="t.jsonl")
    hdr = write(tmp_path, "h.csv", "time,prompt_tokens,output_tokens\n0,1,1\n")
    with pytest.raises(InputError, match=r"h.csv: line 1: missing column\(s\) 'timestamp_s'"):
        read_trace(hdr, "fleetsim", display_path="h.csv")


def test_skip_bad_rows_counts_them_in_the_report(tmp_path):
    write(tmp_path, "mixed.csv", "timestamp_s,prompt_tokens,output_tokens\n"
                                 "0.0,10,5\n-1,10,5\n1.0,10,5\n0.5,10,5\n2.0,x,5\n3.0,10,5\n")
    cfg = WorkloadConfig.model_validate({"arrival": {"process": "trace", "path": "mixed.csv"}})
    with pytest.raises(InputError, match="mixed.csv: line 3"):
        next(generate(cfg, 100, 1, base_dir=tmp_path))
    report: dict = {}
    chunks = list(generate(cfg, 100, 1, base_dir=tmp_path, skip_bad_rows=True, report=report))
    assert chunks[0].arrival_s.tolist() == [0.0, 1.0, 3.0]
    assert report["bad_rows"] == 3 and report["bad_rows_by_file"] == {"mixed.csv": 3}
    assert [m.split(":")[1].strip() for m in report["bad_row_messages"]] == ["line 3", "line 5", "line 6"]
    assert report["requests"] == 3


def test_missing_trace_file_is_a_problem(tmp_path):
    cfg = WorkloadConfig.model_validate({"arrival": {"process": "trace", "path": "nope.csv"}})
    assert [p for p, _ in validate(cfg, tmp_path)] == ["workload.arrival.path"]


def test_write_then_read_round_trips(tmp_path):
    t = np.array([0.0, 0.1234567891234, 5.5])
    for name in ("rt.csv", "rt.jsonl", "rt.csv.gz"):
        write_trace(tmp_path / name, t, np.array([1, 2, 3]), np.array([4, 5, 6]), ["a", "", "b"])
        d = read_trace(tmp_path / name)
        assert d.arrival_s.tolist() == t.tolist() and d.output_tokens.tolist() == [4, 5, 6]
        assert [d.tenant_names[i] if i >= 0 else "" for i in d.tenant] == ["a", "", "b"]


def test_burstgpt_failed_requests_are_bad_rows(tmp_path):
    path = write(tmp_path, "b.csv", "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
                                    "5,ChatGPT,472,18,490,Conversation log\n"
                                    "45,ChatGPT,1087,0,1087,Conversation log\n"
                                    "118,GPT-4,417,276,693,API log\n")
    with pytest.raises(InputError, match=r"line 3: column 'Response tokens': must be >= 1"):
        read_trace(path, "burstgpt")
    d = read_trace(path, "burstgpt", skip_bad_rows=True)
    assert d.arrival_s.tolist() == [5.0, 118.0] and d.bad_rows == 1


def test_given_distributions_override_a_traces_lengths():
    src = {"process": "trace", "path": AZURE_CONV, "format": "azure"}
    t1, p1, o1, _ = replay(src, 1e6)
    t2, p2, o2, _ = replay(src, 1e6, output_tokens={"dist": "fixed", "value": 64})
    np.testing.assert_array_equal(t1, t2)
    np.testing.assert_array_equal(p1, p2)
    assert (o2 == 64).all()


def test_resampling_lengths_from_an_empty_trace_is_an_error(tmp_path):
    write(tmp_path, "empty.csv", "timestamp_s,prompt_tokens,output_tokens\n")
    lengths = {"dist": "trace", "path": "empty.csv"}
    cfg = WorkloadConfig.model_validate({"arrival": {"process": "poisson", "rate": 1},
                                         "prompt_tokens": lengths, "output_tokens": lengths})
    # found by validate (which generate runs first), so named with its field
    with pytest.raises(ScenarioError, match="workload.prompt_tokens.path: empty.csv: no usable rows"):
        next(generate(cfg, 100, 1, base_dir=tmp_path))


# ------------------------------------------------------------------ traces with a tenant column

TENANTS = ["chat", "", "a,b", 'say "hi"', "two\nlines", "  padded ", "chat", "   ", "a,b"]


def tenants_of(d) -> list[str]:
    return [d.tenant_names[i] if i >= 0 else "" for i in d.tenant]


@pytest.mark.parametrize("name", ["ten.csv", "ten.csv.gz", "ten.jsonl"])
def test_tenant_trace_round_trips(tmp_path, name):
    n = len(TENANTS)
    t = np.cumsum(np.linspace(0.1, 0.9, n)) / 7
    p, o = np.arange(1, n + 1) * 11, np.arange(1, n + 1) * 3
    write_trace(tmp_path / name, t, p, o, TENANTS)
    d = read_trace(tmp_path / name)
    assert d.arrival_s.tolist() == t.tolist()
    assert d.prompt_tokens.tolist() == p.tolist() and d.output_tokens.tolist() == o.tolist()
    # names in order of first use; an empty or blank cell is no tenant; names are stripped
    assert d.tenant_names == ["chat", "a,b", 'say "hi"', "two\nlines", "padded"]
    assert d.tenant.tolist() == [0, -1, 1, 2, 3, 4, 0, -1, 1]
    assert d.tenant.dtype == np.int32 and d.bad_rows == 0


def test_tenant_cells_missing_quoted_empty_or_extra(tmp_path):
    path = write(tmp_path, "t.csv", 'tenant,timestamp_s,prompt_tokens,output_tokens,note\n'
                                    'chat,0.5,10,5,x\n'
                                    '"",1.0,10,5\n'
                                    '" ",1.5,11,6,\n'
                                    '"batch",2,12,7,"y, z"\n'
                                    'chat ,2.5,13,8\n')
    d = read_trace(path)
    assert d.arrival_s.tolist() == [0.5, 1.0, 1.5, 2.0, 2.5]
    assert d.prompt_tokens.tolist() == [10, 10, 11, 12, 13]
    assert d.tenant_names == ["chat", "batch"] and d.tenant.tolist() == [0, -1, -1, 1, 0]
    # a row too short to reach the tenant column has no tenant (the column is last here)
    path = write(tmp_path, "u.csv", "timestamp_s,prompt_tokens,output_tokens,tenant\n0,1,1,chat\n1,2,2\n")
    d = read_trace(path)
    assert d.tenant.tolist() == [0, -1] and d.prompt_tokens.tolist() == [1, 2]


def test_skip_bad_rows_in_a_tenant_trace(tmp_path):
    path = write(tmp_path, "m.csv", "timestamp_s,prompt_tokens,output_tokens,tenant\n"
                                    "0.0,10,5,chat\n"
                                    "-1,10,5,ghost\n"          # bad: its tenant is not kept
                                    "\n"
                                    " , ,\n"                   # blank row: skipped, not bad
                                    "1.0,10,5,\n"
                                    "0.5,10,5,batch\n"         # bad: backwards
                                    "2.0,2.0,5,batch\n"        # 2.0 is an integer token count
                                    "3.0,x,5,chat\n")
    d = read_trace(path, skip_bad_rows=True, display_path="m.csv")
    assert d.arrival_s.tolist() == [0.0, 1.0, 2.0]
    assert d.prompt_tokens.tolist() == [10, 10, 2]
    assert d.tenant_names == ["chat", "batch"] and d.tenant.tolist() == [0, -1, 1]
    assert d.bad_rows == 3
    assert [m.split(": ")[1] for m in d.messages] == ["line 3", "line 7", "line 9"]


def read_row_by_row(path: pathlib.Path, skip_bad_rows: bool):
    """The reference: every data row judged by ``_Rows.add``, the general (slow) path."""
    from sim.workload import traces
    rows = traces._Rows("f.csv", skip_bad_rows)
    cols = traces.COLUMNS["fleetsim"]
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        index = {c.strip(): i for i, c in enumerate(next(reader))}
        at = [index.get(c) for c in (*cols, "tenant")]
        for f in reader:
            if not f or all(not x.strip() for x in f):
                continue
            rows.add(reader.line_num, cols, *(f[i] if i is not None and i < len(f) else None for i in at))
    return rows.result()


CELLS = {
    "t": ["0", "1.5", "2", " 3.25 ", "1e1", "-1", "-0.0", "nan", "inf", "x", "", "1_0", "4.0"],
    "p": ["1", "7", "12", " 9 ", "0", "-3", "2.0", "2.5", "1e3", "x", "", "1_000"],
    "tenant": ["chat", "batch", "", " ", " chat ", '"a,b"', '"q""uote"', '"two\nlines"', '""'],
}


@pytest.mark.parametrize("seed", range(12))
def test_csv_reading_equals_the_row_by_row_reference(tmp_path, seed):
    rng = np.random.default_rng(seed)
    layout = seed % 3       # 0: no tenant column, 1: tenant last, 2: columns shuffled, tenant first
    lines = [["timestamp_s,prompt_tokens,output_tokens", "timestamp_s,prompt_tokens,output_tokens,tenant",
              "tenant,output_tokens,timestamp_s,prompt_tokens"][layout]]
    t = 0.0
    for _ in range(300):
        good = rng.random() < 0.85
        t += float(rng.exponential(1.0))
        cell = {"t": repr(t) if good else str(rng.choice(CELLS["t"])),
                "p": str(rng.integers(1, 5000)) if good else str(rng.choice(CELLS["p"])),
                "o": str(rng.integers(1, 500)) if rng.random() < 0.95 else str(rng.choice(CELLS["p"])),
                "tenant": str(rng.choice(CELLS["tenant"]))}
        row = [[cell["t"], cell["p"], cell["o"]], [cell["t"], cell["p"], cell["o"], cell["tenant"]],
               [cell["tenant"], cell["o"], cell["t"], cell["p"]]][layout]
        k = rng.random()
        if k < 0.02:
            row = row[:2]                       # short row
        elif k < 0.04:
            row = row[:3]                       # short row: no tenant when it is last
        elif k < 0.06:
            row = []                            # blank line
        elif k < 0.07:
            row = ["", " "]                     # blank cells only
        lines.append(",".join(row))
    path = write(tmp_path, "f.csv", "\n".join(lines) + "\n")
    want = read_row_by_row(path, True)
    got = read_trace(path, skip_bad_rows=True, display_path="f.csv")
    assert got.arrival_s.tolist() == want.arrival_s.tolist() and got.arrival_s.size > 0
    assert got.prompt_tokens.tolist() == want.prompt_tokens.tolist()
    assert got.output_tokens.tolist() == want.output_tokens.tolist()
    assert got.tenant.tolist() == want.tenant.tolist() and got.tenant_names == want.tenant_names
    assert (got.bad_rows, got.messages) == (want.bad_rows, want.messages)
    if want.bad_rows:
        with pytest.raises(InputError) as err:
            read_trace(path, display_path="f.csv")
        assert str(err.value) == want.messages[0]


def test_good_rows_of_a_tenant_trace_take_the_fast_path(tmp_path, monkeypatch):
    # the general path (_Rows.add) costs about 3 us a row; a trace fleetsim writes itself (always
    # with a tenant column) must not go through it row by row
    from sim.workload import traces
    n = 1000
    write_trace(tmp_path / "w.csv", np.arange(n) * 0.5, np.full(n, 7), np.full(n, 3),
                ["chat", "", "a,b", 'q"uote'] * (n // 4))

    def general_path(*args, **kwargs):
        raise AssertionError("a good row went through _Rows.add")
    monkeypatch.setattr(traces._Rows, "add", general_path)
    d = read_trace(tmp_path / "w.csv")
    assert d.arrival_s.size == n and d.tenant_names == ["chat", "a,b", 'q"uote']


@pytest.mark.parametrize("body, skip, why", [
    ("", False, "the file has a header row and no data rows"),
    ("0,x,1\n-1,2,2\n", True, "all 2 data row(s) are bad"),
])
def test_resampling_lengths_from_a_trace_with_no_usable_rows_is_clear_when_read(tmp_path, monkeypatch,
                                                                                body, skip, why):
    # validate finds this first (above); should the file change after it, reading it says the same
    from sim.workload import generator
    write(tmp_path, "empty.csv", "timestamp_s,prompt_tokens,output_tokens\n" + body)
    lengths = {"dist": "trace", "path": "empty.csv"}
    cfg = WorkloadConfig.model_validate({"arrival": {"process": "poisson", "rate": 1},
                                         "prompt_tokens": lengths, "output_tokens": lengths})
    monkeypatch.setattr(generator, "validate", lambda cfg, base_dir: [])
    with pytest.raises(InputError, match=rf"^workload: workload\.prompt_tokens\.path: empty\.csv: no usable rows: "
                                         rf"{re.escape(why)}"):
        next(generate(cfg, 100, 1, base_dir=tmp_path, skip_bad_rows=skip))


def test_huge_token_counts_are_bad_rows_and_many_tenants_fit(tmp_path):
    """A token count past 2**31 - 1 is a bad row (line, column), not an OverflowError; a trace may
    name more distinct tenants than an int16 holds."""
    from sim.errors import InputError
    from sim.workload.traces import read_trace

    big = tmp_path / "big.csv"
    big.write_text("timestamp_s,prompt_tokens,output_tokens\n0,10,5\n1,99999999999999999999999,5\n")
    with pytest.raises(InputError, match=r"line 3: column 'prompt_tokens': must be at most 2,147,483,647 tokens"):
        read_trace(big)
    assert len(read_trace(big, skip_bad_rows=True).arrival_s) == 1
    many = tmp_path / "many.csv"
    n = 40_000
    many.write_text("timestamp_s,prompt_tokens,output_tokens,tenant\n"
                    + "".join(f"{i},10,5,user{i}\n" for i in range(n)))
    d = read_trace(many)
    assert len(d.tenant_names) == n and int(d.tenant.max()) == n - 1


@pytest.mark.parametrize("fmt, text, kept", [
    # a thousands separator shifted the columns: 1 prompt and 500 output tokens were read from '1,500' prompt tokens
    ("fleetsim", "timestamp_s,prompt_tokens,output_tokens\n0,1,500,10\n1,10,20\n", [(1.0, 10, 20)]),
    ("fleetsim", "timestamp_s,prompt_tokens,output_tokens,tenant\n0,10,20,a\n1,10,20,b,c\n", [(0.0, 10, 20)]),
    ("azure", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.0,1,200,30\n"
              "2023-11-16 18:15:47.0,100,30\n", [(0.0, 100, 30)]),
])
def test_a_row_with_more_cells_than_the_header_is_a_bad_row(tmp_path, fmt, text, kept):
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=r"t.csv: line [23]: \d cells where the header names \d: a comma inside a "
                                         r"value"):
        read_trace(path, fmt)
    data = read_trace(path, fmt, skip_bad_rows=True)
    assert data.bad_rows == 1
    assert list(zip(data.arrival_s.tolist(), data.prompt_tokens.tolist(), data.output_tokens.tolist())) == kept


def test_trailing_empty_cells_are_no_extra_cells_and_a_twice_named_column_is_an_error(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("timestamp_s,prompt_tokens,output_tokens\n0,10,20,\n1,10,20, ,\n")
    assert read_trace(path).prompt_tokens.tolist() == [10, 10]
    path.write_text("timestamp_s,x,prompt_tokens,output_tokens,x\n0,1,10,20,2\n")      # unread columns may repeat
    assert read_trace(path).output_tokens.tolist() == [20]
    path.write_text("timestamp_s,prompt_tokens,output_tokens,prompt_tokens\n0,10,20,30\n")
    with pytest.raises(InputError, match=r"t.csv: line 1: column 'prompt_tokens' appears 2 times in the header "
                                         r"\(columns 2, 4\)"):
        read_trace(path, skip_bad_rows=True)


@pytest.mark.parametrize("where, workload", [
    ("workload.arrival.path", {"arrival": {"process": "trace", "path": "bad.csv"}}),
    ("workload.classes.1.arrival.path",
     {"classes": [{"name": "a", "arrival": {"process": "poisson", "rate": 1},
                   "prompt_tokens": {"dist": "fixed", "value": 10}, "output_tokens": {"dist": "fixed", "value": 5}},
                  {"name": "b", "arrival": {"process": "trace", "path": "bad.csv"}}]}),
    ("workload.output_tokens.path", {"arrival": {"process": "poisson", "rate": 1},
                                     "prompt_tokens": {"dist": "fixed", "value": 10},
                                     "output_tokens": {"dist": "trace", "path": "bad.csv"}}),
])
@pytest.mark.parametrize("fidelity", ["request", "fluid"])
def test_a_bad_row_past_the_first_good_one_names_the_scenario_file_and_field(tmp_path, capsys, where, workload,
                                                                           fidelity):
    """``validate`` reads a trace only to its first good row; a run reads it all and says a later bad row
    as every other scenario problem: ``scenario-file: field: trace-file: line N: column C: ...``."""
    import yaml

    from sim.api import run
    from sim.cli import main

    write(tmp_path, "bad.csv", "timestamp_s,prompt_tokens,output_tokens\n0,10,5\n1,10,5\n2,ten,5\n")
    sc = {"name": "t", "seed": 1, "duration": 30, "model": "llama-3-8b", "fidelity": fidelity,
          "workload": workload, "fleet": {"pools": [{"name": "p", "gpu": "h100-sxm", "replicas": 1}]}}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(sc))
    assert main(["run", str(path), "--quiet", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err == (f"{path}: {where}: bad.csv: line 4: column 'prompt_tokens': must be an integer token count "
                   "(got 'ten')\n"), err
    assert not (tmp_path / "out").exists()
    with pytest.raises(InputError) as info:        # still an InputError to the Python API, and a ScenarioError
        run(path)
    assert isinstance(info.value, ScenarioError) and info.value.problems[0][0] == where


def test_a_tenant_that_is_no_class_and_a_trace_after_the_run_name_the_field(tmp_path):
    from sim.api import run

    write(tmp_path, "ten.csv", "timestamp_s,prompt_tokens,output_tokens,tenant\n0,10,5,chat\n1,10,5,other\n")
    write(tmp_path, "late.csv", "timestamp_s,prompt_tokens,output_tokens\n100,10,5\n")
    base = {"name": "t", "seed": 1, "duration": 30, "model": "llama-3-8b",
            "fleet": {"pools": [{"name": "p", "gpu": "h100-sxm", "replicas": 1}]}}
    tenants = {"arrival": {"process": "trace", "path": "ten.csv"},
               "classes": [{"name": "chat", "share": 1.0}]}
    for workload, message in ((tenants, "ten.csv: tenant(s) 'other' are not classes (classes: 'chat')"),
                              ({"arrival": {"process": "trace", "path": "late.csv"}},
                               "late.csv: no request falls inside the run")):
        path = tmp_path / "s.yaml"
        path.write_text(__import__("yaml").safe_dump({**base, "workload": workload}))
        with pytest.raises(ScenarioError) as info:
            run(path)
        assert str(info.value).startswith(f"{path}: workload.arrival.path: {message}"), str(info.value)


def test_a_jsonl_byte_order_mark_is_dropped_as_a_csv_one(tmp_path):
    """On main a JSONL trace starting with a BOM had no usable row ('Unexpected UTF-8 BOM'); a CSV's is dropped."""
    body = '{"timestamp_s": 0, "prompt_tokens": 3, "output_tokens": 4}\r\n{"timestamp_s": 1, "prompt_tokens": 5, ' \
           '"output_tokens": 6}\r\n'
    (tmp_path / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + body.encode())
    (tmp_path / "plain.jsonl").write_bytes(body.encode())
    got, want = read_trace(tmp_path / "bom.jsonl"), read_trace(tmp_path / "plain.jsonl")
    assert got.arrival_s.tolist() == want.arrival_s.tolist() == [0.0, 1.0]
    assert got.prompt_tokens.tolist() == [3, 5] and got.output_tokens.tolist() == [4, 6]


def test_a_jsonl_row_that_is_no_object_says_its_kind_in_json_words(tmp_path):
    """It said '(a list)', '(a str)', '(a int)': Python's type names, where every other message says 'got a list'."""
    for row, kind in (("[1, 2]", "a list"), ('"x"', "the text 'x'"), ("7", "a number")):
        write(tmp_path, "o.jsonl", '{"timestamp_s": 0, "prompt_tokens": 3, "output_tokens": 4}\n' + row + "\n")
        with pytest.raises(InputError) as exc:
            read_trace(tmp_path / "o.jsonl", display_path="o.jsonl")
        assert str(exc.value) == f"o.jsonl: line 2: column '<row>': not a JSON object (got {kind})"


def test_a_jsonl_row_giving_a_key_twice_is_a_bad_row(tmp_path):
    """On main the last value was kept silently (a scenario refuses a duplicate key)."""
    write(tmp_path, "d.jsonl", '{"timestamp_s": 0, "prompt_tokens": 3, "output_tokens": 4}\n'
                               '{"timestamp_s": 1, "prompt_tokens": 3, "output_tokens": 4, "prompt_tokens": 9}\n')
    with pytest.raises(InputError, match=r"^d.jsonl: line 2: column 'prompt_tokens': given twice in the row "
                                         r"\(give each key once\)$"):
        read_trace(tmp_path / "d.jsonl", display_path="d.jsonl")
    assert read_trace(tmp_path / "d.jsonl", skip_bad_rows=True).prompt_tokens.tolist() == [3]


@pytest.mark.parametrize("name, body", [
    ("t.csv", "timestamp_s,prompt_tokens,output_tokens\n0,10,5\n1e308,10,5\n"),
    ("t.jsonl", '{"timestamp_s": 0, "prompt_tokens": 3, "output_tokens": 4}\n'
                '{"timestamp_s": 1e308, "prompt_tokens": 3, "output_tokens": 4}\n'),
])
def test_a_time_past_2_to_the_53_microseconds_is_a_bad_row(tmp_path, name, body):
    """On main a row at 1e308 s was taken: replaying it overflowed (a numpy warning) and the run went on."""
    from sim.workload.traces import MAX_TIME_S

    write(tmp_path, name, body)
    with pytest.raises(InputError, match=rf"^{re.escape(name)}: line [23]: column 'timestamp_s': must be at most "
                                         r"9,007,199,255 s"):
        read_trace(tmp_path / name, display_path=name)
    assert MAX_TIME_S == 2**53 / 1e6
    write(tmp_path, "edge.csv", f"timestamp_s,prompt_tokens,output_tokens\n0,1,1\n{MAX_TIME_S!r},1,1\n")
    assert read_trace(tmp_path / "edge.csv").arrival_s[-1] == MAX_TIME_S
