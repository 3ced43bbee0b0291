"""What a person reads: one unit, one rounding and one word for a quantity on every surface, and
terminal tables no wider than the terminal."""
from __future__ import annotations

import csv

import pytest


def test_the_sweep_table_says_tpot_in_ms_as_the_run_summary_does(tmp_path, capsys):
    """The run summary's latency table is in ms; the sweep's TPOT column was in seconds (0.00999)."""
    from sim.cli import main
    from sim.planning.planner import plain

    out = tmp_path / "s"
    assert main(["sweep", "scenarios/baseline.yaml", "--set", "duration=2m", "--set", "warmup=0", "--grid",
                 "fleet.pools.0.replicas=2", "--out", str(out), "--quiet", "--no-figures",
                 "--columns", "latency.tpot.p99"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[-2:] == ["latency.tpot.p99", "(ms)"]
    with open(out / "sweep.csv", newline="") as fh:
        tpot = float(next(csv.DictReader(fh))["latency.tpot.p99"])
    assert 0.001 < tpot < 1 and lines[-1].split()[-1] == plain(tpot * 1000)


def test_validate_says_a_kv_cache_in_one_rounding_with_thousands_separators(capsys):
    """baseline's one-GPU replica: its KV cache per GPU and per replica are the same bytes, said once as
    55.38 GiB and once as 55.4 GiB (of the 79.19 GiB an H100 reports); DeepSeek's 1142.9 GiB lacked its separator."""
    from sim.cli import main

    assert main(["validate", "scenarios/baseline.yaml"]) == 0
    out = capsys.readouterr().out
    assert "KV cache 55.38 GiB of" in out and "KV cache 55.38 GiB =" in out
    assert main(["validate", "scenarios/deepseek_v3_cluster.yaml"]) == 0
    assert "KV cache 1,126.23 GiB =" in capsys.readouterr().out


def test_the_planner_says_backlog_growth_in_req_s():
    from sim.planning.evaluator import judge

    row = {"n": 1, "stable": False, "stability.backlog_growth_per_s.mean": 6.6}
    assert "unstable: the backlog grows by 6.6 req/s" in judge(row, [])["why"]


def _pools(n: int) -> dict:
    return {f"pool-{i}": {"gpu": "a100-80gb", "replicas": 4, "scale": 10316, "replicas_mean": 4.0,
                          "gpu_hours_provisioned": 2.9e9, "gpu_busy": 0.712, "kv_cache_mean": 0.001}
            for i in range(n)}


@pytest.mark.parametrize("columns", ["80", "100"])
def test_the_run_pool_table_fits_the_terminal(monkeypatch, columns):
    """It was 86 columns wide at 80 (fixed-width columns of 14, 12, 10 ... characters)."""
    from sim.report_text import pool_table

    monkeypatch.setenv("COLUMNS", columns)
    lines = pool_table(_pools(2))
    assert max(map(len, lines)) <= int(columns)
    assert lines[-1].split() == ["pool-1", "a100-80gb", "4", "10,316", "4.00", "2.90B", "71.2%", "0.1%"]
    assert lines[-1].endswith(" 71.2%  0.1%")          # numbers right-aligned under their headings


def test_the_class_table_with_a_capacity_band_fits_80_columns_in_blocks(monkeypatch):
    """At 80 columns the ranged columns come in blocks, each beside the class name; each cell (a value and
    its range) stays whole, and every line fits (the rows were 98 columns wide)."""
    from sim.report_text import class_table

    monkeypatch.setenv("COLUMNS", "80")
    lat = {"p99": 0.5846}
    side = {"classes": {"chatgpt": {"latency": {"ttft": {"p99": 0.57}, "tpot": {"p99": 0.015}},
                                    "slo": {"attainment": 1.0}}}, "stability": {"verdict": "stable"}}
    s = {"capacity_band": {"pct": 3.0, "faster": side, "slower": side},
         "classes": {"chatgpt": {"requests": {"completed": 23_715_388}, "latency": {"ttft": lat, "tpot": {"p99": 0.0152}},
                                 "slo": {"attainment": 1.0}}}}
    lines = class_table(s)
    assert max(map(len, lines)) <= 80
    rows = [line for line in lines if line.startswith("chatgpt")]
    assert rows == ["chatgpt  23,715,388      584.6 (570.0 – 570.0)         15.2 (15.0 – 15.0)",
                    "chatgpt  100.00% (100.00% – 100.00%)"]
    monkeypatch.setenv("COLUMNS", "200")          # room for all: one table, as before
    assert [line for line in class_table(s) if line.startswith("chatgpt")] == [
        "chatgpt  23,715,388      584.6 (570.0 – 570.0)         15.2 (15.0 – 15.0)  100.00% (100.00% – 100.00%)"]


def test_the_capacity_band_table_fits_80_columns_in_blocks(monkeypatch):
    """The band's latency table (a value and its range per percentile, 104-107 columns wide at 80) comes
    in blocks of percentiles beside the metric names; the SLO and stability lines each on their own."""
    from sim.report_text import band_table

    monkeypatch.setenv("COLUMNS", "80")
    lat = {k: {"p50": 1.4798, "p90": 4.3304, "p99": 9.1412} for k in ("ttft", "tpot", "e2e", "queue")}
    side = {"latency": {k: {q: v * 1.03 for q, v in d.items()} for k, d in lat.items()},
            "slo": {"attainment": 0.999}, "stability": {"verdict": "stable"}, "gpu_hours": {"provisioned": 4}}
    s = {"capacity_band": {"pct": 3.0, "faster": side, "slower": side}, "latency": lat,
         "slo": {"attainment": 1.0}, "stability": {"verdict": "stable"}, "gpu_hours": {"provisioned": 4}}
    lines = band_table(s)
    assert max(map(len, lines)) <= 80
    e2e = [line for line in lines if line.startswith("e2e")]
    assert len(e2e) == 2 and "1,479.8 (" in e2e[0] and "4,330.4 (" in e2e[0] and "9,141.2 (" in e2e[1]
    assert any(line.startswith("SLO            100.00% (") for line in lines)
    assert "stability      this run stable, +3 % stable, −3 % stable" in lines


def test_the_plan_title_with_one_group_says_the_answer_then_the_nearest_miss():
    """README's first plan (one group, its answer and the nearest miss) was titled "the configuration found;
    last, the configuration tried that came nearest to meeting them (nearest miss):"."""
    from sim.commands.plan import heading_line

    class Knob:
        is_range = True

    class Result:
        best = {"overrides": ["r=3"]}
        knobs = [Knob()]
        band = None
        objective = "cost.compute_usd"

    assert heading_line(Result(), 1, True) == ("the configuration found, then the one tried that came nearest to "
                                               "meeting the constraints (nearest miss):")
    assert heading_line(Result(), 1, False) == "the configuration found:"
    assert heading_line(Result(), 2, True) == ("cheapest configuration of each group (e.g. per GPU type), best first "
                                               "by lowest cost.compute_usd (--objective cost); last, the configuration tried that came nearest to meeting them "
                                               "(nearest miss):")


def _period(name: str, after: bool = False) -> dict:
    keys = ("revenue", "compute", "training", "credits_applied", "revenue_share_paid", "revenue_share_received",
            "net", "cash_net", "cumulative_cash")
    return {"period": name, **{f"{k}_usd": -317.54e6 for k in keys}, "partial": False, "after_horizon": after}


def test_the_statement_wider_than_the_terminal_is_set_in_blocks_of_columns():
    """provider_partner_2024's statement was 100 columns wide at 80: its ten columns now come in blocks,
    each with the period; piped (no width) it is the one table it was."""
    from sim.economics.statement import format_statement

    rows = [_period("2024-Q1"), _period("2025-Q1", after=True)]
    whole = format_statement(rows).splitlines()
    assert max(map(len, whole)) > 100 and len(whole) == 7      # (2025-Q1 under a line "after the end †")
    blocks = format_statement(rows, width=80).splitlines()
    assert max(map(len, blocks)) <= 84 and all(len(x) <= 80 for x in blocks if not x.startswith("†"))
    heads = [x.split("  ") for x in blocks if x.startswith("period")]
    heads = [[h.strip() for h in head if h.strip()] for head in heads]
    # (the period column as wide as "after the end †", 15: two blocks; 23 wide, it took three)
    assert heads == [["period", "revenue", "compute", "training", "credits", "share paid"],
                     ["period", "share received", "net (accrual)", "net (cash)", "cumulative cash"]]
    assert blocks.count("") == 1 and blocks[-1] == whole[-1]


def test_a_band_value_outside_its_own_range_is_said_as_noise(monkeypatch):
    """The same arrivals at ±3 % capacity can put a percentile of a few requests on either side of this
    run's (``queue p99 39.1 (31.3 – 37.1)``): the explanation names it rather than leave a range that
    seems not to hold its own value; one inside its range (or at its end, as shown) is not named."""
    from sim.report_text import band_table

    monkeypatch.setenv("COLUMNS", "80")
    lat = {k: {"p50": 0.010, "p90": 0.020, "p99": 0.030} for k in ("ttft", "tpot", "e2e", "queue")}
    def side(queue_p99):
        return {"latency": {**lat, "queue": {**lat["queue"], "p99": queue_p99}}, "slo": {"attainment": 1.0},
                "stability": {"verdict": "stable"}}
    s = {"capacity_band": {"pct": 3.0, "faster": side(0.0313), "slower": side(0.0371)},
         "latency": {**lat, "queue": {**lat["queue"], "p99": 0.0391}}, "slo": {"attainment": 1.0},
         "stability": {"verdict": "stable"}}
    text = " ".join(band_table(s))
    assert "queue p99 lies outside its range" in text and "ttft p99 lies" not in text
    s["latency"]["queue"]["p99"] = 0.03714          # 37.1 as shown: the range's end
    assert "outside" not in " ".join(band_table(s))
