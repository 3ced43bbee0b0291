"""The fluid tier's scale-down stabilization window read step by step: a step drops the recommendations
that left the window from the oldest, reads only those leaving within its own span, and its floor from the
peaks no later recommendation is at least as large as (the request level's rule), instead of
filtering and scanning every recommendation of the last ``cooldown`` seconds (``cooldown / fluid.step`` of
them, at every step). What it keeps and the cuts it makes must be those the window's definition gives, brute-forced
here from every recommendation ever made: at a step's end, those made within ``(t - cooldown, t]`` and the step's own.
"""
from __future__ import annotations

import copy
from types import SimpleNamespace

import numpy as np
import pytest

from sim.fluid.autoscale import Replicas, _expiring, decision_lag, scale_step


@pytest.mark.parametrize("cooldown", [0.0, 45.0, 300.0, 1800.0])
def test_the_window_keeps_what_its_definition_keeps_step_by_step(cooldown):
    rng = np.random.default_rng(11)
    cfg = SimpleNamespace(min=1, max=12, target=0.5, interval=30.0)
    r = Replicas(4, delay_s=40.0, cooldown_s=cooldown)
    made: list[tuple[float, float]] = []
    kept: list[tuple[float, float]] = []
    t = 0.0
    for _ in range(400):
        dt = float(rng.choice([10.0, 30.0, 60.0, 90.0]))      # steps shorter and longer than the interval
        settled = int(rng.integers(1, 13))
        decides = decision_lag(t, dt, cfg.interval) is not None     # (a step holding no decision adds none)
        scale_step(r, cfg, 1.0, t, dt, settled)
        t += dt
        if decides:     # those left by the step's end dropped, then its own added (a step deciding nothing reads none)
            kept = [(u, x) for u, x in made if u + cooldown > t] + [r.recs[-1]]
            made.append(r.recs[-1])
        assert list(r.recs) == kept
        ahead = copy.deepcopy(r)        # read at later and later times, as a step's decisions read it
        for q in sorted(float(v) for v in rng.uniform(t, t + 2 * cooldown + 1, 5)):
            assert ahead.floor(q) == max((x for u, x in kept if u + cooldown > q), default=0.0)
        assert r.floor(t) == max((x for u, x in kept if u + cooldown > t), default=0.0)
        lo, hi = sorted(float(v) for v in rng.uniform(t, t + cooldown + dt, 2))     # (a step reads from its start on)
        assert _expiring(r, lo, hi) == {u + cooldown for u, _ in kept if lo < u + cooldown < hi}
