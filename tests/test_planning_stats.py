"""Replication statistics against hand arithmetic and sampling theory."""
import math

import numpy as np
import pytest

from sim.planning.constraints import ConstraintError, parse_constraint
from sim.planning.knobs import KnobError, configurations, parse_knob, parse_knobs
from sim.metrics.schema import natural_range
from sim.planning.stats import MeanCI, aggregate, flatten, mean_ci


def test_ci_matches_hand_computed_student_t():
    # mean 2, s = 1, n = 3: half-width = t(0.975, 2) * 1 / sqrt(3); t(0.975, 2) = 4.3027 (tables)
    ci = mean_ci([1.0, 2.0, 3.0])
    assert ci.mean == pytest.approx(2.0)
    assert ci.half_width == pytest.approx(4.3027 / math.sqrt(3), rel=1e-4)


def test_ci_single_replication_is_undefined_and_constant_collapses():
    one = mean_ci([5.0])
    assert one.mean == 5.0 and math.isnan(one.low) and math.isnan(one.high)
    same = mean_ci([2.0, 2.0, 2.0])
    assert same.low == same.high == 2.0


def test_ci_covers_true_mean_about_95_percent():
    rng = np.random.default_rng(7)
    hits = 0
    trials = 4000
    for _ in range(trials):
        ci = mean_ci(rng.normal(10.0, 3.0, size=5))
        hits += ci.low <= 10.0 <= ci.high
    # binomial sd at p = 0.95 over 4000 trials is 0.0034; allow ~4 sd
    assert abs(hits / trials - 0.95) < 0.014


def test_flatten_uses_dotted_keys():
    assert flatten({"latency": {"ttft": {"p99": 1.5}}, "seed": 3}) == {"latency.ttft.p99": 1.5, "seed": 3}


def test_knob_parsing_and_product_order():
    k = parse_knob("fleet.pools.0.replicas=2..4")
    assert k.is_range and k.values == ("2", "3", "4")
    combos = configurations([k, parse_knob("fleet.pools.0.gpu=a100-80gb,h100-sxm")])
    assert len(combos) == 6
    assert combos[0] == ("fleet.pools.0.replicas=2", "fleet.pools.0.gpu=a100-80gb")
    assert combos[1] == ("fleet.pools.0.replicas=2", "fleet.pools.0.gpu=h100-sxm")
    assert [k.values for k in parse_knobs({"a.b": [1, 2.5, "x"]})] == [("1", "2.5", "x")]
    assert parse_knobs({"a": range(1, 4)})[0].is_range


@pytest.mark.parametrize("bad", ["noequals", "a=", "a=1,,2", "a=5..2", "a=1,1", ".a=1"])
def test_bad_knobs_say_what_is_expected(bad):
    with pytest.raises(KnobError):
        parse_knob(bad)


def test_constraint_judged_at_unfavourable_ci_bound():
    c = parse_constraint("latency.ttft.p99<=2.0")
    assert c.holds(MeanCI(1.8, 1.7, 1.9, 5))
    assert not c.holds(MeanCI(1.8, 1.5, 2.1, 5))        # mean fine, upper bound not
    g = parse_constraint("slo.attainment >= 0.99")
    assert g.holds(MeanCI(0.995, 0.991, 0.999, 5))
    assert not g.holds(MeanCI(0.995, 0.985, 1.0, 5))     # lower bound below
    assert g.holds(MeanCI(0.995, math.nan, math.nan, 1))  # one seed: the value itself
    for bad in ("latency.ttft.p99=2", "x<=abc", "<=3"):
        with pytest.raises(ConstraintError):
            parse_constraint(bad)


def test_joint_knob_moves_fields_together():
    k = parse_knob("fleet.pools.0.gpu&economics.gpu_hour_usd=h100-sxm&2.69,a100-80gb&1.8")
    combos = configurations([parse_knob("fleet.pools.0.replicas=1,2"), k])
    assert combos[1] == ("fleet.pools.0.replicas=1", "fleet.pools.0.gpu=a100-80gb",
                         "economics.gpu_hour_usd=1.8")
    assert len(combos) == 4
    same = parse_knobs({("fleet.pools.0.gpu", "economics.gpu_hour_usd"): [("h100-sxm", 2.69), ("a100-80gb", 1.8)]})
    assert same[0].values == ("h100-sxm&2.69", "a100-80gb&1.8")
    with pytest.raises(KnobError, match="2 parts"):
        parse_knob("a&b=1&2,3")


# --- intervals of bounded metrics -------------------------------------------------------------
T_975_2 = 4.302652729911275          # Student-t 0.975 quantile, 2 degrees of freedom (tables: 4.3027)


def test_attainment_near_one_is_clipped_at_one_by_hand():
    # 0.98, 1, 1: mean 0.99333, s = sqrt((0.01333^2 + 2 * 0.00667^2) / 2) = 0.011547
    ci = mean_ci([0.98, 1.0, 1.0], bounds=(0.0, 1.0))
    half = T_975_2 * 0.011547005383792516 / math.sqrt(3)
    assert ci.mean == pytest.approx(0.993333333)
    assert ci.low == pytest.approx(0.993333333 - half)          # 0.9646: inside, untouched
    assert ci.high == 1.0                                       # 1.0220 before clipping


def test_latency_near_zero_is_clipped_at_zero_by_hand():
    # 0, 0, 0.03: mean 0.01, s = 0.017321, half = 4.3027 * 0.017321 / sqrt(3) = 0.043027 > mean
    ci = mean_ci([0.0, 0.0, 0.03], bounds=(0.0, math.inf))
    assert ci.low == 0.0
    assert ci.high == pytest.approx(0.01 + T_975_2 * 0.01)


def test_an_interval_inside_its_range_is_byte_identical_to_the_plain_t_interval():
    rng = np.random.default_rng(3)
    for _ in range(200):
        x = rng.uniform(0.2, 0.8, size=int(rng.integers(2, 8)))
        plain, bounded = mean_ci(x), mean_ci(x, bounds=(0.0, 1.0))
        if 0.0 <= plain.low and plain.high <= 1.0:
            assert (bounded.low, bounded.high) == (plain.low, plain.high)


def test_no_clipping_when_a_value_lies_outside_the_stated_range():
    # the key is not what its name says: report the t-interval as it is
    assert mean_ci([-0.5, 0.0, 0.1], bounds=(0.0, math.inf)) == mean_ci([-0.5, 0.0, 0.1])


@pytest.mark.parametrize("key, expected", [
    ("slo.attainment", (0.0, 1.0)), ("classes.chat.slo.attainment", (0.0, 1.0)),
    ("utilization.gpu_busy", (0.0, 1.0)), ("utilization.mbu", (0.0, 1.0)), ("pools.main.mbu", (0.0, 1.0)),
    ("pools.main.kv_cache_mean", (0.0, 1.0)), ("failures.availability", (0.0, 1.0)),
    ("cost.utilization", (0.0, 1.0)),
    ("utilization.load_factor", (0.0, math.inf)),          # can pass 1 when overloaded
    ("cost.utilization_billed", (0.0, math.inf)),          # busy / billed: passes 1 with unbilled hours
    ("latency.ttft.p99", (0.0, math.inf)), ("classes.batch.latency.queue.mean", (0.0, math.inf)),
    ("requests.completed", (0.0, math.inf)), ("cost.per_million_output_tokens", (0.0, math.inf)),
    ("cashflow.compute_cost", (0.0, math.inf)), ("stability.in_flight_at_end", (0.0, math.inf)),
    ("cashflow.net", (-math.inf, math.inf)), ("cashflow.npv_usd", (-math.inf, math.inf)),
    ("cashflow.chargeback.classes.chat.gross_margin", (-math.inf, math.inf)),
    ("stability.backlog_growth_per_s", (-math.inf, math.inf)), ("made.up.key", (-math.inf, math.inf)),
])
def test_natural_range_of_each_family(key, expected):
    assert natural_range(key) == expected


def test_aggregate_clips_each_metric_to_its_own_range():
    rows = [{"slo.attainment": a, "latency.queue.p50": q, "cashflow.net": n}
            for a, q, n in [(0.98, 0.0, -10.0), (1.0, 0.0, 0.0), (1.0, 0.03, 10.0)]]
    cis = aggregate(rows)
    assert cis["slo.attainment"].high == 1.0
    assert cis["latency.queue.p50"].low == 0.0
    assert cis["cashflow.net"] == mean_ci([-10.0, 0.0, 10.0])   # signed: left alone, below 0


def test_constraints_decide_as_before_inside_the_range_and_sensibly_at_its_edges():
    rng = np.random.default_rng(11)
    for _ in range(200):   # in-range intervals: the same verdict as the plain t-interval's
        x = rng.uniform(0.9, 0.99, size=3)
        plain, clipped = mean_ci(x), aggregate([{"slo.attainment": v} for v in x])["slo.attainment"]
        for text in ("slo.attainment>=0.95", "slo.attainment<=0.97"):
            c = parse_constraint(text)
            if 0.0 <= plain.low and plain.high <= 1.0:
                assert c.holds(clipped) == c.holds(plain)
    perfect = aggregate([{"slo.attainment": 1.0}] * 3)["slo.attainment"]
    assert (perfect.low, perfect.high) == (1.0, 1.0)
    assert parse_constraint("slo.attainment>=0.99").holds(perfect)
    near = aggregate([{"slo.attainment": v} for v in (0.98, 1.0, 1.0)])["slo.attainment"]
    assert not parse_constraint("slo.attainment>=0.99").holds(near)   # judged at 0.9646, as before
    assert parse_constraint("slo.attainment<=1").holds(near)          # 1.022 before: impossible
    quick = aggregate([{"latency.queue.p50": v} for v in (0.0, 0.0, 0.03)])["latency.queue.p50"]
    assert parse_constraint("latency.queue.p50>=0").holds(quick)      # -0.033 before: impossible


def test_doctests_of_the_interval_and_range_modules():
    import doctest

    import sim.metrics.schema
    import sim.planning.stats

    for module in (sim.planning.stats, sim.metrics.schema):
        assert doctest.testmod(module).failed == 0, module.__name__


def test_a_sweep_panel_shows_a_share_near_one_without_an_offset():
    # GPU busy 0.9998 read as "-0.0002" under a "+1" offset before; the ticks now carry the values
    import matplotlib
    matplotlib.use("Agg")
    from sim.report.render import new_figure
    from sim.report.sweep_figures import metric_vs_knob

    rows = [{"r": r, "utilization.gpu_busy.mean": 0.9998 - r * 1e-5, "utilization.gpu_busy.ci_low": 0.9995,
             "utilization.gpu_busy.ci_high": 1.0} for r in (1, 2, 3)]
    ax = new_figure(4, 3).subplots()
    assert metric_vs_knob(ax, rows, "r", [], "utilization.gpu_busy", "GPU busy fraction")
    ax.figure.canvas.draw()
    assert ax.yaxis.get_major_formatter().get_offset() == ""
    assert all(t.get_text().startswith(("0.999", "1.000")) for t in ax.get_yticklabels() if t.get_text())
