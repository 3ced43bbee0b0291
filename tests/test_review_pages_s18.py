"""Three planner-facing defects of the run header and ``fleetsim plan``:

* a pool set to 0 replicas read "0 × 8 h200-sxm (TP 8) serving deepseek-v3", as if it served: it is said off;
* the nearest miss, on a tie in headroom, named the cheapest miss (2 replicas where 3 also failed, nearer the
  answer of 4): it names the miss nearest the answer;
* a plan with one ``--vary`` group whose layout cannot hold the model (a 70B model on one GPU) was refused
  whole, naming the replica count its bisection tried first: the group is skipped and said, the plan answers
  from the others, and when none can hold it the refusal says why without the irrelevant replica count.
"""
import argparse
import json

import pytest
import yaml

from sim.commands import plan as plan_cmd
from sim.report.planner_columns import nearest_miss, plan_rows
from sim.report.scenario_words import scenario_described, summary_described
from sim.report.search_pages import add_plan
from sim.report.html_page import Page

from conftest import mmc_scenario_file


# --- 1. a pool at 0 replicas --------------------------------------------------------------------------------

def _two_pools(second: dict) -> dict:
    return {"model": "deepseek-v3", "duration": 1200,
            "workload": {"arrival": {"process": "poisson", "rate": 15}},
            "fleet": {"pools": [{"name": "ep16", "gpu": "h200-sxm", "replicas": 2, "tensor_parallel": 16,
                                 "expert_parallel": 16},
                                {"name": "tp8", "gpu": "h200-sxm", "tensor_parallel": 8, **second}]}}


def test_a_pool_at_0_replicas_is_said_off_not_as_serving():
    sentences, settings = scenario_described("ds", _two_pools({"replicas": 0}), {})
    assert "pool tp8 off (0 replicas of 8 h200-sxm, TP 8)" in sentences[0]
    assert "0 ×" not in sentences[0]
    assert sentences[0].count("serving deepseek-v3") == 1      # the pool that serves, only
    assert dict(settings)["pool tp8"] == "off (0 replicas of 8 h200-sxm, TP 8)"     # its row names the pool
    # the pool that serves reads as before
    assert "2 × 16 h200-sxm (TP 16, EP 16) serving deepseek-v3" in sentences[0]


def test_a_pool_autoscaled_from_0_is_not_said_off():
    auto = {"replicas": 0, "autoscale": {"min": 0, "max": 4, "target": 0.7}}
    sentences, _ = scenario_described("ds", _two_pools(auto), {"tp8": {"replicas_mean": 1.5}})
    assert "off" not in sentences[0]
    assert "0–4 × 8 h200-sxm (TP 8), autoscaled" in sentences[0]


def test_a_summary_alone_says_a_pool_that_never_had_a_replica_off():
    """A folder without scenario.json: the summary's pool at 0 replicas, none provisioned over the run, is
    off; one that starts at 0 and had replicas (autoscaled) is said by its count, as before."""
    off = {"gpu": "h200-sxm", "replicas": 0, "replicas_provisioned_total": 0, "replicas_mean": 0.0,
           "tensor_parallel": 8}
    sentences, _ = summary_described("ds", {"tp8": off}, 1200)
    assert sentences[0].startswith("ds: pool tp8 off (0 replicas of 8 h200-sxm, TP 8)")
    sentences, _ = summary_described("ds", {"tp8": {**off, "replicas_mean": 1.2}}, 1200)
    assert sentences[0].startswith("ds: 0 × 8 h200-sxm (TP 8)")


# --- 2. the nearest miss ------------------------------------------------------------------------------------

def _row(n, feasible, headroom, cost):
    return {"n": 1, "feasible": feasible, "headroom": headroom, "cost.compute_usd.mean": cost,
            "overrides": [f"r={n}"]}


def test_the_nearest_miss_on_a_tie_is_the_one_nearest_the_answer():
    """The TP8 DeepSeek plan's rows: 2 and 3 replicas both at 0 % attainment (headroom -100 %), 4 meets
    them: 3 is the fleet just short of the answer; before, the cheaper, 2, was named."""
    rows = [_row(8, True, 0.0101, 74.67), _row(4, True, 0.0101, 37.33),
            _row(2, False, -1.0, 18.67), _row(3, False, -1.0, 28.0)]
    shown = plan_rows([(rows[1], "")], rows, "cost.compute_usd")
    assert [(r["overrides"], a) for r, a in shown] == [(["r=4"], ""), (["r=3"], "nearest miss")]
    # a miss with more headroom still comes first, however far from the answer in cost
    rows.append(_row(1, False, -0.5, 9.33))
    assert nearest_miss(rows, "cost.compute_usd", rows[1])["overrides"] == ["r=1"]
    # a tie across groups: the one nearest the answer in cost, above or below it
    tie = [_row(10, False, -1.0, 30.0), _row(11, False, -1.0, 45.0), _row(12, False, -1.0, 60.0)]
    assert nearest_miss(tie, "cost.compute_usd", {"cost.compute_usd.mean": 40.0})["overrides"] == ["r=11"]
    # no answer: the costliest of the tie (the most a plan tried that still fell short)
    assert nearest_miss(tie, "cost.compute_usd")["overrides"] == ["r=12"]


@pytest.fixture
def wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")        # one line per row, no heading broken


def _plan(tmp_path, capsys, scn, *args):
    parser = argparse.ArgumentParser()
    plan_cmd.add_arguments(parser)
    code = plan_cmd.main(parser.parse_args([str(scn), *args, "--out", str(tmp_path / "p"), "--quiet",
                                            "--no-figures"]))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_plan_names_the_largest_fleet_short_of_the_answer(tmp_path, capsys, wide):
    """M/M/c at 4 req/s, ~1.0005 s service: ρ = 4.002 / c, so 3 and 4 servers cannot keep up and 5 can.
    Bisecting 1..12 tries 12, 6, 3, 5, 4: with no constraint both misses have no headroom (a tie), and
    the nearest miss is 4, the fleet just short of the answer (3 before)."""
    code, out, _ = _plan(tmp_path, capsys, mmc_scenario_file(tmp_path, 4.0, seed=3, duration="5m"),
                         "--vary", "fleet.pools.0.replicas=1..12")
    assert code == 0
    rows = [line.split() for line in out.splitlines() if "nearest miss" in line and line.strip()[0].isdigit()]
    assert len(rows) == 1 and rows[0][0] == "4"
    tried = {tuple(r["overrides"]) for r in json.loads((tmp_path / "p" / "plan.json").read_text())["evaluated"]}
    assert ("fleet.pools.0.replicas=3",) in tried         # 3 also failed: the tie is real


# --- 3. a layout that cannot hold the model -----------------------------------------------------------------

def _big_model(tmp_path):
    """The M/M/c scenario (linear step times, so the GPUs per replica do not change the queue) with a 70B
    model: 131.4 GiB of bf16 weights do not fit one 80 GiB H100, and fit two."""
    path = mmc_scenario_file(tmp_path, 4.0, seed=3, duration="5m")
    data = yaml.safe_load(path.read_text())
    data["model"] = "llama-3-70b"
    data["fleet"]["pools"][0]["max_model_len"] = 8192
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_plan_skips_the_layout_that_cannot_hold_the_model_and_answers_from_the_others(tmp_path, capsys, wide):
    code, out, err = _plan(tmp_path, capsys, _big_model(tmp_path), "--vary", "fleet.pools.0.tensor_parallel=1,2",
                           "--vary", "fleet.pools.0.replicas=1..12")
    assert code == 0, err
    assert "cheapest meeting all constraints: fleet.pools.0.tensor_parallel=2, fleet.pools.0.replicas=5" in out
    said = " ".join(out.split())
    assert ("skipped fleet.pools.0.tensor_parallel=1, which cannot hold the model: fleet.pools.0: llama-3-70b "
            "does not fit on 1x h100-sxm") in said
    plan = json.loads((tmp_path / "p" / "plan.json").read_text())
    assert [s["group"] for s in plan["skipped"]] == [["fleet.pools.0.tensor_parallel=1"]]
    assert all("tensor_parallel=1" not in o for r in plan["evaluated"] for o in r["overrides"])   # never ran
    page = Page(title="plan")
    add_plan(page, tmp_path / "p", regenerate=False)
    assert "Skipped fleet.pools.0.tensor_parallel=1, which cannot hold the model: fleet.pools.0: llama-3-70b " \
           "does not fit on 1x h100-sxm" in "".join(page.sections)


def test_listed_values_skip_the_configurations_that_cannot_hold_the_model(tmp_path, capsys, wide):
    """Without a range every configuration is a group: the two on one GPU are skipped, 3 and 6 on two run
    (ρ = 1.33 and 0.67: 6 keeps up)."""
    code, out, err = _plan(tmp_path, capsys, _big_model(tmp_path), "--vary", "fleet.pools.0.tensor_parallel=1,2",
                           "--vary", "fleet.pools.0.replicas=3,6")
    assert code == 0, err
    assert "cheapest meeting all constraints: fleet.pools.0.tensor_parallel=2, fleet.pools.0.replicas=6" in out
    plan = json.loads((tmp_path / "p" / "plan.json").read_text())
    assert len(plan["skipped"]) == 2 and len(plan["evaluated"]) == 2


def test_a_plan_no_layout_of_which_holds_the_model_says_why_not_which_replica_count(tmp_path, capsys):
    code, out, err = _plan(tmp_path, capsys, _big_model(tmp_path), "--vary", "fleet.pools.0.tensor_parallel=1",
                           "--vary", "fleet.pools.0.replicas=1..12")
    assert code == 2
    assert "llama-3-70b does not fit on 1x h100-sxm" in err
    assert "(with fleet.pools.0.tensor_parallel=1, whatever fleet.pools.0.replicas)" in err
    assert "replicas=12" not in err
    # the replica count alone varied: the reason, said of no configuration
    code, out, err = _plan(tmp_path, capsys, _big_model(tmp_path).parent / "mmc.yaml",
                           "--set", "fleet.pools.0.tensor_parallel=1", "--vary", "fleet.pools.0.replicas=1..12")
    assert code == 2 and "(whatever fleet.pools.0.replicas)" in err and "replicas=12" not in err


def test_a_configuration_refused_for_another_reason_still_refuses_the_plan(tmp_path, capsys):
    """Only a layout that cannot hold the model is skipped: a value that is not a GPU count is a mistake to
    say, not a layout to pass over."""
    code, out, err = _plan(tmp_path, capsys, _big_model(tmp_path), "--vary", "fleet.pools.0.tensor_parallel=2,x",
                           "--vary", "fleet.pools.0.replicas=1..12")
    assert code == 2
    assert "fleet.pools.0.tensor_parallel: must be a whole number" in err


# --- review: what the pages said in two ways ----------------------------------------------------------------

def test_a_compared_attainment_short_of_100_per_cent_does_not_read_100(tmp_path):
    """baseline (every request within the SLO: 1.0) against mixed_fleet (0.9999862): the compare table read
    "100 %" then "100.0 %" with a change of -0.00138 pp between them; the second now reads below 100."""
    from sim.report.comparison_words import cell

    assert cell("slo.attainment", 1.0) == "100 %"
    assert cell("slo.attainment", 0.9999862) == "99.999 %"
    assert cell("slo.attainment", 0.9987) == "99.87 %"          # as before where four figures tell it


def test_the_saturation_figures_target_says_its_per_cent_as_the_page_does(tmp_path, monkeypatch):
    """The page's answer and table say attainment in per cent (≥ 99.0%); the figure's legend said 0.99."""
    from sim.report import sweep_figures

    figs = []
    real = sweep_figures.save_figure
    monkeypatch.setattr(sweep_figures, "save_figure", lambda fig, stem, *a, **k: figs.append(fig) or real(fig, stem, *a, **k))
    sweep_figures.saturation_figure({"rate": 84.0, "attainment": 0.99, "probes": [
        {"rate": 84.0, "feasible": True, "slo.attainment.mean": 1.0, "latency.ttft.p99.mean": 0.9},
        {"rate": 87.0, "feasible": False, "slo.attainment.mean": 0.0, "latency.ttft.p99.mean": 12.0}]},
        tmp_path / "saturation")
    legend = [t.get_text() for t in figs[0].axes[0].get_legend().get_texts()]
    assert "target 0.99 (≥ 99.0%)" in legend


def test_an_arrival_rate_too_small_per_second_is_said_as_the_throughput_line_says_it():
    """Ten requests over four months: the run's throughput line said '0.0667 req/day' while the header
    above it said 'Poisson arrivals at 1e-06 req/s'. 1e-06 req/s x 86,400 s = 0.0864 req/day, in the unit
    the throughput line picks for the same rate; 12 req/s stays per second."""
    from sim.report_text import _rate

    scenario = {"duration": 120 * 86400, "workload": {"arrival": {"process": "poisson", "rate": 1e-06}},
                "fleet": {"pools": [{"name": "main", "gpu": "h100-sxm", "replicas": 4}]}, "model": "llama-3-8b"}
    sentences, settings = scenario_described("tiny", scenario, {})
    assert "Poisson arrivals at 0.0864 req/day" in sentences[0] and "e-06" not in sentences[0]
    assert _rate(1e-06, "req/s", 2) == "0.0864 req/day"
    scenario["workload"]["arrival"] = {"process": "gamma", "cv": 2, "rate": 0.002}
    assert "at 7.2 req/h" in scenario_described("tiny", scenario, {})[0][0]      # 0.002 x 3,600
    scenario["workload"]["arrival"] = {"process": "poisson", "rate": 12}
    assert "Poisson arrivals at 12 req/s" in scenario_described("tiny", scenario, {})[0][0]
