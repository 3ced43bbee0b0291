"""A capacity curve's saturated run stops once its window is known (``sim.api.completions``,
``sim.fluid.saturation.window_closed``): the completions it has by then are the whole run's, so
``max_rps`` and its standard error come out equal to the bit to those of the run to its end."""
from __future__ import annotations

import numpy as np
import pytest

from sim.api import completions, run
from sim.fluid.saturation import BATCHES, settled_rps, window_closed
from sim.metrics.schema import COMPLETED
from sim.metrics.records import RECORD_DTYPE
from sim.scenario.load import scenario_from_dict

from conftest import scenario


def _saturated(router: str, replicas: int, engine: str = "fast", scheduler: str = "vllm-v1") -> dict:
    """Lognormal lengths arriving about three times faster than the replicas serve them."""
    sc = scenario(duration=240, seed=5, engine=engine)
    sc["workload"]["arrival"] = {"process": "poisson", "rate": 60.0 * replicas}
    sc["workload"]["prompt_tokens"] = {"dist": "lognormal", "mean": 400, "cv": 1.0, "max": 3000}
    sc["workload"]["output_tokens"] = {"dist": "lognormal", "mean": 40, "cv": 1.0, "max": 400}
    sc["fleet"]["router"] = router
    pool = sc["fleet"]["pools"][0]
    pool["replicas"] = replicas
    pool["batching"] = {"scheduler": scheduler, "max_num_seqs": 32, "max_batched_tokens": 4096}
    return sc


CASES = [("least_outstanding", 4, "fast", "vllm-v1"),    # routed at arrival: the general engine path
         ("round_robin", 1, "fast", "vllm-v0"),          # pre-routed: the lean loop runs ahead of the clock
         ("round_robin", 2, "fast", "vllm-v1"),
         ("least_outstanding", 2, "reference", "vllm-v1")]


def _done(rec: np.ndarray) -> np.ndarray:
    return rec[rec["status"] == COMPLETED]


@pytest.mark.parametrize("case", CASES, ids=["-".join(map(str, c)) for c in CASES])
def test_the_completions_before_each_check_are_the_whole_runs(case):
    sc = _saturated(*case)
    whole = _done(run(scenario_from_dict(sc)).records)
    assert len(whole) > 2000                  # saturated: far fewer than the ~14,000 arrivals
    seen = []

    def never(done):
        seen.append(done)
        return False
    assert _done(completions(scenario_from_dict(sc), 7.0, never)).tobytes() == whole.tobytes()
    assert len(seen) == 240 // 7              # a look every 7 s before the end
    for k, done in enumerate(seen, start=1):
        assert done.tobytes() == whole[whole["completion_s"] < 7.0 * k].tobytes()


@pytest.mark.parametrize("case", CASES[:2], ids=["-".join(map(str, c)) for c in CASES[:2]])
def test_a_run_stopped_at_a_closed_window_gives_max_rps_to_the_bit(case):
    sc = _saturated(*case)
    whole = run(scenario_from_dict(sc)).records
    lengths = {"work_weights": (1e-4, 2e-2), "prompt_tokens_mean": 400.0, "output_tokens_mean": 40.0}
    for skip, n in ((300, 800), (500, 1200)):
        early = completions(scenario_from_dict(sc), 5.0, lambda d: window_closed(d, skip, n))
        assert len(early) < len(_done(whole))            # it did stop early
        assert settled_rps(early, skip, n, lengths) == settled_rps(whole, skip, n, lengths)


def test_a_clock_that_does_not_advance_is_refused():
    with pytest.raises(ValueError, match="check_s"):
        completions(scenario_from_dict(_saturated("round_robin", 1)), 0.0, lambda d: False)


def _rows(times) -> np.ndarray:
    rec = np.zeros(len(times), dtype=RECORD_DTYPE)
    rec["status"] = COMPLETED
    rec["completion_s"] = times
    rec["prompt_tokens"] = 100
    rec["generated_tokens"] = 10
    return rec


def test_a_window_is_closed_when_each_part_has_its_completions_after_its_first():
    # 8 parts of 2: the window needs skip + 1 + n completions with distinct times
    times = np.arange(1, 24, dtype=float)
    assert window_closed(_rows(times[:3 + 1 + 2 * BATCHES]), 3, 2 * BATCHES)
    assert not window_closed(_rows(times[:3 + 2 * BATCHES]), 3, 2 * BATCHES)
    assert not window_closed(_rows(times[:3]), 3, 2 * BATCHES)
    # completions at one instant: those tied with a window's first do not count after it
    tied = np.array([1, 2, 3, 4, 4, 4] + list(range(5, 19)), dtype=float)      # skip + 1 + n rows
    assert not window_closed(_rows(tied), 3, 2 * BATCHES)       # 14 after the 4.0 of completion 3, not 16
    assert window_closed(_rows(np.append(tied, [19.0, 20.0])), 3, 2 * BATCHES)
