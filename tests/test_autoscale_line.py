"""The terminal summary says what the autoscaler did (``summary["autoscale"]``): its scale-ups and -downs
and the replicas they added and removed, the steps of the replica curve a planner sees in the report.
Checked against the run's event log (``Result.extra["events"]``: a ``provision`` event per replica
added after ``t = 0``, a ``drain`` or ``release`` per one removed) and the scenario's ``scale_up_delay``.

The pool is ``test_fluid_tolerance``'s M/M/1 one at request level (4 replicas, offered 4.3 replicas'
worth at a ``load_factor`` target of 0.5, no band): it grows to 5 at the first decision and the
metric's noise moves it after that.
"""
from __future__ import annotations

import numpy as np

import sim
from sim.report_text import format_summary

from test_fluid_tolerance import _pool


def test_the_autoscale_line_counts_what_the_event_log_holds():
    sc = _pool(4, 4.3, 0.0)
    sc["fidelity"] = "request"
    del sc["fluid"]
    res = sim.run(sc)
    ev, kinds = res.extra["events"], list(res.extra["event_kinds"])
    added = int(np.sum((ev["kind"] == kinds.index("provision")) & (ev["time_s"] > 0)))
    removed = len(set(ev["replica"][ev["kind"] == kinds.index("drain")])
                  | set(ev["replica"][ev["kind"] == kinds.index("release")]))
    a = res.summary["autoscale"]["servers"]
    assert added >= 1 and (a["replicas_provisioned"], a["replicas_drained"]) == (added, removed)
    line = next(x for x in format_summary(res).splitlines() if x.startswith("autoscale servers  "))
    assert f"adding {added} replica" in line and f"removing {removed}" in line
    assert line.endswith("; a replica serves 60 s after it is provisioned")


def test_a_fixed_fleet_has_no_autoscale_line():
    sc = _pool(4, 4.3, 0.0)
    sc["fidelity"] = "request"
    del sc["fluid"], sc["fleet"]["pools"][0]["autoscale"]
    assert "\nautoscale " not in format_summary(sim.run(sc))
