"""An overload said in words: demand turned away for want of a live replica (``no_replica``) puts a
plan's point out as a full waiting room or clients who gave up do, and an offered load factor just
above 1 is not printed as 1.

Hand arithmetic on a trace: ten identical requests (100-token prompts, 4 output tokens, 1 s each on
the linear step model of 0.25 s an iteration) every 30 s, 0.5 s apart from ``b + 0.5`` to ``b + 5``, on
a pool at ``replicas: 0`` that its autoscaler (checks every second, start-up 2.5 s, cooldown 2 s)
scales to one replica and back to zero between bursts. The first arrival of a burst is seen at the
check at ``b + 1``; the replica is ready at ``b + 3.5``, where the arrival of that instant comes first
(arrivals before other events of an instant) and finds none: seven of each ten are turned away
(``no_replica``), 70 % of the arrived. The three served run in the replica's up time, which makes the
offered load factor (counting the turned-away work, ``stability.offered_load_factor``) above 1 while
the backlog stays bounded (verdict ``stable``).
"""
from __future__ import annotations

import pytest

import sim
from sim.metrics.stability import factor_words, overload_words
from sim.planning.constraints import parse_constraint
from sim.planning.evaluator import judge
from sim.planning.stats import flatten
from sim.planning.sweep import configuration_rows
from sim.report_text import stability_line

from scale_from_zero import from_zero

ARRIVALS = [b + 0.5 + 0.5 * i for b in range(0, 300, 30) for i in range(10)]


def _summary(tmp_path, engine: str) -> dict:
    sc = from_zero(tmp_path, "bursts", ARRIVALS, engine, duration=300, max_num_seqs=1,
                   autoscale={"max": 1, "interval": 1, "scale_up_delay": 2.5, "cooldown": 2})
    return sim.run(sc).summary


def test_a_point_turning_requests_away_for_want_of_a_replica_is_overloaded(tmp_path):
    """Before: the point was feasible (its backlog stable, no refused or abandoned share), though it
    served 30 % of its demand at an offered load factor above 1."""
    summary = _summary(tmp_path, "fast")
    assert _summary(tmp_path, "reference")["requests"] == summary["requests"]
    req = summary["requests"]
    assert (req["arrived"], req["rejected_by_reason"]) == (100, {"no_replica": 70})
    lf = summary["stability"]["offered_load_factor"]
    assert summary["stability"]["verdict"] == "stable" and lf > 1
    row, = configuration_rows([flatten(summary), flatten(summary)], [])
    out = judge(row, [parse_constraint("latency.ttft.p99<=10")])
    assert out["feasible"] is False
    assert out["why"] == f"overloaded: offered load factor {lf:.3g}, 70.0% turned away (no replica up)"


def test_a_reject_reason_a_replication_did_not_meet_counts_0_in_the_mean():
    """A run's summary lists only the reject reasons that occurred: of two replications, one turning 6
    away and one none, the mean is 3 (before: 6, the mean over the run that met it alone)."""
    base = {"requests.arrived": 100, "stability.offered_load_factor": 1.2}
    row, = configuration_rows([{**base, "requests.rejected_by_reason.no_replica": 6}, dict(base)], [])
    assert row["requests.rejected_by_reason.no_replica.mean"] == 3.0
    assert judge(row, [])["why"] == "overloaded: offered load factor 1.2, 3.0% turned away (no replica up)"


@pytest.mark.parametrize("lf,said", [(1.004, "1.004"), (1.0004, "1.0004"), (1.04, "1.04"), (3.0, "3"),
                                     (1.0000001, "just over 1")])
def test_a_load_factor_just_above_1_keeps_the_digits_that_say_so(lf, said):
    """Three significant digits read 1.004 as "1": an overload said as "offered 1x" reads as none."""
    assert factor_words(lf) == said
    summary = {"stability": {"offered_load_factor": lf, "verdict": "stable", "backlog_growth_per_s": 0.0},
               "requests": {"arrived": 1000, "rejected_by_reason": {"queue_full": 2}}}
    assert overload_words(summary).startswith(f"overloaded: offered {said}x the work")
    row = {"n": 1, "stable": True, "stability.offered_load_factor.mean": lf, "requests.refused_share.mean": 0.002}
    assert judge(row, [])["why"] == f"overloaded: offered load factor {said}, 0.2% refused"
    words = " ".join(stability_line(summary))
    assert "overloaded: offered load factor " + (said if lf < 1.005 else f"{lf:.2f}") in words
