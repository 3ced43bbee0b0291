"""The sweep / plan / saturation commands: tables on stdout, problems on stderr, exit codes."""
import argparse
import json

import pytest


from sim.commands import plan as plan_cmd
from sim.commands import saturation as saturation_cmd
from sim.commands import sweep as sweep_cmd

from conftest import mmc_scenario_file


def scenario(tmp_path, rate=4.0, prompt=None):
    return mmc_scenario_file(tmp_path, rate, seed=3, duration="5m", replicas=6, prompt=prompt)


def run(cmd, argv):
    parser = argparse.ArgumentParser()
    cmd.add_arguments(parser)
    return cmd.main(parser.parse_args(argv))


def test_sweep_command_prints_a_table_and_writes_the_folder(tmp_path, capsys):
    out = tmp_path / "out"
    code = run(sweep_cmd, [str(scenario(tmp_path)), "--grid", "fleet.pools.0.replicas=5,7",
                           "--seeds", "2", "--workers", "2", "--out", str(out), "--quiet"])
    cap = capsys.readouterr()
    assert code == 0
    lines = cap.out.strip().splitlines()
    assert lines[0].split()[:2] == ["fleet.pools.0.replicas", "n"] and len(lines) == 2 + 2
    assert "±" in lines[2]                                          # mean ± CI with 2 seeds
    assert "4 points (0 reused" in cap.err
    rows = json.loads((out / "sweep.json").read_text())["points"]
    assert [r["seed"] for r in rows] == [3, 4, 3, 4]
    # rerun: everything reused
    assert run(sweep_cmd, [str(scenario(tmp_path)), "--grid", "fleet.pools.0.replicas=5,7",
                           "--seeds", "2", "--out", str(out), "--quiet", "--no-figures"]) == 0
    assert "4 points (4 reused" in capsys.readouterr().err


def test_bad_input_exits_2_with_one_line_per_problem(tmp_path, capsys):
    scn = str(scenario(tmp_path))
    assert run(sweep_cmd, [scn, "--grid", "fleet.pools.0.replicas=-1,2", "--out", str(tmp_path / "o"),
                           "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "fleet.pools.0.replicas" in err[0] and "replicas=-1" in err[0]
    assert run(sweep_cmd, [scn, "--grid", "fleet.pools.0.replicas", "--out", str(tmp_path / "o")]) == 2
    assert "PATH=VALUES" in capsys.readouterr().err
    assert run(plan_cmd, [scn, "--vary", "fleet.pools.0.replicas=1..8", "--constraint", "ttft<2",
                          "--out", str(tmp_path / "p"), "--quiet"]) == 2
    assert "unknown metric ttft" in capsys.readouterr().err
    assert run(plan_cmd, [scn, "--vary", "fleet.pools.0.replicas=1..8", "--constraint", "ttft.p99<2",
                          "--out", str(tmp_path / "p"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "unknown metric ttft.p99 (did you mean latency.ttft.p99?)" in err and "cost.by_pool" not in err
    assert run(sweep_cmd, [str(tmp_path / "missing.yaml"), "--grid", "a=1"]) == 2


def test_plan_command_prints_the_answer_and_runner_up_table(tmp_path, capsys):
    code = run(plan_cmd, [str(scenario(tmp_path)), "--vary", "fleet.pools.0.replicas=1..12",
                          "--constraint", "latency.queue.mean<=0.1", "--workers", "2",
                          "--out", str(tmp_path / "plan"), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("cheapest meeting all constraints: fleet.pools.0.replicas=")
    assert (tmp_path / "plan" / "figures" / "pareto.png").exists()


def test_a_plan_of_one_gpu_says_gpu_not_gpus(tmp_path, capsys):
    code = run(plan_cmd, [str(scenario(tmp_path, rate=0.2)), "--vary", "fleet.pools.0.replicas=1..4",
                          "--constraint", "latency.queue.mean<=100", "--out", str(tmp_path / "plan"),
                          "--quiet", "--no-figures"])
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("cheapest meeting all constraints: fleet.pools.0.replicas=1  (1 GPU, $"), out


def test_saturation_command_reports_a_bracketed_rate(tmp_path, capsys):
    # fixed 500-token prompts at 1 ms/token: 0.5 s service, so no request misses the 2 s TTFT
    # SLO without queueing; 6 servers cannot sustain more than 6 / 0.5 = 12 req/s
    scn = scenario(tmp_path, rate=2.0, prompt={"dist": "fixed", "value": 500})
    code = run(saturation_cmd, [str(scn), "--attainment", "0.95", "--tolerance", "0.1",
                                "--workers", "2", "--out", str(tmp_path / "sat"), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0 and "saturation rate:" in out
    data = json.loads((tmp_path / "sat" / "saturation.json").read_text())
    assert data["rate"] < data["upper"] <= data["rate"] * 1.1
    assert 6.0 < data["rate"] < 12.0
    from sim.report import write_report

    html = write_report(tmp_path / "sat").read_text()
    assert "Highest sustained arrival rate" in html and f"{data['rate']:.4g} req/s" in html


def test_planner_columns_in_plain_digits_and_unstable_points_are_infeasible(tmp_path, capsys):
    """3 M/M/c servers of ~1 s at 4 req/s are overloaded (ρ = 1.33): unstable, so infeasible even
    with no latency constraint; 5 servers keep up. $/month = $/hour x 730."""
    scn = scenario(tmp_path)
    code = run(sweep_cmd, [str(scn), "--grid", "fleet.pools.0.replicas=3,5", "--out", str(tmp_path / "s"),
                           "--quiet", "--no-figures", "--columns", "latency.ttft.p99,utilization.load_factor"])
    cap = capsys.readouterr()
    assert code == 0
    head, _, three, five = cap.out.strip().splitlines()
    assert head.split()[:3] == ["fleet.pools.0.replicas", "n", "stable"]
    assert "$/month" in head and "GPU-hours" in head and "latency.ttft.p99" in head and "e+" not in cap.out
    assert three.split()[2] == "NO" and five.split()[2] == "yes"
    assert "did not keep up" in cap.err
    code = run(plan_cmd, [str(scn), "--vary", "fleet.pools.0.replicas=2..8", "--out", str(tmp_path / "p"),
                          "--quiet", "--no-figures"])
    out = capsys.readouterr().out
    assert code == 0
    first = out.splitlines()[0]
    assert "fleet.pools.0.replicas=3" not in first and "fleet.pools.0.replicas=2" not in first
    plan = json.loads((tmp_path / "p" / "plan.json").read_text())
    unstable = [r for r in plan["evaluated"] if r["stable"] is False]
    assert unstable and all(not r["feasible"] and r["why"].startswith("unstable") for r in unstable)


def test_plain_numbers_and_month_arithmetic():
    from sim.planning.planner import HOURS_PER_MONTH, plain, planner_values

    assert [plain(x) for x in (302400.0, 16.0, 15.3, 0.01234, 0.0)] == ["302,400", "16", "15.30", "0.0123", "0"]
    assert plain(35.0, money=True) == "$35.00" and plain(1234567.8, money=True) == "$1,234,568"
    v = planner_values({"simulated_seconds.mean": 3600.0 * 2, "gpu_hours.provisioned.mean": 14.0,
                        "cost.compute_usd.mean": 60.0})
    assert v["GPUs"] == 7.0 and v["$/hour"] == 30.0 and v["$/month"] == pytest.approx(21_900.0, rel=1e-12)
    assert HOURS_PER_MONTH == 730.0    # 365 x 24 / 12, as the report's "about $X per month"


def test_text_table_left_aligns_sentences_and_keeps_numbers_right():
    from sim.planning.table import text_table

    rows = [{"rate": 12, "sustained": "yes", "why not": ""},
            {"rate": 90, "sustained": "no", "why not": "unstable: the backlog grows by 4.2 requests/s"}]
    assert text_table(rows, ["rate", "sustained", "why not"]).splitlines() == [
        "rate  sustained  why not",
        "----  ---------  " + "-" * len("unstable: the backlog grows by 4.2 requests/s"),
        "  12        yes",
        "  90         no  unstable: the backlog grows by 4.2 requests/s"]


def test_why_not_names_the_confidence_bound_it_judged():
    # saturation printed "slo.attainment = -0.04994 (needs >= 0.99)" for five runs averaging 0.0196:
    # the lower end of the 95 % interval, which the text did not say
    from sim.planning.constraints import parse_constraint
    from sim.planning.evaluator import judge

    c = parse_constraint("slo.attainment>=0.99")
    row = judge({"n": 5, "slo.attainment.mean": 0.0196, "slo.attainment.ci_low": -0.0499,
                 "slo.attainment.ci_high": 0.0891}, [c])
    assert row["why"] == "SLO attainment 1.96 % mean, -4.99 % at the 95 % bound, needs >= 99 %"
    one = judge({"n": 1, "slo.attainment.mean": 0.5}, [c])          # one run: no interval, the value itself
    assert one["why"] == "SLO attainment 50 %, needs >= 99 %"


def test_why_not_says_the_metric_in_words_with_its_unit():
    """A TTFT p99 of 485 s against 2 s printed "latency.ttft.p99 = 485 (needs <= 2)": no unit, no name.
    Seconds stay seconds against a bound of a second or more, milliseconds below; money in dollars;
    a key without a name of its own is said by its last parts, whose it is (a class, a pool) after."""
    from sim.planning.constraints import parse_constraint
    from sim.planning.evaluator import judge

    def why(constraint: str, value: float) -> str:
        c = parse_constraint(constraint)
        return judge({"n": 1, f"{c.metric}.mean": value}, [c])["why"]

    assert why("latency.ttft.p99<=2", 485.0) == "TTFT p99 485 s, needs <= 2 s"
    assert why("latency.tpot.p99<=0.05", 0.0625) == "TPOT p99 62.5 ms, needs <= 50 ms"
    assert why("cost.compute_usd<=5", 7.5) == "compute cost $7.50, needs <= $5.00"
    assert why("utilization.load_factor<=0.8", 0.93) == "load factor 0.93, needs <= 0.8"
    assert why("classes.chat.latency.e2e.p99<=10", 12.25) == "end-to-end p99 of class chat 12.25 s, needs <= 10 s"
    assert why("throughput.requests_per_s>=50", 41.5) == "throughput 41.5 req/s, needs >= 50 req/s"
    assert judge({"n": 1}, [parse_constraint("latency.ttft.p99<=2")])["why"] == "TTFT p99 missing (latency.ttft.p99)"


def test_sweep_on_worker_processes_prints_a_scenario_warning_once(tmp_path):
    import subprocess
    import sys

    import yaml
    from conftest import scenario

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario(economics={"compute": [{"pool": "main", "usd_per_gpu_hour": 1},
                                                                   {"pool": "main", "usd_per_gpu_hour": 2}]})))
    out = subprocess.run([sys.executable, "-m", "sim", "sweep", str(path), "--grid", "fleet.pools.0.replicas=1,2",
                          "--seeds", "2", "--executor", "local", "--workers", "2", "--out", str(tmp_path / "sw")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stderr.replace("\r", "\n").splitlines() if "economics.compute.1" in ln]
    assert lines == [f"{path}: economics.compute.1: pool main already has an uncapped on_demand tier (compute.0) "
                     "that takes all GPUs beyond the reservation; this tier is never used"]


def test_sweep_plan_and_saturation_errors_are_worded_as_every_other_command_words_them(tmp_path, capsys):
    """Each line names the flag (or file) it is about, or the command, as run/validate/calibrate do;
    none starts 'error:'."""
    from sim.cli import main

    scn = str(scenario(tmp_path))
    cases = [
        (["sweep", scn, "--grid", "nope"], "--grid: expected PATH=VALUES such as fleet.pools.0.replicas=4,8,16 "
                                           "(got 'nope')"),
        (["plan", scn, "--vary", "fleet.pools.0.replicas=8..4", "--constraint", "latency.ttft.p99<=2"],
         "--vary: fleet.pools.0.replicas: range must have LOW <= HIGH (got 8..4)"),
        (["plan", scn, "--vary", "fleet.pools.0.replicas=1,2", "--constraint", "latency.ttft.p99<=x"],
         "--constraint: latency.ttft.p99: bound must be a number (got 'x')"),
        (["saturation", scn, "--constraint", "x<"], "--constraint: expected METRIC<=NUMBER"),
        (["plan", scn, "--vary", "fleet.pools.0.replicas=1..8", "--constraint", "ttft.p99<2"],
         "--constraint: unknown metric ttft.p99 (did you mean latency.ttft.p99?)"),
        (["sweep", str(tmp_path / "missing.yaml"), "--grid", "a=1"], f"{tmp_path / 'missing.yaml'}: file not found"),
    ]
    for argv, expected in cases:
        assert main([*argv, "--out", str(tmp_path / "o"), "--quiet"]) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith(expected) and len(err.strip().splitlines()) == 1, err


# ---------------------------------------------------------------------- a bad trace row, refused once
TRACE_HEAD = "timestamp_s,prompt_tokens,output_tokens\n"


def _trace_scenario(tmp_path, trace="t.csv"):
    rows = "".join(f"{0.5 * i},{100 + i},{10 + i}\n" for i in range(40))
    (tmp_path / "t.csv").write_text(TRACE_HEAD + rows)
    (tmp_path / "bad.csv").write_text(TRACE_HEAD + rows + "20.5,ten,5\n")
    s = tmp_path / "s.yaml"
    s.write_text(f"name: t\nseed: 1\nduration: 30s\nmodel: llama-3-8b\n"
                 f"workload: {{arrival: {{process: trace, path: {trace}}}}}\n"
                 "fleet: {pools: [{name: p, gpu: h100-sxm, replicas: 1}]}\nslo: {ttft_s: 2.0, tpot_s: 0.1}\n")
    return s


BAD_ROW = "workload.arrival.path: bad.csv: line 42: column 'prompt_tokens': must be an integer token count (got 'ten')"


def test_a_sweep_and_a_plan_over_a_trace_with_a_bad_row_are_refused_before_any_point_runs(tmp_path, capsys):
    """Each point read the trace itself and failed on the same row: every point ran (and was stored) to
    fail alike, exit 1. The trace is read once before any point runs, and the row refused, exit 2."""
    s = _trace_scenario(tmp_path, "bad.csv")
    for cmd, flags in ((sweep_cmd, ["--grid", "fleet.pools.0.replicas=1,2,3", "--seeds", "2"]),
                       (plan_cmd, ["--vary", "fleet.pools.0.replicas=1..3"]),
                       (saturation_cmd, ["--rate-path", "workload.arrival.rate_scale", "--start", "1"])):
        out = tmp_path / f"out-{cmd.__name__}"
        assert run(cmd, [str(s), *flags, "--out", str(out), "--quiet", "--executor", "serial"]) == 2
        assert capsys.readouterr().err.splitlines() == [f"{s}: {BAD_ROW}"]
        assert not out.exists()                     # no point ran, nothing written
    # a grid over trace files: the bad one is named, whichever configuration comes first
    out = tmp_path / "grid"
    assert run(sweep_cmd, [str(s), "--grid", "workload.arrival.path=t.csv,bad.csv", "--out", str(out),
                           "--quiet", "--executor", "serial"]) == 2
    assert capsys.readouterr().err.splitlines() == [f"{s}: {BAD_ROW}"]
    assert not out.exists()


def test_a_trace_is_read_once_for_every_point_and_not_at_all_when_every_point_is_stored(tmp_path, capsys,
                                                                                        monkeypatch):
    """Finished points are kept: a trace that turned bad refuses only a sweep with points still to run,
    and leaves every stored point as it was."""
    import sim.workload.traces as traces

    s = _trace_scenario(tmp_path)
    read = []
    real = traces.read_trace
    monkeypatch.setattr(traces, "read_trace", lambda *a, **k: read.append(a[0]) or real(*a, **k))
    out = tmp_path / "out"
    grid = ["--grid", "fleet.pools.0.replicas=1,2", "--seeds", "2", "--out", str(out), "--quiet",
            "--executor", "serial", "--no-figures"]
    assert run(sweep_cmd, [str(s), *grid]) == 0
    assert read == [str(tmp_path / "t.csv")]       # once for the four points (the runs read it with the generator's own)
    stored = {p.name: p.read_bytes() for p in (out / "points").iterdir()}
    assert len(stored) == 4
    (tmp_path / "t.csv").write_bytes((tmp_path / "bad.csv").read_bytes())      # the trace turns bad
    read.clear()
    assert run(sweep_cmd, [str(s), *grid]) == 0                               # every point stored: none runs
    assert read == [] and "4 points (4 reused" in capsys.readouterr().err
    assert run(sweep_cmd, [str(s), "--grid", "fleet.pools.0.replicas=1,2,3", *grid[2:]]) == 2   # one more to run
    assert capsys.readouterr().err.splitlines() == [f"{s}: {BAD_ROW.replace('bad.csv', 't.csv')}"]
    assert {p.name: p.read_bytes() for p in (out / "points").iterdir()} == stored


def test_a_band_the_fluid_tier_cannot_scale_is_refused_before_any_point_runs(tmp_path, capsys):
    """A static batch's real-time wait is not rescaled by a scaled capacity at fidelity: fluid: every point
    of a sweep, plan or search with --capacity-band failed the same way (exit 1); it is refused first."""
    s = tmp_path / "s.yaml"
    s.write_text("name: t\nseed: 1\nduration: 1h\nfidelity: fluid\nmodel: llama-3-8b\n"
                 "workload: {arrival: {process: poisson, rate: 2}, prompt_tokens: {dist: fixed, value: 200},\n"
                 "           output_tokens: {dist: fixed, value: 20}}\n"
                 "fleet: {pools: [{name: p, gpu: h100-sxm, replicas: 1,\n"
                 "                 batching: {policy: static, batch_size: 8, timeout_s: 0.1}}]}\n")
    why = ("fleet.pools.0.batching.policy: a static batch waits timeout_s of real time for requests, which a scaled "
           "capacity does not rescale; run the band at fidelity: request (a scaled capacity at fidelity: fluid)")
    for cmd, flags in ((sweep_cmd, ["--grid", "fleet.pools.0.replicas=1,2"]),
                       (plan_cmd, ["--vary", "fleet.pools.0.replicas=1..2"]),
                       (saturation_cmd, [])):
        out = tmp_path / f"out-{cmd.__name__}"
        assert run(cmd, [str(s), *flags, "--capacity-band", "--out", str(out), "--quiet", "--executor", "serial"]) == 2
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and err[0].startswith(f"{s}: {why} (")
        assert not out.exists()
