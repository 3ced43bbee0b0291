"""Per class and per SLO, the fluid tier's waits behind a backlog read request by request, against hand
arithmetic and the request level.

The pool of ``tiers_pool``: one server, service exactly 1 s (``mu = 1`` request/s), TTFT objective 5 s.

* Class a at 1.5/s for an hour, then class b at 0.5/s for an hour. First come, first served, an arrival
  of a at ``t`` waits ``0.5 t`` (evenly over ``[0, 1,800]`` s, mean 900 s); the backlog of 1,800 left at
  the hour drains at 0.5/s, so b arriving ``x`` into the second hour waits ``1,800 - 0.5 x`` (mean 900 s
  too). Giving every class its steps' whole spread of waits read, in hourly steps, a 800 s and b 1,200 s.
* 0.5/s for half an hour, 1.5/s for the next, then 0.5/s for an hour: 1,800 of the 5,400 requests arrive
  at a light load (M/D/1 at 0.5, TTFT 1 s plus a queue of 0.5 s on average: all but a few within 5 s);
  the other 3,600 wait evenly over ``[0, 900]`` s and meet the objective when ``W + 1 <= 5``: 16 of them.
  SLO attainment ``(1,800 + 16) / 5,400 = 0.336``; hourly steps read 0.302 (the curve's attainment at
  the step's mean load times the share whose whole wait is within 5 s) where 60 s steps read 0.334.
"""
from __future__ import annotations

import numpy as np
import pytest

import sim

from test_queueing_theory import _ci99
from tiers_pool import pool

SEEDS = 40


def _two_classes(fidelity: str, *, seed: int = 1, step_s: float = 3600.0) -> dict:
    sc = pool(fidelity, {"process": "poisson", "rate": 1.0}, duration=7200.0, step_s=step_s, seed=seed)
    del sc["workload"]["arrival"]
    sc["workload"]["classes"] = [
        {"name": "a", "arrival": {"process": "piecewise", "times": [0, 3600], "rates": [1.5, 0.0]}},
        {"name": "b", "arrival": {"process": "piecewise", "times": [0, 3600], "rates": [0.0, 0.5]}}]
    if fidelity == "request":
        sc["drain"] = True                 # the last b (served at 7,200 s in the fluid limit) complete
    return sim.run(sc).summary


@pytest.mark.parametrize("step_s", [60.0, 3600.0])
def test_each_class_waits_what_its_own_arrivals_wait(step_s):
    """Both classes' mean queue time is 900 s by hand, at every step (hourly steps read a 800 s, b 1,200 s)."""
    s = _two_classes("fluid", step_s=step_s)
    for c in ("a", "b"):
        assert s["classes"][c]["latency"]["queue"]["mean"] == pytest.approx(900.0, rel=0.005), c
    # a's waits spread evenly over [0, 1,800] s: p50 900 s, p90 1,620 s (within a 1 % histogram bin)
    qa = s["classes"]["a"]["latency"]["queue"]
    assert qa["p50"] == pytest.approx(900.0, rel=0.015)
    assert qa["p90"] == pytest.approx(1620.0, rel=0.015)
    assert s["latency"]["queue"]["mean"] == pytest.approx(900.0, rel=0.005)


def test_the_request_level_agrees_per_class():
    """40 seeds of the request level: each class's mean queue time within its 99 % interval (plus 2 %) of
    the hourly fluid tier's (the backlog of 1,800 +- 73 at the hour makes a seed's means vary by ~50 s)."""
    fluid = _two_classes("fluid")
    for c in ("a", "b"):
        got = np.array([_two_classes("request", seed=s, step_s=60.0)["classes"][c]["latency"]["queue"]["mean"]
                        for s in range(1, SEEDS + 1)])
        m, half = _ci99(got)
        want = fluid["classes"][c]["latency"]["queue"]["mean"]
        assert abs(m - want) <= half + 0.02 * want, (c, m, half, want)


@pytest.mark.parametrize("step_s", [60.0, 600.0, 3600.0])
def test_slo_attainment_behind_a_backlog_is_the_hand_number_at_every_step(step_s):
    """0.336 by hand (module docstring); hourly steps read 0.302 before, 60 s steps 0.334."""
    arrival = {"process": "piecewise", "times": [0, 1800, 3600], "rates": [0.5, 1.5, 0.5]}
    att = sim.run(pool("fluid", arrival, duration=7200.0, step_s=step_s)).summary["slo"]["attainment"]
    assert att == pytest.approx((1800 + 16) / 5400, rel=0.01)


def test_slo_attainment_of_a_class_behind_a_backlog():
    """Class a's requests wait ``0.5 t``: those arriving at ``t <= 8`` s meet the 5 s objective, 12 of
    5,400, in hourly steps as in 60 s steps. (b's 4 of 1,800 that meet it arrive in the hour's last 8 s,
    less than the 25 s between the instants an hourly step is read at, a 144th of it: hourly steps read
    5.4 of them, 60 s steps 3.7; at 64 instants, 56 s apart, hourly steps read none. Not checked here.)"""
    hourly, fine = _two_classes("fluid"), _two_classes("fluid", step_s=60.0)
    got = hourly["classes"]["a"]["slo"]["attainment"]
    assert got == pytest.approx(fine["classes"]["a"]["slo"]["attainment"], rel=0.05)
    assert got == pytest.approx(12 / 5400, rel=0.1)


@pytest.mark.filterwarnings("ignore:fluid.step")         # hourly steps hide the backlog between their ends
@pytest.mark.parametrize("step_s", [60.0, 1800.0, 3600.0])
def test_slo_attainment_of_the_overload_episode_at_every_step(step_s):
    """``tests/test_tiers_overload.py``'s episode (1.5/s from 600 s to 2,400 s, else 0.5/s, to 6,000 s):
    1,200 requests at load 0.5 and 16 of the 3,600 behind the backlog (waits evenly over ``[0, 900]`` s)
    meet the 5 s objective, ``1,216 / 4,800 = 0.253`` (20 request-level seeds: 0.260). Steps of 60 s
    read 0.251, 1,800 s 0.238 and hourly 0.220 before."""
    arrival = {"process": "piecewise", "times": [0, 600, 2400], "rates": [0.5, 1.5, 0.5]}
    att = sim.run(pool("fluid", arrival, duration=6000.0, step_s=step_s)).summary["slo"]["attainment"]
    assert att == pytest.approx(1216 / 4800, rel=0.01)
