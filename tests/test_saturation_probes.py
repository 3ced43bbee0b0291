"""The saturation search never probes a rate it has already judged: none at or below one that held,
none at or above one that failed (each probe is a simulation)."""
import math

import pytest

from sim.planning.saturation import highest


def _search(ok, *args, **kw):
    seen = []
    result = highest(lambda r: (seen.append(r), ok(r))[1], *args, **kw)
    return result, seen


def _each_probe_new(seen, ok):
    """Every probe is above every rate that held before it and below every rate that failed."""
    for k, r in enumerate(seen):
        held = [x for x in seen[:k] if ok(x)]
        failed = [x for x in seen[:k] if not ok(x)]
        assert r > max(held, default=-math.inf) and r < min(failed, default=math.inf), (k, r, seen)


def test_a_float_search_stops_at_top_once_it_holds():
    """300, 600, then 1200 capped to 1000: it holds, and there is nothing above to try (the search
    tried 1000 again until it ran out of probes)."""
    (lo, hi), seen = _search(lambda r: True, 300.0, 2.0, 0.02, 40, top=1000.0)
    assert (lo, hi) == (1000.0, None) and seen == [300.0, 600.0, 1000.0]


@pytest.mark.parametrize("widen", [False, True])
def test_a_step_finer_than_the_rate_is_written_still_moves(widen):
    """A step of 1 + 1e-7 rounds back to 36.9 at six significant digits: the search probed 36.9 again and
    again (40 times without widening, and answered 36.9 with nothing seen to fail). Each step now moves by
    36.9 x 1e-5 = 0.000369 at least, rounded to 36.9004."""
    ok = lambda r: r <= 37.0      # noqa: E731
    (lo, hi), seen = _search(ok, 36.9, 1 + 1e-7, 1e-7, 40, widen=widen)
    _each_probe_new(seen, ok)
    assert seen[:2] == [36.9, 36.9004]
    if widen:      # squaring the step reaches past 37, then bisection down to adjacent six-digit rates
        assert (lo, hi) == (37.0, 37.0001)
    else:          # 0.0004 a step: 40 probes reach about 36.9 + 39 x 0.0004
        assert len(seen) == 40 and lo == pytest.approx(36.9 + 39 * 0.0004, abs=2e-4) and hi is None


def test_halving_never_returns_to_a_rate_that_failed():
    ok = lambda r: r <= 5.0      # noqa: E731
    (lo, hi), seen = _search(ok, 36.9, 1 + 1e-7, 1e-7, 60, widen=True)
    _each_probe_new(seen, ok)
    assert lo <= 5.0 < hi
