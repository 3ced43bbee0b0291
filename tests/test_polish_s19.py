"""What a person reads from a plan: each test reproduces what the output said before and checks what it
says now (the numbers written out by hand)."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("value, shown", [
    (0.9999, "99.99"),      # plain() wrote "1.000" in a column headed (0-1)
    (0.99999, "99.999"),    # two decimals would round it to 100.00
    (0.999999999, "99.999999"),     # six decimals at most, cut toward the value: still below 100
    (1.0, "100.00"),
    (0.0, "0.00"),
    (1e-6, "0.0001"),       # two decimals would round it to 0.00
    (0.0267, "2.67"),
])
def test_a_share_in_a_plan_or_sweep_table_never_reads_as_100_or_0_unless_it_is(value, shown):
    from sim.commands.sweep import metric_text, with_unit

    assert with_unit("slo.attainment") == "slo.attainment (%)"
    assert metric_text("slo.attainment", value) == shown


def test_a_share_just_short_of_a_constraints_bound_does_not_read_as_the_bound():
    """0.98996 to two decimals is 99.00 %, the bound's own text: a third decimal tells them apart; and a
    value of exactly 1 beside a bound of 0.99995 (100.00 % to two decimals too) gets as many."""
    from sim.commands.sweep import metric_text

    assert metric_text("slo.attainment", 0.98996, [0.99]) == "98.996"
    assert metric_text("slo.attainment", 0.98996) == "99.00"      # no bound to keep apart from
    assert metric_text("slo.attainment", 1.0, [0.99995]) == "100.000"


def test_the_why_not_words_say_a_bound_short_of_100_per_cent_with_its_digits():
    """'needs >= 100 %' for slo.attainment>=0.99995 read as a bound no fleet can be short of."""
    from sim.metrics.names import amount, bound_words
    from sim.planning.constraints import parse_constraint
    from sim.planning.evaluator import miss_words

    assert bound_words("slo.attainment", ">=", 0.99995) == "needs >= 99.995 %"
    assert amount("slo.attainment", 0.99999) == "99.999 %"          # was "100 %"
    assert amount("slo.attainment", 0.0196) == "1.96 %" and amount("slo.attainment", 1.0) == "100 %"
    c = parse_constraint("slo.attainment>=0.99")
    assert miss_words(c, 0.98996, 0.98996) == "SLO attainment 98.996 %, needs >= 99 %"     # was "99 %, needs >= 99 %"


def test_the_run_summary_and_the_pages_say_an_attainment_short_of_1_below_100_per_cent():
    from sim.metrics.band import attainment_range
    from sim.report.html_page import fmt
    from sim.report_text import attainment

    assert attainment(0.99999) == "99.999%" and attainment(0.9876) == "98.76%" and attainment(1.0) == "100.00%"
    assert fmt(0.9999, "%") == "99.99%" and fmt(1.0, "%") == "100.0%" and fmt(0.00001, "%") == "0.001%"
    band = {"slower": {"slo": {"attainment": 0.99999}, "stability": {"stable": True}},
            "faster": {"slo": {"attainment": 1.0}, "stability": {"stable": True}}}
    assert attainment_range(band) == "99.999% – 100.00%"


def test_the_plan_table_says_a_bound_short_of_1_as_it_is(tmp_path, capsys):
    """Two H100s at 50 req/s do not keep up (the why-not names the bound as given, 99.995 %, not 100 %); three
    serve every request within the SLO in two minutes: 100 % exactly, written with the digits that tell it
    from the bound's 99.995 (both 100.00 to two decimals)."""
    from sim.cli import main

    assert main(["plan", "scenarios/baseline.yaml", "--set", "duration=2m", "--set", "warmup=0", "--set",
                 "workload.arrival.rate=50", "--vary", "fleet.pools.0.replicas=2,3", "--constraint",
                 "slo.attainment>=0.99995", "--out", str(tmp_path / "p"), "--quiet", "--no-figures",
                 "--executor", "serial"]) == 0
    out = capsys.readouterr().out
    assert "needs >= 99.995 %" in out and "needs >= 100 %" not in out
    lines = out.splitlines()
    head = next(line for line in lines if line.startswith("fleet.pools.0.replicas"))
    assert "slo.attainment (%)" in head
    answer = next(line for line in lines if line.split()[:2] == ["3", "answer"])
    col = head.index("slo.attainment (%)") + len("slo.attainment (%)")
    assert answer[:col].split()[-1] == "100.000"


def test_a_plans_progress_numbers_every_round_those_run_ahead_too(capsys):
    """M/M/c at 2.5 req/s, 1 s service, TTFT p99 <= 15 s (first met at 3 servers, Erlang C): the bisection
    of 1..16 probes 16, 8, 4, 2, 3, one a round, 1 + log2(16) = 5 rounds. With a worker to spare each
    round runs the next probe ahead (tests/test_planning_speed.py: 8 with 16, 2 with 4), so rounds 2
    and 4 had nothing left to run and drew no bar: the progress read rounds 1, 3, 5."""
    import re

    from sim.planning import MMcRunner, plan
    from sim.planning.executors import SerialExecutor

    class TwoSlots(SerialExecutor):
        """Runs in this process, one call after the other, but says it has two workers: a search runs ahead."""
        slots = 2
        one_at_a_time = False

    scenario = {"seed": 1, "workload": {"arrival": {"rate": 2.5}}, "fleet": {"pools": [{"replicas": 1, "gpu": "x"}]}}
    res = plan(scenario, ["fleet.pools.0.replicas=1..16"], constraints=["latency.ttft.p99<=15"],
               runner=MMcRunner(service_s=1.0), executor=TwoSlots(), progress=True, figures=False)
    assert res.best["fleet.pools.0.replicas"] == 3
    assert [r["overrides"] for r in res.evaluated] == [[f"fleet.pools.0.replicas={v}"] for v in (16, 8, 4, 2, 3)]
    err = capsys.readouterr().err
    assert sorted(set(map(int, re.findall(r"plan round (\d) of at most 5", err)))) == [1, 2, 3, 4, 5]
    for ahead in (2, 4):      # the rounds whose probe ran ahead: their bar's last state is done
        assert "1/1" in err.split(f"plan round {ahead + 1}")[0].rsplit(f"plan round {ahead} of at most 5", 1)[1]


def test_the_public_api_writes_a_comparison_as_fleetsim_compare_prints_it(tmp_path, capsys):
    """Notebook 02 imported comparison_text from sim.commands.compare, a command module: the package offers
    it (sim.comparison_text), and it is the command's output, byte for byte (printed to a pipe: no width)."""
    import sim
    from sim.cli import main

    short = ["duration=1m", "warmup=0", "workload.arrival.rate=5"]
    for n in (1, 2):
        sim.run("scenarios/baseline.yaml", overrides=[*short, f"fleet.pools.0.replicas={n}"], out=tmp_path / f"r{n}")
    assert main(["compare", str(tmp_path / "r1"), str(tmp_path / "r2")]) == 0
    printed = capsys.readouterr().out
    text = sim.comparison_text(sim.compare(tmp_path / "r1", tmp_path / "r2"))
    assert printed == text + "\n"
    assert "fleet.pools.0.replicas" in text and "comparison_text" in sim.__all__
    assert max(map(len, sim.comparison_text(sim.compare(tmp_path / "r1", tmp_path / "r2"), 100).splitlines())) <= 100


def test_a_missing_step_time_table_is_named_as_written_as_a_missing_trace_is(tmp_path, capsys):
    """A missing trace read "trace file not found: 'traces/t.csv' (paths are relative to the scenario's
    folder)"; a missing step-time table "/abs/path/to/tables/steps.csv: cannot read step-time table (No such
    file or directory)". Both now say the path the scenario wrote, and where it is looked for."""
    import yaml

    from sim.cli import main

    base = yaml.safe_load(open("scenarios/baseline.yaml"))
    path = tmp_path / "s.yaml"
    lines = {}
    for what, sets in (("trace", ["workload.arrival={process: trace, path: traces/t.csv}"]),
                       ("table", ["perf={model: table, path: tables/steps.csv}"])):
        path.write_text(yaml.safe_dump(base))
        assert main(["validate", str(path), *[x for s in sets for x in ("--set", s)]]) == 2
        lines[what] = capsys.readouterr().err.strip().splitlines()
    relative = " (paths are relative to the scenario's folder)"
    assert f"{path}: workload.arrival.path: trace file not found: 'traces/t.csv'{relative}" in lines["trace"]
    assert lines["table"] == [f"{path}: perf.path: step-time table not found: 'tables/steps.csv'{relative}"]
    assert str(tmp_path / "tables") not in "\n".join(lines["table"])
