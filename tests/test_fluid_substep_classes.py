"""A class's share of a step's arrivals, and of its services, follows the sub-steps inside the step.

The pool of ``tiers_pool`` (one server, service exactly 1 s, ``mu = 1``/s) in hourly steps. Class a
arrives at 2/s for the first half hour, class b at 2/s for the second, nothing after; the run lasts three
hours. The step's mix is half and half, but first come, first served the server works through a's 3,600
in the first hour (the request served at ``s`` arrived at ``s / 2``: a waits ``s / 2``, evenly over
``[0, 1800]`` s) and b's 3,600 in the second (b arriving ``1,800 + x / 2`` is served at ``3,600 + x``:
``1,800 + x / 2``, evenly over ``[1800, 3600]``). By hand, queue time mean / p50 / p90 / p99: a 900 /
900 / 1,620 / 1,782 s, b 2,700 / 2,700 / 3,420 / 3,582 s. The request level (20 seeds, standard errors
8-21 s) reads a 896 / 894 / 1,613 / 1,776 and b 2,686 / 2,687 / 3,396 / 3,556.

With each step's one class mix (before), both classes read 1,800 / 1,796 / 3,230 / 3,568 s: every request
served in the first hour was taken as half a's, half b's.
"""
from __future__ import annotations

import pytest

import sim
from tiers_pool import pool

HOUR = 3600.0
HAND = {"a": {"mean": 900.0, "p50": 900.0, "p90": 1620.0, "p99": 1782.0},
        "b": {"mean": 2700.0, "p50": 2700.0, "p90": 3420.0, "p99": 3582.0}}


@pytest.fixture(scope="module")
def summary() -> dict:
    sc = pool("fluid", {"process": "poisson", "rate": 1.0}, duration=3 * HOUR, step_s=HOUR)
    sc["workload"]["classes"] = [
        {"name": "a", "arrival": {"process": "piecewise", "times": [0, 1800], "rates": [2.0, 0.0]}},
        {"name": "b", "arrival": {"process": "piecewise", "times": [0, 1800, 3600], "rates": [0.0, 2.0, 0.0]}}]
    del sc["workload"]["arrival"]
    return sim.run(sc).summary


@pytest.mark.parametrize("cls", ["a", "b"])
def test_each_class_waits_what_its_own_sub_steps_wait(summary, cls):
    got = summary["classes"][cls]["latency"]["queue"]
    for k, v in HAND[cls].items():
        # within a 1 % histogram bin and the curve's top-point queue (about 11 s mean, 33 s p99)
        assert got[k] == pytest.approx(v, rel=0.01, abs=35.0), (cls, k, got[k], v)


def test_the_fleet_and_the_counts_are_the_sum_of_the_classes(summary):
    assert summary["latency"]["queue"]["mean"] == pytest.approx(1800.0, rel=0.01)
    for cls in ("a", "b"):
        assert summary["classes"][cls]["requests"]["completed"] == 3600
        assert summary["classes"][cls]["requests"]["in_flight"] == 0
