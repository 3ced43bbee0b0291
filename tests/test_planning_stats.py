"""Replication statistics against hand arithmetic and sampling theory."""
import math

import numpy as np
import pytest

from sim.planning.constraints import ConstraintError, parse_constraint
from sim.planning.knobs import KnobError, configurations, parse_knob, parse_knobs
from sim.planning.stats import MeanCI, flatten, mean_ci


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
