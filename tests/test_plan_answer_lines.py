"""Under a plan's answer: what a million tokens cost counted both ways (output alone, and prompt plus output,
with the prompts' share), and which runs the constraints were judged on. Checked by hand arithmetic on fixed
lengths: 900-token prompts and 100-token outputs make every completed request 9 prompt tokens to 1 output
token, so the prompts are 90.0 % of the tokens and a million tokens of both cost a tenth of a million
output tokens."""
import json
from pathlib import Path

import yaml

from sim.cli import main
from sim.commands.plan import judged_line, million_tokens_line

ROOT = Path(__file__).resolve().parent.parent


def _scenario(tmp_path):
    scn = {"name": "lines", "seed": 7, "duration": "2m", "warmup": "10s", "model": "llama-3-8b",
           "workload": {"arrival": {"process": "poisson", "rate": 2.0},
                        "prompt_tokens": {"dist": "fixed", "value": 900},
                        "output_tokens": {"dist": "fixed", "value": 100}},
           "fleet": {"pools": [{"name": "main", "gpu": "h100-sxm", "replicas": 1}]},
           "economics": {"gpu_hour_usd": 6.16}}
    path = tmp_path / "lines.yaml"
    path.write_text(yaml.safe_dump(scn))
    return path


def test_the_answer_says_a_million_tokens_both_ways_and_the_seeds_it_was_judged_on(tmp_path, capsys):
    out_dir = tmp_path / "plan"
    assert main(["plan", str(_scenario(tmp_path)), "--vary", "fleet.pools.0.replicas=1,2",
                 "--constraint", "latency.ttft.p99<=5", "--seeds", "2", "--out", str(out_dir),
                 "--no-figures", "--quiet"]) == 0
    said = capsys.readouterr()
    text = " ".join(said.out.split())
    # what "feasible" means is said under the table with the other columns' words
    assert "feasible: meets every constraint at its judged value and keeps up with its traffic" in " ".join(said.err.split())
    best = json.loads((out_dir / "plan.json").read_text())["best"]
    per_out, per_all = best["cost.per_million_output_tokens.mean"], best["cost.per_million_tokens.mean"]
    assert abs(per_all - per_out / 10) < 1e-9 * per_out          # 100 of every 1,000 tokens are output
    assert (f"a million tokens costs ${per_out:,.2f} counting output tokens alone, ${per_all:,.2f} counting "
            f"prompt and output tokens (90.0 % of them prompt tokens)") in text
    # replication i runs at the scenario's seed + i: seeds 7 and 8 here
    assert ("constraints judged at the unfavourable end of the 95 % interval over 2 runs each "
            "(seeds: the scenario's seed + 0, 1)") in text


def test_one_seed_says_there_is_no_interval_and_no_constraint_says_nothing():
    assert judged_line(1, True).startswith("constraints judged on one run each (the scenario's seed), no interval")
    assert judged_line(10, True).endswith("over 10 runs each (seeds: the scenario's seed + 0, 1, ..., 9)")
    assert judged_line(3, False) == ""
    assert million_tokens_line({"cost.per_million_output_tokens.mean": 1.0}) == ""    # an older row, no total


def test_the_plan_page_gives_the_price_per_million_tokens_both_ways(tmp_path, capsys):
    from sim.report import write_report

    out_dir = tmp_path / "plan"
    assert main(["plan", str(_scenario(tmp_path)), "--vary", "fleet.pools.0.replicas=1,2",
                 "--constraint", "latency.ttft.p99<=5", "--out", str(out_dir), "--no-figures", "--quiet"]) == 0
    best = json.loads((out_dir / "plan.json").read_text())["best"]
    page = write_report(out_dir, regenerate=False).read_text()
    per_out, per_all = best["cost.per_million_output_tokens.mean"], best["cost.per_million_tokens.mean"]
    assert (f"${per_out:,.2f} per million output tokens, ${per_all:,.2f} per million prompt and output "
            f"tokens)") in page


def test_one_fewer_than_the_answer_is_said_with_why_it_fails(tmp_path):
    """Erlang C: 10 req/s of 1 s exponential service wait 0.1 s or less on average from 13 servers up
    (12: more), so the plan answers 13 and says what 12 gave, as the search tried it."""
    from sim.commands.plan import one_fewer_line
    from sim.planning import MMcRunner, plan
    from sim.planning.erlang import mean_wait_s

    assert mean_wait_s(12, 10.0, 1.0) > 0.1 >= mean_wait_s(13, 10.0, 1.0)
    base = {"seed": 1, "workload": {"arrival": {"rate": 10.0}}, "fleet": {"pools": [{"replicas": 1, "gpu": "a"}]}}
    res = plan(base, ["fleet.pools.0.replicas=1..32"], constraints=["latency.queue.mean<=0.1"], executor="serial",
               out=tmp_path / "p", figures=False, progress=False, runner=MMcRunner(service_s=1.0))
    assert res.best["fleet.pools.0.replicas"] == 13
    line = one_fewer_line(res.best, res.evaluated, res.knobs)
    # Erlang C's W_q(12) = 224.7 ms, said with the bound it misses
    assert line == (f"one fewer, fleet.pools.0.replicas=12, fails: queue wait mean "
                    f"{mean_wait_s(12, 10.0, 1.0) * 1000:.1f} ms, needs <= 100 ms")
    # the range's lowest value has no one fewer to say
    low = plan(base, ["fleet.pools.0.replicas=13..32"], constraints=["latency.queue.mean<=0.1"], executor="serial",
               out=tmp_path / "q", figures=False, progress=False, runner=MMcRunner(service_s=1.0))
    assert low.best["fleet.pools.0.replicas"] == 13 and one_fewer_line(low.best, low.evaluated, low.knobs) == ""


def test_the_answer_says_how_much_more_traffic_it_takes_beside_the_constraints_slack(tmp_path, capsys):
    """"How much headroom do we have?" is a question of traffic, which the table's headroom column (the
    tightest constraint's slack) does not answer: the answer's load factor does, as a ceiling. 1 / 0.782 - 1
    = 0.279: room for about 28 % more."""
    from sim.report.planner_columns import traffic_line

    assert traffic_line({"utilization.load_factor.mean": 0.782}).startswith(
        "traffic headroom: load factor 0.78: room for about 28% more traffic at the batch limits, less within "
        "the constraints: fleetsim saturation")
    out_dir = tmp_path / "plan"
    assert main(["plan", str(_scenario(tmp_path)), "--vary", "fleet.pools.0.replicas=1,2",
                 "--constraint", "latency.ttft.p99<=5", "--out", str(out_dir), "--no-figures", "--quiet"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    lf = json.loads((out_dir / "plan.json").read_text())["best"]["utilization.load_factor.mean"]
    assert 0 < lf < 0.5           # 2 req/s of 900 + 100 tokens is a small share of an H100's batch limits
    assert (f"traffic headroom: load factor {lf:.2f}: room for about {1 / lf:.2g}x this traffic at the batch "
            f"limits") in text


def test_the_plan_page_says_the_answers_traffic_headroom_too(tmp_path):
    from sim.report import write_report

    out_dir = tmp_path / "plan"
    assert main(["plan", str(_scenario(tmp_path)), "--vary", "fleet.pools.0.replicas=1,2",
                 "--constraint", "latency.ttft.p99<=5", "--out", str(out_dir), "--no-figures", "--quiet"]) == 0
    lf = json.loads((out_dir / "plan.json").read_text())["best"]["utilization.load_factor.mean"]
    page = " ".join(write_report(out_dir, regenerate=False).read_text().split())
    assert f"<p>Traffic headroom: load factor {lf:.2f}: room for about" in page


def test_a_plans_table_in_a_terminal_leaves_out_feasible_first_and_keeps_both_constraints_in_one_block(
        tmp_path, capsys, monkeypatch):
    """Two constraints, a GPU and its price as one knob: at 100 columns the table repeated the answer column's
    meets / fails as feasible yes / no and left the second constraint's column for a block of its own under
    the first. Feasible is now the first column to go (said with the others left out)."""
    monkeypatch.setenv("COLUMNS", "100")
    assert main(["plan", str(_scenario(tmp_path)), "--vary", "fleet.pools.0.replicas=1,2",
                 "--vary", "fleet.pools.0.gpu&economics.gpu_hour_usd=h100-sxm&6.16,h200-sxm&6.31",
                 "--constraint", "latency.ttft.p99<=5", "--constraint", "latency.tpot.p99<=0.5",
                 "--out", str(tmp_path / "plan"), "--no-figures", "--quiet"]) == 0
    said = capsys.readouterr()
    lines = said.out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("fleet."))
    rule = next(i for i in range(head, len(lines)) if lines[i].startswith("---"))
    heading = " ".join(lines[head:rule])
    assert "answer" in heading and "ttft" in heading and "tpot" in heading and "feasible" not in heading
    assert sum(line.startswith("---") for line in lines) == 1            # one block
    assert all(len(line) <= 100 for line in lines[head:])
    assert "left out to fit 100 columns: feasible" in " ".join(said.err.split())


def test_a_disaggregated_answer_says_the_traffic_headroom_of_its_bottleneck_pool(tmp_path, capsys):
    """Every request passes through the prefill pool, then the decode pool: more traffic reaches the busier
    one's batch limits first. One prefill replica beside three decode ones (scenarios/disaggregated.yaml's
    6 req/s of 2,000-token prompts): the fleet's load factor, their mean by replica-seconds, said "about
    3.5x this traffic" where the prefill pool, at about 0.78, takes some 28 % more. The stability verdict's
    offered load factor, worked by another path (the bottleneck stage's work offered over its capacity in
    the arrival window), names the same pool's load within a few per cent."""
    scn = yaml.safe_load((ROOT / "scenarios" / "disaggregated.yaml").read_text())
    scn.update(duration="6m")
    scn["fleet"]["pools"][0]["replicas"] = 1
    path = tmp_path / "disagg.yaml"
    path.write_text(yaml.safe_dump(scn))
    out_dir = tmp_path / "plan"
    assert main(["plan", str(path), "--vary", "fleet.pools.1.replicas=3", "--constraint", "latency.ttft.p99<=60",
                 "--out", str(out_dir), "--no-figures", "--quiet", "--executor", "serial"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    best = json.loads((out_dir / "plan.json").read_text())["best"]
    prefill, decode = best["pools.prefill.load_factor.mean"], best["pools.decode.load_factor.mean"]
    assert decode < best["utilization.load_factor.mean"] < prefill
    assert abs(prefill / best["stability.offered_load_factor.mean"] - 1) < 0.05
    more = round(100 * (1 / prefill - 1))
    assert (f"traffic headroom of pool prefill, the busiest of 2: load factor {prefill:.2f}: room for about "
            f"{more}% more traffic at the batch limits") in text
