"""A constraint's bound is read as its metric is stored: a share from 0 to 1, a time not negative,
ASCII digits only; an objective pasted with spaces around it is the key."""
import pytest

from sim.planning.capacity import objective_key
from sim.planning.constraints import ConstraintError, parse_constraint


@pytest.mark.parametrize("text, words", [
    ("slo.attainment>=99", "99 % is 0.99"),                 # a per cent where a fraction is stored
    ("classes.chat.slo.attainment>=95", "95 % is 0.95"),
    ("utilization.gpu_busy<=150", "from 0 to 1; got 150"),  # no hint: 150 % is no share either
    ("slo.attainment>=-0.1", "from 0 to 1; got -0.1"),
    ("latency.ttft.p99<=-1", "not negative"),
    ("latency.ttft.p99<=\u0663", "ASCII"),                   # an Arabic-Indic three: float() reads it as 3
])
def test_bounds_no_run_can_meet_or_that_read_other_digits_are_refused(text, words):
    with pytest.raises(ConstraintError, match=words.replace(".", r"\.").replace("(", r"\(")):
        parse_constraint(text)


@pytest.mark.parametrize("text, bound", [
    ("slo.attainment>=0.99", 0.99), ("slo.attainment>=1", 1.0), ("utilization.load_factor<=1.5", 1.5),
    ("cashflow.net>=-5", -5.0), ("latency.ttft.p99<=0", 0.0)])
def test_bounds_in_range_are_kept(text, bound):
    assert parse_constraint(text).bound == bound


def test_objective_with_spaces_is_the_key():
    assert objective_key(" cost ") == "cost.compute_usd"
    assert objective_key("latency.ttft.p99 ") == "latency.ttft.p99"
