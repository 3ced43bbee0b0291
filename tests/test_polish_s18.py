"""Small reading defects: each test reproduces what the output said before and checks what it says now."""
from __future__ import annotations


class _Knob:
    def __init__(self, is_range: bool):
        self.is_range = is_range


class _Plan:
    def __init__(self, objective: str, best=True, ranged=True, band=None):
        self.objective = objective
        self.best = {"overrides": ["r=3"]} if best else None
        self.knobs = [_Knob(ranged)]
        self.band = band


def test_the_plan_table_title_says_by_which_objective_it_ranks_best_first():
    """The title said "best first" without the objective: --objective cost ranks by cost.compute_usd,
    cost_with_commits by cost.compute_with_commits_usd (sim.planning.capacity.OBJECTIVES), another key by itself."""
    from sim.commands.plan import heading_line, table_title

    assert table_title(_Plan("cost.compute_usd"), 2) == (
        "cheapest configuration of each group (e.g. per GPU type), best first by lowest cost.compute_usd "
        "(--objective cost):")
    assert "best first by lowest cost.compute_with_commits_usd (--objective cost_with_commits)" in \
        table_title(_Plan("cost.compute_with_commits_usd", ranged=False), 3)
    assert "best first by lowest latency.ttft.p99 (--objective):" in table_title(_Plan("latency.ttft.p99", best=False), 2)
    assert "(robust), best first by lowest cost.compute_usd (--objective cost):" in \
        heading_line(_Plan("cost.compute_usd", band=10.0), 2, False)
    # one row is not ranked: no order to state
    assert table_title(_Plan("cost.compute_usd"), 1) == "the configuration found:"


def test_compare_shows_an_unset_setting_one_way():
    """`fleetsim compare`'s settings that differ showed an unset key as "null" in one row (a null value)
    and "—" in another (a key one scenario lacks); both are unset: "—". Unset against absent is no difference."""
    from sim.report.comparison import differences
    from sim.report.comparison_words import setting

    a = {"fleet": {"patience_s": None, "queue": None}, "seed": 1}
    b = {"fleet": {"patience_s": 30.0}, "seed": 1, "extra": 2}
    diff = differences([a, b])
    assert diff == [("fleet.patience_s", [None, 30.0]), ("extra", [diff[1][1][0], 2])]
    lines = [f"{k}: {' → '.join(setting(v, k) for v in vs)}" for k, vs in diff]
    assert lines == ["fleet.patience_s: — → 30 s", "extra: — → 2"]
    assert "null" not in " ".join(lines)


def test_a_small_rate_reads_per_hour_by_one_rule_on_the_terminal_and_the_page():
    """The terminal read 0.3 out tok/s per hour (it prints whole tokens: "0 out tok/s") but the page
    switched only under 0.01 and wrote "0.3 tok/s". One rule now: 0.3 tok/s is 0.3 × 3600 = 1,080 tok/h on both;
    0.004 req/s is 14.4 req/h on both; 0.006 req/s stays per second."""
    from sim.report.html_report import _value_unit
    from sim.report_text import _rate

    summary = {"throughput": {"output_tokens_per_s": 0.3, "requests_per_s": 0.004, "input_tokens_per_s": 0.6},
               "slo": {"goodput_rps": 0.006}}
    assert _rate(0.3, "out tok/s", 0) == "1,080 out tok/h"      # not "1.08e+03"
    assert _value_unit(summary, "throughput.output_tokens_per_s", "tok/s") == ["1,080", "tok/h"]
    assert _rate(0.004, "req/s", 2) == "14.4 req/h"
    assert _value_unit(summary, "throughput.requests_per_s", "req/s") == ["14.4", "req/h"]
    assert _value_unit(summary, "slo.goodput_rps", "req/s") == ["0.006", "req/s"]
    assert _value_unit(summary, "throughput.input_tokens_per_s", "tok/s") == ["0.6", "tok/s"]


def test_the_backlog_growth_of_a_slow_run_reads_per_hour_or_day():
    """A stable run at one request per 10 days over a 20,000 s window: noise = 0.02 x 1 / 20,000 s =
    1e-06 req/s, said "< 0.0000010 req/s"; per day that is 0.0864, rounded up to two digits 0.087 req/day.
    A growth of 0.001 req/s (an unstable run) is 3.6 req/h; 0.5 req/s stays per second."""
    from sim.metrics.stability import growth_words

    b = {"resolution": 0.02, "arrival_rate_per_s": 1 / 864000, "window_s": 20000.0, "verdict": "stable",
         "backlog_growth_per_s": 2e-7}
    assert growth_words(b) == "none measurable (< 0.087 req/day)"
    assert growth_words({**b, "verdict": "unstable", "backlog_growth_per_s": 0.001}) == "3.6 req/h"
    assert growth_words({**b, "verdict": "unstable", "backlog_growth_per_s": 0.5}) == "0.5 req/s"


def test_the_statement_block_without_cash_columns_has_no_empty_after_the_end_rows():
    """At 80 columns the statement's first block (accrual columns only) printed "after the end †" and the late
    periods with nothing in them (only cash lands then); now they appear only in the block with the cash."""
    from sim.economics.statement import format_statement

    keys = ("revenue", "compute", "training", "credits_applied", "revenue_share_paid", "revenue_share_received",
            "net", "cash_net", "cumulative_cash")

    def period(name, after=False):
        return {"period": name, "partial": False, "after_horizon": after,
                **{f"{k}_usd": (0.0 if after and k not in ("cash_net", "cumulative_cash") else -317.54e6)
                   for k in keys}}

    lines = format_statement([period("2025-03"), period("2025-04"), period("2025-05", True)], width=80).splitlines()
    assert max(map(len, lines[:-1])) <= 80     # (the † note under the table is a sentence)
    blocks = "\n".join(lines[1:-1]).split("\n\n")
    assert len(blocks) == 2
    assert "after the end" not in blocks[0] and "2025-05" not in blocks[0]
    assert "after the end †" in blocks[1]
    late = [line for line in blocks[1].splitlines() if line.startswith("2025-05")]
    assert len(late) == 1 and late[0].split() == ["2025-05", "-317.54M", "-317.54M"]
    # the period column is as wide in both blocks (the rule under "period" is 15 dashes, "after the end †")
    assert [b.splitlines()[1].split()[0] for b in blocks] == ["-" * 15] * 2


def test_a_plan_varying_tensor_parallelism_says_the_gpus_per_replica():
    """A plan of replicas 2..9 × TP 4, 8 on h100-sxm was described "2–9 × h100-sxm (TP 4, 8)", which does not
    say that a replica has 4 or 8 GPUs (TP × PP; PP 1 here): now "(TP 4 or 8: 4 or 8 GPUs each)"."""
    from sim.report.html_page import with_varied
    from sim.report.scenario_words import scenario_described

    scenario = {"name": "p", "model": "llama-3-70b", "fleet": {"pools": [
        {"name": "main", "gpu": "h100-sxm", "replicas": 2, "tensor_parallel": 4}]}}
    varied = with_varied(scenario, [(["fleet.pools.0.replicas"], list(range(2, 10))),
                                    (["fleet.pools.0.tensor_parallel"], [4, 8])])
    lines, _ = scenario_described("p", varied, {})
    text = "\n".join(lines)
    assert "2–9 × h100-sxm (TP 4 or 8: 4 or 8 GPUs each)" in text, text
    # a fixed layout reads as before: GPUs per replica before the GPU's name
    lines, _ = scenario_described("p", {**scenario}, {})
    assert "2 × 4 h100-sxm (TP 4)" in "\n".join(lines)
