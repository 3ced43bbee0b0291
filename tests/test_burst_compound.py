"""Batch (compound) Poisson arrivals, ``{process: compound_poisson, rate, clump_mean}``: the counts'
index of dispersion against ``E[b^2] / E[b] = 2m - 1`` for geometric clumps of mean ``m``, the clump
sizes' law, and the mean wait of one server against the M^X/G/1 formula; the field's validation."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from sim.fluid.burst import dispersion
from sim.scenario.workload import CompoundPoissonArrival
from sim.workload.arrivals import arrival_blocks

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _times(rate: float, m: float, horizon: float, seed: int) -> np.ndarray:
    process = CompoundPoissonArrival(process="compound_poisson", rate=rate, clump_mean=m)
    return np.concatenate([b.arrival_s for b in arrival_blocks(process, horizon, np.random.default_rng(seed))])


@pytest.mark.parametrize("m", [1.0, 2.0, 4.5])
def test_counts_have_index_two_m_minus_one_and_clumps_are_geometric(m):
    """20 requests/s for 20,000 s in 1-s windows (400 sub-steps of 50): the index of dispersion is
    ``2m - 1`` within 5 sampling standard deviations of a compound Poisson count's index (its variance
    ``2 I^2 / K`` for ``K`` windows, the counts near normal at 20 a window, with the clumps' fourth moment
    neglected: a loose band, 2-6 % here); the rate is 20 within 1 %; the clump sizes (requests at one
    instant) have mean ``m`` and ``P(b = 1) = 1 / m`` within 3 standard errors."""
    t = _times(20.0, m, 20_000.0, seed=int(10 * m))
    assert t.size / 20_000.0 == pytest.approx(20.0, rel=0.01)
    counts = np.histogram(t, bins=np.arange(20_001))[0].reshape(400, 50)
    index, _ = dispersion(counts)
    want = 2.0 * m - 1.0
    assert index == pytest.approx(want, abs=5 * want * np.sqrt(2.0 / counts.size) + 0.02)
    _, sizes = np.unique(t, return_counts=True)
    assert sizes.mean() == pytest.approx(m, abs=3 * np.sqrt(m * (m - 1) / sizes.size) + 1e-9)
    p1 = 1.0 / m
    assert (sizes == 1).mean() == pytest.approx(p1, abs=3 * np.sqrt(p1 * (1 - p1) / sizes.size) + 1e-9)


def test_one_server_waits_as_the_batch_poisson_queue_says():
    """One server, one request at a time, each 1 s (round 18's pool: 1,000-token prompts at 1 ms a token),
    batch Poisson arrivals at 0.5 requests/s (rho 0.5) in geometric clumps of mean 3. M^X/G/1 (Burke 1975;
    Chaudhry and Templeton, "A first course in bulk queues", 1983): the mean wait of a request is the
    Pollaczek-Khinchine wait at the request rate, ``rho E[S^2] / (2 E[S] (1 - rho))`` = 0.5 s, plus its wait
    behind the requests ahead of it in its own clump, ``E[X(X - 1)] / (2 E[X]) E[S] / (1 - rho)``, which
    for a geometric clump is ``(m - 1) E[S] / (1 - rho)`` = 4 s: 4.5 s. Three seeds of 40,000 s after
    1,000 s (about 6,700 clumps each): their mean within 4 % (measured 4.49, 4.61, 4.58); Poisson's
    (``clump_mean: 1``) is M/D/1's 0.5 s within 4 %."""
    import sim
    from theory_round18_pool import one_at_a_time

    def mean_wait(m: float) -> float:
        waits = []
        for seed in (1, 2, 3):
            data = one_at_a_time("mx", replicas=1, router="random",
                                 arrival={"process": "compound_poisson", "rate": 0.5, "clump_mean": m},
                                 prompt={"dist": "fixed", "value": 1000}, duration=40_000.0, warmup=1_000.0)
            data.update(seed=seed, metrics={"records": "none"})
            waits.append(sim.run(data).summary["latency"]["queue"]["mean"])
        return float(np.mean(waits))

    rho = 0.5
    assert mean_wait(3.0) == pytest.approx(rho / (2 * (1 - rho)) + 2.0 / (1 - rho), rel=0.04)
    assert mean_wait(1.0) == pytest.approx(rho / (2 * (1 - rho)), rel=0.04)


@pytest.mark.parametrize("value, said", [(0.5, "must be >= 1 (got 0.5)"), (2e4, "must be <= 10000")])
def test_a_clump_mean_out_of_range_is_refused_by_name(value, said):
    from sim.errors import ScenarioError
    from sim.scenario.load import load_scenario

    data = {"name": "c", "duration": 60, "model": "llama-3-8b",
            "workload": {"arrival": {"process": "compound_poisson", "rate": 5, "clump_mean": value},
                         "prompt_tokens": {"dist": "fixed", "value": 10}, "output_tokens": {"dist": "fixed", "value": 10}},
            "fleet": {"pools": [{"name": "p", "gpu": "h100-sxm", "replicas": 1}]}}
    with pytest.raises(ScenarioError) as err:
        load_scenario(data)
    assert "workload.arrival.clump_mean" in str(err.value) and said in str(err.value)


def test_huge_clumps_come_in_blocks_of_about_block_requests_the_same_arrivals():
    """``clump_mean: 1e4`` at 1e5 requests/s for 10 s: about 100 clumps, a million requests, which came as
    one array before (a full block of 65,536 clumps would be 650 million). Each piece holds at most
    ``BLOCK`` requests or a single clump, and together they are the law drawn by hand from the same seed:
    exponential clump gaps of mean ``clump_mean / rate`` cut at the horizon, then geometric sizes."""
    from sim.workload.arrivals import BLOCK

    process = CompoundPoissonArrival(process="compound_poisson", rate=1e5, clump_mean=1e4)
    pieces = [b.arrival_s for b in arrival_blocks(process, 10.0, np.random.default_rng(5))]
    assert len(pieces) > 1
    assert all(p.size <= BLOCK or np.unique(p).size == 1 for p in pieces)
    rng = np.random.default_rng(5)
    clumps = np.cumsum(rng.standard_exponential(BLOCK) * 1e4 / 1e5)
    clumps = clumps[clumps < 10.0]
    want = np.repeat(clumps, rng.geometric(1e-4, clumps.size))
    got = np.concatenate(pieces)
    assert got.size == want.size and np.allclose(got, want, rtol=1e-12, atol=0.0)


def _warned(workload: dict) -> list[str]:
    import warnings

    from sim.fluid.burst import warn_bursty
    from sim.fluid.run import _steps
    from sim.fluid.substep import sub_arrivals
    from sim.scenario.load import load_scenario

    data = {"name": "c", "duration": 600, "model": "llama-3-8b", "fidelity": "fluid", "workload": workload,
            "fleet": {"pools": [{"name": "p", "gpu": "h100-sxm", "replicas": 1}]}}
    loaded = load_scenario(data)
    sc, base = loaded.scenario, Path(loaded.base_dir)
    steps = _steps(sc, 3600.0, base)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_bursty(sc, steps.edges, sub_arrivals(sc, steps.edges, steps.dt_s, base), base)
    return [str(w.message) for w in caught]


def test_a_class_s_own_clumps_merged_with_other_arrivals_are_said():
    """A class sending 2 requests/s in clumps of 12 (index 23) beside 6 requests/s of Poisson arrivals: the
    curves are measured under one batch Poisson process of the mix's index, (6 + 23 x 2) / 8 = 6.5 (clumps of
    3.75, 3.8 to two digits), smaller than the class's, so the run says so, naming the class's field; a
    workload whose every request comes from one compound_poisson process is measured under its own clumps
    and says nothing."""
    lengths = {"prompt_tokens": {"dist": "fixed", "value": 100}, "output_tokens": {"dist": "fixed", "value": 50}}
    two = {"arrival": {"process": "poisson", "rate": 6}, **lengths,
           "classes": [{"name": "steady", "share": 1.0},
                       {"name": "batch", "arrival": {"process": "compound_poisson", "rate": 2, "clump_mean": 12}}]}
    said = _warned(two)
    assert len(said) == 1 and said[0].startswith("workload.classes.1.arrival: class batch's clumps of 12")
    assert "index 6.5 (clumps of 3.8 on average)" in said[0]
    one = {"arrival": {"process": "compound_poisson", "rate": 8, "clump_mean": 12}, **lengths}
    assert _warned(one) == []
