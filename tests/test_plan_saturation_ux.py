"""`fleetsim plan` and `fleetsim saturation` where a planner trips: a constraint no configuration can
meet, an SLO no rate meets, a metric misnamed, a search interrupted, a long search's progress."""
import csv
import json
import signal
import subprocess
import sys
import time

import pytest

from conftest import mmc_scenario_file
from sim.cli import main
from sim.limits import ENV
from sim.planning import MMcRunner, plan, saturation
from sim.planning.constraints import parse_constraint
from sim.planning.planner import headroom_words
from sim.planning.saturation import HALVINGS_PAST_KEPT_UP, floor_reason, why_no_rate

SCENARIO = {"name": "mmc", "duration": "1h", "workload": {"arrival": {"process": "poisson", "rate": 2.0}},
            "fleet": {"pools": [{"name": "main", "gpu": "h100-sxm", "replicas": 1}]}}


def test_headroom_of_a_hopeless_bound_says_how_many_times_over_not_minus_thousands_per_cent():
    """0.1254 s against a 1 ms bound is 125.4 times the bound (slack -12,440 %); within the bound's own
    size the slack stays a per cent of it; a lower bound missed by more than its size says the gap."""
    ttft = parse_constraint("latency.ttft.p99<=0.001")
    assert ttft.slack(0.1254) == pytest.approx(-124.4)
    assert headroom_words(ttft, 0.1254, ttft.slack(0.1254)) == "×125 over"
    assert headroom_words(ttft, 0.0015, ttft.slack(0.0015)) == "-50.0%"
    assert headroom_words(ttft, 0.0005, ttft.slack(0.0005)) == "50.0%"
    att = parse_constraint("slo.attainment>=0.99")
    assert headroom_words(att, 0.0, att.slack(0.0)) == "-100.0%"
    net = parse_constraint("cashflow.net>=100")
    assert headroom_words(net, -250.0, net.slack(-250.0)) == "missed by 350"


def test_a_plan_names_the_constraint_no_configuration_meets_with_its_best_value(tmp_path, capsys):
    """M/M/1..4 with a 1 s mean service: a p99 TTFT of 1 ms is out of reach at every size (the service
    alone takes longer for 99.9 % of requests): exit 1, a line naming the constraint and its best
    value, the headroom as 'xN over' (N = value / bound), and the same in plan.csv and plan.json."""
    path = mmc_scenario_file(tmp_path, 0.5, duration="2m")
    out = tmp_path / "p"
    assert main(["plan", str(path), "--vary", "fleet.pools.0.replicas=1..4", "--constraint", "latency.ttft.p99<=0.001",
                 "--executor", "serial", "--quiet", "--no-figures", "--out", str(out)]) == 1
    printed = capsys.readouterr().out
    data = json.loads((out / "plan.json").read_text())
    [u] = data["unmet"]
    row = next(r for r in data["evaluated"] if r["overrides"] == ["fleet.pools.0.replicas=4"])
    v = row["judged:latency.ttft.p99<=0.001"]
    assert u["constraint"] == "latency.ttft.p99<=0.001" and u["best"] == v and u["at"] == ["fleet.pools.0.replicas=4"]
    assert v > 2 * 0.001 and row["headroom"] == (0.001 - v) / 0.001
    over = f"×{round(v / 0.001):,} over"
    assert row["headroom.text"] == u["headroom.text"] == over and row["headroom.constraint"] == "latency.ttft.p99<=0.001"
    lines = printed.splitlines()
    assert lines[0] == "no configuration meets every constraint"
    assert lines[1].startswith("  latency.ttft.p99<=0.001 is out of reach: no configuration tried meets it; at best "
                               "TTFT p99 ") and " ms (fleet.pools.0.replicas=4)" in lines[1] and lines[1].endswith(f"(fleet.pools.0.replicas=4), {over} its bound")
    assert lines[2] == "the largest configuration tried (it does not meet every constraint):"
    assert f" {over} " in lines[5] and "%" not in lines[5]
    with open(out / "plan.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["headroom.text"] for r in rows if r["fleet.pools.0.replicas"] == "4"} == {over}


def test_a_plan_that_meets_its_constraints_prints_no_unmet_line_and_counts_in_words(tmp_path, capsys):
    path = mmc_scenario_file(tmp_path, 0.5, duration="2m")
    assert main(["plan", str(path), "--vary", "fleet.pools.0.replicas=2..2", "--executor", "serial", "--quiet",
                 "--no-figures", "--out", str(tmp_path / "p")]) == 0
    captured = capsys.readouterr()
    assert "out of reach" not in captured.out and "the configuration found:" in captured.out
    assert "no --constraint given: the answer is the cheapest configuration that keeps up" in captured.err
    assert "1 configuration evaluated × 1 seed;" in captured.err
    assert json.loads((tmp_path / "p" / "plan.json").read_text())["unmet"] == []


@pytest.mark.parametrize("flag, value, line", [
    ("--objective", "speed", "--objective: unknown metric speed: must be a numeric summary key"),
    ("--constraint", "ttft<=2", "--constraint: unknown metric ttft (did you mean latency.ttft.p99 or "),
    ("--objective", " ", "--objective: empty: give the summary key to minimise, such as latency.ttft.p99, or cost"),
])
def test_an_unknown_metric_is_named_after_the_flag_that_gave_it(tmp_path, capsys, flag, value, line):
    path = mmc_scenario_file(tmp_path, 0.5, duration="2m")
    assert main(["plan", str(path), "--vary", "fleet.pools.0.replicas=1..2", flag, value, "--executor", "serial",
                 "--quiet", "--no-figures", "--out", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(line) and "Traceback" not in err and err.count("\n") == 1


def test_saturation_stops_halving_64_times_below_a_rate_the_fleet_kept_up_with(tmp_path, capsys):
    """An SLO no rate meets (TTFT <= 1 ms where the prompt's prefill alone takes ~1 s): from 0.5 req/s,
    which one server keeps up with, six halvings and no more (once ~1e-11 req/s); exit 1 and one
    sentence naming the constraint, its value at the lowest rate and the latency that misses."""
    path = mmc_scenario_file(tmp_path, 0.5, duration="10m", slo={"ttft_s": 0.001})
    out = tmp_path / "s"
    assert main(["saturation", str(path), "--executor", "serial", "--quiet", "--out", str(out)]) == 1
    last = capsys.readouterr().out.splitlines()[-1]
    data = json.loads((out / "saturation.json").read_text())
    rates = [p["rate"] for p in data["probes"]]
    assert rates == [0.5 / 2 ** k for k in range(HALVINGS_PAST_KEPT_UP + 1)]
    assert data["probes"][0]["stable"] is True and not any(p["feasible"] for p in data["probes"])
    low = data["probes"][-1]
    assert last == data["why_no_rate"]
    assert last.startswith(f"no rate meets the SLO: at {rates[-1]:g} req/s, the lowest rate tried (no lower rate "
                           f"tried: it would be more than 64× below 0.5 req/s, a rate the fleet kept up with), "
                           f"SLO attainment {low['slo.attainment.mean'] * 100:,.4g} %, needs >= 99 %, with "
                           f"TTFT p99 {low['latency.ttft.p99.mean'] * 1000:,.4g} ms against the SLO's 1 ms (ttft_s)")


def test_saturation_goes_no_lower_than_one_request_per_run():
    """100 s runs from 0.04 req/s (4 requests): 0.02 (2) and 0.01 (1) are tried, 0.005 (half a
    request) is not."""
    res = saturation({**SCENARIO, "duration": "100s"}, runner=MMcRunner(service_s=0.2, duration_s=100.0),
                     constraints=["latency.ttft.p99<=0.01"], start=0.04, executor="serial")
    assert res.rate is None and [p["rate"] for p in res.probes] == [0.04, 0.02, 0.01]
    assert "(no lower rate tried: it would bring less than one request into the 100 s run)" in res.why_none
    assert "TTFT p99 921 ms, needs <= 10 ms" in res.why_none      # -ln(0.01) x 0.2 s = 0.921 s


def test_after_a_rate_that_completed_no_request_the_sentence_cites_the_lowest_that_did():
    probes = [{"rate": 0.02, "n": 1, "requests.completed.mean": 3.0, "feasible": False, "stable": True,
               "why": "TTFT p99 900 ms, needs <= 10 ms"},
              {"rate": 0.01, "n": 1, "requests.completed.mean": 0.0, "feasible": False, "stable": True,
               "why": "latency.ttft.p99 missing"}]
    stopped = floor_reason(0.005, probes, None)
    assert stopped == "0.01 req/s completed no request"
    assert why_no_rate(probes, [], stopped) == (
        "no rate meets the SLO: at 0.02 req/s, the lowest rate tried that completed requests (no lower rate tried: "
        "0.01 req/s completed no request), TTFT p99 900 ms, needs <= 10 ms")
    assert why_no_rate(probes[1:], [], stopped) == "no rate tried completed a request (lowest tried 0.01 req/s)"


def test_an_overloaded_start_is_no_reason_to_stop_halving(tmp_path):
    """From 64 times one server's capacity (service 1 s), the halvings past rates the fleet did not keep
    up with do not count: the search comes down past 64 / 64 = 1 req/s to 0.5 req/s, where 99 % of
    requests start within 10 s (M/M/1 sojourn: P(T > 10 s) = exp(-10 (1 - 0.5)) = 0.7 %)."""
    path = mmc_scenario_file(tmp_path, 64.0, duration="3m", slo={"ttft_s": 10.0})
    res = saturation(path, executor="serial", rel_tol=0.5)
    assert [p["rate"] for p in res.probes][:7] == [64.0 / 2 ** k for k in range(7)]
    assert res.rate is not None and 0.5 <= res.rate < 1.0 and res.why_none is None


def test_a_plan_says_which_round_of_how_many_its_progress_bar_is_in(capsys):
    """1..8 is bisected in at most 1 + log2(8) = 4 rounds (the top, then three halvings)."""
    plan(SCENARIO, ["fleet.pools.0.replicas=1..8"], constraints=["latency.ttft.p99<=3"],
         runner=MMcRunner(service_s=1.0), executor="serial", progress=True)
    err = capsys.readouterr().err
    assert "plan round 1 of at most 4" in err and "round 5" not in err


@pytest.mark.parametrize("command", [
    ["plan", "--vary", "fleet.pools.0.replicas=1..8", "--constraint", "latency.ttft.p99<=2"],
    ["saturation", "--start", "40"],
])
def test_an_interrupted_plan_or_saturation_says_what_it_kept_and_that_a_rerun_resumes(tmp_path, command):
    out = tmp_path / "o"
    argv = [command[0], "scenarios/baseline.yaml", *command[1:], "--set", "duration=10m", "--set", "warmup=0",
            "--executor", "serial", "--quiet", "--out", str(out)]
    proc = subprocess.Popen([sys.executable, "-m", "sim", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list((out / "points").glob("*.json")) and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    n = len(list((out / "points").glob("*.json")))
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == (f"interrupted: {n} finished point{'s' if n > 1 else ''} kept in "
                                            f"{out / 'points'}; the same command resumes from "
                                            f"{'them' if n > 1 else 'it'}")
    assert n >= 1


@pytest.mark.parametrize("argv, line", [
    (["plan", "--vary", "fleet.pools.0.replicas=1..4", "--seeds", "200000"],
     "--seeds: up to 3 configurations x 200,000 seeds = 600,000 points (at most 100,000)"),   # 4, 2, 1 (or 3)
    (["saturation", "--seeds", "3000"], "--seeds: up to 40 configurations x 3,000 seeds = 120,000 points"),
    (["plan", "--vary", "fleet.pools.0.replicas=1..1000", "--vary", "fleet.pools.0.max_num_seqs=1..1000000",
      "--vary", "workload.arrival.rate=1..100000"],
     "--vary: up to 1,100,000,000,000 configurations x 1 seeds"),      # 10^6 x 10^5 groups x 11 rounds
])
def test_a_search_past_the_points_limit_is_refused_before_any_run(tmp_path, capsys, monkeypatch, argv, line):
    """Without this a plan ran 200,000 seeds a round in silence (and built 10^11 groups in memory)."""
    monkeypatch.delenv(ENV, raising=False)      # an earlier --allow-large in this process set it
    assert main([argv[0], "scenarios/baseline.yaml", *argv[1:], "--executor", "serial", "--quiet",
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"scenarios/baseline.yaml: {line}") and "--allow-large" in err
    assert not (tmp_path / "o" / "points").exists()


@pytest.mark.parametrize("argv, wrote", [
    (["plan", "--vary", "fleet.pools.0.replicas=1..2", "--no-figures"], "plan.json"),
    (["saturation", "--tolerance", "0.5"], "saturation.json"),
])
def test_a_rerun_into_the_same_folder_says_its_runs_were_reused(tmp_path, capsys, argv, wrote):
    path = mmc_scenario_file(tmp_path, 0.5, duration="2m", slo={"ttft_s": 10.0})
    out = tmp_path / "o"
    args = [argv[0], str(path), *argv[1:], "--executor", "serial", "--quiet", "--out", str(out)]
    assert main(args) == 0
    first = capsys.readouterr()
    assert "reused" not in first.err
    table = (out / wrote).read_bytes()
    assert main(args) == 0
    again = capsys.readouterr()
    n = len(list((out / "points").glob("*.json")))
    assert f"{n} of {n} runs reused from {out}; wrote {out / wrote}" in again.err
    assert again.out == first.out and (out / wrote).read_bytes() == table
