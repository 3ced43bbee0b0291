"""Lazily planned decode runs (sim.serving.decode_run: a state-routed replica's long run works out
its first ``LAZY_RUN`` iterations, the rest only when it gets there uncut) against the reference
engine, which takes one SimPy timeout per iteration and plans nothing ahead.

Every branch of the lazy plan must be taken for the comparison to mean something: a run extended
(``_extend``), a run cut by an arrival inside what was worked out (an interrupt), and a run stopped
uncut at the end of what was worked out because an arrival came during its last iteration there
(``_wake`` sets ``_cut`` without an interrupt). The counts below make the test fail if a branch
goes untaken.
"""
from __future__ import annotations

import numpy as np
import pytest

import sim
import sim.serving.decode_run as decode_run
from conftest import scenario

COLS = ("rid", "prompt_tokens", "output_tokens", "generated_tokens", "preemptions", "replica", "status",
        "arrival_s", "sched_s", "first_token_s", "completion_s")


def _case() -> dict:
    """Three replicas behind least outstanding (never routed ahead, so every long run is lazy), long
    outputs so runs go past ``LAZY_RUN``, and arrivals often enough to cut many of them."""
    sc = scenario(duration=120, warmup=0, perf={"model": "roofline"},
                  workload={"arrival": {"process": "poisson", "rate": 6.0},
                            "prompt_tokens": {"dist": "lognormal", "mean": 400, "cv": 1.0, "max": 3000},
                            "output_tokens": {"dist": "lognormal", "mean": 300, "cv": 1.0, "max": 1500}})
    sc["fleet"]["pools"][0]["replicas"] = 3
    return sc


def _counted_run(sc: dict, monkeypatch) -> tuple[object, dict]:
    """Run ``sc`` on the fast engine, counting the lazy plan's branches."""
    counts = {"extended": 0, "interrupted": 0, "stopped_at_end": 0}
    extend, end_run = decode_run.DecodeRuns._extend, decode_run.DecodeRuns._end_run

    def counting_extend(self, run):
        counts["extended"] += 1
        return extend(self, run)

    def counting_end_run(self, run, m):
        if run.more and m == len(run.ends):
            counts["stopped_at_end"] += 1     # lazily planned, not extended: stopped at the worked-out end
        elif run.more:
            counts["interrupted"] += 1
        return end_run(self, run, m)

    monkeypatch.setattr(decode_run.DecodeRuns, "_extend", counting_extend)
    monkeypatch.setattr(decode_run.DecodeRuns, "_end_run", counting_end_run)
    res = sim.run(dict(sc, engine="fast"))
    monkeypatch.undo()
    return res, counts


@pytest.mark.parametrize("lazy", [2, 64])
def test_lazy_runs_give_the_reference_engines_requests_and_summary(lazy, monkeypatch):
    sc = _case()
    ref = sim.run(dict(sc, engine="reference"))
    monkeypatch.setattr(decode_run, "LAZY_RUN", lazy)
    fast, counts = _counted_run(sc, monkeypatch)
    assert all(v > 0 for v in counts.values()), counts
    assert fast.summary["requests"]["completed"] > 300
    for col in COLS:
        assert np.array_equal(fast.records[col], ref.records[col]), col      # bit for bit
    f, r = dict(fast.summary), dict(ref.summary)
    for key in ("wall_seconds", "engine"):   # how long it took, and which engine ran
        f.pop(key), r.pop(key)
    assert f == r
    assert np.array_equal(fast.timeseries, ref.timeseries)
