"""A capacity curve's saturated run is continued as its window grows (``sim.api.LiveRun``,
``sim.fluid.capacity._LiveSaturated``) instead of run again from t = 0: under Poisson arrivals a
longer run is, up to any time before a shorter one's end, the shorter run, so its completions
before that time are the shorter run's byte for byte, and the window it closes gives ``max_rps`` to
the bit."""
from __future__ import annotations

import numpy as np
import pytest

from sim.api import LiveRun, completions, run
from sim.fluid.saturation import settled_rps, window_closed
from sim.metrics.schema import COMPLETED
from sim.scenario.load import scenario_from_dict

from test_saturated_early_stop import CASES, _saturated


def _done(rec: np.ndarray) -> np.ndarray:
    return rec[rec["status"] == COMPLETED]


def _with(sc: dict, duration: float) -> dict:
    return dict(sc, duration=duration)


@pytest.mark.parametrize("case", CASES, ids=["-".join(map(str, c)) for c in CASES])
def test_a_longer_run_is_the_shorter_one_before_its_end(case):
    sc = _saturated(*case)
    short = _done(run(scenario_from_dict(_with(sc, 150.0))).records)
    live = LiveRun(scenario_from_dict(_with(sc, 400.0)))
    seen = []

    def never(done):
        seen.append(done)
        return False
    # the clock stepped as a 150 s run's would be, then on as a 240 s run's
    assert live.completions_before(150.0, 7.0, never) is None
    assert live.now == 150.0
    assert len(seen) == 150 // 7
    for k, done in enumerate(seen, start=1):
        assert done.tobytes() == short[short["completion_s"] < 7.0 * k].tobytes()
    longer = _done(run(scenario_from_dict(_with(sc, 240.0))).records)
    seen.clear()
    assert live.completions_before(240.0, 11.0, never) is None
    assert len(seen) == 8                     # 161, 172, ..., 238
    for k, done in enumerate(seen, start=1):
        t = 150.0 + 11.0 * k
        assert done.tobytes() == longer[longer["completion_s"] < t].tobytes()


@pytest.mark.parametrize("case", CASES[:2], ids=["-".join(map(str, c)) for c in CASES[:2]])
def test_a_continued_run_closes_windows_to_the_bit(case):
    sc = _saturated(*case)
    lengths = {"work_weights": (1e-4, 2e-2), "prompt_tokens_mean": 400.0, "output_tokens_mean": 40.0}
    live = LiveRun(scenario_from_dict(_with(sc, 600.0)))
    for skip, n, duration in ((200, 400, 100.0), (200, 800, 160.0), (200, 1600, 240.0)):
        enough = lambda d: window_closed(d, skip, n)     # noqa: E731
        fresh = completions(scenario_from_dict(_with(sc, duration)), duration / 64, enough)
        continued = live.completions_before(duration, duration / 64, enough)
        assert continued is not None
        assert settled_rps(continued, skip, n, lengths) == settled_rps(fresh, skip, n, lengths)
