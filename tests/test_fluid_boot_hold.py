"""Behind ``central_queue`` a pool at zero holds the arrivals that come while its first replica boots
(:mod:`sim.fluid.no_replica`): at request level they wait in the central queue until it is ready. The fluid
tier's sub-steps serve their arrivals and capacity evenly, so sub-steps long against the boot read that wait
away; the run says so (:func:`~sim.fluid.no_replica.hold_message`), naming the pool, the boot and the
``fluid.step`` that reads it.

The case: constant 5 requests/s for an hour, one pool at ``replicas: 0``, ``autoscale.min: 0``, a 1-minute
interval and a 3-minute ``scale_up_delay`` (the scenario of ``tests/test_fluid_no_replica.py``). By hand:
the first decision, at 60 s, provisions the replica, ready at 240 s; the ``5 x 60 = 300`` before 60 s are
turned away ``no_replica``, the ``5 x 180 = 900`` in [60 s, 240 s) are held, each ``240 - t``: 90 s on
average, so of the ``18,000 - 300 = 17,700`` served the mean queue time is at least
``900 x 90 / 17,700 = 4.58`` s.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import sim
from sim.fluid.substep import SUB
from sim.errors import ScenarioWarning
from test_fluid_no_replica import scenario

HELD, BY_HAND_MIN = 900, 900 * 90.0 / 17700.0


def constant(router: str = "central_queue", seed: int = 1) -> dict:
    sc = scenario(router, seed)
    sc["workload"]["arrival"] = {"process": "poisson", "rate": 5.0}
    return sc


def fluid(step: str, router: str = "central_queue") -> tuple[dict, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = sim.run(constant(router), overrides=["fidelity=fluid", f"fluid.step={step}"]).summary
    return s, [str(w.message) for w in caught if issubclass(w.category, ScenarioWarning)]


def holds(messages: list[str]) -> list[str]:
    return [m for m in messages if "comes up from zero replicas behind router central_queue" in m]


@pytest.mark.parametrize("step", ["1h", "30m", "7m"])
def test_sub_steps_longer_than_a_sixth_of_the_boot_say_so(step):
    s, messages = fluid(step)
    assert s["requests"]["rejected_by_reason"] == {"no_replica": 300}        # 5/s x 60 s, by hand
    (m,) = holds(messages)
    assert m.startswith(f"fluid.step: pool p comes up from zero replicas behind router central_queue: about {HELD} "
                        "requests arrive while its replica boots (scale_up_delay 3 m)")
    assert m.endswith("set fluid.step: 6 m or shorter, or check at fidelity: request")    # 12 x 180 s / 6


def test_the_step_it_names_reads_the_hold_and_says_nothing_more():
    s, messages = fluid("6m")
    assert holds(messages) == []
    assert s["latency"]["queue"]["mean"] > BY_HAND_MIN


def test_turned_away_instead_of_held_without_a_central_queue():
    s, messages = fluid("1h", "least_outstanding")
    assert s["requests"]["rejected_by_reason"] == {"no_replica": 1200}       # 5/s x 240 s: none held
    assert holds(messages) == []


@pytest.mark.slow
def test_the_request_level_waits_the_hold_that_hourly_steps_read_away():
    """Four seeds at request level: the mean queue time at least the hold by hand (4.58 s) and within 10 % of
    the fluid tier's at the step the warning names; the hourly steps, which warn, read under a tenth of it."""
    queue = [sim.run(constant(seed=seed)).summary["latency"]["queue"]["mean"] for seed in range(1, 5)]
    assert min(queue) > BY_HAND_MIN
    assert fluid("6m")[0]["latency"]["queue"]["mean"] == pytest.approx(np.mean(queue), rel=0.1)
    assert fluid("1h")[0]["latency"]["queue"]["mean"] < 0.1 * np.mean(queue)


@pytest.mark.parametrize("boot_s", [180.0, 61.3, 97.35, 7.78, 3620.0, 68.0])
def test_the_step_it_names_does_not_warn_again(boot_s):
    """The ``fluid.step`` named is at most ``12 x boot / 6`` (sub-steps of a sixth of the boot), within one unit
    of the way it is written: a boot of 61.3 s reads 122.6 s, written '2 m 2 s' (rounded to the nearest, '2 m
    3 s' warned again); 3,620 s reads 7,240 s, '2 h' (not '2 h 1 m')."""
    from sim.fluid.no_replica import hold_message
    from sim.scenario.durations import parse_duration

    bound = SUB * boot_s / 6
    named = hold_message("p", 7 * 86400.0, SUB, boot_s, 900.0).split("set fluid.step: ")[1].split(" or shorter")[0]
    step = parse_duration(named)
    assert hold_message("p", step, SUB, boot_s, 900.0) is None
    unit = 60.0 if bound >= 3600 else 1.0 if bound >= 60 else 0.1
    assert bound - unit < step <= bound


def test_a_short_last_step_that_reads_the_hold_says_nothing():
    """An hour and five minutes in hourly steps, the traffic from the hour: the hold (the decision at 3,660 s,
    ready at 3,840 s, 900 held) lies in the last step, cut to 5 minutes by the run's end, whose 25 s sub-steps
    are within a sixth of the boot; the first step's 5-minute sub-steps hold nothing: no warning (it named the
    hourly steps before). The same hold in the hourly step warns."""
    sc = constant()
    sc["duration"] = "65m"
    sc["workload"]["arrival"] = {"process": "piecewise", "times": [0, 3600], "rates": [0, 5.0]}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = sim.run(sc, overrides=["fidelity=fluid", "fluid.step=1h"]).summary
    assert s["requests"]["rejected_by_reason"] == {"no_replica": 300}        # 5/s x 60 s before the decision
    assert holds([str(w.message) for w in caught if issubclass(w.category, ScenarioWarning)]) == []
    from sim.fluid.no_replica import hold_message, warn_hold

    for dt, held, warned in (([3600.0, 300.0], [0.0, 900.0], False), ([3600.0, 300.0], [900.0, 0.0], True)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warn_hold("p", np.array(dt), SUB, 180.0, np.array(held))
        assert [str(w.message) for w in caught] == ([hold_message("p", 3600.0, SUB, 180.0, 900.0)] if warned else [])
