"""What a person reads from a plan: each test reproduces what the output said before and checks what it
says now (the numbers written out by hand)."""
from __future__ import annotations

import pytest


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
    assert "1/1" in err.split("plan round 3")[0].rsplit("plan round 2 of at most 5", 1)[1]    # its last state: done
