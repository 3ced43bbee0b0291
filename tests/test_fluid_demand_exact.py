"""The fluid tier's expected arrivals of a piecewise (and a growing constant) intensity are its exact
integral (:func:`sim.fluid.demand.expected_arrivals`), checked against hand-worked counts and the request
level's generator over seeds: a breakpoint inside a step is no longer put on a whole sub-interval (5
requests/s from 1,830 s to the hour's end: 9,000 in hourly steps and 8,865 in 7-minute ones before,
``5 x 1,770 = 8,850`` by hand)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from sim.fluid.demand import expected_arrivals
from sim.fluid.substep import SUB, sub_edges
from sim.scenario.workload import WorkloadConfig
from sim.workload import generate
from sim.workload.growth import MONTH_S

LATE = {"process": "piecewise", "times": [0, 1830, 3600], "rates": [0, 5, 0]}


def workload(arrival: dict, growth: float | None = None) -> WorkloadConfig:
    return WorkloadConfig.model_validate({"arrival": arrival, "prompt_tokens": {"dist": "fixed", "value": 1},
                                          "output_tokens": {"dist": "fixed", "value": 1},
                                          **({"growth": {"monthly": growth}} if growth is not None else {})})


def grid(step: float, horizon: float) -> np.ndarray:
    return np.append(np.arange(0.0, horizon, step), horizon)


@pytest.mark.parametrize("step", [3600.0, 1800.0, 420.0, 60.0, 7.0, 7200.0])
def test_a_breakpoint_inside_a_step_counts_exactly_at_any_step(step):
    counts = expected_arrivals(workload(LATE), grid(step, 7200.0))[:, 0]
    assert counts.sum() == 8850.0                     # 5 x (3,600 - 1,830), by hand
    first = int(np.searchsorted(grid(step, 7200.0), 1830.0, side="right")) - 1
    assert counts[:first].sum() == 0.0                # nothing before the breakpoint's step


def test_a_breakpoint_on_a_step_edge():
    w = workload({"process": "piecewise", "times": [0, 3600], "rates": [2, 5]})
    assert expected_arrivals(w, grid(3600.0, 7200.0))[:, 0].tolist() == [7200.0, 18000.0]


def test_several_breakpoints_in_one_step_and_its_sub_steps_sum_to_it():
    w = workload({"process": "piecewise", "times": [0, 600, 1500, 2000], "rates": [1, 3, 0, 2]})
    edges = np.array([0.0, 3600.0])
    step = expected_arrivals(w, edges)[0, 0]
    assert step == 600.0 + 3 * 900.0 + 0.0 + 2 * 1600.0          # 6,500 by hand
    fine = expected_arrivals(w, sub_edges(edges), sub=5)[:, 0]    # 300 s sub-steps, as sim.fluid.substep reads
    assert fine.tolist() == [300.0, 300.0, 900.0, 900.0, 900.0, 0.0, 200.0, 600.0, 600.0, 600.0, 600.0, 600.0]
    assert len(fine) == SUB and fine.sum() == step


def test_growth_is_integrated_in_closed_form():
    """With ``growth.monthly: m`` a constant rate ``r`` brings ``r T m / ln(1 + m)`` in the first month
    (``T`` = 30.4375 days), and a piecewise one ``r T (e^{k b} - e^{k a}) / ln(1 + m)`` on ``[a, b)``."""
    for m in (1.0, 0.1, -0.5):
        counts = expected_arrivals(workload({"process": "poisson", "rate": 2.0}, m), grid(86400.0, MONTH_S))
        assert counts.sum() == pytest.approx(2.0 * MONTH_S * m / math.log1p(m), rel=1e-12)
    k = math.log(2.0) / MONTH_S
    counts = expected_arrivals(workload(LATE, 1.0), grid(3600.0, 7200.0))[:, 0]
    assert counts.tolist() == pytest.approx([5.0 * (math.exp(k * 3600.0) - math.exp(k * 1830.0)) / k, 0.0],
                                            rel=1e-12)
    assert counts[0] > 8850.0 + 5.0                   # growth adds ~6 requests over the 2,000 s


@pytest.mark.parametrize("growth", [None, 20.0])
def test_the_request_level_mean_count_agrees_over_seeds(growth):
    """The generator's arrivals in the hour, over 24 seeds: within four standard errors of the fluid tier's
    expected count (Poisson: variance = mean); without growth 9,000 (the midpoint rule's) would be seven
    standard errors off; ``monthly: 20`` adds ~28 requests to the hour."""
    w = workload(LATE, growth)
    want = float(expected_arrivals(w, np.array([0.0, 3600.0]))[0, 0])
    seeds = range(1, 25)
    got = [sum(int((ch.arrival_s < 3600.0).sum()) for ch in generate(w, 3600.0, s)) for s in seeds]
    se = math.sqrt(want / len(seeds))
    assert abs(np.mean(got) - want) < 4.0 * se
    if growth is None:
        assert want == 8850.0 and abs(9000.0 - want) > 7.0 * se


@pytest.mark.parametrize("arrival", [{"process": "poisson", "rate": 2.0}, LATE])
def test_a_growth_too_small_for_a_float_is_none(arrival):
    """``monthly: 1e-320`` (accepted: above -1) makes ``k = ln(1 + m) / T`` underflow to 0; the closed form
    ``(e^{k d} - 1) / k`` divided by it (the fluid tier's arrivals nan, the request level's generator a division
    by zero). Such growth grows by nothing a float holds: the counts are those without growth, in both tiers."""
    plain = expected_arrivals(workload(arrival), grid(3600.0, 7200.0))
    assert expected_arrivals(workload(arrival, 1e-320), grid(3600.0, 7200.0)).tolist() == plain.tolist()
    tiny = [np.concatenate([ch.arrival_s for ch in generate(workload(arrival, g), 7200.0, 3)]) for g in (None, 1e-320)]
    assert tiny[0].tolist() == tiny[1].tolist()
