"""More bad input through the command line: each is exit status 2 with one clear line naming the
file (or option), the field and what is allowed; never a silent wrong result or a long wait.

Empty traces, malformed --grid / --vary ranges, calibration points that cannot fit the factors,
and a --scheduler nobody answers at.
"""
from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
import yaml

from sim.cli import main
from sim.perf.base import BatchShape
from sim.perf.roofline import RooflineModel
from sim.scenario.catalog import Efficiency, get_gpu, get_model

from conftest import scenario


def _err(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


# ------------------------------------------------------------------ traces with no requests

def _trace_scenario(tmp_path: Path, name: str, text: str, **arrival) -> Path:
    (tmp_path / name).write_text(text)
    sc = scenario(duration=30)
    sc["workload"] = {"arrival": {"process": "trace", "path": name, "format": "fleetsim", **arrival}}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(sc))
    return path


def _trace_run(tmp_path: Path, name: str, text: str, *extra: str) -> list[str]:
    return ["run", str(_trace_scenario(tmp_path, name, text)), "--quiet", "--out", str(tmp_path / "res"), *extra]


EMPTY_TRACES = [
    ("header.csv", "timestamp_s,prompt_tokens,output_tokens\n",
     "header.csv: no usable rows: the file has a header row and no data rows, so the trace holds no requests "
     "(expected a row per request with timestamp_s, prompt_tokens, output_tokens)"),
    ("blank.csv", "timestamp_s,prompt_tokens,output_tokens,tenant\n\n  \n",
     "blank.csv: no usable rows: the file has a header row and no data rows"),
    ("empty.jsonl", "\n",
     "empty.jsonl: no usable rows: the file has no data rows, so the trace holds no requests (expected one JSON "
     "object a line with keys timestamp_s, prompt_tokens, output_tokens)"),
]


@pytest.mark.parametrize("name,text,expected", EMPTY_TRACES, ids=[e[0] for e in EMPTY_TRACES])
def test_a_trace_without_data_rows_is_an_error_not_zero_requests(tmp_path, capsys, name, text, expected):
    assert main(_trace_run(tmp_path, name, text)) == 2
    err = _err(capsys)
    assert expected in err, err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "res" / "summary.json").exists()


def test_a_trace_whose_every_row_is_skipped_is_an_error(tmp_path, capsys):
    argv = _trace_run(tmp_path, "bad.csv", "timestamp_s,prompt_tokens,output_tokens\n-1,10,5\n1,x,5\n",
                      "--skip-bad-rows")
    assert main(argv) == 2
    err = _err(capsys)
    assert ("bad.csv: no usable rows: all 2 data row(s) are bad, so the trace holds no requests "
            "(first: line 2: column 'timestamp_s': must be >= 0 (got '-1'))") in err, err


def test_read_trace_raises_for_an_empty_trace(tmp_path):
    from sim.errors import InputError
    from sim.workload import read_trace

    (tmp_path / "az.csv").write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n")
    with pytest.raises(InputError, match=r"^az.csv: no usable rows: .*TIMESTAMP, ContextTokens, GeneratedTokens"):
        read_trace(tmp_path / "az.csv", "azure", display_path="az.csv")


# ------------------------------------------------------------------ malformed ranges in --grid / --vary

FORMS = ("allowed: comma-separated values such as 4,8,16, or an inclusive range of whole numbers LOW..HIGH "
         "such as 1..64")
RANGES = [
    ("fleet.pools.0.replicas=1..1e9", "fleet.pools.0.replicas: malformed range '1..1e9': LOW and HIGH must be "
                                      f"whole numbers written in digits (HIGH is '1e9'); {FORMS}"),
    ("a=1..1e9", f"a: malformed range '1..1e9': LOW and HIGH must be whole numbers written in digits (HIGH is "
                 f"'1e9'); {FORMS}"),
    ("fleet.pools.0.replicas=1.5..4", "malformed range '1.5..4': LOW and HIGH must be whole numbers written in "
                                      "digits (LOW is '1.5')"),
    ("fleet.pools.0.replicas=..8", "malformed range '..8': LOW and HIGH must be whole numbers written in digits "
                                   "(LOW is missing)"),
    ("fleet.pools.0.replicas=1...8", "malformed range '1...8': LOW and HIGH are separated by exactly two dots"),
    ("fleet.pools.0.replicas=1..4,8", "malformed range '1..4': a range cannot be mixed with listed values"),
    ("fleet.pools.0.replicas=1-16", "malformed range '1-16': a range is written with two dots, 1..16, not "
                                    "LOW-HIGH"),
    ("fleet.pools.0.replicas=8..4", f"fleet.pools.0.replicas: range must have LOW <= HIGH (got 8..4); {FORMS}"),
    ("fleet.pools.0.replicas=1..1000000000", "fleet.pools.0.replicas: range 1..1000000000 holds 1,000,000,000 "
                                             "values; at most 1,000,000"),
    ("fleet.pools.0.gpu&economics.gpu_hour_usd=1..3", "malformed range '1..3': a joint knob takes listed values "
                                                     "only (no ranges); allowed: comma-separated values with one "
                                                     "part per field joined by '&'"),
]


def _count_range_values(monkeypatch) -> None:
    """Let the knob parser expand ranges of at most MAX_RANGE_VALUES values: a refusal of a longer
    range must come before its values are built (counted here, not timed)."""
    from sim.planning import knobs

    def counted(*args: int) -> range:       # stands in for the builtin inside sim.planning.knobs
        values = range(*args)
        assert len(values) <= knobs.MAX_RANGE_VALUES, f"about to build {len(values):,} range values"
        return values

    monkeypatch.setattr(knobs, "range", counted, raising=False)


@pytest.mark.parametrize("spec,expected", RANGES, ids=[r[0] for r in RANGES])
@pytest.mark.parametrize("command,option", [("sweep", "--grid"), ("plan", "--vary")])
def test_a_malformed_range_says_what_a_range_looks_like(tmp_path, capsys, monkeypatch, spec, expected, command,
                                                       option):
    sc = tmp_path / "s.yaml"
    sc.write_text(yaml.safe_dump(scenario(duration=30)))
    argv = [command, str(sc), option, spec, "--out", str(tmp_path / "o"), "--quiet"]
    if command == "plan":
        argv += ["--constraint", "latency.ttft.p99<=2"]
    _count_range_values(monkeypatch)
    assert main(argv) == 2
    err = _err(capsys)
    assert err.startswith(f"{option}: ") and expected in err, err     # the flag, as every command names it
    assert len(err.strip().splitlines()) == 1 and "must be a whole number (got" not in err
    assert not (tmp_path / "o").exists()


def test_values_with_dots_that_are_not_ranges_stay_values():
    from sim.planning.knobs import parse_knob

    assert parse_knob("workload.arrival.path=../a.csv,../b.csv").values == ("../a.csv", "../b.csv")
    assert parse_knob("name=a..b").values == ("a..b",)
    # a dash is a range only alone and rising: a month or a listed 4-8 is the field's to judge
    assert parse_knob("start=2024-01").values == ("2024-01",)
    assert parse_knob("name=4-8,9").values == ("4-8", "9")
    k = parse_knob("fleet.pools.0.replicas= -2 .. 2")
    assert k.is_range and (k.low, k.high) == (-2, 2)


# ------------------------------------------------------------------ calibration points that cannot fit

M, G = get_model("llama-3-8b"), get_gpu("h100-sxm")
HEADER = "prefill_tokens,decode_seqs,context_tokens,step_s"


def _calibrate(tmp_path: Path, text: str, *extra: str) -> list[str]:
    (tmp_path / "p.csv").write_text(text)
    return ["calibrate", str(tmp_path / "p.csv"), "--gpu", "h100-sxm", "--model", "llama-3-8b",
            "--out", str(tmp_path / "cal.yaml"), *extra]


def _synthetic(rows: list[tuple[int, int, int]]) -> str:
    rm = RooflineModel(M, G, 1, efficiency=Efficiency(0.55, 0.62, 0.003))
    lines = [HEADER]
    for p, d, c in rows:
        s = BatchShape(prefill_tokens=p, prefill_seqs=1 if p else 0, prefill_attn_pairs=p * (p + 1) / 2,
                       prefill_kv_tokens=p, decode_seqs=d, decode_context_tokens=c)
        lines.append(f"{p},{d},{c},{rm.step_time(s)!r}")
    return "\n".join(lines) + "\n"


CALIBRATION = [
    ("zero", f"{HEADER}\n0,8,4096,0\n512,0,0,0\n0,32,16384,0\n",
     "p.csv:2:4: step_s must be a finite number > 0 (got '0')"),
    ("header-only", f"{HEADER}\n",
     "p.csv: no points: the file has a header row and no data rows (expected a row per measurement with "
     "prefill_tokens, decode_seqs, context_tokens, step_s)"),
    ("identical", f"{HEADER}\n" + "0,8,4096,0.01\n" * 4,
     "p.csv: the 4 points have only 1 different shape(s) (columns prefill_tokens, prefill_seqs, decode_seqs, "
     "context_tokens); fitting flops_efficiency, bw_efficiency, overhead_s needs at least 3"),
    ("two-shapes", f"{HEADER}\n0,8,4096,0.010\n2048,0,0,0.09\n0,8,4096,0.011\n2048,0,0,0.091\n",
     "p.csv: the 4 points have only 2 different shape(s)"),
    ("small-decodes-only", _synthetic([(0, 1, 500), (0, 2, 1000), (0, 4, 2000), (0, 8, 4000)]),
     "p.csv: the 4 points do not determine flops_efficiency (the fit is as good at any value); measure also "
     "FLOP-bound iterations (prefill_tokens in the thousands)"),
    ("tiny-prefills-only", f"{HEADER}\n1,0,0,0.01\n2,0,0,0.011\n4,0,0,0.012\n",
     "p.csv: the 3 points do not determine overhead_s and bw_efficiency separately (other combinations of them "
     "fit as well)"),
    ("empty-iteration", f"{HEADER}\n0,0,0,0.01\n0,8,4096,0.01\n512,0,0,0.02\n",
     "p.csv:2: prefill_tokens and decode_seqs are both 0: an iteration needs prefill_tokens >= 1 or "
     "decode_seqs >= 1"),
    ("fraction", f"{HEADER}\n0,8,4096,0.01\n0,8.5,4096,0.01\n",
     "p.csv:3:2: decode_seqs must be a whole number >= 0 (got '8.5')"),
    ("prefill-seqs", f"{HEADER},prefill_seqs\n0,8,4096,0.01,1\n",
     "p.csv:2:5: prefill_seqs must be <= prefill_tokens (0) (got '1')"),
    ("throughput-batch-0", "batch,input_tokens,output_tokens,output_tokens_per_s\n0,100,100,50\n",
     "p.csv:2:1: batch must be a whole number >= 1 (got '0')"),
]


@pytest.mark.parametrize("text,expected", [c[1:] for c in CALIBRATION], ids=[c[0] for c in CALIBRATION])
def test_calibration_points_that_cannot_fit_are_rejected(tmp_path, capsys, text, expected):
    assert main(_calibrate(tmp_path, text)) == 2
    err = _err(capsys)
    assert str(tmp_path / "p.csv") + expected.removeprefix("p.csv") in err, err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "cal.yaml").exists()


def test_calibration_from_well_spread_points_still_fits(tmp_path, capsys):
    rows = [(0, 1, 500), (0, 8, 8000), (0, 64, 64000), (512, 0, 0), (2048, 0, 0), (1024, 32, 30000)]
    assert main(_calibrate(tmp_path, _synthetic(rows))) == 0
    assert "flops_efficiency 0.5500" in capsys.readouterr().out
    # the exponent needs iterations between the regimes; this set has them
    rows += [(128, 0, 0), (256, 16, 4000)]
    assert main(_calibrate(tmp_path, _synthetic(rows), "--fit-exponent")) == 0


def test_fewer_points_than_factors_names_the_file(tmp_path, capsys):
    assert main(_calibrate(tmp_path, _synthetic([(0, 1, 500), (2048, 0, 0), (0, 8, 8000)]), "--fit-exponent")) == 2
    assert (f"{tmp_path / 'p.csv'}: calibration needs at least 4 points to fit 4 factors (flops_efficiency, "
            "bw_efficiency, overhead_s, overlap_exponent) (got 3)") in _err(capsys)


# ------------------------------------------------------------------ an unreachable --scheduler

@pytest.fixture
def short_connect_timeout(monkeypatch):
    pytest.importorskip("distributed")
    from sim.planning import executors

    monkeypatch.setattr(executors, "CONNECT_TIMEOUT_S", 1.0)


@pytest.fixture
def probe_only(monkeypatch):
    """The scheduler is judged by the probe alone, with the 1 s timeout: ``distributed.Client``
    (whose handshake nothing bounds: a silent peer would hang it) is never reached. Returns the
    timeouts the probe's connection attempts were given."""
    import distributed
    import distributed.comm

    real = distributed.comm.connect
    timeouts: list[float] = []

    def connect(address, timeout=None, **kwargs):
        timeouts.append(timeout)
        return real(address, timeout=timeout, **kwargs)

    def client(*args, **kwargs):
        raise AssertionError("distributed.Client was reached")

    monkeypatch.setattr(distributed.comm, "connect", connect)
    monkeypatch.setattr(distributed, "Client", client)
    return timeouts


def _unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sweep_argv(tmp_path: Path, address: str) -> list[str]:
    sc = tmp_path / "s.yaml"
    sc.write_text(yaml.safe_dump(scenario(duration=30)))
    return ["sweep", str(sc), "--grid", "fleet.pools.0.replicas=1,2", "--scheduler", address,
            "--out", str(tmp_path / "o"), "--quiet"]


def test_an_unreachable_scheduler_fails_fast_naming_the_address(tmp_path, capsys, short_connect_timeout,
                                                                probe_only):
    address = f"tcp://127.0.0.1:{_unused_port()}"
    assert main(_sweep_argv(tmp_path, address)) == 2
    assert probe_only == [1.0]
    err = _err(capsys)
    assert (f"--scheduler {address}: could not reach a Dask scheduler there within 1 s (Connection refused); "
            "check the host and port, or start a scheduler on that machine with 'dask scheduler --port 8786' and "
            "workers with 'dask worker tcp://SCHEDULER_HOST:8786 --nthreads 1'") in err, err
    assert len(err.strip().splitlines()) == 1


def test_a_peer_that_never_answers_as_a_scheduler_does_not_hang(tmp_path, capsys, short_connect_timeout,
                                                                probe_only):
    # something listens and accepts (another service on the port) but never speaks Dask
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    held: list[socket.socket] = []

    def accept() -> None:
        try:
            while True:
                held.append(server.accept()[0])
        except OSError:
            pass

    threading.Thread(target=accept, daemon=True).start()
    address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
    try:
        assert main(_sweep_argv(tmp_path, address)) == 2
        assert probe_only == [1.0]
    finally:
        server.close()
        for c in held:
            c.close()
    err = _err(capsys)
    assert (f"--scheduler {address}: something accepted the connection but did not answer as a Dask "
            "scheduler within 1 s; is that the scheduler's port (8786 by default; 8787 is its dashboard)?") in err, err


def test_a_malformed_scheduler_address_is_bad_input(tmp_path, capsys, short_connect_timeout):
    assert main(_sweep_argv(tmp_path, "foo://x")) == 2
    assert "--scheduler foo://x: not a Dask scheduler address" in _err(capsys)


# ------------------------------------------------------------------ fleetsim validate reads the trace's first rows

EMPTY_FOR_VALIDATE = EMPTY_TRACES + [
    ("allbad.csv", "timestamp_s,prompt_tokens,output_tokens\n-1,10,5\n1,x,5\n",
     "allbad.csv: no usable rows: all 2 data row(s) are bad, so the trace holds no requests "
     "(first: line 2: column 'timestamp_s': must be >= 0 (got '-1'))"),
    ("nocolumns.csv", "time,tokens\n1,2\n",
     "nocolumns.csv: line 1: missing column(s) 'timestamp_s', 'prompt_tokens', 'output_tokens' (header has "
     "'time', 'tokens')"),
]


@pytest.mark.parametrize("name,text,expected", EMPTY_FOR_VALIDATE, ids=[e[0] for e in EMPTY_FOR_VALIDATE])
def test_validate_reports_a_trace_with_no_requests(tmp_path, capsys, name, text, expected):
    path = _trace_scenario(tmp_path, name, text)
    assert main(["validate", str(path)]) == 2
    err = _err(capsys)
    assert f"{path}: workload.arrival.path: {expected}" in err, err
    assert len(err.strip().splitlines()) == 1


def test_validate_reports_an_empty_trace_used_for_lengths(tmp_path, capsys):
    (tmp_path / "lengths.csv").write_text("timestamp_s,prompt_tokens,output_tokens\n")
    sc = scenario(duration=30)
    sc["workload"]["prompt_tokens"] = {"dist": "trace", "path": "lengths.csv", "format": "fleetsim"}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(sc))
    assert main(["validate", str(tmp_path / "s.yaml")]) == 2
    assert (f"{tmp_path / 's.yaml'}: workload.prompt_tokens.path: lengths.csv: no usable rows: the file has a "
            "header row and no data rows") in _err(capsys)


def test_validate_reads_every_trace_row_and_counts_what_skip_bad_rows_leaves_out(tmp_path, capsys):
    # loading a scenario reads a trace up to its first good row (quick on a big trace); `fleetsim
    # validate` reads every row, as `run` does: it fails on the first bad row, and with
    # --skip-bad-rows says how many rows a run with the flag leaves out
    path = _trace_scenario(tmp_path, "t.csv", "timestamp_s,prompt_tokens,output_tokens\n-1,10,5\n0.5,10,5\n0.2,10,5\n")
    assert main(["validate", str(path)]) == 2
    assert capsys.readouterr().err == (f"{path}: workload.arrival.path: t.csv: line 2: column 'timestamp_s': "
                                       "must be >= 0 (got '-1')\n")
    assert main(["validate", str(path), "--skip-bad-rows"]) == 0
    out = capsys.readouterr().out
    assert f"{path}: ok" in out
    assert ("  workload.arrival.path: t.csv: 2 bad rows left out by --skip-bad-rows; the first, line 2: "
            "column 'timestamp_s': must be >= 0 (got '-1')\n") in out
    assert main(["run", str(path), "--quiet", "--skip-bad-rows", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["workload"] == {"bad_rows": 2, "requests": 1}
    from sim.workload.traces import check_trace

    (tmp_path / "late.csv").write_text("timestamp_s,prompt_tokens,output_tokens\n0.5,10,5\n0.2,10,5\n")
    check_trace(tmp_path / "late.csv")  # no error: it has a good row; the bad one after it is not read


# ------------------------------------------------------------------ a trace that lies entirely after the run

ROWS = "timestamp_s,prompt_tokens,output_tokens\n"
LATE = [
    ({}, ROWS + "100,10,5\n200,10,5\n",
     "late.csv: no request falls inside the run: the trace's first row has timestamp_s 100 s, at or after the "
     "scenario's duration (30 s); a trace is replayed from t = 0 with no start offset, so every row falls after "
     "the end of the run. Set duration above 100 s, or make the trace's times start near 0 (subtract 100 from "
     "every timestamp_s)"),
    ({}, ROWS + "30,10,5\n", "first row has timestamp_s 30 s, at or after the scenario's duration (30 s)"),
    ({"time_scale": 0.5}, ROWS + "100,10,5\n200,10,5\n",
     "first row has timestamp_s 100 s (replayed at 50 s with time_scale 0.5), at or after the scenario's duration "
     "(30 s); a trace is replayed from t = 0 with no start offset, so every row falls after the end of the run. "
     "Set duration above 50 s"),
    ({"loop": True, "rate_scale": 2.5}, ROWS + "1700000000.25,10,5\n1700000001,10,5\n",
     "first row has timestamp_s 1700000000.25 s, at or after the scenario's duration (30 s); a trace is replayed "
     "from t = 0 with no start offset, so every row falls after the end of the run. Set duration above "
     "1700000000.25 s, or make the trace's times start near 0 (subtract 1700000000.25 from every timestamp_s)"),
]


@pytest.mark.parametrize("arrival,text,expected", LATE, ids=["after", "at-duration", "time-scaled", "epoch-looped"])
def test_a_trace_entirely_after_the_duration_is_an_error(tmp_path, capsys, arrival, text, expected):
    path = _trace_scenario(tmp_path, "late.csv", text, **arrival)
    assert main(["run", str(path), "--quiet", "--json"]) == 2
    err = _err(capsys)
    assert expected in err, err
    assert len(err.strip().splitlines()) == 1
    assert capsys.readouterr().out == ""


def test_a_trace_longer_than_the_run_replays_the_rows_inside(tmp_path, capsys):
    # rows inside the run and rows after it: the run is shorter than the trace, which is normal
    path = _trace_scenario(tmp_path, "long.csv", ROWS + "10,10,5\n20,10,5\n100,10,5\n")
    assert main(["run", str(path), "--quiet", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["requests"]["arrived"] == 2
    path = _trace_scenario(tmp_path, "long.csv", ROWS + "10,10,5\n20,10,5\n100,10,5\n", time_scale=2.0)
    assert main(["run", str(path), "--quiet", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["requests"]["arrived"] == 1


def test_a_trace_after_the_duration_fails_a_fluid_run_too(tmp_path):
    from sim.errors import InputError
    from sim.workload import WorkloadConfig
    from sim.fluid.demand import expected_arrivals

    (tmp_path / "late.csv").write_text(ROWS + "100,10,5\n")
    cfg = WorkloadConfig.model_validate({"arrival": {"process": "trace", "path": "late.csv"}})
    with pytest.raises(InputError, match=r"^workload: workload.arrival.path: late.csv: no request falls inside the "
                                         r"run: .* duration \(30 s\)"):
        expected_arrivals(cfg, np.array([0.0, 10.0, 30.0]), base_dir=tmp_path)


# ------------------------------------------------------------------ --out is checked first, made only for a good scenario

def _bad_scenario(tmp_path: Path) -> Path:
    sc = scenario(duration=30)
    sc["fleet"]["pools"][0]["gpu"] = "nope"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(sc))
    return path


def test_run_makes_no_out_folder_for_a_bad_scenario(tmp_path, capsys):
    assert main(["run", str(_bad_scenario(tmp_path)), "--quiet", "--out", str(tmp_path / "res" / "one")]) == 2
    assert "fleet.pools.0.gpu: unknown GPU 'nope'" in _err(capsys)
    assert not (tmp_path / "res").exists()


def test_run_takes_back_the_out_folder_when_the_trace_fails_at_run_time(tmp_path, capsys):
    path = _trace_scenario(tmp_path, "late.csv", ROWS + "100,10,5\n")
    assert main(["run", str(path), "--quiet", "--out", str(tmp_path / "res" / "one")]) == 2
    assert "late.csv: no request falls inside the run" in _err(capsys)
    assert not (tmp_path / "res").exists()
    # a folder that was there before is left alone, and so is anything in it
    (tmp_path / "mine").mkdir()
    assert main(["run", str(path), "--quiet", "--out", str(tmp_path / "mine")]) == 2
    assert (tmp_path / "mine").is_dir()


def test_run_checks_out_before_loading_the_scenario(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    bad = str(_bad_scenario(tmp_path))
    assert main(["run", bad, "--quiet", "--out", str(tmp_path / "afile")]) == 2
    err = _err(capsys)
    assert err.strip() == f"--out: {tmp_path / 'afile'} exists and is not a folder (give a folder, new or existing)"
    assert main(["run", bad, "--quiet", "--out", str(tmp_path / "afile" / "x" / "y")]) == 2
    err = _err(capsys)
    assert err.strip() == f"--out: cannot create {tmp_path / 'afile' / 'x' / 'y'}: {tmp_path / 'afile'} is not a folder"
    assert (tmp_path / "afile").read_text() == "x"


def test_run_writes_a_good_scenario_into_a_new_nested_out(tmp_path, capsys):
    sc = tmp_path / "s.yaml"
    sc.write_text(yaml.safe_dump(scenario(duration=10)))
    assert main(["run", str(sc), "--quiet", "--out", str(tmp_path / "a" / "b")]) == 0
    assert (tmp_path / "a" / "b" / "summary.json").is_file()


@pytest.mark.parametrize("command,extra", [
    ("sweep", ["--grid", "fleet.pools.0.replicas=1,2"]),
    ("plan", ["--vary", "fleet.pools.0.replicas=1..2", "--constraint", "latency.ttft.p99<=2"]),
    ("saturation", ["--tolerance", "0.5"]),
])
def test_planning_commands_check_out_before_running_any_point(tmp_path, capsys, monkeypatch, command, extra):
    import sim.planning.runner as runner

    def no_runs(*a, **k):
        raise AssertionError("a point ran")

    monkeypatch.setattr(runner.SimulationRunner, "__call__", no_runs)
    sc = tmp_path / "s.yaml"
    sc.write_text(yaml.safe_dump(scenario(duration=10)))
    (tmp_path / "afile").write_text("x")
    base = [command, str(sc), "--quiet", "--executor", "serial", *extra]
    assert main([*base, "--out", str(tmp_path / "afile")]) == 2
    assert _err(capsys).strip() == (f"--out: {tmp_path / 'afile'} exists and is not a folder "
                                    "(give a folder, new or existing)")
    assert main([*base, "--out", str(tmp_path / "afile" / "sub")]) == 2
    assert _err(capsys).strip() == f"--out: cannot create {tmp_path / 'afile' / 'sub'}: {tmp_path / 'afile'} is not a folder"
    # a bad scenario leaves no folder behind (as before)
    assert main([command, str(_bad_scenario(tmp_path)), "--quiet", "--executor", "serial", *extra,
                 "--out", str(tmp_path / "o")]) == 2
    assert not (tmp_path / "o").exists()


def test_scenario_loading_doctests():
    import doctest

    from sim.scenario import load, schema_errors
    for module in (load, schema_errors):
        result = doctest.testmod(module)
        assert result.attempted and result.failed == 0, module.__name__


LONG = "x" * 20_000


@pytest.mark.parametrize("override, starts", [
    (f"duration={LONG}", "duration: expected a duration such as 3600, '90s', '30m', '2h30m' or '7d', in units us, "
                         "ms, s, m, h, d, w (got 'xxx"),
    (f"fleet.pools.0.gpu={LONG}", "fleet.pools.0.gpu: unknown GPU 'xxx"),
    (f"model={LONG}", "model: unknown model 'xxx"),
    (f"workload.arrival.process={LONG}", "workload.arrival: unknown process 'xxx"),
    (f"fleet.pools.0.{LONG}=1", "fleet.pools.0.xxx"),
    (f"economics.{LONG}=1", "economics.xxx"),
    # (a name is at most 200 characters: the longest one is named unknown, cut short)
    (f"economics.agreements=[{{rate: 0.2, base: [{'x' * 200}]}}]", "economics.agreements.0.base.0: unknown revenue line"),
])
def test_a_huge_name_or_key_is_shown_cut_short(tmp_path, capsys, override, starts):
    # every problem echoed the whole 20,000-character value (and a long key as the field path, twice)
    sc = yaml.safe_load((Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml").read_text())
    sc["economics"]["revenue"] = [{"name": "api", "usd_per_million_output_tokens": 10}]
    sc["fleet"]["router"] = {"policy": "spillover", "primary": "main", "overflow": "main2", "threshold": 4}
    sc["fleet"]["pools"].append(dict(sc["fleet"]["pools"][0], name="main2"))
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(sc))
    assert main(["validate", str(path), "--set", override]) == 2
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert lines and all(len(line) < 800 for line in lines), [len(line) for line in lines]
    assert lines[0].startswith(f"{path}: {starts}") and "xxx..." in err


def test_a_sweep_point_with_a_huge_value_is_named_cut_short(tmp_path, capsys):
    path = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"
    assert main(["sweep", str(path), "--grid", f"fleet.pools.0.replicas={LONG}", "--out", str(tmp_path / "o"),
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert len(err) < 400 and err.startswith(f"{path}: fleet.pools.0.replicas: must be a whole number (got 'xxx")
    assert "(with fleet.pools.0.replicas=xxx" in err
